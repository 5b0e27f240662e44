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
