"""Run a question set through the assistant and the baselines, and score every answer.

Each item goes through ``assistant.ask`` exactly as a user's question would (follow-ups
and compound questions with their history), so the eval measures what the user gets; its
state (answered, hedged, not covered) is read from the JSON answer. The baselines answer
or retrieve for the same questions in the same run, so the comparison is side by side.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np

from eval.baselines import (
    ANSWER_BASELINES,
    BASELINES,
    RETRIEVAL_BASELINES,
    TOP_K,
    TWO_STATES,
    BaselineAnswer,
    DefaultPipeline,
    bm25_search,
    build_default_pipeline,
    chunk_passage,
    dense_search,
    naive_answer,
    naive_threshold,
    rules_answer,
)
from eval.dataset import TYPES, Item
from eval.metrics import (
    ANSWERABLE,
    CURVE_K,
    FLOORS,
    PARTIAL,
    TARGETS,
    UNANSWERABLE,
    Estimate,
    Passage,
    SystemRun,
    Versus,
    citation_supported,
    estimates,
    fact_recall,
    gold_flags,
    hit_curve,
    item_group,
    item_values,
    quote_scores,
    quoted_on_gold,
    retrieval_summary,
    right_states,
    versus,
)
from records import ANSWERED, HEDGED, NOT_COVERED, STATUSES
from settings import Settings

OURS = "ours"
SYSTEMS: tuple[str, ...] = (OURS, *BASELINES)
LABELS = {
    OURS: "ours",
    "rules": "rule cascade (old)",
    "naive": "naive top-1 + cosine",
    "bm25": "BM25 only",
    "dense": "dense only",
    "llamaindex-default": "llama-index default",
}
# The answer states each system can give (the retrieval baselines give none).
STATES: dict[str, tuple[str, ...]] = {
    OURS: STATUSES,
    **{name: TWO_STATES for name in ANSWER_BASELINES},
    **{name: () for name in RETRIEVAL_BASELINES},
}
NO_SEASON = "none (unanswerable)"
BREAKDOWNS = ("type", "voice", "season", "gap")
# Passage text kept per retrieved item in results.json: enough to judge a miss by eye.
SNIPPET_CHARS = 300


@dataclass
class ItemResult:
    """Everything measured for one question: what each system did, and how ours scored."""

    id: str
    type: str
    voice: str
    season: str | None
    gap: str | None
    on_topic: bool
    question: str
    history: list[str]
    answer_facts: list[str]
    gold_quotes: list[str]
    # Our answer, for the report (its scores are in systems[OURS]).
    answer: str = ""
    caveat: str = ""
    reason: str = ""
    as_of: str | None = None
    citations: list[dict] = field(default_factory=list)
    retrieved: list[dict] = field(default_factory=list)
    systems: dict[str, SystemRun] = field(default_factory=dict)
    error: str | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def group(self) -> str:
        """ANSWERABLE, PARTIAL or UNANSWERABLE: which metrics the question counts in."""
        return item_group(self.type)

    @property
    def answerable(self) -> bool:
        """True when the archive answers every ask of the question."""
        return self.group == ANSWERABLE

    @property
    def ours(self) -> SystemRun:
        """Our system's run on this question (empty when the question errored)."""
        return self.systems.get(OURS) or SystemRun()

    @property
    def status(self) -> str | None:
        """Our answer's state: answered, hedged or not_covered (None on error)."""
        return self.ours.status

    @property
    def hit_rank(self) -> int | None:
        """Rank of the first of our passages holding the gold, or None."""
        return self.ours.rank

    @property
    def right(self) -> bool:
        """True when our answer is in a state that is right for the question."""
        return self.status in right_states(self.group, self.on_topic)

    @property
    def passed(self) -> bool:
        """True when the item needs no attention (see failure_reasons)."""
        return not self.failures


@dataclass
class Group:
    """Our system's scores over one group of questions (a type, a voice, a season, a gap)."""

    n: int
    failed: int
    scores: dict[str, Estimate]


@dataclass
class EvalResult:
    """A whole run: per-item results, every system's scores, breakdowns, and plot data."""

    items: list[ItemResult]
    systems: list[str]
    summary: dict[str, dict[str, Estimate]]  # system -> metric -> estimate
    versus: dict[str, list[Versus]]  # baseline -> ours against it, metric by metric
    breakdowns: dict[str, dict[str, Group]]  # "type" | "voice" | "season" | "gap" -> group
    hit1_by_type: dict[str, dict[str, float | None]]  # system -> type -> hit@1
    hit_curves: dict[str, list[float]]  # system -> hit@k for k = 1..
    tradeoff: dict  # flagged vs not answered as the naive cosine threshold moves
    meta: dict

    @property
    def failed(self) -> list[ItemResult]:
        """The items that failed, in set order."""
        return [item for item in self.items if not item.passed]

    def to_json(self) -> dict:
        """Return the run as JSON-ready data (results.json, read back by --compare)."""
        data = asdict(self)
        for item, record in zip(self.items, data["items"], strict=True):
            record.update(passed=item.passed, status=item.status, right=item.right)
            record["hit_rank"] = item.hit_rank
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

    Ours always runs; systems picks which baselines run beside it. Raises
    index.store.NoIndexError when there is no index, BaselineUnavailableError when the
    naive baseline is asked for and the model file has no threshold for it.
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
    threshold = naive_threshold(settings.answer.model_path) if "naive" in chosen else None
    default = build_default_pipeline(index) if "llamaindex-default" in chosen else None
    runner = _ItemRunner(index, settings, chosen, default, threshold)
    if items:  # one untimed question first: the models and tables load on first use
        from assistant import BadQuestionError, ask

        with contextlib.suppress(BadQuestionError):  # the item itself reports it
            ask(items[0].question, history=list(items[0].history) or None, settings=settings)
    results = [
        runner.run(item)
        for item in tqdm(items, desc="eval", unit="q", disable=not progress, file=sys.stderr)
    ]
    meta = {
        "started_at": started_at,
        "duration_s": round(time.perf_counter() - started, 1),
        "items": len(results),
        "index_dir": str(settings.index_dir),
        "build_id": index.manifest.get("build_id"),
        "chunks": len(index.chunks),
        "model": _model_meta(settings),
        "naive_threshold": threshold,
        "floors": {
            metric: {"bound": f.bound, "direction": f.direction} for metric, f in FLOORS.items()
        },
        "targets": {
            metric: {"bound": f.bound, "direction": f.direction} for metric, f in TARGETS.items()
        },
        "default_pipeline": None
        if default is None
        else {"nodes": default.nodes, "build_s": round(default.build_s, 2)},
    }
    return summarise(results, chosen, meta)


def _model_meta(settings: Settings) -> dict:
    """Which fitted model file answered: its path, when it was fitted, its thresholds."""
    path = settings.answer.model_path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"path": str(path)}
    return {
        "path": str(path),
        "fitted_at": data.get("fitted_at"),
        "thresholds": data.get("thresholds"),
    }


class _ItemRunner:
    """Runs one question through ours and the chosen baselines, and scores each."""

    def __init__(
        self,
        index,
        settings: Settings,
        systems: list[str],
        default: DefaultPipeline | None,
        threshold: float | None,
    ) -> None:
        self.index = index
        self.settings = settings
        self.systems = systems
        self.default = default
        self.threshold = threshold

    def run(self, item: Item) -> ItemResult:
        """Ask one question, run the baselines on it, and score them all."""
        from assistant import BadQuestionError, ask

        result = ItemResult(
            id=item.id,
            type=item.type,
            voice=item.voice,
            season=item.season,
            gap=item.gap,
            on_topic=item.on_topic,
            question=item.question,
            history=list(item.history),
            answer_facts=list(item.answer_facts),
            gold_quotes=[gold.quote for gold in item.golds],
        )
        try:
            answer = ask(item.question, history=list(item.history) or None, settings=self.settings)
        except BadQuestionError as error:
            result.error = str(error)
            result.failures = [f"error: {error}"]
            return result
        data = answer.to_json()
        result.answer = data["answer"]
        result.caveat = data["caveat"]
        result.reason = answer.reason
        result.as_of = data["as_of"]
        result.citations = [
            {k: c[k] for k in ("n", "season", "heading_path", "url", "sentences")}
            for c in data["citations"]
        ]
        result.retrieved = [
            {**{k: r[k] for k in ("rank", "score", "season", "heading_path", "url")},
             "text": r["text"][:SNIPPET_CHARS]}
            for r in data["retrieved"]
        ]  # fmt: skip
        ours = _answer_run(
            item,
            data["status"],
            data["answer"],
            [Passage(text=c["text"], season=c["season"]) for c in data["citations"]],
            data["timings_ms"].get("total"),
            answer.reason,
        )
        passages = [chunk_passage(hit.chunk) for hit in answer.retrieved[:TOP_K]]
        if item.golds:
            ours.flags = gold_flags(passages, item)
            ours.top_fact_recall = _top_recall(passages, item)
        ours.retrieval_ms = data["timings_ms"].get("retrieve")
        result.systems[OURS] = ours
        if any(name in self.systems for name in ANSWER_BASELINES):
            result.systems.update(self._answer_baselines(item))
        if item_group(item.type) == ANSWERABLE:
            result.systems.update(self._retrieval_baselines(item))
        result.failures = failure_reasons(result)
        return result

    def _answer_baselines(self, item: Item) -> dict[str, SystemRun]:
        """The rule cascade and the naive baseline, on our own reading of the question."""
        from assistant import clean_question, prepare

        started = time.perf_counter()
        _, parts, _ = prepare(
            clean_question(item.question), list(item.history) or None, self.index, self.settings
        )
        prepared_ms = (time.perf_counter() - started) * 1000
        query, hits, readings = parts[0]
        answers: dict[str, Callable[[], BaselineAnswer]] = {
            "rules": lambda: rules_answer(query, hits, self.index),
            "naive": lambda: naive_answer(hits, readings, self.threshold or 0.0),
        }
        runs = {}
        for name in ANSWER_BASELINES:
            if name not in self.systems:
                continue
            begun = time.perf_counter()
            said = answers[name]()
            latency = prepared_ms + (time.perf_counter() - begun) * 1000
            run = _answer_run(item, said.status, said.answer, said.cited, latency, said.reason)
            run.score = said.score
            runs[name] = run
        return runs

    def _retrieval_baselines(self, item: Item) -> dict[str, SystemRun]:
        """The retrieval-only baselines, on the question made self-contained as ours does."""
        from assistant import clean_question
        from assistant.query import make_queries

        names = [name for name in RETRIEVAL_BASELINES if name in self.systems]
        if not names:
            return {}
        # The whole question as ours retrieves for it: a follow-up resolved against its history.
        whole, _ = make_queries(clean_question(item.question), list(item.history), self.index)
        text = whole.text
        embed_started = time.perf_counter()
        vector = self.index.embed_query(text)
        embed_ms = (time.perf_counter() - embed_started) * 1000
        runs = {}
        for name in names:
            passages, latency = _baseline(name, self.index, text, vector, embed_ms, self.default)
            runs[name] = SystemRun(
                flags=gold_flags(passages, item),
                retrieval_ms=latency,
                top_fact_recall=_top_recall(passages, item),
            )
        return runs


def _answer_run(
    item: Item,
    status: str,
    text: str,
    cited: list[Passage],
    latency_ms: float | None,
    reason: str,
) -> SystemRun:
    """Score one system's answer: key facts found, and whether a cited passage holds a gold."""
    run = SystemRun(status=status, answer=text, latency_ms=latency_ms, reason=reason)
    if not item.answer_facts and not item.golds:
        return run  # unanswerable: only the state is scored
    if status == NOT_COVERED:
        run.fact_recall, run.facts_missing = 0.0, list(item.answer_facts)
        run.citation_supported = False
    else:
        run.fact_recall, run.facts_missing = fact_recall(text, item.answer_facts)
        run.citation_supported = citation_supported(cited, item)
        run.quote_precision, run.opens_on_gold = quote_scores(quoted_on_gold(text, cited, item))
    return run


def _top_recall(passages: list[Passage], item: Item) -> float:
    """Key facts in the top passage alone, taken as the answer."""
    return fact_recall(passages[0].text, item.answer_facts)[0] if passages else 0.0


def _baseline(
    name: str,
    index,
    text: str,
    vector: np.ndarray,
    embed_ms: float,
    default: DefaultPipeline | None,
) -> tuple[list[Passage], float]:
    """Run one retrieval baseline; its latency includes embedding the question if it needs to."""
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
    """Say why an item failed; an empty list means it passed.

    An answerable question fails when it is not answered, misses key facts, or its gold
    passage is not ranked first; an unanswerable one when it is answered (or, off the
    archive's topics, hedged rather than not covered); a partial one when it is not
    hedged, or misses the key facts of the ask the archive does answer.
    """
    if result.error:
        return [f"error: {result.error}"]
    ours = result.ours
    status = ours.status
    covered = status != NOT_COVERED
    reasons = []
    if result.group == UNANSWERABLE:
        if status == ANSWERED:
            reasons.append("answered a question the archive does not answer")
        elif not result.on_topic and status == HEDGED:
            reasons.append("hedged an off-topic question (not covered is right)")
        return reasons
    if result.group == PARTIAL:
        if status != HEDGED:
            reasons.append(f"{_state(status)} a partial question (hedged is right)")
    elif status == HEDGED:
        reasons.append(f"hedged an answerable question ({result.caveat or result.reason})")
    elif status == NOT_COVERED:
        reasons.append(f"not covered, though answerable ({result.reason})")
    if result.group == ANSWERABLE:
        if result.hit_rank is None:
            reasons.append(f"gold passage not in the top {TOP_K}")
        elif result.hit_rank > 1:
            reasons.append(f"gold passage at rank {result.hit_rank}")
    if covered and ours.facts_missing:
        reasons.append("answer lacks: " + "; ".join(ours.facts_missing))
    return reasons


def _state(status: str | None) -> str:
    return {ANSWERED: "answered", HEDGED: "hedged", NOT_COVERED: "not covered"}.get(
        status or "", "no answer to"
    )


def summarise(results: list[ItemResult], systems: Sequence[str], meta: dict) -> EvalResult:
    """Aggregate item results into every system's scores, the breakdowns and the plot data."""
    systems = list(systems)
    summary = {name: system_summary(results, name) for name in systems}
    answerable = [r for r in results if r.answerable and not r.error]
    hit1_by_type = {
        name: {
            t: retrieval_summary(
                [
                    r.systems[name].flags or []
                    for r in answerable
                    if r.type == t and name in r.systems
                ]
            )["hit@1"]
            for t in TYPES
            if any(r.type == t for r in answerable)
        }
        for name in systems
        if _retrieves(name, results)
    }
    curves = {}
    for name in hit1_by_type:
        flag_lists = [r.systems[name].flags or [] for r in answerable if name in r.systems]
        longest = max((len(f) for f in flag_lists), default=0)
        curves[name] = hit_curve(flag_lists, min(CURVE_K, max(longest, 1)))
    return EvalResult(
        items=results,
        systems=systems,
        summary=summary,
        versus={name: versus(summary[OURS], summary[name]) for name in systems if name != OURS},
        breakdowns={key: breakdown(results, key) for key in BREAKDOWNS},
        hit1_by_type=hit1_by_type,
        hit_curves=curves,
        tradeoff=tradeoff(results),
        meta=meta,
    )


def _retrieves(name: str, results: list[ItemResult]) -> bool:
    """True when the system ranked passages of its own (the answer baselines reuse ours)."""
    return any(name in r.systems and r.systems[name].flags is not None for r in results)


def system_summary(results: list[ItemResult], name: str) -> dict[str, Estimate]:
    """One system's metrics over the run, each with its bootstrap interval."""
    return estimates(
        item_values(r.group, r.on_topic, r.systems[name], STATES.get(name, STATUSES))
        for r in results
        if not r.error and name in r.systems
    )


def group_key(result: ItemResult, key: str) -> str | None:
    """The group a result falls in for one breakdown, or None when it has none there."""
    if key == "type":
        return result.type
    if key == "voice":
        return result.voice or "none"
    if key == "season":
        return result.season or NO_SEASON
    if result.gap is None:
        return None
    return f"{result.gap} (partial)" if result.group == PARTIAL else result.gap


def breakdown(results: list[ItemResult], key: str) -> dict[str, Group]:
    """Our system's scores per group of one breakdown (by type, voice, season or gap)."""
    groups: dict[str, list[ItemResult]] = {}
    for result in results:
        name = group_key(result, key)
        if name is not None:
            groups.setdefault(name, []).append(result)
    order = sorted(groups, key=_season_key) if key == "season" else sorted(groups)
    return {name: _group(groups[name]) for name in order}


def _group(results: list[ItemResult]) -> Group:
    """n, failed, and the group's scores: retrieval, facts, states, latency."""
    rows = []
    for r in results:
        if r.error:
            continue
        run = r.ours
        row: dict[str, float] = {f"{state}_share": float(run.status == state) for state in STATUSES}
        row["right_state"] = float(r.right)
        if r.answerable and run.flags is not None:
            retrieval = item_values(r.group, r.on_topic, run)
            row.update({k: retrieval[k] for k in ("hit@1", "hit@5", "citation_support")})
            if "opens_on_gold" in retrieval:  # an answer quoting something
                row["opens_on_gold"] = retrieval["opens_on_gold"]
        if r.answer_facts:  # answerable and partial: the facts of what is answered
            row["fact_recall"] = run.fact_recall or 0.0
        if run.latency_ms is not None:
            row["latency_p50_ms"] = run.latency_ms
        rows.append(row)
    return Group(n=len(results), failed=sum(not r.passed for r in results), scores=estimates(rows))


def tradeoff(results: list[ItemResult]) -> dict:
    """Unanswerable flagged vs answerable not answered as the naive cosine threshold moves.

    For each threshold t (the naive baseline answers when its cosine >= t): the share of
    unanswerable questions flagged (not answered) and of answerable ones hedged or not
    covered; with our operating point, the rule cascade's, and the naive baseline's at its
    threshold fitted on train. Empty when the naive baseline did not run.
    """
    scored = [r for r in results if not r.error and r.group != PARTIAL and "naive" in r.systems]
    good = [r.systems["naive"].score or 0.0 for r in scored if r.answerable]
    bad = [r.systems["naive"].score or 0.0 for r in scored if r.group == UNANSWERABLE]
    if not good or not bad:
        return {}
    thresholds = sorted({round(c, 4) for c in good + bad})
    thresholds.append(thresholds[-1] + 0.01)
    points = {}
    for name in (OURS, "rules", "naive"):
        summary = system_summary(results, name) if any(name in r.systems for r in results) else {}
        flagged = summary.get("unanswerable_flagged")
        refused = [summary.get(f"answerable_{s}") for s in (HEDGED, NOT_COVERED)]
        if flagged is None or flagged.value is None:
            continue
        points[name] = {
            "answerable_not_answered": sum(e.value or 0.0 for e in refused if e is not None),
            "unanswerable_flagged": flagged.value,
        }
    return {
        "thresholds": thresholds,
        "unanswerable_flagged": [sum(c < t for c in bad) / len(bad) for t in thresholds],
        "answerable_not_answered": [sum(c < t for c in good) / len(good) for t in thresholds],
        "points": points,
    }


def _season_key(season: str) -> tuple[int, int, str]:
    """Sort seasons oldest first, overview before them, the unanswerable group last."""
    from records import season_order

    if season == NO_SEASON:
        return (2, 0, season)
    return (1, season_order(season), season)
