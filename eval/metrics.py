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

The metrics (METRICS) follow from it, each over the questions it applies to:
- answerable questions: hit@1/3/5 and MRR@10 (llama-index's HitRate and MRR compute them
  from which ranks hold the gold), key facts found in the answer (0 when not covered),
  citation support, how much of what it quotes comes from an item holding the gold and
  whether it opens with one (quoted_on_gold), and the share answered, hedged and not
  covered;
- unanswerable questions: the share flagged (hedged or not covered), answered and not
  covered, and the share of off-topic ones not covered;
- partial questions (one ask answered, one not): the share hedged, and their key facts;
- latency p50 / p95.
Every metric is an Estimate: its value with a 95% bootstrap interval (the questions
resampled with replacement 1,000 times with a fixed seed; the percentile interval), so a
reader can tell a real change from the luck of which questions the split holds.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import numpy as np

from eval.dataset import Gold, Item
from records import ANSWERED, HEDGED, NOT_COVERED, OVERVIEW, STATUSES
from sentences import split_sentences

HIT_KS = (1, 3, 5)
MRR_K = 10
CURVE_K = 10  # hit@k curves run k = 1..10
OVERLAP_SHARE = 0.6  # a boundary-cut passage must hold this share of the quote ...
MIN_OVERLAP_CHARS = 50  # ... and at least this many characters of it
RESAMPLES = 1000  # bootstrap resamples per interval
SEED = 0  # the bootstrap's seed: the same run always reports the same intervals
LEVEL = 0.95  # the intervals' coverage
TOLERANCE = 1e-12  # a value this close to a floor's bound meets it (float sums)

# Which questions a metric is measured over: the item's group.
ANSWERABLE, PARTIAL, UNANSWERABLE = "answerable", "partial", "unanswerable"
HIGHER, LOWER = "higher", "lower"  # which way a metric improves
AT_LEAST, AT_MOST = "at least", "at most"  # which way a floor bounds it

_MARKER = re.compile(r"^[ \t]*(?:•|\d+\.)[ \t]+", re.MULTILINE)
_STRAIGHT = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})
_CITATION_MARK = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class MetricInfo:
    """What a metric means, which way it improves, and how its per-question values sum up."""

    label: str
    better: str | None  # HIGHER, LOWER, or None when neither is better in itself
    statistic: str = "mean"  # "mean", or a percentile: "p50", "p95"
    speed: bool = False  # a timing: compared by `make bench`, not in the quality comparison


METRICS: dict[str, MetricInfo] = {
    "hit@1": MetricInfo("answer passage ranked first (hit@1)", HIGHER),
    "hit@3": MetricInfo("answer passage in the top 3 (hit@3)", HIGHER),
    "hit@5": MetricInfo("answer passage in the top 5 (hit@5)", HIGHER),
    "mrr@10": MetricInfo("mean reciprocal rank of the answer passage (MRR@10)", HIGHER),
    "fact_recall": MetricInfo("key facts in the answer (answerable)", HIGHER),
    "top_passage_fact_recall": MetricInfo("key facts in the top passage alone", HIGHER),
    "citation_support": MetricInfo("a cited passage holds the gold quote", HIGHER),
    "quote_precision": MetricInfo("answer sentences from an item holding the gold", HIGHER),
    "opens_on_gold": MetricInfo("the answer opens with an item holding the gold", HIGHER),
    "answerable_answered": MetricInfo("answerable: answered", HIGHER),
    "answerable_hedged": MetricInfo("answerable: hedged", LOWER),
    "answerable_not_covered": MetricInfo("answerable: not covered (refused)", LOWER),
    "unanswerable_flagged": MetricInfo("unanswerable: flagged (hedged or not covered)", HIGHER),
    "unanswerable_answered": MetricInfo("unanswerable: answered", LOWER),
    # On-topic gaps are right hedged or not covered, so this share is better neither way.
    "unanswerable_not_covered": MetricInfo("unanswerable: not covered", None),
    "offtopic_not_covered": MetricInfo("off-topic: not covered", HIGHER),
    "partial_hedged": MetricInfo("partial: hedged (says what is missing)", HIGHER),
    "partial_fact_recall": MetricInfo("partial: key facts of the answered ask", HIGHER),
    "latency_p50_ms": MetricInfo("latency p50, ms (end to end)", LOWER, "p50", speed=True),
    "latency_p95_ms": MetricInfo("latency p95, ms (end to end)", LOWER, "p95", speed=True),
    "retrieval_p50_ms": MetricInfo("retrieval p50, ms", LOWER, "p50", speed=True),
}


@dataclass(frozen=True)
class Floor:
    """A bound a metric must keep on the sealed test split: at least or at most a value."""

    bound: float
    direction: str  # AT_LEAST or AT_MOST

    def met(self, value: float) -> bool:
        """True when the value is on the right side of the bound."""
        if self.direction == AT_LEAST:
            return value >= self.bound - TOLERANCE
        return value <= self.bound + TOLERANCE

    def __str__(self) -> str:
        return f"{'>=' if self.direction == AT_LEAST else '<='} {self.bound:.2f}"


# The targets on the sealed test split (issue 9). Reports show ours against them.
TARGETS: dict[str, Floor] = {
    "hit@1": Floor(0.92, AT_LEAST),
    "hit@5": Floor(0.98, AT_LEAST),
    "fact_recall": Floor(0.90, AT_LEAST),
    "answerable_not_covered": Floor(0.03, AT_MOST),
    "answerable_hedged": Floor(0.15, AT_MOST),
    "unanswerable_flagged": Floor(0.90, AT_LEAST),
    "unanswerable_answered": Floor(0.10, AT_MOST),
    "citation_support": Floor(0.95, AT_LEAST),
}
# What the quality gate enforces on the sealed test split. Where ours reaches its target,
# the floor is the target. Where it does not yet, the floor is the level reached less about
# one question, so no change can quietly make it worse; each floor only tightens, up to its
# target, except when a writing pass grows the test split: then the floors are set anew
# from the grown split, once (tests/eval/test_quality_gate.py RATCHET says which moved and
# why). A floor below its target is an open gap, listed as such in every report. Levels
# on the test split of 217 questions (grown by the third writing pass) with the model refit
# on its grown train split, 2026-12-01: hit@1 0.859 (the 181 earlier questions still
# 0.873), unanswerable flagged 0.797 and answered 0.203; citation support 0.956 reaches
# its target. Then the passages shown in reader order (assistant.decide.order_passages):
# hit@1 0.874, the floor 0.85 -> 0.86. Then the question prior's second reading (what a
# question asks beyond its closest passage, 2026-12-02): flagged 0.838 (62 of 74) and
# answered 0.162, the floors 0.78 -> 0.82 and 0.22 -> 0.18. One floor has no target in the
# issue: answers opening with the item that answers, 0.793 (107 of 135) once the best-read
# item leads (2026-12-02; 0.526 before), so the floor is 0.78. The fourth writing pass
# grew the test split to 250 (2026-12-03), the models refit on its grown train split:
# hit@1 0.851, opens 0.766, flagged 0.851 (74 of 87), answered 0.149, so the floors are
# set anew from it: 0.84, 0.75, 0.83 and 0.17. Reading each sentence under its heading too
# when re-scoring passages (2026-12-04) took hit@1 to 0.870 (134 of 154) and opens to
# 0.796 (121 of 152): floors 0.86 and 0.78.
FLOORS: dict[str, Floor] = {
    **TARGETS,
    "hit@1": Floor(0.86, AT_LEAST),
    "unanswerable_flagged": Floor(0.83, AT_LEAST),
    "unanswerable_answered": Floor(0.17, AT_MOST),
    "opens_on_gold": Floor(0.78, AT_LEAST),
}


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


def quoted_on_gold(answer: str, cited: Sequence[Passage], item: Item) -> list[bool]:
    """For each sentence the answer quotes, in order, whether its source item (the line of
    the cited passage it comes from) holds a sentence of a gold quote, in a season that
    counts. Sentences the answer wrote itself (a caveat, "The closest they say:") are left
    out. Their share is quote precision: key facts and citation support reward quoting
    more, and an answer padded with items on other subjects still finds its facts; this
    says how much of what the contractor reads is the answer, and whether it opens with it.
    """
    gold_sentences = [
        (gold.seasons, [normalise(s) for s in split_sentences(gold.quote)]) for gold in item.golds
    ]
    lines = [
        (passage_season, normalise(line))
        for passage in cited
        for passage_season, text in passage.parts()
        for line in text.split("\n")
    ]
    said = [
        normalise(s)
        for line in _CITATION_MARK.sub("", answer).split("\n")
        for s in split_sentences(line)
    ]
    flags = []
    for sentence in said:
        sources = [(season, line) for season, line in lines if sentence and sentence in line]
        if sources:
            flags.append(
                any(
                    season_counts(season, seasons) and any(g and g in line for g in quoted)
                    for season, line in sources
                    for seasons, quoted in gold_sentences
                )
            )
    return flags


def quote_scores(flags: Sequence[bool]) -> tuple[float | None, bool | None]:
    """Quote precision and whether the answer opens on the gold, from quoted_on_gold's
    flags; both None when the answer quotes nothing."""
    return (sum(flags) / len(flags), flags[0]) if flags else (None, None)


def item_group(item_type: str) -> str:
    """Which metrics a question counts in: ANSWERABLE, PARTIAL or UNANSWERABLE."""
    if item_type == "unanswerable":
        return UNANSWERABLE
    return PARTIAL if item_type == "partial" else ANSWERABLE


def right_states(group: str, on_topic: bool = True) -> tuple[str, ...]:
    """The answer states that are right for a question of this group.

    Answerable: answered. Partial: hedged (answer the covered ask, say what is missing).
    Unanswerable on the archive's topics: hedged or not covered; off them: not covered.
    """
    if group == ANSWERABLE:
        return (ANSWERED,)
    if group == PARTIAL:
        return (HEDGED,)
    return (HEDGED, NOT_COVERED) if on_topic else (NOT_COVERED,)


@dataclass
class SystemRun:
    """What one system did with one question, as the metrics read it.

    Retrieval baselines fill only the retrieval fields; systems that answer also fill the
    answer fields (status None means the system does not answer).
    """

    flags: list[bool] | None = None  # best first: does the passage at this rank hold a gold?
    retrieval_ms: float | None = None
    top_fact_recall: float | None = None  # the top passage taken as the answer
    status: str | None = None  # one of STATUSES
    answer: str = ""
    fact_recall: float | None = None  # facts in the answer text; 0 when not covered
    facts_missing: list[str] = field(default_factory=list)
    citation_supported: bool | None = None  # answered or hedged, citing a gold passage
    quote_precision: float | None = None  # share of quoted sentences from a gold item
    opens_on_gold: bool | None = None  # the first quoted sentence is from a gold item
    latency_ms: float | None = None  # end to end
    reason: str = ""
    score: float | None = None  # the naive baseline's cosine

    @property
    def rank(self) -> int | None:
        """Rank of the first passage holding the gold, or None."""
        return first_hit(self.flags or [])


def item_values(
    group: str, on_topic: bool, run: SystemRun, states: Sequence[str] = STATUSES
) -> dict[str, float]:
    """The value one question gives each metric that applies to it, for one system.

    states are the answer states the system can give: a share of a state it cannot give
    (a two-state baseline's "hedged") is not measured rather than a structural zero.
    """
    values: dict[str, float] = {}
    answers = run.status is not None
    if group == ANSWERABLE:
        if run.flags is not None:
            values.update(retrieval_scores(run.flags))
        if run.top_fact_recall is not None:
            values["top_passage_fact_recall"] = run.top_fact_recall
        if answers:
            covered = run.status != NOT_COVERED
            values["fact_recall"] = run.fact_recall if covered and run.fact_recall else 0.0
            values["citation_support"] = float(covered and bool(run.citation_supported))
            if covered and run.quote_precision is not None:
                values["quote_precision"] = run.quote_precision
            if covered and run.opens_on_gold is not None:
                values["opens_on_gold"] = float(run.opens_on_gold)
            for state in states:
                values[f"answerable_{state}"] = float(run.status == state)
    elif group == UNANSWERABLE and answers:
        values["unanswerable_flagged"] = float(run.status != ANSWERED)
        values["unanswerable_answered"] = float(run.status == ANSWERED)
        values["unanswerable_not_covered"] = float(run.status == NOT_COVERED)
        if not on_topic:
            values["offtopic_not_covered"] = float(run.status == NOT_COVERED)
    elif group == PARTIAL and answers:
        if HEDGED in states:
            values["partial_hedged"] = float(run.status == HEDGED)
        covered = run.status != NOT_COVERED
        values["partial_fact_recall"] = run.fact_recall if covered and run.fact_recall else 0.0
    if run.latency_ms is not None:
        values["latency_p50_ms"] = values["latency_p95_ms"] = run.latency_ms
    if run.retrieval_ms is not None:
        values["retrieval_p50_ms"] = run.retrieval_ms
    return values


@dataclass(frozen=True)
class Estimate:
    """A metric's value over n questions, with its 95% bootstrap interval [low, high].

    All three are None when no question measured it (n = 0).
    """

    value: float | None
    low: float | None
    high: float | None
    n: int


def _statistic(name: str, samples: np.ndarray) -> np.ndarray:
    """The statistic along the last axis: the mean, or a percentile such as "p95"."""
    if name == "mean":
        return samples.mean(axis=-1)
    return np.percentile(samples, float(name[1:]), axis=-1)  # linear interpolation


def bootstrap_interval(
    values: Sequence[float],
    statistic: str = "mean",
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[float, float] | None:
    """The percentile bootstrap interval of a statistic; None for no values.

    The questions are resampled with replacement `resamples` times; the interval is the
    middle `level` share of the statistic over the resamples. The seed is fixed, so a run
    always reports the same interval.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return None
    rng = np.random.default_rng(seed)
    samples = data[rng.integers(0, data.size, size=(resamples, data.size))]
    spread = _statistic(statistic, samples)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(spread, [tail, 100 - tail])
    return float(low), float(high)


def estimate(values: Sequence[float], statistic: str = "mean", seed: int = SEED) -> Estimate:
    """The statistic of the values with its bootstrap interval."""
    if not len(values):
        return Estimate(None, None, None, 0)
    data = np.asarray(values, dtype=np.float64)
    interval = bootstrap_interval(data, statistic, seed=seed)
    assert interval is not None
    return Estimate(float(_statistic(statistic, data)), *interval, n=int(data.size))


def estimates(per_question: Iterable[dict[str, float]]) -> dict[str, Estimate]:
    """Every metric some question measured, in METRICS order, as an Estimate."""
    gathered: dict[str, list[float]] = {name: [] for name in METRICS}
    for values in per_question:
        for name, value in values.items():
            gathered.setdefault(name, []).append(value)
    return {
        name: estimate(values, METRICS[name].statistic if name in METRICS else "mean")
        for name, values in gathered.items()
        if values
    }


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
    return {key: mean(row[key] for row in per_question) for key in keys}


def hit_curve(flag_lists: Sequence[Sequence[bool]], k_max: int = CURVE_K) -> list[float]:
    """hit@k for k = 1..k_max: the share of questions with the gold in the top k."""
    ranks = [first_hit(flags) for flags in flag_lists]
    if not ranks:
        return []
    return [sum(r is not None and r <= k for r in ranks) / len(ranks) for k in range(1, k_max + 1)]


def below_floors(
    summary: dict[str, Estimate], floors: dict[str, Floor] = FLOORS
) -> list[tuple[str, float, Floor]]:
    """Return (metric, value, floor) for every floor the summary misses.

    A metric this run could not measure (e.g. no unanswerable items under --type) is not
    a miss; the quality gate checks separately that the test split measures them all.
    """
    missed = []
    for metric, floor in floors.items():
        got = summary.get(metric)
        if got is not None and got.value is not None and not floor.met(got.value):
            missed.append((metric, got.value, floor))
    return missed


@dataclass(frozen=True)
class Versus:
    """Our value and a baseline's on one metric both measure, and which is better."""

    metric: str
    ours: float
    theirs: float
    verdict: str  # "better", "same" or "worse" (ours, against theirs)


def versus(ours: dict[str, Estimate], theirs: dict[str, Estimate]) -> list[Versus]:
    """Compare us with a baseline on every quality metric both measured.

    Timings are left to `make bench` (a cheaper system is not a better one), and a metric
    that is better neither way (unanswerable not covered) is not a contest.
    """
    rows = []
    for metric, info in METRICS.items():
        mine, other = ours.get(metric), theirs.get(metric)
        if info.better is None or info.speed or not mine or not other:
            continue
        if mine.value is None or other.value is None:
            continue
        gain = mine.value - other.value if info.better == HIGHER else other.value - mine.value
        verdict = "same" if abs(gain) <= TOLERANCE else ("better" if gain > 0 else "worse")
        rows.append(Versus(metric, mine.value, other.value, verdict))
    return rows
