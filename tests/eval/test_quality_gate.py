"""The quality gate: the sealed test split through the real assistant, against the floors.

The gate reads only the test split, and only once its bytes are the sealed ones: the
checksum is pinned here as a literal, so changing the split means changing this file in
the same commit, visibly. The targets are the issue's (eval.metrics.TARGETS). The floors
(eval.metrics.FLOORS) are the targets where ours reaches them, else the level reached so
far; they may only tighten. No item may be dropped or weakened to pass: a wrong item is
fixed, and the fix is named in the commit message. Nothing is tuned on what this gate
reports.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eval.dataset import SPLIT_PATHS, checksum, load_split, sealed_checksum
from eval.metrics import AT_LEAST, AT_MOST, FLOORS, TARGETS
from eval.run import OURS, EvalResult, ItemResult, run_eval
from records import ANSWERED, HEDGED, NOT_COVERED

# The SHA-256 of eval/questions/test.jsonl, as sealed when the split was made.
SEALED_SHA256 = "bbd890bf623eec10676535838e6d8b2e06cda0990f26cef01381565c4c20fe0a"
# The issue's targets on the sealed test split, as eval.metrics.TARGETS must hold them.
ISSUE_TARGETS = {
    "hit@1": (0.92, AT_LEAST),
    "hit@5": (0.98, AT_LEAST),
    "fact_recall": (0.90, AT_LEAST),
    "answerable_not_covered": (0.03, AT_MOST),
    "answerable_hedged": (0.15, AT_MOST),
    "unanswerable_flagged": (0.90, AT_LEAST),
    "unanswerable_answered": (0.10, AT_MOST),
    "citation_support": (0.95, AT_LEAST),
}
# The floors as last raised: FLOORS may tighten these (towards or past the targets), never
# loosen them. Three are below their targets: the open gaps of issue 9. Each time a writing
# pass grows the test split, the floors are set anew from the grown split when the gate
# first runs on it. The third pass (36 more test questions) took citation support to its
# target, flagged from 0.73 to 0.78 and answered from 0.27 to 0.22; hit@1 went from 0.87 to
# 0.85 because the new questions are harder to rank (13 of 17 first, against 103 of 118
# before, unchanged). Showing the passages in reader order then took hit@1 to 0.874 and
# its floor to 0.86. The question prior's reading of what a question asks beyond its
# closest passage took flagged to 0.838 and answered to 0.162: floors 0.82 and 0.18.
# Answers opening with the answering item (no issue target) reached 0.793 when the
# best-read item came to lead: floor 0.78. The fourth pass (33 more test questions, 250)
# set them anew, with the models refit on its grown train split: the 217 earlier questions
# kept hit@1 (117 of 135) and flagged one more unanswerable (62 of 74) for five more
# hedged; on all 250, hit@1 0.851 and opens 0.766 (floors 0.84 and 0.75), flagged 0.851
# and answered 0.149 (floors 0.83 and 0.17). Looking up the passages that spell out the
# letters an acronym question asks about took hit@1 to 0.864 and opens to 0.786: floors
# 0.85 and 0.77. Reading each sentence under its heading too, when passages are re-scored,
# took hit@1 to 0.870 and opens to 0.796: floors 0.86 and 0.78.
RATCHET = {
    **ISSUE_TARGETS,
    "hit@1": (0.86, AT_LEAST),
    "unanswerable_flagged": (0.83, AT_LEAST),
    "unanswerable_answered": (0.17, AT_MOST),
    "opens_on_gold": (0.78, AT_LEAST),
}
SHOWN = 10  # failing item ids listed in a message


def _supported(r: ItemResult) -> bool:
    return r.status != NOT_COVERED and bool(r.ours.citation_supported)


# Which items pull each metric the wrong way, so a failure message says where to look.
CULPRITS: dict[str, Callable[[ItemResult], bool]] = {
    "hit@1": lambda r: r.answerable and r.hit_rank != 1,
    "hit@5": lambda r: r.answerable and (r.hit_rank is None or r.hit_rank > 5),
    "fact_recall": lambda r: r.answerable and (r.ours.fact_recall or 0.0) < 1.0,
    "answerable_not_covered": lambda r: r.answerable and r.status == NOT_COVERED,
    "answerable_hedged": lambda r: r.answerable and r.status == HEDGED,
    "unanswerable_flagged": lambda r: r.group == "unanswerable" and r.status == ANSWERED,
    "unanswerable_answered": lambda r: r.group == "unanswerable" and r.status == ANSWERED,
    "citation_support": lambda r: r.answerable and not _supported(r),
    "opens_on_gold": lambda r: r.answerable and r.ours.opens_on_gold is False,
}


def test_the_test_split_is_the_sealed_one() -> None:
    assert checksum(SPLIT_PATHS["test"]) == SEALED_SHA256, (
        "eval/questions/test.jsonl is not the sealed test split"
    )
    assert sealed_checksum() == SEALED_SHA256, "eval/questions/SEALED disagrees with the gate"


@pytest.fixture(scope="module")
def gate_run(snapshot_settings) -> EvalResult:
    """The sealed test split, once, through our system alone (the baselines are not gated)."""
    if checksum(SPLIT_PATHS["test"]) != SEALED_SHA256:
        pytest.fail("the test split's checksum is not the sealed one: the gate will not run on it")
    return run_eval(load_split("test"), snapshot_settings, systems=(OURS,), progress=False)


def test_the_targets_are_the_issues() -> None:
    assert {m: (t.bound, t.direction) for m, t in TARGETS.items()} == ISSUE_TARGETS


def test_floors_only_tighten() -> None:
    assert set(FLOORS) >= set(RATCHET)
    for metric, (bound, direction) in RATCHET.items():
        floor = FLOORS[metric]
        assert floor.direction == direction, f"the {metric} floor changed direction"
        looser = floor.bound < bound if direction == AT_LEAST else floor.bound > bound
        assert not looser, f"the {metric} floor loosened from {bound} to {floor.bound}"


def test_gate_runs_every_item(gate_run: EvalResult) -> None:
    lines = SPLIT_PATHS["test"].read_text(encoding="utf-8").splitlines()
    assert len(gate_run.items) == sum(1 for line in lines if line.strip())
    errors = [f"{r.id}: {r.error}" for r in gate_run.items if r.error]
    assert not errors, errors
    for metric in FLOORS:
        got = gate_run.summary[OURS].get(metric)
        assert got is not None and got.value is not None, f"{metric} was not measured"


@pytest.mark.parametrize("metric", list(FLOORS))
def test_metric_meets_its_floor(gate_run: EvalResult, metric: str) -> None:
    got = gate_run.summary[OURS][metric]
    floor = FLOORS[metric]
    culprits = [r.id for r in gate_run.items if CULPRITS[metric](r)]
    more = len(culprits) - SHOWN
    listed = ", ".join(culprits[:SHOWN]) + (f" (+{more} more)" if more > 0 else "")
    assert floor.met(got.value), (
        f"{metric} = {got.value:.3f} [95% {got.low:.3f}, {got.high:.3f}] over {got.n} questions "
        f"misses its floor {floor}; failing items: {listed or 'none'}"
    )
