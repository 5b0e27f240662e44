"""The shipped model file matches what it would be fitted on today.

The fitted models read features computed with the retrieval and answer settings, and
were fitted on the train and dev splits as they stood: a change to either without
`make calibrate` would leave the models judging features they never saw.
"""

from __future__ import annotations

import json

from eval.calibrate import fitted_with
from eval.dataset import SPLIT_PATHS, checksum
from settings import load_settings


def _shipped() -> dict:
    settings = load_settings()
    return json.loads(settings.answer.model_path.read_text(encoding="utf-8"))


def test_the_model_was_fitted_with_the_current_settings() -> None:
    assert _shipped()["fitted_with"] == fitted_with(load_settings()), (
        "settings changed since the model was fitted: run make calibrate"
    )


def test_the_model_was_fitted_on_the_current_train_and_dev_splits() -> None:
    data = _shipped()["data"]
    for name in ("train", "dev"):
        assert data[name]["sha256"] == checksum(SPLIT_PATHS[name]), (
            f"the {name} split changed since the model was fitted: run make calibrate"
        )
    assert "test" not in data  # the sealed split is never fitted on


def test_the_order_models_regularisation_is_the_best_one_on_held_out_answers() -> None:
    data = _shipped()
    held_out = {float(c): rate for c, rate in data["order_hit1"]["held_out"].items()}
    best = max(held_out.values())
    # the smallest C (the most regularised) reaching the best held-out hit@1
    assert data["order"]["C"] == min(c for c, rate in held_out.items() if rate == best)
    assert set(data["order_hit1"]["train"]) == set(data["order_hit1"]["held_out"])
    assert data["order"]["intercept"] == 0.0  # it only ranks
    assert data["order"]["pairs"] > data["order"]["questions"] > 0


def test_the_choices_were_made_on_held_out_answers_within_the_limits() -> None:
    data = _shipped()
    held_out = data["held_out"]
    assert held_out["dev"] == data["data"]["dev"]["items"]
    # train's out-of-fold answers count only when it was dealt into folds
    train_items = data["data"]["train"]["items"] if held_out["folds"] else 0
    assert held_out["train_out_of_fold"] == train_items
    at = data["held_out_at_thresholds"]
    assert at["answerable_not_covered"] <= data["limits"]["answerable_not_covered"]
    assert at["answerable_hedged"] <= data["limits"]["answerable_hedged"]
