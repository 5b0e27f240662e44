"""Unit tests for assistant.query: parts, the asking clause, focus, nation, figures, seasons."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.kinds import asked_kind
from assistant.query import (
    ask_clause,
    clean_question,
    counted_words,
    focus_words,
    named_words,
    nation_named,
    pinned_figures,
    seasons_missing,
    seasons_named,
    split_parts,
    wants_latest,
)

KNOWN = ["Winter 2021", "Autumn 2021", "Summer 2021", "overview"]


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("how many took part, and which system were they on?",
         ["how many took part", "which system were they on?"]),
        ("Until when was it funded, and what replaces it?",
         ["Until when was it funded", "what replaces it?"]),
        ("What does CIS2 replace and does it work on iPads?",
         ["What does CIS2 replace", "does it work on iPads?"]),
        ("Who runs NBS? What are its three parts?", ["Who runs NBS", "What are its three parts?"]),
        ("When is the DSPTK deadline; also who do I email?",
         ["When is the DSPTK deadline", "who do I email?"]),
    ],
)  # fmt: skip
def test_compound_questions_split_into_asks(question: str, parts: list[str]) -> None:
    assert split_parts(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "What are EPS and eRD?",  # one ask about two things
        "We are a small independent in Leeds; when does MYS go live?",  # context, then one ask
        "thanks, and when is it due?",
        "When does MYS become compulsory for FP34C?",
    ],
)
def test_single_asks_stay_whole(question: str) -> None:
    assert split_parts(question) == [question]


def test_the_asking_clause_drops_the_chat_around_it() -> None:
    chatty = (
        "We're a small independent in Leeds and our PMR supplier keeps going on about this. "
        "When does MYS become compulsory for FP34C?"
    )
    assert ask_clause(chatty) == "When does MYS become compulsory for FP34C?"
    assert ask_clause("rtec wales") == "rtec wales"  # nothing marks an ask: all of it asks


def test_focus_words() -> None:
    assert focus_words("Which robotic dispensing systems has CP ITG recommended?") == [
        "robotic",
        "dispensing",
        "systems",
    ]
    assert focus_words("Which company provides it?") == []  # "company" names the kind of answer


@pytest.mark.parametrize(
    ("question", "counted"),
    [
        ("how many referrals have come through the london trial so far", ["referrals"]),
        ("How many pharmacies and GP surgeries were in the pilot?", ["pharmacies"]),
        ("How many of the integrated care systems have digital boards?",
         ["integrated", "care", "systems"]),
        ("What share of GP practices were Phase 4 ready?", ["practices"]),
        ("how many updates has the toolkit had", ["updates"]),  # generic as a focus, not here
        ("When does the pilot end?", []),  # not a count question
        ("How big is each ICS?", []),  # a count, but it names nothing it counts
    ],
)  # fmt: skip
def test_a_count_question_names_what_it_counts(question: str, counted: list[str]) -> None:
    assert counted_words(asked_kind(question), question) == counted


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Which pharmacies are in the London GP CPCS pilot?", ["pharmacies"]),
        ("Which five pharmacies are piloting the DWP side?", ["pharmacies"]),  # not "five"
        ("Which hospital software company is the second one?", ["hospital", "software", "company"]),
        ("What are the names of the GP practices in the pilot?", ["practices"]),
        ("Who chairs CP ITG?", []),  # a name question, but it names nothing to name
        ("How many pharmacies are in the pilot?", []),  # not a name question
    ],
)  # fmt: skip
def test_a_name_question_says_what_it_asks_to_be_named(question: str, named: list[str]) -> None:
    assert named_words(asked_kind(question), question) == named


def test_nation_and_figures() -> None:
    assert nation_named("Does RTEC work in Wales?") == "wales"
    assert nation_named("Is EPS live in Northern Ireland?") == "northern ireland"
    assert nation_named("Is EPS used across England?") is None
    assert pinned_figures("What share were EPS ready in August 2021?") == ["August 2021"]
    assert pinned_figures("What did the autumn 2021 update say about the 4 item limit?") == ["4"]


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What did the autumn 2021 update say?", ["Autumn 2021"]),
        ("what was in the winter bulletin", ["Winter 2021"]),
        ("Compare summer '21 and autumn 2021", ["Summer 2021", "Autumn 2021"]),
        ("What happened in fall 2021?", ["Autumn 2021"]),
        ("What did the spring 2022 bulletin say?", []),
        ("What is EPS?", []),
    ],
)
def test_seasons_named(question: str, named: list[str]) -> None:
    assert seasons_named(question, KNOWN) == named


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("What did the spring 2022 bulletin say about EPS?", ["Spring 2022"]),
        ("Anything in the Summer 2020 update?", ["Summer 2020"]),
        ("What did the autumn 2021 update say?", []),
        # A season as a date, not a bulletin: nothing is missing.
        ("Will it go live in spring 2022?", []),
    ],
)
def test_seasons_missing(question: str, missing: list[str]) -> None:
    assert seasons_missing(question, KNOWN) == missing


@pytest.mark.parametrize(
    ("question", "latest"),
    [
        ("What is the latest on EPS?", True),
        ("How many users does the NHS App have currently?", True),
        ("What is the most recent RTEC news?", True),
        ("Did the later bulletins change that timing?", True),
        ("Has anything happened with it since?", True),
        ("Have most pharmacies done it by now?", True),
        ("What did the autumn 2021 update say about EPS?", False),
        ("What has NHSBSA done since January 2020?", False),
        ("Is the later phase funded?", False),
        ("When does MYS become compulsory?", False),
    ],
)
def test_wants_latest(question: str, latest: bool) -> None:
    assert wants_latest(question) is latest


def test_clean_question_reduces_html_and_controls() -> None:
    assert clean_question("<b>EPS</b>\x00 dates?") == "EPS dates?"


def test_a_query_knows_what_it_asks_beyond_its_closest_passage(snapshot_settings) -> None:
    from assistant import get_index
    from assistant.query import make_queries, make_query

    index = get_index(snapshot_settings)
    question = "Who is the person at NHSBSA heading up the RTEC project?"
    alone = make_query(question, question, index)
    # The archive's RTEC passage names NHSBSA and the project, not the person.
    assert "person" in alone.unmatched_text.split() and "rtec" not in alone.unmatched_text.lower()
    assert alone.unmatched_vector is not None and alone.unmatched_vector.shape == (384,)
    # Asked through make_queries (one pass for every part), the same words and vector.
    whole, parts = make_queries(question, None, index)
    assert whole.unmatched == alone.unmatched and parts == [whole]
    assert np.allclose(whole.unmatched_vector, alone.unmatched_vector, atol=1e-5)
    assert np.allclose(whole.vector, alone.vector, atol=1e-5)


def test_with_a_conversation_retrieval_searches_with_the_whole_of_it_mixed_in(
    snapshot_settings,
) -> None:
    from assistant import get_index
    from assistant.query import make_queries

    index = get_index(snapshot_settings)
    weight = index.settings.follow_up.conversation_weight
    history = ["DHSC are looking into how patients prove who they are digitally at pharmacies?"]
    question = "how do I get my views in?"
    alone, _ = make_queries(question, None, index)
    assert alone.search_vector is None and alone.retrieval_vector is alone.vector

    whole, parts = make_queries(question, history, index)
    conversation = index.embed_query(" ".join([*history, question]))
    expected = whole.vector + weight * conversation
    expected /= np.linalg.norm(expected)
    assert np.allclose(whole.retrieval_vector, expected, atol=1e-4)
    # The reader still reads the question as asked: only retrieval leans on the topic.
    assert np.allclose(whole.vector, alone.vector, atol=1e-5)
    assert float(whole.retrieval_vector @ conversation) > float(whole.vector @ conversation)
    assert parts == [whole]


def test_typos_are_read_as_the_archive_spells_them(snapshot_settings) -> None:
    from assistant import get_index
    from assistant.query import make_queries

    index = get_index(snapshot_settings)
    typed, _ = make_queries("servcie finder - when did the survey reslts come out?", None, index)
    right, _ = make_queries("service finder - when did the survey results come out?", None, index)
    assert typed.text == right.text and typed.terms == right.terms
    assert np.allclose(typed.vector, right.vector, atol=1e-5)
    assert [(m.typed, m.word) for m in typed.mended] == [
        ("servcie", "service"),
        ("reslts", "results"),
    ]
    # Words the embedding model knows stay as typed, even one edit from an archive word.
    kept, _ = make_queries("My smartcard is locked, who do I call in Leeds?", None, index)
    assert kept.mended == () and "locked" in kept.terms
    # An earlier turn is mended too: the follow-up carries the archive's word.
    follow, _ = make_queries("who runs it?", ["what is the nhs servcie finder?"], index)
    assert "service" in follow.text and "servcie" not in follow.text
