"""Unit tests for assistant.kinds: the kind of answer asked for, and spans that give it."""

from __future__ import annotations

import pytest

from assistant.kinds import (
    acronym_key,
    asked_kind,
    expansion_spans,
    find_spans,
    known_acronym,
    merge_spans,
    name_spans,
    question_acronym,
    spelled_out_table,
)
from sentences import chunk_sentences


def spans_text(question: str, sentence: str, known: frozenset[str] = frozenset()) -> list[str]:
    asked = asked_kind(question)
    assert asked is not None, question
    return [sentence[a:b] for a, b in find_spans(asked, sentence, question, known)]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When does MYS become compulsory for FP34C?", "date"),
        ("until when was it funded", "date"),
        ("How many ICS are there?", "count"),
        ("How long do the interviews take?", "duration"),
        ("how often does the group meet", "duration"),
        ("How many weeks does the update take to arrive?", "duration"),
        ("How long until the portal is compulsory?", "date"),
        ("nhs app user numbers", "count"),
        ("How much does a replacement Smartcard cost?", "price"),
        ("What percentage of items went through EPS?", "percentage"),
        ("What's the phone number for the helpdesk?", "phone"),
        ("Who do I contact about the survey?", "email"),
        ("What does PODAC stand for?", "expansion"),
        ("what does eRD mean", "expansion"),
        ("What is the PRSB?", "expansion"),
        ("FHIR?", "expansion"),  # the letters alone ask what they mean
        ("Which suppliers are ready?", "name"),
        ("which two PMR suppliers was it?", "name"),
        ("Who chairs the group?", "name"),
        ("Why was the Gantt chart made?", "reason"),
        ("How do I raise a ticket with NHSmail?", "procedure"),
        ("Does RTEC work in Wales?", "yesno"),
    ],
)
def test_asked_kind(question: str, kind: str) -> None:
    asked = asked_kind(question)
    assert asked is not None and asked.kind == kind


def test_plain_what_question_asks_for_no_particular_kind() -> None:
    assert asked_kind("What is happening with the Shielded Patient List?") is None
    assert asked_kind("what does it mean for us") is None  # no acronym to expand


def test_a_date_the_question_already_gives_is_not_an_answer() -> None:
    sentence = "The pilot ran in 2021 and ends on 1st October 2021."
    assert spans_text("When in 2021 does the pilot end?", sentence) == ["1st October 2021"]


def test_worded_dates_and_counts_count() -> None:
    assert spans_text("When is it due?", "Work is planned for late 2021 and early 2022.") == [
        "late 2021",
        "early 2022",
    ]
    assert spans_text("How many ICS are there?", "There are around 40 ICS.") == ["40"]


@pytest.mark.parametrize(
    "sentence",
    [
        "Users joined fast after the COVID-19 vaccination status service was added.",
        "Referrals come only from NHS 111 and GP practices.",
        "The features list v1.0 is out, and the guidance is at version 7.6, page 13.",
        "The funding for 2021-22 is set, and phase 4 follows.",
    ],
)
def test_a_number_in_a_name_a_label_or_a_range_is_no_count(sentence: str) -> None:
    # "how many referrals?" is not answered by the 111 of NHS 111 or the 19 of COVID-19
    assert spans_text("How many referrals have there been?", sentence) == []


def test_a_count_beside_a_name_still_counts() -> None:
    sentence = "NHS 111 sent 1,300 referrals to the five pilot pharmacies."
    assert spans_text("How many referrals were there?", sentence) == ["1,300", "five"]


@pytest.mark.parametrize(
    ("question", "sentence", "spans"),
    [
        ("How long is an interview?", "Interviews last around 45 minutes and are online.",
         ["around 45 minutes"]),
        ("how long can it take to reach every GP?", "It can take two to three weeks to arrive.",
         ["two to three weeks"]),
        ("How long will the paper form be posted?", "It will be issued until March 2022, then MYS.",
         ["until March 2022"]),
        ("How long have they run it?", "NHSBSA has led the project since January 2020.",
         ["since January 2020"]),
        ("How often is dm+d released?", "dm+d is released weekly to suppliers.", ["weekly"]),
        # a date alone says when, not for how long: "how long does it take?" is not answered
        ("How long does it take to move records?", "The system went live in March 2022.", []),
    ],
)  # fmt: skip
def test_a_length_of_time_is_a_duration_a_frequency_or_a_date_it_lasts_to(
    question: str, sentence: str, spans: list[str]
) -> None:
    assert spans_text(question, sentence) == spans


def test_a_date_kind_needs_a_real_date() -> None:
    assert spans_text("When will smartcards work online?", "Work is in the pipeline.") == []


@pytest.mark.parametrize(
    ("acronym", "sentence", "expected"),
    [
        (
            "PODAC",
            "for pharmacy, optometry, dentistry, ambulance and community services (PODAC).",
            "pharmacy, optometry, dentistry, ambulance and community",
        ),
        ("CIS2", "NHS Digital’s Care Identity Service 2 (CIS2) program", "Care Identity Service 2"),
        (
            "NHSE&I",
            "NHS England and NHS Improvement (NHSE&I) said.",
            "NHS England and NHS Improvement",
        ),
        (
            "DSPTK",
            "the Data Security and Protection Toolkit (DSPTK)",
            "Data Security and Protection Toolkit",
        ),
        ("eRD", "electronic Repeat Dispensing (eRD) is growing", "electronic Repeat Dispensing"),
    ],
)
def test_expansions_in_any_case_and_order(acronym: str, sentence: str, expected: str) -> None:
    assert [sentence[a:b] for a, b in expansion_spans(acronym, sentence)] == [expected]


@pytest.mark.parametrize(
    ("question", "acronym"),
    [
        ("What does LFPSE stand for?", "LFPSE"),
        ("podac stand for?", "PODAC"),  # typed in lower case: the word before "stand for"
        ("prsb stands for wat", "PRSB"),
        ("what is cis2 short for", "CIS2"),
        ("what does it stand for?", ""),  # a pronoun: the letters are in an earlier turn
        ("what do the letters stand for?", ""),
        # of several capitalised tokens, the one beside the asking words
        ("What does PODAC mean in NHSX's plan?", "PODAC"),
        ("What does FHIR stand for in the new EPS standards?", "FHIR"),
        ("In the EPS update, what is meant by the abbreviation FHIR?", "FHIR"),
    ],
)
def test_the_letters_asked_about(question: str, acronym: str) -> None:
    assert question_acronym(question) == acronym


def test_a_lower_case_question_finds_its_expansion() -> None:
    sentence = "for pharmacy, optometry, dentistry, ambulance and community services (PODAC)."
    assert spans_text("podac stand for?", sentence) == [
        "pharmacy, optometry, dentistry, ambulance and community"
    ]


def test_the_acronym_alone_spells_nothing_out() -> None:
    assert expansion_spans("RTEC", "RTEC is live in most pharmacies (RTEC).") == []


def test_names_skip_public_bodies_question_words_and_known_topics() -> None:
    sentence = "The pilot relates to eight London pharmacies with the Sonar system and NHS Digital."
    found = [sentence[a:b] for a, b in name_spans(sentence, "Which system were they on?")]
    assert found == ["London", "Sonar"]
    known = frozenset({"london"})
    found = [sentence[a:b] for a, b in name_spans(sentence, "Which system?", known)]
    assert found == ["Sonar"]


def test_possessives_of_question_words_are_not_names() -> None:
    assert spans_text("Who is the chair of CP ITG?", "said by the CP ITG’s outgoing Chair") == []


def test_merge_spans_joins_overlaps() -> None:
    assert merge_spans([(6, 9), (0, 3), (3, 4), (8, 12)]) == [(0, 4), (6, 12)]
    assert merge_spans([(0, 8), (9, 16)]) == [(0, 16)]  # "Positive Solutions": one name


def test_the_archive_spells_out_its_acronyms(snapshot_settings) -> None:
    from assistant import get_index

    index = get_index(snapshot_settings)
    table = spelled_out_table(index)
    assert acronym_key("CCGs") == acronym_key("ccg") == "CCG"
    # every passage listed for FHIR has a sentence writing the letters out
    passages = [index.chunks[i] for i in table["FHIR"]]
    assert passages and all(
        any(expansion_spans("FHIR", s) for s in chunk_sentences(c)) for c in passages
    )
    assert known_acronym("so what is fhir?", index) == "FHIR"
    assert known_acronym("what is it for?", index) == ""  # "it" carries no subject
