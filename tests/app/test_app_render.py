"""Rendering: typed and crawled text is always shown literally; cards carry the evidence."""

from __future__ import annotations

from datetime import date

import pytest

from ui import render

XSS = "<img src=x onerror=alert(1)>"
TODAY = date(2026, 1, 15)

ANSWER = {
    "question": "When does MYS become compulsory?",
    "answer": "FP34C submissions through MYS become compulsory after March 2022. [1]",
    "abstained": False,
    "as_of": "Winter 2021",
    "citations": [
        {
            "n": 1,
            "season": "Winter 2021",
            "heading_path": ["Reducing burden"],
            "url": "https://example.org/archive/#winter-2021-reducing-burden",
            "text": "• Intro line.\n• FP34C submissions through MYS become compulsory after "
            "March 2022. Later text <b>&</b>.",
            "sentences": ["FP34C submissions through MYS become compulsory after March 2022."],
        }
    ],
    "retrieved": [],
}


@pytest.mark.parametrize(
    "text", [XSS, "<script>alert(1)</script>", "**bold** _it_ `code` [x](javascript:alert(1))"]
)
def test_md_escape_leaves_no_markup(text: str) -> None:
    escaped = render.md_escape(text)
    assert "<" not in escaped and ">" not in escaped
    for mark in "*_`[]()":
        assert mark not in escaped.replace("\\" + mark, "")


def test_user_message_is_escaped_and_long_ones_are_cut() -> None:
    assert "&lt;img" in render.user_message(XSS)
    long = render.user_message("word " * 1000)
    assert len(long) < 1000 and "5,000 characters" in long


def test_answer_message_has_markers_date_sources_and_stale_note() -> None:
    text = render.answer_message(ANSWER, TODAY)
    assert "**\\[1\\]**" in text  # the [n] marker, bold
    assert "As of the Winter 2021 bulletin." in text
    assert "Sources: \\[1\\] Winter 2021 › Reducing burden" in text
    assert "check the CP ITG page for anything newer" in text


def test_stale_note_only_for_old_bulletins() -> None:
    assert render.stale_note("Winter 2021", date(2022, 6, 1)) is None
    assert "Winter 2021 bulletin" in render.stale_note("Winter 2021", date(2023, 1, 2))
    assert render.stale_note("overview", TODAY) is None
    assert render.stale_note(None, TODAY) is None


def test_source_card_highlights_used_sentence_and_escapes_passage() -> None:
    html = render.sources_html({"answer": ANSWER}, TODAY)
    assert '<span class="cpitg-badge">Winter 2021</span>' in html
    assert "Reducing burden" in html
    assert "<mark>FP34C submissions through MYS become compulsory after March 2022.</mark>" in html
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>" not in html
    assert 'href="https://example.org/archive/#winter-2021-reducing-burden"' in html
    assert 'rel="noopener noreferrer"' in html


def test_hostile_source_text_and_urls_stay_inert() -> None:
    citation = {
        "n": 1,
        "season": XSS,
        "heading_path": [XSS],
        "url": "javascript:alert(1)",
        "text": f"before {XSS} after",
        "sentences": [XSS],
    }
    html = render.source_card(citation)
    assert "<img" not in html
    assert "<mark>&lt;img src=x onerror=alert(1)&gt;</mark>" in html
    assert "javascript:" not in html  # no link at all rather than a dangerous one


def test_highlight_merges_overlaps_and_keeps_lines() -> None:
    html = render.highlight("A b c. D e f.\nG h.", ["A b c.", "c. D e", "G h."])
    assert html == "<p><mark>A b c. D e</mark> f.</p><p><mark>G h.</mark></p>"


def test_abstention_lists_related_reading() -> None:
    retrieved = [
        {"season": "Summer 2021", "heading_path": ["NHSmail"], "url": "https://x/#a", "text": "t1"},
        {"season": "Summer 2021", "heading_path": ["NHSmail"], "url": "https://x/#a", "text": "t2"},
        {"season": "Winter 2021", "heading_path": ["EPS"], "url": "https://x/#b", "text": XSS},
    ]
    answer = {"question": "Q", "answer": "Not covered.", "abstained": True, "as_of": None,
              "citations": [], "retrieved": retrieved}  # fmt: skip
    html = render.sources_html({"answer": answer}, TODAY)
    assert "Not in the archive" in html
    assert html.count('class="cpitg-card cpitg-related"') == 2  # one card per section
    assert "<img" not in html
    assert "related sections are linked" in render.answer_message(answer, TODAY)


def test_friendly_messages_for_bad_questions() -> None:
    empty = render.friendly_bad_question("the question is empty", "What is EPS?")
    assert "What is EPS?" in empty
    long = render.friendly_bad_question("the question is 3,000 characters; the limit is 2,000", "")
    assert "too long" in long


def test_status_html_shows_manifest_facts() -> None:
    manifest = {
        "build_id": "b1",
        "built_at": "2026-01-01T00:00:00+00:00",
        "model": "m",
        "counts": {"sections": 2, "chunks": 5, "per_season": {"Winter 2021": {"sections": 2,
                                                                              "chunks": 5}}},
        "sources": [{"url": "https://x/", "source": XSS, "fetched_at": "2022-03-31",
                     "sections": 2}],
    }  # fmt: skip
    html = render.status_html(manifest, feedback_rows=3)
    assert "b1" in html and "2026-01-01" in html and "Winter 2021" in html
    assert "<img" not in html and "Feedback records" in html


def test_filters_are_stated_with_the_answer() -> None:
    text = render.answer_message(ANSWER, TODAY, {"seasons": ["Winter 2021"], "topic": "EPS"})
    assert "Searched only: Winter 2021 · topic EPS." in text
    assert "Searched only" not in render.answer_message(ANSWER, TODAY, {"seasons": []})
