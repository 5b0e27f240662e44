"""Score answers and retrievals against the gold data: the matching rule, the metrics, the floors.

The matching rule (does a retrieved or cited passage hold the gold quote?):

1. Both texts are normalised: Unicode NFKC, curly quotes made straight, list markers
   ("• ", "3. ") removed from line starts, whitespace collapsed. Case is kept: quotes are
   verbatim.
2. The passage holds the quote if the whole quote is inside it; or, tolerating a chunk
   boundary that cut the quote, if it holds every sentence of the quote that carries an
   answer fact; or if it shares a contiguous stretch with the quote of at least 60% of the
   quote's characters and at least 50 characters, and holds at least one answer fact (a
   200-character quote cut after its first 130 characters still counts; a shared
   30-character phrase never does; nor does an older version of the sentence that ends
   "go live in spring 2021" where the quote says "late 2021").
3. The passage must come from one of the gold's seasons: a Summer 2021 copy of a
   paragraph the Winter 2021 bulletin repeats counts only if the item lists Summer 2021
   in ``also_seasons``. Passages filed under the page-level "overview" are neutral: they
   are not another bulletin's copy (the parser files the "Get involved" section, which the
   text capture places under the empty "Spring 2022 updates" heading, under the overview).

Metrics follow from it: hit@k and MRR@10 over answerable questions (llama-index's
HitRate and MRR compute them from which ranks hold the gold); answer fact recall;
citation support; abstention precision and recall (positive = abstained); latency.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from eval.dataset import Gold, Item
from records import OVERVIEW
from sentences import split_sentences

# The cited-answers issue's floors; each may only move up. "answerable_answered" is the
# issue's "answerable refused <= 0.05" written as a floor (answered >= 0.95), so that
# every bound in this table moves the same way.
FLOORS: dict[str, float] = {
    "hit@1": 0.92,
    "hit@5": 0.98,
    "fact_recall": 0.90,
    "abstention_recall": 0.90,
    "answerable_answered": 0.95,
}

HIT_KS = (1, 3, 5)
MRR_K = 10
CURVE_K = 10  # hit@k curves run k = 1..10
OVERLAP_SHARE = 0.6  # a boundary-cut passage must hold this share of the quote ...
MIN_OVERLAP_CHARS = 50  # ... and at least this many characters of it
# Metrics where a smaller number is better (for --compare and the floors table).
LOWER_IS_BETTER = frozenset(
    {"answerable_refused", "latency_p50_ms", "latency_p95_ms", "retrieval_p50_ms"}
)

_MARKER = re.compile(r"^[ \t]*(?:•|\d+\.)[ \t]+", re.MULTILINE)
_STRAIGHT = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})
_CITATION_MARK = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class Passage:
    """A retrieved or cited passage as the scorer sees it: its text and its season.

    A passage that spans several seasons (a 1024-token node cut from the whole page) lists
    its (season, text) parts in ``segments`` so the season rule can still apply.
    """

    text: str
    season: str | None
    label: str = ""  # heading context for reports, e.g. "Winter 2021 > NHS App"
    url: str = ""
    segments: tuple[tuple[str, str], ...] = ()

    def parts(self) -> tuple[tuple[str | None, str], ...]:
        """The passage's (season, text) parts: its segments, or itself whole."""
        return self.segments or ((self.season, self.text),)


def normalise(text: str) -> str:
    """Return text with Unicode, quotes, list markers and whitespace made uniform."""
    text = unicodedata.normalize("NFKC", text).translate(_STRAIGHT)
    return " ".join(_MARKER.sub("", text).split())


def holds_quote(passage: str, quote: str, facts: Iterable[str] = ()) -> bool:
    """True when the passage text holds the quote, tolerating a chunk boundary (rule 2)."""
    text, wanted = normalise(passage), normalise(quote)
    if not wanted:
        return False
    if wanted in text:
        return True
    sentences = [normalise(s) for s in split_sentences(wanted)]
    folded = [normalise(f).casefold() for f in facts if f.strip()]
    if len(sentences) > 1:
        key = [s for s in sentences if any(f in s.casefold() for f in folded)]
        if key and all(s in text for s in key):
            return True
    needed = max(MIN_OVERLAP_CHARS, math.ceil(OVERLAP_SHARE * len(wanted)))
    if needed > len(wanted):
        return False
    # Any shared stretch of >= 60% of the quote covers the quote's middle fifth
    # (characters 40%..60%), so a passage lacking that slice can be skipped cheaply.
    n = len(wanted)
    if wanted[math.floor(0.4 * n) : math.ceil(0.6 * n)] not in text:
        return False
    if folded and not any(f in text.casefold() for f in folded):
        return False  # the shared stretch is not where the answer is
    match = SequenceMatcher(None, wanted, text, autojunk=False).find_longest_match(
        0, n, 0, len(text)
    )
    return match.size >= needed


def season_counts(passage_season: str | None, gold_seasons: frozenset[str]) -> bool:
    """True when a passage of this season may stand for the gold (rule 3)."""
    return passage_season in gold_seasons or passage_season == OVERVIEW


def matches(passage: Passage, gold: Gold, facts: Iterable[str] = ()) -> bool:
    """True when the passage holds the gold quote in one of the gold's seasons."""
    facts = tuple(facts)
    return any(
        season_counts(season, gold.seasons) and holds_quote(text, gold.quote, facts)
        for season, text in passage.parts()
    )


def gold_flags(passages: Sequence[Passage], item: Item) -> list[bool]:
    """For each passage, best first, whether it holds any of the item's gold quotes."""
    return [any(matches(p, gold, item.answer_facts) for gold in item.golds) for p in passages]


def first_hit(flags: Sequence[bool]) -> int | None:
    """The 1-based rank of the first passage holding the gold, or None."""
    return next((rank for rank, hit in enumerate(flags, start=1) if hit), None)


def retrieval_scores(flags: Sequence[bool]) -> dict[str, float]:
    """hit@1/3/5 and MRR@10 for one question, computed by llama-index's HitRate and MRR.

    Those metrics compare ids; the gold here is a quote, not a chunk id (the baselines
    chunk differently), so each retrieved passage gets a positional id and the expected
    ids are the positions that hold the quote (or a placeholder when none does).
    """
    from llama_index.core.evaluation import MRR, HitRate

    retrieved = [f"rank-{rank}" for rank in range(1, len(flags) + 1)]
    expected = [rid for rid, hit in zip(retrieved, flags, strict=True) if hit] or ["not-found"]
    if not retrieved:  # the metrics refuse an empty list; nothing retrieved scores 0
        return {**{f"hit@{k}": 0.0 for k in HIT_KS}, f"mrr@{MRR_K}": 0.0}
    scores = {
        f"hit@{k}": HitRate().compute(expected_ids=expected, retrieved_ids=retrieved[:k]).score
        for k in HIT_KS
    }
    mrr = MRR().compute(expected_ids=expected, retrieved_ids=retrieved[:MRR_K])
    scores[f"mrr@{MRR_K}"] = mrr.score
    return scores


def fact_recall(answer: str, facts: Sequence[str]) -> tuple[float, list[str]]:
    """Return the share of facts found in the answer (case-insensitive) and the missing ones."""
    if not facts:
        return 1.0, []
    text = normalise(_CITATION_MARK.sub("", answer)).casefold()
    missing = [fact for fact in facts if normalise(fact).casefold() not in text]
    return 1 - len(missing) / len(facts), missing


def citation_supported(citations: Sequence[Passage], item: Item) -> bool:
    """True when some cited passage holds a gold quote (any of them for multi_passage)."""
    return any(any(matches(c, gold, item.answer_facts) for gold in item.golds) for c in citations)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float]) -> float | None:
    """The mean, or None when there are no values (a metric with nothing to measure)."""
    values = list(values)
    return sum(values) / len(values) if values else None


def retrieval_summary(flag_lists: Sequence[Sequence[bool]]) -> dict[str, float | None]:
    """hit@1/3/5 and MRR@10 averaged over questions."""
    per_question = [retrieval_scores(flags) for flags in flag_lists]
    keys = [*(f"hit@{k}" for k in HIT_KS), f"mrr@{MRR_K}"]
    return {key: mean(scores[key] for scores in per_question) for key in keys}


def hit_curve(flag_lists: Sequence[Sequence[bool]], k_max: int = CURVE_K) -> list[float]:
    """hit@k for k = 1..k_max: the share of questions with the gold in the top k."""
    ranks = [first_hit(flags) for flags in flag_lists]
    if not ranks:
        return []
    return [sum(r is not None and r <= k for r in ranks) / len(ranks) for k in range(1, k_max + 1)]


def abstention_summary(
    abstained: Sequence[bool], should_abstain: Sequence[bool]
) -> dict[str, float | None]:
    """Abstention precision and recall (positive = abstained) and the answerable refusal rate."""
    pairs = list(zip(abstained, should_abstain, strict=True))
    true_pos = sum(a and s for a, s in pairs)
    said = sum(a for a, _ in pairs)
    unanswerable = sum(s for _, s in pairs)
    answerable = len(pairs) - unanswerable
    refused = sum(a and not s for a, s in pairs)
    return {
        "abstention_precision": true_pos / said if said else None,
        "abstention_recall": true_pos / unanswerable if unanswerable else None,
        "answerable_refused": refused / answerable if answerable else None,
        "answerable_answered": 1 - refused / answerable if answerable else None,
    }


def below_floors(
    summary: dict[str, float | None], floors: dict[str, float] = FLOORS
) -> list[tuple[str, float, float]]:
    """Return (metric, value, floor) for every floor the summary misses.

    A metric this run could not measure (None: e.g. no unanswerable items under --type)
    is not a miss; the quality gate checks separately that the full set measures all.
    """
    return [
        (metric, summary[metric], floor)
        for metric, floor in floors.items()
        if summary.get(metric) is not None and summary[metric] < floor - 1e-12
    ]
