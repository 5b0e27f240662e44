"""Unit tests for the decision's question prior, its passage order and the model file.

The prior reads how answerable, and how on topic, the train questions nearest the asked
one were; the decision models weigh it beside the passage features. Checked with the real embedding
model and snapshot index. The order model ranks a question's sentences against each
other, and the passage order puts first the passage holding the sentence it ranks first.
A question naming a season is told when another season comes closer, and its hedge says
which.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from assistant import ask, get_index
from assistant.decide import (
    DECISION_FEATURES,
    Logistic,
    ModelMissingError,
    PriorReading,
    QuestionPrior,
    caveat_for,
    choose_items,
    decide,
    load_model,
    order_passages,
    order_readings,
    read_prior,
    state_for,
    unmentioned,
)
from assistant.match import WordMatch, word_vectors
from assistant.query import make_query
from assistant.reader import (
    MEANING_TIMES,
    ORDER_FEATURES,
    SENTENCE_FEATURES,
    Reading,
    read,
    unnamed_feature,
)
from assistant.retrieve import closer_elsewhere, retrieve
from assistant.terms import unmatched_spans
from records import OVERVIEW, Chunk, Hit

ASKED = [  # item id, question, answerable, on topic
    ("a-1", "When do pharmacies have to submit FP34C claims through MYS?", 1, 1),
    ("a-2", "Which suppliers are assured for the community pharmacist consultation service?", 1, 1),
    ("u-1", "What is the phone number of the NHSmail helpdesk?", 0, 1),
    ("u-2", "Have you got a good recipe for a vegetarian lasagne?", 0, 0),
]


@pytest.fixture(scope="module")
def index(snapshot_settings):
    return get_index(snapshot_settings)


# What each ASKED question might leave beyond its top passage (as unmatched_spans finds it).
UNMATCHED = ["when do have to", "which are", "what is phone number of", "have you got good recipe"]


@pytest.fixture(scope="module")
def prior(index) -> QuestionPrior:
    return QuestionPrior(
        vectors=np.vstack([index.embed_query(q) for _, q, _, _ in ASKED]),
        answerable=np.array([a for _, _, a, _ in ASKED], dtype=np.float64),
        on_topic=np.array([t for _, _, _, t in ASKED], dtype=np.float64),
        questions=np.array([q for _, q, _, _ in ASKED]),
        items=np.array([i for i, _, _, _ in ASKED]),
        unmatched=index.embed_texts(UNMATCHED),
    )


def unmatched_words(question: str, passage: str) -> list[str]:
    return [question[a:b].lower() for a, b in unmatched_spans(question, passage)]


def test_unmatched_words_are_what_the_question_asks_beyond_the_passage() -> None:
    passage = "NHSBSA has led the RTEC project since January 2020."
    question = "Who's the person at NHSBSA heading up the RTEC project?"
    # In the question's order, case aside; stop words stay, for they are often the ask.
    assert unmatched_words(question, passage) == ["who's", "person", "at", "heading", "up"]
    assert unmatched_words("When did the RTEC project start?", passage) == ["when", "did", "start"]
    assert unmatched_words("rtec project", passage) == []
    assert unmatched_words("What is RTEC?", "") == ["what", "is", "rtec"]


def test_the_unmatched_reading_leans_to_questions_that_left_alike_words(index, prior) -> None:
    # Another subject, the same ask left over: a phone number is not in the bulletins.
    phone = prior.read_unmatched(index.embed_texts(["what is telephone number of"])[0], 1, 10.0)
    assert phone == 0.0
    when = index.embed_texts(["when do have to"])[0]
    assert prior.read_unmatched(when, 1, 10.0) == 1.0
    # Its own item left out, the nearest of the others answers.
    others = [1, 2, 3]
    nearest_other = others[int(np.argmax(prior.unmatched[others] @ when))]
    hidden = prior.read_unmatched(when, 1, 10.0, leave_out="a-1")
    assert hidden == prior.answerable[nearest_other]
    # A prior saved before the second reading existed reads it as uninformed.
    older = QuestionPrior(prior.vectors, prior.answerable, prior.on_topic, prior.questions,
                          prior.items)  # fmt: skip
    assert older.read_unmatched(index.embed_texts(["when"])[0], 4, 10.0) == 0.5


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
    assert np.abs(loaded.unmatched - prior.unmatched).max() < 1e-3


def test_the_decision_reads_the_shipped_prior(snapshot_settings, index) -> None:
    model = load_model(snapshot_settings.answer.model_path)
    tuning = snapshot_settings.answer
    text = "When does FP34C via MYS become compulsory?"
    query = make_query(text, text, index)
    decision = decide(
        query, read(query, retrieve(query, index), index, tuning), index, model, tuning
    )
    assert set(decision.features) == set(DECISION_FEATURES)
    expected = read_prior(model.prior, query, tuning)
    assert decision.features["question_prior"] == pytest.approx(expected.answerable)
    assert decision.features["topic_prior"] == pytest.approx(expected.on_topic)
    assert decision.features["unmatched_prior"] == pytest.approx(expected.unmatched)
    assert model.prior.unmatched is not None and 0.0 < expected.unmatched < 1.0
    assert "beyond the passage" in decision.reason
    assert "nearest asked" in decision.reason


@pytest.mark.parametrize(
    ("p_answers", "p_on_topic", "state"),
    [
        (0.90, 0.99, "answered"),
        (0.45, 0.10, "answered"),  # the answer chance alone decides answered
        (0.44, 0.95, "hedged"),  # on topic, but the quote may not answer
        (0.44, 0.79, "not_covered"),
    ],
)
def test_the_two_chances_pick_the_state(p_answers: float, p_on_topic: float, state: str) -> None:
    assert state_for(p_answers, p_on_topic, answered_at=0.45, on_topic_at=0.8) == state


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


def _hit(name: str, score: float, rank: int, lines: int = 1) -> Hit:
    text = "\n".join(f"{name} line {n}." for n in range(lines))
    chunk = Chunk(id=name, section_id=name, url="u#a", page_url="u", season="Winter 2021",
                  season_order=20214, heading_path=(name,), text=text)  # fmt: skip
    return Hit(chunk, score, rank)


def _reading(hit: Hit, score: float, line: int = 0, order: float | None = None) -> Reading:
    """A reading the reader scored `score` and the order model `order` (the same if not given)."""
    reading = Reading(f"{hit.chunk.id} line {line}.", hit, line, {}, {}, score=score)
    reading.order = score if order is None else order
    return reading


HITS = [_hit("first", 1.0, 1, lines=2), _hit("second", 0.9, 2), _hit("unread", 0.5, 3)]


def _order_model(weights: dict[str, float]) -> Logistic:
    """An order model weighing the named order features (the others 0), unstandardised."""
    size = len(ORDER_FEATURES)
    return Logistic(
        features=ORDER_FEATURES,
        mean=np.zeros(size),
        scale=np.ones(size),
        coef=np.array([weights.get(name, 0.0) for name in ORDER_FEATURES]),
        intercept=0.0,
    )


def _featured(hit: Hit, score: float, **features: float) -> Reading:
    values = dict.fromkeys(SENTENCE_FEATURES, 0.0) | features
    return Reading(f"{hit.chunk.id} sentence.", hit, 0, values, {}, score=score)


def test_the_order_features_add_meaning_times_what_the_sentence_holds() -> None:
    assert ORDER_FEATURES[: len(SENTENCE_FEATURES)] == SENTENCE_FEATURES
    assert ORDER_FEATURES[len(SENTENCE_FEATURES) :] == tuple(
        f"meaning_x_{n}" for n in MEANING_TIMES
    )
    assert set(MEANING_TIMES) <= set(SENTENCE_FEATURES)


def test_the_order_model_ranks_a_questions_sentences_whatever_the_reader_said() -> None:
    # "Who speaks for the group on Welsh e-prescribing?": the closer sentence names no one
    close = _featured(HITS[0], 0.95, meaning=0.7, name_missing=1.0)
    naming = _featured(HITS[1], 0.90, meaning=0.3, name_found=1.0)
    model = _order_model({"meaning": 1.0, "meaning_x_name_missing": -3.0, "name_found": 0.5})
    ranked = order_readings([close, naming], model)
    assert ranked == [naming, close]
    # the score is the model's: 0.3 + 0.5 against 0.7 - 3 x 0.7
    assert naming.order == pytest.approx(1 / (1 + np.exp(-0.8)))
    assert close.order == pytest.approx(1 / (1 + np.exp(1.4)))
    # ties keep the order they came in (the reader's), and nothing read is nothing ranked
    tied = [_featured(HITS[0], 0.9), _featured(HITS[1], 0.8)]
    assert order_readings(list(tied), _order_model({})) == tied
    assert order_readings([], model) == []


def test_the_passage_holding_the_first_ranked_sentence_comes_first() -> None:
    ranked = [_reading(HITS[1], 0.9, order=0.8), _reading(HITS[0], 0.2, order=0.3)]
    ordered = order_passages(HITS, ranked)
    assert [h.chunk.id for h in ordered] == ["second", "first", "unread"]
    assert [h.rank for h in ordered] == [1, 2, 3]
    # the score shown is the one ranked by: the best sentence's order score; unread 0
    assert [h.score for h in ordered] == pytest.approx([0.8, 0.3, 0.0])


def test_a_passage_goes_where_its_best_sentence_is() -> None:
    ranked = [_reading(HITS[0], 0.8, line=1), _reading(HITS[1], 0.7), _reading(HITS[0], 0.1)]
    ordered = order_passages(HITS, ranked)
    assert [h.chunk.id for h in ordered] == ["first", "second", "unread"]
    assert ordered[0].score == pytest.approx(0.8)


def test_passages_nothing_was_read_of_keep_retrieval_order_after_the_rest() -> None:
    ranked = [_reading(HITS[1], 0.9)]
    assert [h.chunk.id for h in order_passages(HITS, ranked)] == ["second", "first", "unread"]
    assert [h.chunk.id for h in order_passages(HITS, [])] == ["first", "second", "unread"]
    assert order_passages([], []) == []


def test_the_quoted_items_follow_the_passage_order_the_best_item_of_each_first(
    snapshot_settings,
) -> None:
    ranked = [_reading(HITS[1], 0.9), _reading(HITS[0], 0.7, line=1), _reading(HITS[0], 0.65)]
    tuning = snapshot_settings.answer
    by_retrieval = choose_items(ranked, 0.5, tuning)
    assert [r.key for r in by_retrieval] == [("first", 1), ("first", 0), ("second", 0)]
    by_reader = choose_items(ranked, 0.5, tuning, order_passages(HITS, ranked))
    assert [r.key for r in by_reader] == [("second", 0), ("first", 1), ("first", 0)]


def test_the_first_ranked_item_is_quoted_first_the_others_by_the_readers_chance(
    snapshot_settings,
) -> None:
    # The order model ranked a sentence the reader gave 0.3 first: it leads the quote, and
    # the further items are those within keep_ratio of the reader's best chance (0.9).
    ranked = [_reading(HITS[1], 0.3, order=0.9), _reading(HITS[0], 0.9, order=0.6),
              _reading(HITS[0], 0.2, line=1, order=0.5)]  # fmt: skip
    chosen = choose_items(ranked, 0.5, snapshot_settings.answer, order_passages(HITS, ranked))
    assert [r.key for r in chosen] == [("second", 0), ("first", 0)]


def test_the_order_model_puts_the_named_answer_first(snapshot_settings) -> None:
    # The Winter bulletin's "The Welsh Government pledged full electronic prescribing"
    # is closer in meaning; the Summer one names who speaks for the group.
    answer = ask(
        "Who speaks for the IT group in the Welsh government's e-prescribing work?",
        settings=snapshot_settings,
    )
    assert "Matt Armstrong" in answer.retrieved[0].chunk.text
    assert answer.citations[0].text == answer.retrieved[0].chunk.text


def test_the_best_item_leads_with_its_list_and_the_rest_keep_source_order(
    snapshot_settings,
) -> None:
    lines = ["An item on another subject.", "The systems are:", "• One.", "• Two.", "Last item."]
    chunk = Chunk(id="p", section_id="p", url="u#a", page_url="u", season="Winter 2021",
                  season_order=20214, heading_path=("p",), text="\n".join(lines))  # fmt: skip
    hit = Hit(chunk, 1.0, 1)
    ranked = [
        Reading(lines[line], hit, line, {}, {}, score=score)
        for line, score in ((1, 0.9), (0, 0.8), (4, 0.7), (2, 0.3), (3, 0.2))
    ]
    chosen = choose_items(ranked, 0.5, snapshot_settings.answer)
    # The lead-in brings its list; the block leads, the other items follow in source order.
    assert [r.line for r in chosen] == [1, 2, 3, 0, 4]


def test_another_season_coming_closer_is_measured_and_named(index) -> None:
    asked = "Who were the named contacts for the DMS IT work?"
    anywhere = make_query(asked, asked, index)
    assert closer_elsewhere(anywhere, index) == (0.0, "")  # no season named: nothing to compare
    away = make_query(asked, asked, index, seasons=["Summer 2021"])
    margin, season = closer_elsewhere(away, index)
    assert margin > 0.05 and season not in ("Summer 2021", OVERVIEW, "")
    at_home = make_query(asked, asked, index, seasons=[season])
    assert closer_elsewhere(at_home, index) == (0.0, "")  # the named season holds the best
    everywhere = make_query(
        asked, asked, index, seasons=[s for s in index.seasons if s != OVERVIEW]
    )
    assert closer_elsewhere(everywhere, index) == (0.0, "")  # no other bulletin to compare


def test_a_hedge_for_another_seasons_topic_names_that_season(snapshot_settings, index) -> None:
    asked = "What did it say about Virtual Visits?"
    query = make_query(asked, asked, index, seasons=["Summer 2021"])
    features = dict.fromkeys(DECISION_FEATURES, 0.0) | {"season_elsewhere": 0.2}
    evidence = {"closer in": "Autumn 2021"}
    caveat = caveat_for(query, features, evidence, snapshot_settings.answer)
    assert caveat == (
        "The Summer 2021 bulletin doesn't cover this; the Autumn 2021 bulletin comes closer."
    )
    # barely closer: the season is not blamed
    barely = features | {"season_elsewhere": 0.01}
    assert "Autumn" not in caveat_for(query, barely, evidence, snapshot_settings.answer)
    # a missing figure is the more specific thing to name
    figures = caveat_for(query, features, evidence | {"figures": "4"}, snapshot_settings.answer)
    assert figures == "The bulletins say nothing for 4."


def test_a_caveat_names_only_asked_words_that_no_bulletin_mentions(
    snapshot_settings, index
) -> None:
    tuning = snapshot_settings.answer
    asked = "We're in Kent. Is there anything on smartcard webinars, or a lasagne?"
    query = make_query(asked, asked, index)
    lacking = [WordMatch(w, "", 0.0) for w in ("who's", "webinars", "lasagne", "smartcard")]
    # "who's" names no subject; the archive has webinars and Smartcards, if not in the
    # quoted passage; only the lasagne is in no bulletin.
    assert unmentioned(query, lacking, [], index, tuning) == ["lasagne"]
    features = dict.fromkeys(DECISION_FEATURES, 0.0)
    said = caveat_for(query, features, {"missing": "webinars, lasagne", "unmentioned": "lasagne"},
                      tuning)  # fmt: skip
    assert said == "The bulletins don't mention “lasagne”."
    # What only the quoted passage lacks is not said of the bulletins.
    assert caveat_for(query, features, {"missing": "webinars"}, tuning) == (
        "The bulletins don't answer this exactly."
    )


def test_a_name_question_hedged_on_a_count_says_the_bulletins_dont_say_which(
    snapshot_settings, index
) -> None:
    asked = "Which pharmacies are in the London GP CPCS pilot?"
    query = make_query(asked, asked, index)
    readings = read(query, retrieve(query, index), index, snapshot_settings.answer)
    pilot = next(r for r in readings if "eight London community pharmacies" in r.sentence)
    features, evidence = {}, {}
    unnamed_feature(query, pilot.sentence, word_vectors(index), 0.5, features, evidence)
    assert features["unnamed"] == 1.0
    said = caveat_for(query, dict.fromkeys(DECISION_FEATURES, 0.0) | features, evidence,
                      snapshot_settings.answer)  # fmt: skip
    assert said == "The bulletins speak of “eight London community pharmacies” but don't say which."
    # The decision fitted on train weighs it: the shipped model hedges with that caveat.
    answer = ask(asked, settings=snapshot_settings)
    assert answer.status == "hedged" and answer.caveat == said, (answer.status, answer.reason)


def test_a_hedged_answer_never_says_the_bulletins_lack_a_word_they_use(snapshot_settings) -> None:
    vectors = word_vectors(get_index(snapshot_settings))
    for asked in (
        "Which PMR suppliers were the ones that flagged the dm+d changes?",
        "Who's going to chair the new national digital clinical safety board?",
        "We're in Kent. What will we pay a month for CPCS once central funding stops?",
        "What backup connection should we keep if our HSCN line goes down?",
    ):
        answer = ask(asked, settings=snapshot_settings)
        assert answer.status == "hedged", (asked, answer.reason)
        named = re.findall(r"“([^”]+)”", answer.caveat.split(" mention ", 1)[-1])
        assert all(m.score < 1.0 for m in vectors.in_archive(named)), (asked, answer.caveat)
        assert "kent" not in answer.caveat.lower() and "who's" not in answer.caveat.lower()


def test_a_hedged_expansion_names_the_letters(snapshot_settings, index) -> None:
    query = make_query("dms stand for?", "dms stand for?", index)
    features = dict.fromkeys(DECISION_FEATURES, 0.0) | {"precise_asked": 1.0}
    caveat = caveat_for(query, features, {}, snapshot_settings.answer)
    assert caveat == "The bulletins don't say what DMS stands for."
