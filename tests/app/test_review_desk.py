"""The review desk is closed by default: off without a password, locked with one, and no
review function answers a raw call to any endpoint the app registers."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from browser import ADMIN_PASSWORD
from pydantic import SecretStr

from assistant.feedback import FeedbackRecord, FeedbackStore
from assistant.questionlog import QuestionLog
from bench.appserver import AppServer
from bench.gradio_wire import GradioWire
from ui.review import DESK_OFF, LOCKED_MESSAGE

MARK = uuid.uuid4().hex[:12]
SECRET_COMMENT = f"secret-feedback-{MARK}"
SECRET_QUESTION = f"What is the secret {MARK} of the desk?"
REVIEW_NAMES = ("feedback_table", "export_csv", "pick_row", "add_candidate", "status",
                "sections", "view", "pick_topic", "pick_question", "open", "load")  # fmt: skip


# ---------------------------------------------------------------- in process: what is wired


def blocks(settings, tmp_path: Path):
    """The app's Blocks and its services, built in process on the snapshot index."""
    from assistant import get_index
    from ui.answering import AnswerService
    from ui.chat import ChatService
    from ui.facts import IndexFacts
    from ui.gaps import GapsService
    from ui.layout import build_blocks
    from ui.review import ReviewService

    store = FeedbackStore(tmp_path / "feedback.db")
    log = QuestionLog(tmp_path / "feedback.db")
    review, gaps = ReviewService(settings, store), GapsService(settings, log)
    facts = IndexFacts.from_stored(get_index(settings).stored)
    demo = build_blocks(settings, facts, ChatService(AnswerService(settings, log), store), review,
                        gaps)  # fmt: skip
    return demo, (review, gaps)


def owners(demo) -> list[tuple[str, object, list[str]]]:
    """Each registered function: its name, the object it is bound to, its trigger events."""
    from ui.review import Panel

    found = []
    for fn in demo.fns.values():
        owner = getattr(fn.fn, "__self__", None)
        if isinstance(owner, Panel):
            owner = getattr(owner.load, "__self__", owner)
        found.append((fn.name, owner, [event for _, event in fn.targets]))
    return found


def test_without_a_password_no_review_function_exists(snapshot_settings, tmp_path: Path) -> None:
    demo, services = blocks(snapshot_settings.model_copy(update={"admin_password": None}), tmp_path)
    assert not [name for name, owner, _ in owners(demo) if owner in services]
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert "review-off" in ids
    assert not ids & {"review", "admin-password", "feedback-table", "gaps-questions"}
    [off] = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "review-off"]
    assert off.value == DESK_OFF and "ASSISTANT_ADMIN_PASSWORD" in DESK_OFF


def test_a_page_load_does_no_review_work(snapshot_settings, tmp_path: Path) -> None:
    settings = snapshot_settings.model_copy(update={"admin_password": SecretStr("pw")})
    demo, services = blocks(settings, tmp_path)
    wired = owners(demo)
    assert [name for name, owner, _ in wired if owner in services]  # the desk is there
    on_load = [(name, owner) for name, owner, events in wired if "load" in events]
    assert [name for name, _ in on_load] == ["filter_choices"]  # the chat's filters only
    assert not [owner for _, owner in on_load if owner in services]


# ---------------------------------------------------------------- raw calls to every endpoint


def plant_secrets(server: AppServer) -> None:
    """Feedback and a logged question only the review desk may show."""
    answer = {"question": SECRET_QUESTION, "answer": "x", "status": "not_covered",
              "abstained": True, "citations": [],
              "retrieved": [{"season": "Winter 2021", "heading_path": [f"Topic {MARK}"],
                             "url": "https://x/#a", "score": 0.1}]}  # fmt: skip
    record = FeedbackRecord.from_answer(answer, "down")
    record.comment = SECRET_COMMENT
    FeedbackStore(server.feedback_db).add(record)
    QuestionLog(server.feedback_db).record(answer, channel="chat")


def select_event(fn_name: str) -> dict | None:
    """Event data a select handler expects: picking row 1, last column (make candidate)."""
    if fn_name.startswith(("pick_", "show_sources")):
        return {"index": [0, 7], "value": "+ make candidate", "row_value": [1] + [""] * 6
                + ["+ make candidate"], "selected": True}  # fmt: skip
    if fn_name.startswith("on_like"):
        return {"index": 1, "value": "x", "liked": False}
    return None


def call_everything(url: str, wire: GradioWire | None = None) -> list[tuple[str, str]]:
    """Call every registered event (and every named one via /gradio_api/call) once, from a
    session of its own unless one is given; return (name, everything sent back)."""
    replies = []
    with GradioWire(url) as config:
        dependencies = config.dependencies()
    for index, dependency in enumerate(dependencies):
        name = dependency.get("api_name") or f"fn {index}"
        session = wire or GradioWire(url)
        try:
            reply = session.call(index, event_data=select_event(str(name)))
            replies.append((f"{name} (fn_index {index})", reply.raw))
        finally:
            if wire is None:
                session.close()
        if dependency.get("api_name"):
            with httpx.Client(base_url=url, timeout=60) as http:
                joined = http.post(
                    f"/gradio_api/call/{name}", json={"data": config.defaults(index)}
                )
                text = joined.text
                if joined.status_code == 200 and "event_id" in joined.json():
                    text += http.get(f"/gradio_api/call/{name}/{joined.json()['event_id']}").text
            replies.append((f"/gradio_api/call/{name}", text))
    return replies


def leaks(replies: list[tuple[str, str]]) -> list[str]:
    return [name for name, raw in replies if MARK in raw]


def candidates(server: AppServer) -> str:
    path = server.candidates_file
    return path.read_text() if path.exists() else ""


def test_the_locked_desk_answers_no_raw_call(locked_app_server: AppServer) -> None:
    plant_secrets(locked_app_server)
    written = candidates(locked_app_server)
    replies = call_everything(locked_app_server.url)
    assert len(replies) > 40  # every event of the chat and the desk was tried
    assert leaks(replies) == []
    refused = [name for name, raw in replies if LOCKED_MESSAGE in raw]
    for review_name in ("feedback_table", "export_csv", "add_candidate", "status", "view"):
        assert any(name.startswith(review_name) for name in refused), review_name
    assert candidates(locked_app_server) == written  # no candidate was made

    # A wrong password opens nothing in that session either.
    with GradioWire(locked_app_server.url) as wire:
        unlock = next(i for i, d in enumerate(wire.dependencies()) if d["api_name"] == "unlock")
        wire.call(unlock, ["not-the-password"])
        assert leaks(call_everything(locked_app_server.url, wire)) == []


def test_the_raw_calls_would_see_a_leak(locked_app_server: AppServer) -> None:
    """The check above can fail: a session that knows the password does see the secrets."""
    plant_secrets(locked_app_server)
    with GradioWire(locked_app_server.url) as wire:
        names = [d["api_name"] for d in wire.dependencies()]
        wire.call(names.index("unlock"), [ADMIN_PASSWORD])
        table = wire.call(names.index("feedback_table"))
        gaps = wire.call(names.index("view"))
    assert table.success and SECRET_COMMENT in table.raw
    assert gaps.success and SECRET_QUESTION in gaps.raw


def test_without_a_password_nothing_is_there_to_call(app_server: AppServer) -> None:
    plant_secrets(app_server)
    written = candidates(app_server)
    with GradioWire(app_server.url) as wire:
        names = {d["api_name"] for d in wire.dependencies()}
        page = httpx.get(app_server.url + "config").text
    assert not names & set(REVIEW_NAMES) and not any(n.startswith(REVIEW_NAMES) for n in names)
    assert "ASSISTANT_ADMIN_PASSWORD" in page  # the tab says how to turn the desk on
    replies = call_everything(app_server.url)
    assert leaks(replies) == []
    assert candidates(app_server) == written


@pytest.mark.parametrize("path", ["/api/ask", "/api/health", "/openapi.json"])
def test_the_json_api_shows_nothing_of_the_desk(app_server: AppServer, path: str) -> None:
    plant_secrets(app_server)
    with httpx.Client(base_url=app_server.url, timeout=60) as http:
        if path == "/api/ask":
            response = http.post(path, json={"question": SECRET_QUESTION})
        else:
            response = http.get(path)
    assert response.status_code == 200
    assert SECRET_COMMENT not in response.text
    assert f"Topic {MARK}" not in response.text
