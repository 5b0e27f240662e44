"""Answer spans: the words of a sentence that answer the question, scored by a fitted model.

A sentence can hold a date without holding the date asked for: "When will patients see
their dispensing status in the NHS App?" is not answered by "April 2020" in a sentence
about another App feature. So every span of the asked kind (assistant/kinds.py) is read
against the question: how close it sits to the words the question and the sentence share,
how many of the question's words are around it, what shape it has (a bare year, one
capitalised word, a long name), and how good its sentence is. A logistic regression fitted
on the train split by `make calibrate` (a span is a positive example when it overlaps one
of the item's answer facts) turns that into the chance the span is the answer. The best
span's chance feeds the decision, and the spans it keeps are the answer's key_spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.kinds import Span
from assistant.match import WordMatch

SPAN_FEATURES = (
    "near",
    "window",
    "sentence_p",
    "meaning",
    "precise",
    "name",
    "loose",
    "year",
    "single_capital",
    "words",
    "bracketed",
)
_TOKEN = re.compile(r"[\w’'&.+-]+")


@dataclass
class ScoredSpan:
    """One candidate answer span of a sentence, with its features and modelled chance."""

    span: Span
    features: dict[str, float]
    score: float = 0.0


def shared_words(matches: list[WordMatch], shared_from: float) -> set[str]:
    """The sentence's words that the question's words matched at least shared_from closely."""
    found: set[str] = set()
    for m in matches:
        if m.score >= shared_from and m.matched:
            found.update(m.matched.lower().split())
    return found


def span_features(
    sentence: str,
    spans: list[Span],
    shared: set[str],
    asked_words: int,
    group: str,
    sentence_p: float,
    meaning: float,
    window_words: int,
) -> list[ScoredSpan]:
    """Describe each span of the sentence by where it sits among the question's words."""
    tokens = [(m.start(), m.end(), m.group(0).lower()) for m in _TOKEN.finditer(sentence)]
    positions = [i for i, (_, _, w) in enumerate(tokens) if w.strip(".,’'") in shared]
    scored = []
    for start, end in spans:
        inside = [i for i, (a, b, _) in enumerate(tokens) if a < end and b > start]
        if not inside:
            continue
        first, last = inside[0], inside[-1]
        outside = [p for p in positions if p < first or p > last]
        distance = min((first - p if p < first else p - last for p in outside), default=None)
        around = {tokens[p][2] for p in outside if first - window_words <= p <= last + window_words}
        text = sentence[start:end]
        features = {
            "near": 0.0 if distance is None else 1.0 / distance,
            "window": len(around) / max(1, asked_words),
            "sentence_p": sentence_p,
            "meaning": meaning,
            "precise": float(group == "precise"),
            "name": float(group == "name"),
            "loose": float(group == "loose"),
            "year": float(bool(re.fullmatch(r"(19|20)\d\d", text.strip()))),
            "single_capital": float(len(inside) == 1 and text[:1].isupper()),
            "words": min(len(inside), 6) / 6,
            "bracketed": float(sentence[:start].count("(") > sentence[:start].count(")")),
        }
        scored.append(ScoredSpan((start, end), features))
    return scored


def span_matrix(spans: list[ScoredSpan]) -> np.ndarray:
    """The spans' features as rows, in SPAN_FEATURES order (for the fitted model)."""
    return np.array(
        [[s.features[name] for name in SPAN_FEATURES] for s in spans], dtype=np.float64
    ).reshape(len(spans), len(SPAN_FEATURES))
