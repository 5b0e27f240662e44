"""Run a question set through the assistant and the baselines, and score every answer.

Each item goes through ``assistant.ask`` exactly as a user's question would (follow-ups
with their history), so the eval measures what the user gets. The baselines retrieve for
the same questions in the same run, so the comparison is side by side.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np

from eval.baselines import (
    BASELINES,
    TOP_K,
    DefaultPipeline,
    bm25_search,
    build_default_pipeline,
    chunk_passage,
    dense_search,
    passage_vectors,
)
from eval.dataset import TYPES, Item
from eval.metrics import (
    CURVE_K,
    FLOORS,
    Passage,
    abstention_summary,
    citation_supported,
    fact_recall,
    first_hit,
    gold_flags,
    hit_curve,
    mean,
    percentile,
    retrieval_summary,
)
from settings import Settings

OURS = "hybrid"
SYSTEMS: tuple[str, ...] = (OURS, *BASELINES)
LABELS = {
    "hybrid": "hybrid (ours)",
    "bm25": "BM25 only",
    "dense": "dense only",
    "llamaindex-default": "llama-index default",
}
NO_SEASON = "none (unanswerable)"
# Passage text kept per retrieved item in results.json: enough to judge a miss by eye.
SNIPPET_CHARS = 300


@dataclass
class SystemRun:
    """One system's retrieval for one question: which ranks hold the gold, and how fast."""

    flags: list[bool]  # best first: does the passage at this rank hold a gold quote?
    latency_ms: float
    top_fact_recall: float | None  # the top passage taken as the answer (None: unanswerable)

    @property
    def rank(self) -> int | None:
        """Rank of the first passage holding the gold, or None."""
        return first_hit(self.flags)


@dataclass
class ItemResult:
    """Everything measured for one question: what we answered, and how it scored."""

    id: str
    type: str
    season: str | None
    question: str
    history: list[str]
    answer_facts: list[str]
    gold_quotes: list[str]
    answerable: bool
    answer: str = ""
    abstained: bool = False
    reason: str = ""
    as_of: str | None = None
    citations: list[dict] = field(default_factory=list)
    retrieved: list[dict] = field(default_factory=list)
    hit_rank: int | None = None
    fact_recall: float | None = None
    facts_missing: list[str] = field(default_factory=list)
    citation_supported: bool | None = None
    latency_ms: float | None = None
    cosine: float | None = None  # question vs its closest retrieved passage
    systems: dict[str, SystemRun] = field(default_factory=dict)
    error: str | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the item needs no attention (see failure_reasons)."""
        return not self.failures


@dataclass
class EvalResult:
    """A whole run: per-item results, the summary per system, breakdowns, and plot data."""

    items: list[ItemResult]
    systems: list[str]
    summary: dict[str, dict[str, float | None]]  # system -> metric -> value
    by_type: dict[str, dict[str, float | None]]  # our system, per question type
    by_season: dict[str, dict[str, float | None]]  # our system, per gold season
    hit1_by_type: dict[str, dict[str, float | None]]  # system -> type -> hit@1
    hit_curves: dict[str, list[float]]  # system -> hit@k for k = 1..
    tradeoff: dict  # abstention vs refusal as a cosine threshold moves
    meta: dict

    @property
    def failed(self) -> list[ItemResult]:
        """The items that failed, in set order."""
        return [item for item in self.items if not item.passed]

    def to_json(self) -> dict:
        """Return the run as JSON-ready data (results.json, read back by --compare)."""
        data = asdict(self)
        for item, record in zip(self.items, data["items"], strict=True):
            record["passed"] = item.passed
            for name, run in item.systems.items():
                record["systems"][name]["rank"] = run.rank
        return data


def run_eval(
    items: Sequence[Item],
    settings: Settings,
    systems: Sequence[str] = SYSTEMS,
    progress: bool = True,
) -> EvalResult:
    """Ask every item, run the chosen baselines on the same questions, and score it all.

    Our hybrid always runs (abstention and answers are only ours); systems picks which
    baselines run beside it. Raises index.store.NoIndexError when there is no index.
    """
    from tqdm import tqdm

    from assistant import get_index

    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown system {unknown[0]!r}; the systems are: {', '.join(SYSTEMS)}")
    chosen = [OURS, *(s for s in BASELINES if s in systems)]
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    # Load the index before the first question, so its ~10 s load is not timed as latency.
    index = get_index(settings)
    vectors = passage_vectors(index)
    default = build_default_pipeline(index) if "llamaindex-default" in chosen else None
    results = [
        _run_item(item, index, settings, chosen, vectors, default)
        for item in tqdm(items, desc="eval", unit="q", disable=not progress, file=sys.stderr)
    ]
    meta = {
        "started_at": started_at,
        "duration_s": round(time.perf_counter() - started, 1),
        "items": len(results),
        "index_dir": str(settings.index_dir),
        "build_id": index.manifest.get("build_id"),
        "chunks": len(index.chunks),
        "floors": dict(FLOORS),
        "default_pipeline": None
        if default is None
        else {"nodes": default.nodes, "build_s": round(default.build_s, 2)},
    }
    return summarise(results, chosen, meta)


def _run_item(
    item: Item,
    index,
    settings: Settings,
    systems: list[str],
    vectors: dict[str, np.ndarray],
    default: DefaultPipeline | None,
) -> ItemResult:
    """Ask one question, run the baselines on it, and score both."""
    from assistant import BadQuestionError, ask, clean_question
    from assistant.followup import resolve

    result = ItemResult(
        id=item.id,
        type=item.type,
        season=item.season,
        question=item.question,
        history=list(item.history),
        answer_facts=list(item.answer_facts),
        gold_quotes=[gold.quote for gold in item.golds],
        answerable=item.answerable,
    )
    try:
        answer = ask(item.question, history=list(item.history) or None, settings=settings)
        query_text = resolve(clean_question(item.question), list(item.history))
    except BadQuestionError as error:
        result.error = str(error)
        result.failures = [f"error: {error}"]
        return result
    data = answer.to_json()
    result.answer = answer.answer
    result.abstained = answer.abstained
    result.reason = answer.reason
    result.as_of = answer.as_of
    result.latency_ms = answer.timings_ms.get("total")
    result.citations = [
        {k: c[k] for k in ("n", "season", "heading_path", "url", "sentences")}
        for c in data["citations"]
    ]
    result.retrieved = [
        {**{k: r[k] for k in ("rank", "score", "season", "heading_path", "url")},
         "text": r["text"][:SNIPPET_CHARS]}
        for r in data["retrieved"]
    ]  # fmt: skip

    embed_started = time.perf_counter()
    vector = index.embed_query(query_text)
    embed_ms = (time.perf_counter() - embed_started) * 1000
    known = [vectors[h.chunk.id] for h in answer.retrieved if h.chunk.id in vectors]
    # The cosine of the question with its closest retrieved passage: the number a
    # threshold-only abstainer would use (see the trade-off plot).
    result.cosine = float(max(v @ vector for v in known)) if known else 0.0

    ours = [chunk_passage(hit.chunk) for hit in answer.retrieved[:TOP_K]]
    runs = {OURS: (ours, answer.timings_ms.get("retrieve", 0.0))}
    if item.answerable:
        for name in systems[1:]:
            runs[name] = _baseline(name, index, query_text, vector, embed_ms, default)
    for name, (passages, latency) in runs.items():
        top = None
        if item.answerable:
            top = fact_recall(passages[0].text, item.answer_facts)[0] if passages else 0.0
        flags = gold_flags(passages, item) if item.answerable else []
        result.systems[name] = SystemRun(flags=flags, latency_ms=latency, top_fact_recall=top)

    if item.answerable:
        result.hit_rank = result.systems[OURS].rank
        if answer.abstained:
            result.fact_recall, result.facts_missing = 0.0, list(item.answer_facts)
            result.citation_supported = False
        else:
            result.fact_recall, result.facts_missing = fact_recall(answer.answer, item.answer_facts)
            cited = [Passage(text=c.text, season=c.season) for c in answer.citations]
            result.citation_supported = citation_supported(cited, item)
    result.failures = failure_reasons(result)
    return result


def _baseline(
    name: str,
    index,
    text: str,
    vector: np.ndarray,
    embed_ms: float,
    default: DefaultPipeline | None,
) -> tuple[list[Passage], float]:
    """Run one baseline; its latency includes embedding the question where it needs that."""
    searches: dict[str, Callable[[], list[Passage]]] = {
        "bm25": lambda: bm25_search(index, text),
        "dense": lambda: dense_search(index, text, vector),
        "llamaindex-default": lambda: default.search(text, vector),  # type: ignore[union-attr]
    }
    started = time.perf_counter()
    passages = searches[name]()
    latency = (time.perf_counter() - started) * 1000 + (0.0 if name == "bm25" else embed_ms)
    return passages, latency


def failure_reasons(result: ItemResult) -> list[str]:
    """Say why an item failed: an answerable question not hit at rank 1, missing facts, or
    refused; an unanswerable one answered. An empty list means it passed."""
    if result.error:
        return [f"error: {result.error}"]
    if not result.answerable:
        return [] if result.abstained else ["answered a question the archive does not cover"]
    reasons = []
    if result.abstained:
        reasons.append(f"refused an answerable question ({result.reason})")
    if result.hit_rank is None:
        reasons.append(f"gold passage not in the top {TOP_K}")
    elif result.hit_rank > 1:
        reasons.append(f"gold passage at rank {result.hit_rank}")
    if not result.abstained and result.facts_missing:
        reasons.append("answer lacks: " + "; ".join(result.facts_missing))
    return reasons


def summarise(results: list[ItemResult], systems: Sequence[str], meta: dict) -> EvalResult:
    """Aggregate item results into the summary, the breakdowns and the plot data."""
    answerable = [r for r in results if r.answerable and not r.error]
    summary = {name: system_summary(results, name) for name in systems}
    by_type = {t: group_summary([r for r in results if r.type == t]) for t in TYPES}
    by_type = {t: v for t, v in by_type.items() if v["n"]}
    seasons = sorted({r.season or NO_SEASON for r in results}, key=_season_key)
    by_season = {
        s: group_summary([r for r in results if (r.season or NO_SEASON) == s]) for s in seasons
    }
    hit1_by_type = {
        name: {
            t: retrieval_summary([r.systems[name].flags for r in answerable if r.type == t])[
                "hit@1"
            ]
            for t in by_type
            if t != "unanswerable"
        }
        for name in systems
    }
    curves = {}
    for name in systems:
        flag_lists = [r.systems[name].flags for r in answerable]
        longest = max((len(f) for f in flag_lists), default=0)
        curves[name] = hit_curve(flag_lists, min(CURVE_K, max(longest, 1)))
    return EvalResult(
        items=results,
        systems=list(systems),
        summary=summary,
        by_type=by_type,
        by_season=by_season,
        hit1_by_type=hit1_by_type,
        hit_curves=curves,
        tradeoff=tradeoff(results),
        meta=meta,
    )


def system_summary(results: list[ItemResult], name: str) -> dict[str, float | None]:
    """One system's metrics over the run: retrieval for all, answers and abstention for ours."""
    scored = [r for r in results if not r.error]
    answerable = [r for r in scored if r.answerable]
    runs = [r.systems[name] for r in answerable if name in r.systems]
    summary: dict[str, float | None] = {
        "n_answerable": len(answerable),
        "n_unanswerable": sum(not r.answerable for r in scored),
        **retrieval_summary([run.flags for run in runs]),
        "top_passage_fact_recall": mean(
            run.top_fact_recall for run in runs if run.top_fact_recall is not None
        ),
        "retrieval_p50_ms": percentile([run.latency_ms for run in runs], 50),
    }
    if name != OURS:
        return summary
    latencies = [r.latency_ms for r in scored if r.latency_ms is not None]
    return {
        **summary,
        "fact_recall": mean(r.fact_recall or 0.0 for r in answerable),
        "citation_support": mean(float(bool(r.citation_supported)) for r in answerable),
        **abstention_summary([r.abstained for r in scored], [not r.answerable for r in scored]),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
    }


def group_summary(group: list[ItemResult]) -> dict[str, float | None]:
    """Our system's metrics over one group of items (a question type or a season)."""
    answerable = [r for r in group if r.answerable and not r.error]
    retrieval = retrieval_summary([r.systems[OURS].flags for r in answerable])
    return {
        "n": len(group),
        "failed": sum(not r.passed for r in group),
        "hit@1": retrieval["hit@1"],
        "hit@5": retrieval["hit@5"],
        "mrr@10": retrieval["mrr@10"],
        "fact_recall": mean(r.fact_recall or 0.0 for r in answerable),
        "citation_support": mean(float(bool(r.citation_supported)) for r in answerable),
        "abstained": mean(float(r.abstained) for r in group if not r.error),
        "latency_p50_ms": percentile([r.latency_ms for r in group if r.latency_ms is not None], 50),
    }


def tradeoff(results: list[ItemResult]) -> dict:
    """Abstention vs refusal for an abstainer that only thresholds the question's cosine.

    For each threshold t (abstain when the closest retrieved passage's cosine < t): the
    share of unanswerable questions abstained and of answerable ones refused; with our
    system's actual operating point, and the best a threshold alone does at <= 5% refused.
    """
    scored = [r for r in results if not r.error and r.cosine is not None]
    good = [r.cosine for r in scored if r.answerable]
    bad = [r.cosine for r in scored if not r.answerable]
    if not good or not bad:
        return {}
    thresholds = sorted({round(c, 4) for c in good + bad})
    thresholds.append(thresholds[-1] + 0.01)
    abstained = [sum(c < t for c in bad) / len(bad) for t in thresholds]
    refused = [sum(c < t for c in good) / len(good) for t in thresholds]
    allowed = [i for i, r in enumerate(refused) if r <= 1 - FLOORS["answerable_answered"] + 1e-9]
    best = max(allowed, key=lambda i: abstained[i]) if allowed else None
    ours = abstention_summary([r.abstained for r in scored], [not r.answerable for r in scored])
    return {
        "thresholds": thresholds,
        "unanswerable_abstained": abstained,
        "answerable_refused": refused,
        "ours": {
            "abstention_recall": ours["abstention_recall"],
            "answerable_refused": ours["answerable_refused"],
        },
        "threshold_only_best": None
        if best is None
        else {
            "threshold": thresholds[best],
            "abstention_recall": abstained[best],
            "answerable_refused": refused[best],
        },
    }


def _season_key(season: str) -> tuple[int, int, str]:
    """Sort seasons oldest first, overview before them, the unanswerable group last."""
    from records import season_order

    if season == NO_SEASON:
        return (2, 0, season)
    return (1, season_order(season), season)
