"""Unit tests for the decision's question prior and the model file that carries it.

The prior reads the question's vector alone; the decision model weighs it beside the
passage features. Checked with the real embedding model and snapshot index.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from assistant import get_index
from assistant.decide import (
    DECISION_FEATURES,
    Logistic,
    ModelMissingError,
    decide,
    load_model,
    question_prior,
)
from assistant.query import make_query
from assistant.reader import read
from assistant.retrieve import retrieve


@pytest.fixture(scope="module")
def index(snapshot_settings):
    return get_index(snapshot_settings)


def _vector_model(direction: np.ndarray, intercept: float = 0.0) -> Logistic:
    size = len(direction)
    return Logistic(
        features=tuple(f"v{i}" for i in range(size)),
        mean=np.zeros(size),
        scale=np.ones(size),
        coef=np.asarray(direction, dtype=np.float64),
        intercept=intercept,
    )


def test_prior_is_the_logistic_of_the_question_vector(index) -> None:
    near = make_query("smartcard access", "smartcard access", index)
    far = make_query("a vegetarian lasagne recipe", "a vegetarian lasagne recipe", index)
    model = _vector_model(near.vector * 4, intercept=-1.0)
    expected = 1 / (1 + math.exp(-(4 * float(near.vector @ near.vector) - 1.0)))
    assert question_prior(model, near) == pytest.approx(expected)
    assert question_prior(model, far) < question_prior(model, near)


def test_the_shipped_prior_reads_the_question_vector(snapshot_settings, index) -> None:
    model = load_model(snapshot_settings.answer.model_path)
    assert len(model.prior.features) == len(index.embed_query("EPS").ravel())
    text = "When does FP34C via MYS become compulsory?"
    query = make_query(text, text, index)
    decision = decide(
        query, read(query, retrieve(query, index), index, snapshot_settings.answer),
        index, model, snapshot_settings.answer,
    )  # fmt: skip
    assert set(decision.features) == set(DECISION_FEATURES)
    assert decision.features["question_prior"] == pytest.approx(question_prior(model.prior, query))
    assert 0.0 < decision.features["question_prior"] < 1.0


def test_a_model_file_without_the_prior_asks_for_calibrate(
    snapshot_settings, tmp_path: Path
) -> None:
    data = json.loads(snapshot_settings.answer.model_path.read_text(encoding="utf-8"))
    del data["prior"]
    old = tmp_path / "decision.json"
    old.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelMissingError, match="make calibrate"):
        load_model(old)
