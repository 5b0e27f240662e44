"""The review desk's Sources panel: its handlers in-process, where it sits, and the PDF card."""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr
import pytest

from index.builds import read_index
from ingest.update import AddRequest, update
from settings import load_settings
from ui import render
from ui.sources import SourcesPanel

STUB = Path(__file__).resolve().parents[1] / "stub_data"


@pytest.fixture
def panel(snapshot_index_dir: Path, tmp_path: Path) -> SourcesPanel:
    """The panel over a copy of the snapshot index with one PDF bulletin added."""
    index_dir = tmp_path / "index"
    shutil.copytree(snapshot_index_dir, index_dir)
    settings = load_settings(index_dir=index_dir)
    pdf = shutil.copy(STUB / "pdf" / "bulletin-spring-2023.pdf", tmp_path)
    update(settings, add=[AddRequest(str(pdf))], progress=False)
    return SourcesPanel(settings)


def test_a_locked_session_gets_nothing(panel: SourcesPanel) -> None:
    for call in (lambda: panel.rows(False), lambda: panel.refresh(False)):
        with pytest.raises(gr.Error, match="Unlock"):
            call()


def test_the_table_lists_each_source_with_its_status_and_last_fetch(
    panel: SourcesPanel, tmp_path: Path
) -> None:
    rows = panel.rows(True)
    archive = read_index(panel.settings.index_dir).manifest["sources"][0]["url"]
    assert rows[0] == [f"bundled snapshot ({archive})", "html", "ok", 47, "2022-03-31", ""]
    assert rows[1][:4] == [str(tmp_path / "bulletin-spring-2023.pdf"), "pdf", "ok", 7]
    assert rows[1][4][:4].isdigit() and "T" not in rows[1][4]  # "2026-12-01 10:00:00"


def test_refresh_says_up_to_date_and_then_what_changed(panel: SourcesPanel, tmp_path: Path) -> None:
    build = read_index(panel.settings.index_dir).build_dir.name
    message, rows = panel.refresh(True)
    assert message.startswith("✓ Up to date: nothing changed. sections: 0 added")
    assert read_index(panel.settings.index_dir).build_dir.name == build
    (tmp_path / "bulletin-spring-2023.pdf").write_bytes(b"%PDF-1.4 broken")
    message, rows = panel.refresh(True)
    assert "stale, keeping its content" in message
    assert rows[1][2] == "stale" and rows[1][5].startswith("not a readable PDF")


def test_the_tab_sits_inside_the_review_desk(snapshot_settings, tmp_path: Path) -> None:
    from pydantic import SecretStr

    from assistant.feedback import FeedbackStore
    from assistant.questionlog import QuestionLog
    from ui.answering import AnswerService
    from ui.chat import ChatService
    from ui.facts import IndexFacts
    from ui.gaps import GapsService
    from ui.layout import build_blocks
    from ui.review import ReviewService

    settings = snapshot_settings.model_copy(update={"admin_password": SecretStr("s3cret")})
    store = FeedbackStore(tmp_path / "feedback.db")
    log = QuestionLog(tmp_path / "feedback.db")
    demo = build_blocks(
        settings,
        IndexFacts.from_stored(read_index(settings.index_dir)),
        ChatService(AnswerService(settings, log), store),
        ReviewService(settings, store),
        GapsService(settings, log),
    )
    by_id = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    tab, desk = by_id["review-sources"], by_id["review"]
    parent = tab.parent
    while parent is not None and parent is not desk:
        parent = parent.parent
    assert parent is desk  # shown and hidden with the rest of the review desk
    # Its events are private: nothing of the registry is reachable through the API.
    api = demo.config["dependencies"]
    sources_events = [d for d in api if set(d.get("outputs", [])) & {by_id["sources-table"]._id}]
    assert sources_events and all(d["api_visibility"] == "private" for d in sources_events)


def test_a_pdf_citation_card_says_pdf_and_page() -> None:
    card = render.source_card(
        {
            "n": 2,
            "season": "Spring 2023",
            "heading_path": ["Connectivity", "HSCN migration"],
            "url": "https://example.org/bulletin-spring-2023.pdf#page=2",
            "text": "The HSCN migration deadline is 30 September 2023.",
            "sentences": [],
        }
    )
    assert '<span class="cpitg-pdf">PDF, page 2</span>' in card
    assert "Open the PDF at page 2 ↗" in card
    html_card = render.source_card({"n": 1, "url": "https://example.org/#eps", "text": "x"})
    assert "PDF" not in html_card
