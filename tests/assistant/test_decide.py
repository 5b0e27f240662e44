"""Unit tests for the decision's question prior and the model file that carries it.

The prior reads how answerable, and how on topic, the train questions nearest the asked
one were; the decision models weigh it beside the passage features. Checked with the real embedding
model and snapshot index.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant import get_index
from assistant.decide import (
    DECISION_FEATURES,
    ModelMissingError,
    PriorReading,
    QuestionPrior,
    decide,
    load_model,
)
from assistant.query import make_query
from assistant.reader import read
from assistant.retrieve import retrieve

ASKED = [  # item id, question, answerable, on topic
    ("a-1", "When do pharmacies have to submit FP34C claims through MYS?", 1, 1),
    ("a-2", "Which suppliers are assured for the community pharmacist consultation service?", 1, 1),
    ("u-1", "What is the phone number of the NHSmail helpdesk?", 0, 1),
    ("u-2", "Have you got a good recipe for a vegetarian lasagne?", 0, 0),
]


@pytest.fixture(scope="module")
def index(snapshot_settings):
    return get_index(snapshot_settings)


@pytest.fixture(scope="module")
def prior(index) -> QuestionPrior:
    return QuestionPrior(
        vectors=np.vstack([index.embed_query(q) for _, q, _, _ in ASKED]),
        answerable=np.array([a for _, _, a, _ in ASKED], dtype=np.float64),
        on_topic=np.array([t for _, _, _, t in ASKED], dtype=np.float64),
        questions=np.array([q for _, q, _, _ in ASKED]),
        items=np.array([i for i, _, _, _ in ASKED]),
    )


def test_the_prior_leans_to_the_nearest_questions(index, prior) -> None:
    claims = prior.read(index.embed_query("FP34C via MYS deadline"), 4, 10.0)
    phone = prior.read(index.embed_query("NHSmail helpdesk phone"), 4, 10.0)
    cooking = prior.read(index.embed_query("how long to bake a lasagne"), 4, 10.0)
    assert (claims.nearest, phone.nearest, cooking.nearest) == (0, 2, 3)
    assert claims.answerable > 0.5 > phone.answerable
    assert cooking.on_topic < 0.5 < phone.on_topic
    # one neighbour: its labels alone; a very blunt weighting: the plain share of all four
    assert prior.read(index.embed_query("NHSmail helpdesk phone"), 1, 10.0) == PriorReading(0, 1, 2)
    blunt = prior.read(index.embed_query("anything"), 4, 1e-9)
    assert (blunt.answerable, blunt.on_topic) == (pytest.approx(0.5), pytest.approx(0.75))


def test_leaving_a_question_out_hides_it(index, prior) -> None:
    vector = index.embed_query(ASKED[2][1])
    assert prior.read(vector, 1, 10.0).nearest == 2
    assert prior.read(vector, 1, 10.0, leave_out="u-2").nearest == 2  # another item: no change
    hidden = prior.read(vector, 1, 10.0, leave_out="u-1")
    assert hidden.nearest != 2 and hidden.answerable == prior.answerable[hidden.nearest]


def test_the_prior_survives_its_file(prior, tmp_path: Path) -> None:
    prior.save(tmp_path / "asked.npz")
    loaded = QuestionPrior.load(tmp_path / "asked.npz")
    assert list(loaded.questions) == list(prior.questions)
    assert np.abs(loaded.vectors - prior.vectors).max() < 1e-3  # stored at half precision
    assert list(loaded.answerable) == list(prior.answerable)
    assert list(loaded.on_topic) == list(prior.on_topic)


def test_the_decision_reads_the_shipped_prior(snapshot_settings, index) -> None:
    model = load_model(snapshot_settings.answer.model_path)
    tuning = snapshot_settings.answer
    text = "When does FP34C via MYS become compulsory?"
    query = make_query(text, text, index)
    decision = decide(
        query, read(query, retrieve(query, index), index, tuning), index, model, tuning
    )
    assert set(decision.features) == set(DECISION_FEATURES)
    expected = model.prior.read(query.vector, tuning.prior_neighbours, tuning.prior_sharpness)
    assert decision.features["question_prior"] == pytest.approx(expected.answerable)
    assert decision.features["topic_prior"] == pytest.approx(expected.on_topic)
    assert "nearest asked" in decision.reason


@pytest.mark.parametrize("broken", ["no prior entry", "no prior file"])
def test_a_model_without_its_prior_asks_for_calibrate(
    snapshot_settings, tmp_path: Path, broken: str
) -> None:
    data = json.loads(snapshot_settings.answer.model_path.read_text(encoding="utf-8"))
    if broken == "no prior entry":
        del data["prior"]
    old = tmp_path / "decision.json"  # its asked.npz is not beside it either way
    old.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelMissingError, match="make calibrate"):
        load_model(old)
