"""Answer spans: the words of a sentence that answer the question, scored by a fitted model.

A sentence can hold a date without holding the date asked for: "When will patients see
their dispensing status in the NHS App?" is not answered by "April 2020" in a sentence
about another App feature. So every span of the asked kind (assistant/kinds.py) is read
against the question: how close it sits to the words the question and the sentence share,
how many of the question's words are around it, what shape it has (a bare year, one
capitalised word, a long name), how good its sentence is, and, for a date question that
does not ask when something happened, whether the date was long past when its bulletin
came out ("When will it go nationwide?" is not answered by "led the project since
January 2020" in the winter 2021 bulletin), and, for a question that names what it counts,
whether the number counts something else ("how many referrals?" is not answered by
"eight London community pharmacies"). A logistic regression fitted
on the train split by `make calibrate` (a span is a positive example when it overlaps one
of the item's answer facts) turns that into the chance the span is the answer. The best
span's chance feeds the decision, and the spans it keeps are the answer's key_spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.kinds import Span
from assistant.lexicon import month_pattern, tense_words
from assistant.match import WordMatch
from records import MONTHS

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
    "past_for_future",
    "counted_unlike",
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
    published: int | None = None,
    past_months: int = 0,
    counted_like: dict[Span, float] | None = None,
) -> list[ScoredSpan]:
    """Describe each span of the sentence by where it sits among the question's words.

    published is the month the passage's bulletin came out (year * 12 + month), given only
    for a date question that does not ask about the past; a date at least past_months
    before it is then long past (feature past_for_future). counted_like says, for a question
    that names what it counts, how closely the words after each span name it (the reader's
    counted_feature); counted_unlike is how far they are from it."""
    counted_like = counted_like or {}
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
            "past_for_future": float(_long_before(text, published, past_months)),
            "counted_unlike": 1.0 - counted_like.get((start, end), 1.0),
        }
        scored.append(ScoredSpan((start, end), features))
    return scored


def asks_about_the_past(question: str) -> bool:
    """True when a date question asks when something happened ("when did ...?")."""
    return bool(tense_words().asks_past.search(question))


def date_month(text: str) -> int | None:
    """The month a date span stands for, as year * 12 + month; None without a year."""
    years = re.findall(r"\b(?:19|20)\d\d\b", text)
    if not years:
        return None
    named = month_pattern().search(text)
    if named:
        month = MONTHS[named.group(0).lower()]
    else:
        words = tense_words().parts_of_year
        month = next((m for w, m in words.items() if re.search(rf"\b{w}\b", text, re.I)), 6)
    return int(years[-1]) * 12 + month


def _long_before(text: str, published: int | None, past_months: int) -> bool:
    if published is None:
        return False
    month = date_month(text)
    return month is not None and published - month >= past_months


def span_matrix(spans: list[ScoredSpan]) -> np.ndarray:
    """The spans' features as rows, in SPAN_FEATURES order (for the fitted model)."""
    return np.array(
        [[s.features[name] for name in SPAN_FEATURES] for s in spans], dtype=np.float64
    ).reshape(len(spans), len(SPAN_FEATURES))
