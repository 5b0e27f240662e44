"""The chat handlers in-process, on the real snapshot index, feedback store and question log."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.feedback import FeedbackStore
from assistant.questionlog import QuestionLog
from bench.appserver import free_port
from ui import render
from ui.answering import AnswerService
from ui.chat import UNAVAILABLE, ChatService, history_of

TODAY = date(2026, 1, 15)


@pytest.fixture
def chat(snapshot_settings, tmp_path: Path) -> ChatService:
    db = tmp_path / "feedback.db"
    return ChatService(
        answers=AnswerService(snapshot_settings, QuestionLog(db)),
        store=FeedbackStore(db),
        today=lambda: TODAY,
    )


def turn(chat: ChatService, question: str, turns=(), seasons=(), topic: str = "") -> dict:
    """chat.answer_turn run to completion (it is a coroutine: Gradio awaits it)."""
    return asyncio.run(chat.answer_turn(question, list(turns), list(seasons), topic))


def respond(chat: ChatService, *args) -> list[tuple]:
    """Every update chat.respond streams (an async generator), in order."""

    async def collect() -> list[tuple]:
        return [step async for step in chat.respond(*args)]

    return asyncio.run(collect())


def test_respond_shows_the_question_first_then_the_answer(chat: ChatService) -> None:
    steps = respond(chat, "When does MYS become compulsory for FP34C?", [], [], "")
    assert len(steps) == 2
    messages, *_ = steps[0]
    assert messages[-1]["content"] == render.PENDING
    messages, turns, sources, _ = steps[1]
    assert len(messages) == 2 and "**\\[1\\]**" in messages[1]["content"]
    assert turns[0]["answer"]["as_of"] == "Winter 2021"
    assert 'class="cpitg-card"' in sources


def test_turns_keep_the_raw_question_for_follow_ups(chat: ChatService) -> None:
    first = turn(chat, "Where was the GP referral pilot for CPCS IT being run?")
    follow = turn(chat, "Which pharmacy system were those pharmacies on?", [first])
    assert history_of([first])[0] == {
        "role": "user",
        "content": "Where was the GP referral pilot for CPCS IT being run?",
    }
    assert follow["answer"]["citations"][0]["heading_path"][-1] == "GP CPCS IT pilot"


def test_filters_reach_ask(chat: ChatService) -> None:
    answered = turn(chat, "What is NHSmail used for?", seasons=["Autumn 2021"])
    assert {h["season"] for h in answered["answer"]["retrieved"]} == {"Autumn 2021"}
    assert answered["filters"] == {"seasons": ["Autumn 2021"], "topic": None}


@pytest.mark.parametrize(
    ("question", "expected"),
    [("<img src=x onerror=alert(1)> ?!", "couldn't find a question"), ("x " * 1500, "too long")],
)
def test_bad_questions_get_friendly_notices(
    chat: ChatService, question: str, expected: str
) -> None:
    notice = turn(chat, question)
    assert notice["answer"] is None and expected in notice["error"]


def test_unreachable_index_is_a_notice_not_a_crash(chat: ChatService) -> None:
    chat.answers.settings = chat.answers.settings.model_copy(
        update={"chroma_url": f"http://127.0.0.1:{free_port()}"}
    )
    notice = turn(chat, "When does MYS become compulsory for FP34C?")
    assert notice["answer"] is None and notice["error"] == UNAVAILABLE
    assert chat.answers.questions.count() == 0  # a question nobody could answer is no gap


def test_like_stores_feedback_and_a_second_click_withdraws_it(chat: ChatService) -> None:
    turns = [turn(chat, "When does MYS become compulsory for FP34C?", seasons=["Winter 2021"])]
    turns, form, note, feedback_id = chat.on_like(turns, SimpleNamespace(index=1, liked=False))
    assert "saved as feedback #" in note and form["visible"] is True
    [row] = chat.store.list()
    assert row["id"] == feedback_id and row["rating"] == "down"
    assert row["filters"] == {"seasons": ["Winter 2021"], "topic": None}
    note, _, _ = chat.send_feedback(feedback_id, "Wrong section", True)
    assert "flagged the source as wrong" in note
    assert chat.store.get(feedback_id)["comment"] == "Wrong section"
    turns, *_ = chat.on_like(turns, SimpleNamespace(index=1, liked=True))  # changed its mind
    assert chat.store.get(feedback_id)["rating"] == "up" and chat.store.count() == 1
    turns, *_ = chat.on_like(turns, SimpleNamespace(index=1, liked=""))  # thumb clicked off
    assert chat.store.count() == 0 and turns[0]["feedback_id"] is None


def test_every_answered_chat_question_is_logged(chat: ChatService) -> None:
    first = turn(chat, "Where was the GP referral pilot for CPCS IT being run?")
    turn(chat, "Which pharmacy system were those pharmacies on?", [first])
    turn(chat, "What is the price of a pint of milk?")
    turn(chat, "   ")  # bad input: a notice, not a question
    logged = chat.answers.questions.questions(("answered", "hedged", "not_covered"))
    assert [row["question"] for row in logged] == [
        "What is the price of a pint of milk?",
        "Which pharmacy system were those pharmacies on?",
        "Where was the GP referral pilot for CPCS IT being run?",
    ]
    milk, follow_up, _ = logged
    assert milk["status"] == "not_covered" and milk["channel"] == "chat"
    assert follow_up["history"] == ["Where was the GP referral pilot for CPCS IT being run?"]
    assert follow_up["nearest_path"][-1] == "GP CPCS IT pilot"


def test_filter_choices_come_from_the_index(chat: ChatService) -> None:
    seasons, topics = chat.filter_choices()
    assert seasons["choices"] == ["Winter 2021", "Autumn 2021", "Summer 2021", "overview"]
    assert ("EPS and RTEC", "EPS and RTEC") in topics["choices"]
