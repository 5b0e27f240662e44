"""The Review tab's handlers in-process: the password guard, table, CSV, candidates, index."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from pydantic import SecretStr

from assistant.feedback import FeedbackRecord, FeedbackStore
from ui.review import LOCKED_MESSAGE, TABLE_HEADERS, ReviewService

ANSWER = {
    "question": "When does MYS become compulsory for FP34C?",
    "answer": "After March 2022. [1]",
    "abstained": False,
    "as_of": "Winter 2021",
    "citations": [
        {
            "n": 1,
            "season": "Winter 2021",
            "heading_path": ["Reducing burden"],
            "url": "https://example.org/#winter-2021-reducing-burden",
            "sentences": ["This FP34C version will continue to be issued until March 2022."],
        }
    ],
}


@pytest.fixture
def review(snapshot_settings, tmp_path: Path) -> ReviewService:
    store = FeedbackStore(tmp_path / "feedback.db")
    store.add(FeedbackRecord.from_answer(ANSWER, "up"))
    flagged = FeedbackRecord.from_answer(ANSWER, "down")
    flagged.wrong_source, flagged.comment = True, "=cmd|' /C calc'!A0"
    store.add(flagged)
    settings = snapshot_settings.model_copy(
        update={"admin_password": SecretStr("s3cret"), "failed_login_delay_s": 0.0}
    )
    return ReviewService(settings=settings, store=store)


def test_a_locked_session_gets_nothing(review: ReviewService) -> None:
    for call in (
        lambda: review.feedback_table(False, "", False, "", ""),
        lambda: review.export_csv(False, "", False, "", ""),
        lambda: review.status(False),
        lambda: review.sections(False, "", ""),
        lambda: review.add_candidate(False, "1", "q", "fact", "", "Winter 2021", "X", "factoid"),
    ):
        with pytest.raises(gr.Error, match=LOCKED_MESSAGE):
            call()
    for unlocked in (False, None, "true", 1):  # only the server's own True opens it
        with pytest.raises(gr.Error, match=LOCKED_MESSAGE):
            review.feedback_table(unlocked, "", False, "", "")  # type: ignore[arg-type]
    assert review.load_feedback(False) == (gr.skip(),)
    assert review.load_status(False) == (gr.skip(),)
    assert review.load_sections(False) == (gr.skip(), gr.skip(), gr.skip())


def test_the_desk_is_off_without_a_password(review: ReviewService) -> None:
    assert review.enabled
    for password in (None, SecretStr("")):
        off = ReviewService(
            settings=review.settings.model_copy(update={"admin_password": password}),
            store=review.store,
        )
        assert not off.enabled
        assert off.unlock("")[0] is False  # no password, no way in


def test_unlock_checks_the_password(review: ReviewService) -> None:
    assert review.unlock("wrong")[0] is False
    assert review.unlock("")[0] is False
    unlocked, login, panel, message, box = review.unlock("s3cret")
    assert unlocked is True and panel["visible"] is True and login["visible"] is False
    assert box == ""  # the password does not linger in the page


def test_table_filters_and_csv(review: ReviewService) -> None:
    rows = review.feedback_table(True, "", False, "", "")
    assert len(rows) == 2 and all(len(row) == len(TABLE_HEADERS) for row in rows)
    [flagged] = review.feedback_table(True, "down", True, "", "")
    assert flagged[2] == "down" and flagged[3] == "yes"
    path = Path(review.export_csv(True, "down", False, "", ""))
    [row] = list(csv.DictReader(io.StringIO(path.read_text())))
    assert row["comment"].startswith("'=")  # a formula in a comment stays text


def test_picking_a_row_prefills_the_candidate(review: ReviewService) -> None:
    [flagged] = review.feedback_table(True, "down", False, "", "")
    values = review.pick_row(True, SimpleNamespace(row_value=flagged))
    feedback_id, question, facts, quote, season, section, kind, context = values
    assert feedback_id == str(flagged[0]) and question == ANSWER["question"]
    assert facts == "" and quote.startswith("This FP34C version")
    assert (season, section, kind) == ("Winter 2021", "Reducing burden", "factoid")
    assert "wrong source" in context

    message, item = review.add_candidate(
        True, feedback_id, question, "March 2022\n", quote, season, section, kind
    )
    assert message.startswith("✓ Added") and item["answer_facts"] == ["March 2022"]
    assert review.feedback_table(True, "down", False, "", "")[0][-1] == item["id"]
    message, item = review.add_candidate(True, "", question, "x", "", season, section, kind)
    assert item is None and "Pick a feedback row" in message
    message, item = review.add_candidate(True, feedback_id, question, " ", "", season, "", kind)
    assert item is None and "fact" in message


def test_index_status_and_section_browser(review: ReviewService) -> None:
    status = review.status(True)
    assert "Built at" in status and "Winter 2021" in status and "Feedback records" in status
    assert review.load_status(True) == (status,)
    sections, seasons, topics = review.load_sections(True)
    assert ("Winter 2021", "Winter 2021") in seasons["choices"]
    assert ("EPS and RTEC", "EPS and RTEC") in topics["choices"]
    everything = review.sections(True, "", "")
    winter = review.sections(True, "Winter 2021", "")
    eps = review.sections(True, "Winter 2021", "EPS and RTEC")
    count = lambda html: int(html.split("<p>", 1)[1].split(" of ", 1)[0])  # noqa: E731
    assert count(everything) > count(winter) > count(eps) > 0
    assert "Electronic Prescription Service (EPS)" in eps
