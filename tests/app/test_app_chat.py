"""The chat handlers in-process, on the real snapshot index and a real feedback store."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.feedback import FeedbackStore
from bench.appserver import free_port
from ui import render
from ui.chat import UNAVAILABLE, ChatService, history_of

TODAY = date(2026, 1, 15)


@pytest.fixture
def chat(snapshot_settings, tmp_path: Path) -> ChatService:
    return ChatService(
        settings=snapshot_settings,
        store=FeedbackStore(tmp_path / "feedback.db"),
        today=lambda: TODAY,
    )


def test_respond_shows_the_question_first_then_the_answer(chat: ChatService) -> None:
    steps = list(chat.respond("When does MYS become compulsory for FP34C?", [], [], ""))
    assert len(steps) == 2
    messages, *_ = steps[0]
    assert messages[-1]["content"] == render.PENDING
    messages, turns, sources, _ = steps[1]
    assert len(messages) == 2 and "**\\[1\\]**" in messages[1]["content"]
    assert turns[0]["answer"]["as_of"] == "Winter 2021"
    assert 'class="cpitg-card"' in sources


def test_turns_keep_the_raw_question_for_follow_ups(chat: ChatService) -> None:
    first = chat.answer_turn("Where was the GP referral pilot for CPCS IT being run?", [], [], "")
    follow = chat.answer_turn("Which pharmacy system were those pharmacies on?", [first], [], "")
    assert history_of([first])[0] == {
        "role": "user",
        "content": "Where was the GP referral pilot for CPCS IT being run?",
    }
    assert follow["answer"]["citations"][0]["heading_path"][-1] == "GP CPCS IT pilot"


def test_filters_reach_ask(chat: ChatService) -> None:
    turn = chat.answer_turn("What is NHSmail used for?", [], ["Autumn 2021"], "")
    assert {h["season"] for h in turn["answer"]["retrieved"]} == {"Autumn 2021"}
    assert turn["filters"] == {"seasons": ["Autumn 2021"], "topic": None}


@pytest.mark.parametrize(
    ("question", "expected"),
    [("<img src=x onerror=alert(1)> ?!", "couldn't find a question"), ("x " * 1500, "too long")],
)
def test_bad_questions_get_friendly_notices(
    chat: ChatService, question: str, expected: str
) -> None:
    turn = chat.answer_turn(question, [], [], "")
    assert turn["answer"] is None and expected in turn["error"]


def test_unreachable_index_is_a_notice_not_a_crash(chat: ChatService) -> None:
    chat.settings = chat.settings.model_copy(
        update={"chroma_url": f"http://127.0.0.1:{free_port()}"}
    )
    turn = chat.answer_turn("When does MYS become compulsory for FP34C?", [], [], "")
    assert turn["answer"] is None and turn["error"] == UNAVAILABLE


def test_like_stores_feedback_and_a_second_click_withdraws_it(chat: ChatService) -> None:
    turn = chat.answer_turn("When does MYS become compulsory for FP34C?", [], ["Winter 2021"], "")
    turns = [turn]
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
