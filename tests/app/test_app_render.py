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


# ---------------------------------------------------------------- answer states and key spans

MARCH = ANSWER["answer"].index("March 2022")
SPAN = [MARCH, MARCH + len("March 2022")]
HEDGED = {
    **ANSWER,
    "question": "When does MYS become compulsory for FP34C in Wales?",
    "status": "hedged",
    "caveat": "The bulletins don't say whether this applies in Wales.",
    "key_spans": [SPAN],
}


def test_key_spans_are_bold_and_nothing_else_is() -> None:
    message = render.answer_message({**ANSWER, "status": "answered", "key_spans": [SPAN]}, TODAY)
    assert "after **March 2022**. **\\[1\\]**" in message
    assert message.count("**") == 4  # the span and the marker, nothing more


def test_key_spans_keep_typed_text_literal_and_survive_bad_offsets() -> None:
    text = f"Use {XSS} then **stop** [2]"
    spans = [[4, 31], [999, 1000], [7, 3], ["a", "b"], [0], [35, 38], True]
    message = render.emphasised(text, spans)
    assert "<img" not in message and "&lt;img" in message
    assert message.startswith("Use **&lt;img")
    assert "\\*\\*stop\\*\\*" in message  # typed stars stay stars
    assert render.clean_spans([[0, 4], [2, 9]], 9, "ab cd\nefg") == [(0, 5), (6, 9)]


def test_a_hedged_answer_shows_its_caveat_apart() -> None:
    message = render.answer_message(HEDGED, TODAY)
    first, *rest = message.split("\n\n")
    assert first == (
        "> ⚠ **Partly answered.** The bulletins don't say whether this applies in Wales."
    )
    assert "**March 2022**" in rest[0]
    assert "As of the Winter 2021 bulletin." in message  # still dated and sourced
    # A confident answer has no blockquote; typed ">" can never make one.
    confident = render.answer_message({**HEDGED, "status": "answered"}, TODAY)
    assert not any(line.startswith(">") for line in confident.splitlines())
    tricky = render.answer_message({**ANSWER, "answer": "> not a caveat"}, TODAY)
    assert tricky.startswith("&gt; not a caveat")  # shown as ">", never a blockquote


def test_the_sources_panel_marks_a_hedged_answer() -> None:
    html = render.sources_html({"answer": HEDGED}, TODAY)
    assert '<p class="cpitg-caveat"><span class="cpitg-badge cpitg-hedged">Partly answered' in html
    assert "whether this applies in Wales" in html and 'class="cpitg-card"' in html
    confident = render.sources_html({"answer": {**HEDGED, "status": "answered"}}, TODAY)
    assert "cpitg-caveat" not in confident
    hostile = render.sources_html({"answer": {**HEDGED, "caveat": XSS}}, TODAY)
    assert "<img" not in hostile


def test_status_wins_over_the_old_abstained_flag() -> None:
    assert render.answer_status({"status": "hedged", "abstained": False}) == "hedged"
    assert render.answer_status({"abstained": True}) == "not_covered"  # before status existed
    assert render.answer_status({"abstained": False}) == "answered"
    not_covered = {**ANSWER, "status": "not_covered", "abstained": True, "citations": []}
    assert "related sections are linked" in render.answer_message(not_covered, TODAY)


def test_real_answers_render_by_their_status(snapshot_settings) -> None:
    """Today's answer layer: an answered and a not-covered answer, rendered as the chat does."""
    from assistant import ask

    answered = ask("When does MYS become compulsory for FP34C?", settings=snapshot_settings)
    data = answered.to_json()
    message = render.answer_message(data, TODAY)
    assert data["status"] == "answered" and not message.startswith(">")
    for start, end in render.clean_spans(data["key_spans"], len(data["answer"]), data["answer"]):
        assert f"**{render.md_escape(data['answer'][start:end])}**" in message
    missing = ask("What is the price of a pint of milk?", settings=snapshot_settings).to_json()
    assert missing["status"] == "not_covered"
    assert "Not in the archive" in render.sources_html({"answer": missing}, TODAY)
