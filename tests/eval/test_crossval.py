"""Cross-validation over train + dev: how the folds are dealt and how two runs compare.

The full run (python -m eval.crossval) refits the models once per fold and takes minutes;
these tests check its parts on the real question set and on small hand-made records.
"""

from __future__ import annotations

from collections import Counter

import pytest

from eval.calibrate import Traced
from eval.crossval import deal_folds, figures, paired
from eval.dataset import load_for_fitting


@pytest.fixture(scope="module")
def items() -> list[Traced]:
    loaded = load_for_fitting("train") + load_for_fitting("dev")
    return [Traced(item, [], []) for item in loaded]


def test_every_question_is_held_out_once_and_every_fold_holds_every_type(items) -> None:
    folds = deal_folds(items, 5)
    ids = [t.item.id for fold in folds for t in fold]
    assert sorted(ids) == sorted(t.item.id for t in items)  # each once
    assert max(len(f) for f in folds) - min(len(f) for f in folds) <= 1
    types = Counter(t.item.type for t in items)
    for fold in folds:
        held = Counter(t.item.type for t in fold)
        for kind, count in types.items():
            assert abs(held[kind] - count / 5) <= 1, kind


def test_the_folds_are_the_same_every_run(items) -> None:
    first = [[t.item.id for t in f] for f in deal_folds(items, 5)]
    assert first == [[t.item.id for t in f] for f in deal_folds(items, 5)]
    assert first != [[t.item.id for t in f] for f in deal_folds(items, 5, seed=1)]


def record(kind: str, state: str, hit1: bool | None = None, p_answers: float = 0.5) -> dict:
    answerable = kind not in ("unanswerable", "partial")
    got = {"type": kind, "answerable": answerable, "on_topic": True, "state": state}
    got["p_answers"] = p_answers
    return got if hit1 is None else {**got, "hit1": hit1}


def test_figures_pool_the_held_out_answers() -> None:
    records = {
        "u1": record("unanswerable", "hedged", p_answers=0.2),
        "u2": record("unanswerable", "answered", p_answers=0.7),
        "a1": record("factoid", "answered", hit1=True, p_answers=0.9),
        "a2": record("factoid", "hedged", hit1=False, p_answers=0.3),
        "a3": record("list", "not_covered", p_answers=0.1),
        "p1": record("partial", "hedged"),  # neither answerable nor unanswerable
    }
    got = {name: f["value"] for name, f in figures(records).items()}
    assert got == {
        "unanswerable_flagged": 0.5,
        "unanswerable_answered": 0.5,
        "answerable_hedged": pytest.approx(1 / 3),
        "answerable_not_covered": pytest.approx(1 / 3),
        "hit@1": 0.5,
        # answerable above unanswerable in 3 of the 6 pairs
        "answers_auc": pytest.approx(0.5),
    }


def test_paired_names_the_questions_that_got_better_or_worse() -> None:
    old = {
        "u1": record("unanswerable", "answered"),
        "u2": record("unanswerable", "hedged"),
        "u3": record("unanswerable", "answered"),
        "a1": record("factoid", "answered", hit1=False),
    }
    new = {
        "u1": record("unanswerable", "hedged"),  # now flagged
        "u2": record("unanswerable", "answered"),  # no longer flagged
        "u3": record("unanswerable", "not_covered"),  # now flagged
        "a1": record("factoid", "hedged", hit1=True),
    }
    got = paired(old, new)
    flagged = got["unanswerable_flagged"]
    assert (flagged["better"], flagged["worse"]) == (["u1", "u3"], ["u2"])
    assert flagged["change"] == pytest.approx(1 / 3) and flagged["n"] == 3
    assert flagged["low"] <= flagged["change"] <= flagged["high"]
    assert (got["hit@1"]["better"], got["answerable_hedged"]["worse"]) == (["a1"], ["a1"])
