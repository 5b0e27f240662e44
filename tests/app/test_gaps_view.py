"""The Gaps panel's handlers in process, over a real question log filled by real answers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from assistant import ask
from assistant.questionlog import GAP_STATUSES, QuestionLog
from ui import render
from ui.gaps import MAKE_CANDIDATE, QUESTION_HEADERS, TOPIC_HEADERS, GapsService
from ui.review import LOCKED_MESSAGE

UNANSWERABLE = [
    "How much does it cost to replace a lost or broken NHS Smartcard?",
    "What's the phone number for the NHSmail pharmacy admin team?",
    "What is the price of a pint of milk?",
]
ANSWERABLE = "When does MYS become compulsory for FP34C?"
BOTH = list(GAP_STATUSES)


@pytest.fixture(scope="module")
def answers(snapshot_settings) -> dict[str, dict]:
    """The real JSON answer to each question, asked once for the module."""
    return {q: ask(q, settings=snapshot_settings).to_json() for q in [*UNANSWERABLE, ANSWERABLE]}


@pytest.fixture
def gaps(snapshot_settings, tmp_path: Path, answers: dict[str, dict]) -> GapsService:
    settings = snapshot_settings.model_copy(
        update={"candidates_file": tmp_path / "eval_candidates.jsonl"}
    )
    log = QuestionLog(tmp_path / "feedback.db")
    for question in [*UNANSWERABLE, UNANSWERABLE[0], ANSWERABLE]:
        log.record(answers[question], channel="api")
    return GapsService(settings=settings, log=log)


def test_the_questions_are_gaps_and_one_is_not(answers: dict[str, dict]) -> None:
    # The rest of this module relies on it: each unanswerable question is hedged or not
    # covered (a gap), the answerable one answered.
    assert all(answers[q]["status"] in GAP_STATUSES for q in UNANSWERABLE)
    assert answers[ANSWERABLE]["status"] == "answered"


def click(row: list, column: int) -> SimpleNamespace:
    return SimpleNamespace(index=[0, column], row_value=row, value=row[column])


def test_the_view_groups_the_unanswered_by_topic(gaps: GapsService) -> None:
    note, topics, questions, topic_choice = gaps.load(True)
    assert "question log is on: 5 questions kept, each for 90 days" in note
    assert all(len(row) == len(TOPIC_HEADERS) for row in topics)
    assert sum(row[3] for row in topics) == 4  # every unanswered ask, the repeat included
    assert [row[3] for row in topics] == sorted((row[3] for row in topics), reverse=True)
    assert all(len(row) == len(QUESTION_HEADERS) for row in questions)
    assert {row[4] for row in questions} == set(UNANSWERABLE)  # the answered one is no gap
    assert all(row[-1] == MAKE_CANDIDATE for row in questions)
    assert [t for _, t in topic_choice["choices"]] == ["", *[row[0] for row in topics]]
    smartcard = next(r for r in topics if UNANSWERABLE[0] in r[5])
    assert smartcard[5].count(UNANSWERABLE[0]) == 1  # examples are distinct questions


def test_filters_narrow_the_view(gaps: GapsService, answers: dict[str, dict]) -> None:
    _, topics, _, _ = gaps.load(True)
    first_topic = topics[0][0]
    _, _, questions, choice = gaps.view(True, 30, BOTH, first_topic)
    assert {row[3] for row in questions} == {first_topic} and choice["value"] == first_topic
    for status in BOTH:  # each status alone: just the questions answered that way
        _, _, questions, _ = gaps.view(True, 30, [status], "")
        assert {row[2] for row in questions} <= {status.replace("_", " ")}  # shown in words
        asked = [answers[q]["status"] for q in [*UNANSWERABLE, UNANSWERABLE[0]]]
        assert len(questions) == asked.count(status)
    _, _, questions, _ = gaps.view(True, 0, BOTH, "no such topic")
    assert len(questions) == 4  # an unknown topic falls back to all


def test_one_click_on_make_candidate_writes_an_eval_item(
    gaps: GapsService, answers: dict[str, dict]
) -> None:
    _, _, questions, _ = gaps.load(True)
    row = questions[0]
    assert gaps.pick_question(True, 30, BOTH, "", click(row, 4)) == (gr.skip(), gr.skip())
    message, refreshed = gaps.pick_question(True, 30, BOTH, "", click(row, len(row) - 1))
    [item] = [json.loads(line) for line in gaps.settings.candidates_path.read_text().splitlines()]
    # A question not covered becomes an unanswerable item; a hedged one a partial item.
    kind = "unanswerable" if answers[row[4]]["status"] == "not_covered" else "partial"
    assert message.startswith(f"✓ Added **{render.md_escape(item['id'])}** ({kind})")
    assert item["question"] == row[4] and item["type"] == kind
    assert item["near"] and item["source"] == f"question log #{row[0]}"
    assert refreshed[0][-1] == item["id"]  # the cell now names the candidate
    again, _ = gaps.pick_question(True, 30, BOTH, "", click(refreshed[0], len(row) - 1))
    assert "already candidate" in again
    assert len(gaps.settings.candidates_path.read_text().splitlines()) == 1


def test_the_csv_export_holds_every_gap(gaps: GapsService, answers: dict[str, dict]) -> None:
    path = Path(gaps.export_csv(True, 0, BOTH))
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == 4
    assert {(r["question"], r["status"]) for r in rows} == {
        (q, answers[q]["status"]) for q in UNANSWERABLE
    }
    assert all(r["nearest_url"].startswith("https://") for r in rows)


def test_a_locked_session_gets_nothing(gaps: GapsService) -> None:
    assert gaps.load(False) == (gr.skip(),) * 4
    for call in (
        lambda: gaps.view(False, 30, BOTH, ""),
        lambda: gaps.export_csv(False, 30, BOTH),
        lambda: gaps.pick_topic(False, 30, BOTH, click(["x"], 0)),
        lambda: gaps.pick_question(False, 30, BOTH, "", click([1] * 8, 7)),
    ):
        with pytest.raises(gr.Error, match=LOCKED_MESSAGE):
            call()
    assert not gaps.settings.candidates_path.exists()


def test_the_note_says_when_the_log_is_off(gaps: GapsService) -> None:
    gaps.log.enabled = False
    assert "question log is **off**" in gaps.note() and "ASSISTANT_QUESTION_LOG=off" in gaps.note()
