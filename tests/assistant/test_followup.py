"""Unit tests for assistant.followup: reading history and resolving follow-up questions."""

from __future__ import annotations

import pytest

from assistant.followup import ArchiveWords, is_follow_up, previous_questions, resolve
from settings import FollowUpSettings

NHS_APP = "How many people use the NHS App?"


# ---------------------------------------------------------------- previous_questions


def test_plain_strings_are_the_users_questions() -> None:
    assert previous_questions(["What is EPS?", "  When is RTEC live?  "]) == [
        "What is EPS?",
        "When is RTEC live?",
    ]


def test_role_content_dicts_keep_only_user_turns() -> None:
    history = [
        {"role": "user", "content": "What is EPS?"},
        {"role": "assistant", "content": "EPS is the Electronic Prescription Service. [1]"},
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "And RTEC?"},
    ]
    assert previous_questions(history) == ["What is EPS?", "And RTEC?"]


def test_gradio_content_part_lists_are_joined_text() -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "What is the NHS App?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "An app. [1]"}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What about"},
                {"type": "file", "file": {"path": "/tmp/upload.png"}},
                {"type": "text", "text": "NHSmail?"},
            ],
        },
    ]
    joined = [" ".join(q.split()) for q in previous_questions(history)]
    assert joined == ["What is the NHS App?", "What about NHSmail?"]


def test_user_assistant_pairs() -> None:
    history = [["What is EPS?", "EPS is ..."], ("And RTEC?", None)]
    assert previous_questions(history) == ["What is EPS?", "And RTEC?"]


def test_empty_and_odd_turns_are_skipped() -> None:
    history = [
        "",
        "   ",
        None,
        42,
        {"role": "user", "content": "  "},
        {"role": "user", "content": None},
        {"role": "user", "content": [{"type": "image", "url": "x.png"}]},
        {"content": "no role"},
        [],
        "What is EPS?",
    ]
    assert previous_questions(history) == ["What is EPS?"]
    assert previous_questions(None) == []
    assert previous_questions([]) == []


# ---------------------------------------------------------------- is_follow_up


@pytest.mark.parametrize(
    "question",
    [
        "and what about in the autumn update?",
        "And the winter one?",
        "What about Wales?",
        "How about in Scotland?",
        "Also, when?",
        "So when does it start?",
        "When is it due?",
        "Is that still true?",
        "What about them?",
        "Okay, and the deadline?",
    ],
)
def test_follow_ups(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        NHS_APP,
        "When does MYS become compulsory for FP34C?",
        "How does CIS2 work with iPads?",
        "Which CPCS IT suppliers are ready for October 2021?",
        "What did the autumn 2021 update say about RTEC?",
        # Short, but each names its own subject: a new topic, not a follow-up.
        "What is RTEC?",
        "Tell me about NHSmail.",
    ],
)
def test_questions_that_stand_alone(question: str) -> None:
    assert not is_follow_up(question)


# A small archive's words: its subjects, and every word it uses.
WORDS = ArchiveWords(
    subjects=frozenset({"rtec", "nhsmail", "dsptk", "pilot"}),
    vocabulary=frozenset({"rtec", "nhsmail", "dsptk", "pilot", "going", "bulletin", "time"}),
)


@pytest.mark.parametrize(
    "question",
    [
        "I mean going by the autumn bulletin",  # only archive words, no subject
        "is there a target go-live?",  # bare: two words, no subject, no name
        "how do i sign up?",
        "what day and time?",
        "I mean going by the autumn bulletin specifically",  # a season, and no subject
    ],
)
def test_questions_naming_no_subject_lean_given_the_archives_words(question: str) -> None:
    assert is_follow_up(question, WORDS)
    assert not is_follow_up(question)  # without the archive's words nothing says so


@pytest.mark.parametrize(
    "question",
    [
        "How do I get on the pilot?",  # names a subject of the archive
        "Premier League fixtures?",  # two words, but a name the archive never uses
        "who won the FA Cup final?",  # three words the archive doesn't use
        "who won the FA Cup final in spring?",  # a season, but a name of its own
        "What is RTEC?",
    ],
)
def test_questions_naming_a_subject_or_a_name_of_their_own_stand_alone(question: str) -> None:
    assert not is_follow_up(question, WORDS)


def test_bare_words_sets_how_short_a_bare_question_leans() -> None:
    question = "is there a target go-live date?"  # three words the archive doesn't use
    assert not is_follow_up(question, WORDS)
    assert is_follow_up(question, WORDS, FollowUpSettings(bare_words=3))
    history = ["When is the DSPTK submission deadline?"]
    assert resolve("how do i sign up?", history, WORDS) == (
        "When is the DSPTK submission deadline? how do i sign up?"
    )
    assert resolve("how do i sign up?", history, WORDS, FollowUpSettings(bare_words=0)) == (
        "how do i sign up?"
    )


# ---------------------------------------------------------------- resolve


def test_no_history_leaves_the_question_alone() -> None:
    assert resolve("and what about winter?", None) == "and what about winter?"
    assert resolve("and what about winter?", []) == "and what about winter?"
    assert resolve("and what about winter?", [{"role": "assistant", "content": "Hi"}]) == (
        "and what about winter?"
    )


def test_standalone_question_is_left_alone() -> None:
    assert resolve("When does MYS become compulsory for FP34C?", [NHS_APP]) == (
        "When does MYS become compulsory for FP34C?"
    )


def test_new_short_topic_is_left_alone() -> None:
    assert resolve("What is RTEC?", ["When is the DSPTK submission deadline?"]) == "What is RTEC?"


def test_follow_up_is_joined_to_the_latest_user_question() -> None:
    history = [
        {"role": "user", "content": "What is EPS?"},
        {"role": "assistant", "content": "EPS is ... [1]"},
        {"role": "user", "content": "When is the DSPTK submission deadline?"},
        {"role": "assistant", "content": "30th June 2022. [1]"},
    ]
    assert resolve("Is that still true?", history) == (
        "When is the DSPTK submission deadline? Is that still true?"
    )


def test_a_new_season_replaces_the_old_one() -> None:
    earlier = "How many users did the NHS App reach in the winter update?"
    resolved = resolve("and what about in the autumn update?", [earlier])
    assert resolved == "How many users did the NHS App reach ? and what about in the autumn update?"
    assert "winter" not in resolved.lower()


def test_a_season_with_year_replaces_the_old_one() -> None:
    earlier = "What did the Autumn 2021 bulletin say about NHSmail?"
    resolved = resolve("And in winter 2021?", [earlier])
    assert "autumn" not in resolved.lower() and "2021 bulletin" not in resolved
    assert resolved.startswith("What did")
    assert "NHSmail" in resolved
    assert resolved.endswith("And in winter 2021?")


def test_follow_up_without_a_season_keeps_the_earlier_one() -> None:
    earlier = "What did the autumn 2021 update say about RTEC?"
    assert resolve("And when is it due?", [earlier]) == f"{earlier} And when is it due?"


@pytest.mark.parametrize(
    "question",
    ["Did the later bulletins change that timing?", "and what's the latest count?",
     "has anything happened with it since?", "is it live now?"],
)  # fmt: skip
def test_asking_for_the_latest_lets_go_of_the_earlier_season(question: str) -> None:
    earlier = "In summer 2021, when was the DWP side of RTEC expected to go live?"
    resolved = resolve(question, [earlier])
    assert "summer" not in resolved.lower()
    assert "DWP side of RTEC" in resolved and resolved.endswith(question)


def test_gradio_parts_history_resolves() -> None:
    history = [{"role": "user", "content": [{"type": "text", "text": NHS_APP}]}]
    assert resolve("and in the winter update?", history) == (
        "How many people use the NHS App? and in the winter update?"
    )
