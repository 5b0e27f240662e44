"""The quality gate: the full question set through the real assistant, against the floors.

The floors are those of the cited-answers issue (eval.metrics.FLOORS) and only move up.
No item may be dropped or weakened to pass: a wrong item is fixed, and the fix is named
in the commit message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from eval.dataset import load_set
from eval.metrics import FLOORS
from eval.run import OURS, EvalResult, ItemResult, run_eval

ROOT = Path(__file__).resolve().parents[2]
# The cited-answers issue's numbers: FLOORS may rise above these, never fall below.
ISSUE_FLOORS = {
    "hit@1": 0.92,
    "hit@5": 0.98,
    "fact_recall": 0.90,
    "abstention_recall": 0.90,
    "answerable_answered": 0.95,  # answerable refused <= 0.05
}
SHOWN = 10  # failing item ids listed in a message

# Which items pull each metric down, so a failure message says where to look.
CULPRITS: dict[str, Callable[[ItemResult], bool]] = {
    "hit@1": lambda r: r.answerable and r.hit_rank != 1,
    "hit@5": lambda r: r.answerable and (r.hit_rank is None or r.hit_rank > 5),
    "fact_recall": lambda r: r.answerable and (r.fact_recall or 0.0) < 1.0,
    "abstention_recall": lambda r: not r.answerable and not r.abstained,
    "answerable_answered": lambda r: r.answerable and r.abstained,
}


@pytest.fixture(scope="module")
def gate_run(snapshot_settings) -> EvalResult:
    """The whole default set, once, through our system (the baselines are not gated)."""
    return run_eval(load_set(), snapshot_settings, systems=(OURS,), progress=False)


def test_floors_only_move_up() -> None:
    assert set(FLOORS) >= set(ISSUE_FLOORS)
    for metric, floor in ISSUE_FLOORS.items():
        assert FLOORS[metric] >= floor, f"the {metric} floor fell from {floor} to {FLOORS[metric]}"


def test_gate_runs_every_item(gate_run: EvalResult) -> None:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(gate_run.items) == sum(1 for line in lines if line.strip())
    errors = [f"{r.id}: {r.error}" for r in gate_run.items if r.error]
    assert not errors, errors
    for metric in FLOORS:
        assert gate_run.summary[OURS].get(metric) is not None, f"{metric} was not measured"


@pytest.mark.parametrize("metric", list(FLOORS))
def test_metric_meets_its_floor(gate_run: EvalResult, metric: str) -> None:
    value = gate_run.summary[OURS][metric]
    floor = FLOORS[metric]
    culprits = [r.id for r in gate_run.items if CULPRITS[metric](r)]
    more = len(culprits) - SHOWN
    listed = ", ".join(culprits[:SHOWN]) + (f" (+{more} more)" if more > 0 else "")
    assert value >= floor, (
        f"{metric} = {value:.3f} is below its floor {floor:.2f}; "
        f"first failing items: {listed or 'none'}"
    )
