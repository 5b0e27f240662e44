"""Turn answers, sources and index facts into the Markdown and HTML the app shows.

Everything that comes from outside the code (the user's question, bulletin text, URLs,
feedback comments) passes through md_escape() or escape() here, and no other module
builds markup, so this one file answers "can typed or crawled text ever render as HTML?".
Chat messages are Markdown (Gradio's Chatbot renders it); panels are HTML for gr.HTML,
which inserts it with innerHTML, so an unescaped `<img onerror=...>` there would run.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from urllib.parse import urlsplit

SEASON_MONTH = {"Spring": 3, "Summer": 6, "Autumn": 9, "Winter": 12}  # bulletin month
# "A gentle note when the newest bulletin is old": older than a year is old for IT news.
STALE_AFTER_DAYS = 365
# Show at most this much of a question the assistant refused (a pasted document, say).
SHOWN_QUESTION_CHARS = 600
RELATED_READING = 3
SEP = " › "

# Markdown punctuation that could format, link or open LaTeX; escaped with a backslash.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$<>-])")
_MD_ORDERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)  # "3. " would start a list
_CITE = re.compile(r"\\\[(\d+)\\\]")
_PDF_PAGE = re.compile(r"#page=(\d+)$")  # the anchor only PDF citations carry

PENDING = "_Searching the bulletins…_"
HEDGED_BADGE = "Partly answered"
HEDGED_NOTE = "The bulletins answer only part of this."
SOURCES_PLACEHOLDER = (
    '<div class="cpitg-sources cpitg-empty">'
    "<h3>Sources</h3>"
    "<p>Ask a question: the bulletin passages behind the answer appear here, with the "
    "sentences it used highlighted and a link to each section on the CP ITG page.</p>"
    "</div>"
)

CSS = """
.cpitg-header h1 { margin: 0 0 .2rem 0; font-size: 1.6rem; }
.cpitg-header p { margin: 0; color: var(--body-text-color-subdued); }
.cpitg-sources h3 { margin: 0 0 .5rem 0; }
.cpitg-sources .cpitg-question { color: var(--body-text-color-subdued); margin: 0 0 .6rem 0; }
.cpitg-card {
  border: 1px solid var(--border-color-primary); border-radius: 10px;
  padding: .7rem .9rem; margin: 0 0 .8rem 0; background: var(--block-background-fill);
}
.cpitg-card header { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.cpitg-n { font-weight: 700; }
.cpitg-badge {
  display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-size: .8rem;
  font-weight: 600; background: var(--color-accent-soft); color: var(--body-text-color);
  border: 1px solid var(--color-accent);
}
.cpitg-badge.cpitg-overview { border-style: dashed; }
.cpitg-path { font-weight: 600; }
.cpitg-pdf { font-size: .8rem; color: var(--body-text-color-subdued); }
.cpitg-passage {
  position: relative; margin: .5rem 0; padding-left: .7rem;
  border-left: 3px solid var(--border-color-primary);
  font-size: .92rem; max-height: 22rem; overflow-y: auto;
}
.cpitg-passage p { margin: 0 0 .35rem 0; }
.cpitg-passage mark { background: #fde68a; color: #1f2937; padding: 0 .1rem; border-radius: 3px; }
.cpitg-link { font-size: .9rem; }
.cpitg-asof { font-size: .9rem; margin: 0 0 .6rem 0; }
.cpitg-note {
  font-size: .9rem; margin: 0 0 .7rem 0; padding: .4rem .6rem; border-radius: 8px;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary);
}
.cpitg-related p { margin: .4rem 0 0 0; font-size: .9rem; }
.cpitg-table { border-collapse: collapse; margin: .3rem 0 1rem 0; }
.cpitg-table th, .cpitg-table td {
  border: 1px solid var(--border-color-primary); padding: .25rem .6rem; text-align: left;
}
.cpitg-section-list details { margin: 0 0 .4rem 0; }
.cpitg-section-list summary { cursor: pointer; }
/* A hedged answer: its caveat is the message's only blockquote (typed ">" is escaped),
   so the caveat and the whole bubble are styled apart from a confident answer. */
#chat .message.bot blockquote {
  margin: 0 0 .6rem 0; padding: .35rem .7rem; border-left: 4px solid #d97706;
  background: #fffbeb; color: #78350f; border-radius: 6px;
}
#chat .message.bot:has(blockquote) { border: 2px dashed #d97706; }
.cpitg-caveat {
  margin: 0 0 .7rem 0; padding: .45rem .7rem; border-left: 4px solid #d97706;
  background: #fffbeb; color: #78350f; border-radius: 6px; font-size: .92rem;
}
.cpitg-badge.cpitg-hedged { background: #fef3c7; border-color: #d97706; color: #78350f; }
"""

# Long passages scroll inside their card; bring the first highlighted sentence into view
# (the passage box is position: relative, so a mark's offsetTop is measured from it).
REVEAL_MARKS_JS = """
const reveal = () => element.querySelectorAll('.cpitg-passage').forEach((box) => {
  const mark = box.querySelector('mark');
  if (mark) box.scrollTop = Math.max(0, mark.offsetTop - 8);
});
reveal();
watch('value', reveal);
"""


# ---------------------------------------------------------------- escaping


def escape(text: object) -> str:
    """Return text safe inside HTML element content and quoted attributes."""
    return html.escape(str(text), quote=True)


def md_escape(text: str) -> str:
    """Return text that the chat's Markdown shows exactly as typed: no HTML, no formatting.

    `<img src=x onerror=alert(1)>` becomes `&lt;img src=x onerror=alert\\(1\\)&gt;`, which
    Markdown displays as the literal characters; `**x**` stays two stars, not bold.
    """
    text = html.escape(text, quote=False)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_ORDERED.sub(r"\1\\.", text)


def safe_url(url: object) -> str | None:
    """Return the URL if it is plain http(s), else None (no javascript: or data: links)."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


# ---------------------------------------------------------------- seasons


def season_date(season: str | None) -> date | None:
    """Return the month a bulletin came out ("Winter 2021" -> 2021-12-01); None if undated."""
    parts = (season or "").split()
    if len(parts) != 2 or parts[0] not in SEASON_MONTH or not parts[1].isdigit():
        return None
    return date(int(parts[1]), SEASON_MONTH[parts[0]], 1)


def stale_note(as_of: str | None, today: date) -> str | None:
    """A gentle note (plain text) when the newest bulletin an answer uses is over a year old."""
    issued = season_date(as_of)
    if issued is None or (today - issued).days <= STALE_AFTER_DAYS:
        return None
    return f"This comes from the {as_of} bulletin; check the CP ITG page for anything newer."


def as_of_line(as_of: str | None) -> str | None:
    """ "As of the Winter 2021 bulletin." (or the overview's wording), as plain text."""
    if not as_of:
        return None
    if season_date(as_of) is None:
        return "From the archive's overview (not a dated bulletin)."
    return f"As of the {as_of} bulletin."


# ---------------------------------------------------------------- chat messages


def user_message(question: str) -> str:
    """The user's question as a chat message, shown literally (long ones cut short)."""
    shown = question
    if len(question) > SHOWN_QUESTION_CHARS:
        shown = question[:SHOWN_QUESTION_CHARS] + f"… ({len(question):,} characters)"
    return md_escape(shown)


def filters_line(filters: Mapping | None) -> str | None:
    """ "Searched only: Summer 2021 · topic EPS and RTEC." when filters narrowed the search."""
    filters = filters or {}
    named = [*(filters.get("seasons") or [])]
    if filters.get("topic"):
        named.append(f"topic {filters['topic']}")
    return f"Searched only: {' · '.join(named)}." if named else None


def answer_status(answer: Mapping) -> str:
    """The answer's status ("answered", "hedged", "not_covered"); older answers had none."""
    status = answer.get("status")
    if status in ("answered", "hedged", "not_covered"):
        return str(status)
    return "not_covered" if answer.get("abstained") else "answered"


def clean_spans(spans: object, length: int, text: str = "") -> list[tuple[int, int]]:
    """Key spans as sorted, merged [start, end) pairs inside the text, never across a line
    break and never starting or ending on a space; malformed pairs are dropped."""
    pairs: list[tuple[int, int]] = []
    for span in spans if isinstance(spans, list | tuple) else []:
        if not isinstance(span, list | tuple) or len(span) != 2:
            continue
        start, end = span
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool):
            continue
        start, end = max(0, start), min(length, end)
        if start < end:
            pairs.append((start, end))
    merged: list[list[int]] = []
    for start, end in sorted(pairs):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    cleaned: list[tuple[int, int]] = []
    for start, end in merged:
        for piece_start, piece_end in _split_lines(text, start, end):
            while piece_start < piece_end and text[piece_start].isspace():
                piece_start += 1
            while piece_end > piece_start and text[piece_end - 1].isspace():
                piece_end -= 1
            if piece_start < piece_end:
                cleaned.append((piece_start, piece_end))
    return cleaned


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces, position = [], start
    while (cut := text.find("\n", position, end)) != -1:
        pieces.append((position, cut))
        position = cut + 1
    pieces.append((position, end))
    return pieces


def emphasised(text: str, key_spans: object = ()) -> str:
    """The answer as Markdown shown literally, with its key spans and [n] markers in bold."""
    out, position = [], 0
    for start, end in clean_spans(key_spans, len(text), text):
        out.append(_bold_markers(md_escape(text[position:start])))
        out.append(f"**{md_escape(text[start:end])}**")
        position = end
    out.append(_bold_markers(md_escape(text[position:])))
    return "".join(out)


def _bold_markers(escaped: str) -> str:
    # Bold the [n] markers so they read as references to the source cards.
    return _CITE.sub(r"**\\[\1\\]**", escaped)


def caveat_quote(caveat: str) -> str:
    """A hedged answer's caveat as a Markdown blockquote, headed by its badge."""
    lines = [line for line in (caveat or HEDGED_NOTE).splitlines() if line.strip()]
    body = [f"⚠ **{HEDGED_BADGE}.** {md_escape(lines[0])}", *map(md_escape, lines[1:])]
    return "\n".join(f"> {line}" for line in body)


def answer_message(answer: Mapping, today: date, filters: Mapping | None = None) -> str:
    """The assistant's chat message: the answer with [n] markers, its date, its sources.

    A hedged answer opens with its caveat in a blockquote (styled apart by the CSS);
    the key spans, the words that answer, are bold.
    """
    status = answer_status(answer)
    parts = [caveat_quote(str(answer.get("caveat") or ""))] if status == "hedged" else []
    parts.append(emphasised(str(answer.get("answer", "")), answer.get("key_spans") or []))
    narrowed = filters_line(filters)
    if narrowed:
        parts.append(f"_{md_escape(narrowed)}_")
    if status == "not_covered":
        parts.append("_The related sections are linked in the sources panel._")
        return "\n\n".join(parts)
    dated = as_of_line(answer.get("as_of"))
    if dated:
        parts.append(f"_{md_escape(dated)}_")
    cited = [
        f"\\[{int(c['n'])}\\] {md_escape(SEP.join([c['season'], *c['heading_path']]))}"
        for c in answer.get("citations", [])
    ]
    if cited:
        parts.append("Sources: " + " · ".join(cited))
    note = stale_note(answer.get("as_of"), today)
    if note:
        parts.append(f"ℹ {md_escape(note)}")
    return "\n\n".join(parts)


def error_message(text: str) -> str:
    """A friendly message in the chat for input or service problems."""
    return f"⚠ {md_escape(text)}"


def friendly_bad_question(reason: str, example: str) -> str:
    """Reword a BadQuestionError for a person: say what to do, with an example question."""
    if "empty" in reason:
        return (
            "I couldn't find a question in that. Please type your question as plain text, "
            f"for example: “{example}”"
        )
    if "limit is" in reason:
        return f"That's too long for one question ({reason}). Please ask it in a sentence or two."
    if "unknown season" in reason:
        return f"Sorry: {reason}. Pick a season from the filter instead."
    return f"Sorry, I can't answer that as written: {reason}."


def chat_messages(turns: Sequence[Mapping], today: date) -> list[dict]:
    """Render the conversation: two messages per turn (question, then answer or notice)."""
    messages: list[dict] = []
    for turn in turns:
        messages.append({"role": "user", "content": user_message(turn["question"])})
        if turn.get("pending"):
            content = PENDING
        elif turn.get("answer") is not None:
            content = answer_message(turn["answer"], today, turn.get("filters"))
        else:
            content = error_message(turn.get("error") or "Something went wrong.")
        messages.append({"role": "assistant", "content": content})
    return messages


# ---------------------------------------------------------------- sources panel


def highlight(text: str, sentences: Iterable[str]) -> str:
    """Return the passage as HTML paragraphs, each used sentence wrapped in <mark>.

    The text is escaped piece by piece around the marked spans, so a sentence containing
    "<" or "&" is still found and still shown literally.
    """
    wanted = [s for s in dict.fromkeys(sentences) if s and s.strip()]
    lines = []
    for line in text.split("\n"):
        spans: list[tuple[int, int]] = []
        for sentence in wanted:
            start = line.find(sentence)
            while start != -1:
                spans.append((start, start + len(sentence)))
                start = line.find(sentence, start + len(sentence))
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out, pos = [], 0
        for start, end in merged:
            out.append(escape(line[pos:start]))
            out.append(f"<mark>{escape(line[start:end])}</mark>")
            pos = end
        out.append(escape(line[pos:]))
        lines.append(f"<p>{''.join(out)}</p>")
    return "".join(lines)


def _badge(season: str) -> str:
    extra = " cpitg-overview" if season_date(season) is None else ""
    return f'<span class="cpitg-badge{extra}">{escape(season)}</span>'


def _link(url: object, label: str = "Open this section on the CP ITG page ↗") -> str:
    href = safe_url(url)
    if href is None:
        return ""
    return (
        f'<a class="cpitg-link" href="{escape(href)}" target="_blank" '
        f'rel="noopener noreferrer">{escape(label)}</a>'
    )


def pdf_page(url: object) -> int | None:
    """The page a PDF citation points at ("...bulletin.pdf#page=3" -> 3), else None."""
    match = _PDF_PAGE.search(url) if isinstance(url, str) else None
    return int(match.group(1)) if match else None


def source_card(citation: Mapping) -> str:
    """One citation as a card: [n], season badge, heading path, highlighted passage, link.

    A PDF bulletin's card says "PDF, page N", and its link opens the PDF at that page.
    """
    n = int(citation.get("n", 0))
    path = SEP.join(citation.get("heading_path") or [])
    page = pdf_page(citation.get("url"))
    where = f'<span class="cpitg-pdf">PDF, page {page}</span>' if page else ""
    label = f"Open the PDF at page {page} ↗" if page else "Open this section on the CP ITG page ↗"
    return (
        f'<article class="cpitg-card" id="cpitg-source-{n}" data-n="{n}">'
        f'<header><span class="cpitg-n">[{n}]</span>{_badge(citation.get("season", ""))}'
        f'<span class="cpitg-path">{escape(path)}</span>{where}</header>'
        f'<div class="cpitg-passage">'
        f"{highlight(citation.get('text', ''), citation.get('sentences') or [])}</div>"
        f"{_link(citation.get('url'), label)}"
        "</article>"
    )


def related_cards(retrieved: Sequence[Mapping], limit: int = RELATED_READING) -> str:
    """The closest sections (one card each, first passage lines) for an abstention."""
    cards, seen = [], set()
    for hit in retrieved:
        key = hit.get("url") or SEP.join(hit.get("heading_path") or [])
        if key in seen:
            continue
        seen.add(key)
        lines = (hit.get("text") or "").split("\n")
        preview = " ".join(lines[:2])
        if len(preview) > 280:
            preview = preview[:277].rsplit(" ", 1)[0] + "…"
        cards.append(
            '<article class="cpitg-card cpitg-related">'
            f"<header>{_badge(hit.get('season', ''))}"
            f'<span class="cpitg-path">{escape(SEP.join(hit.get("heading_path") or []))}</span>'
            f"</header><p>{escape(preview)}</p>{_link(hit.get('url'))}</article>"
        )
        if len(cards) == limit:
            break
    return "".join(cards)


def sources_html(turn: Mapping | None, today: date) -> str:
    """The sources panel for one turn: citation cards, related reading, or the placeholder."""
    if not turn or turn.get("answer") is None:
        return SOURCES_PLACEHOLDER
    answer = turn["answer"]
    status = answer_status(answer)
    question = f'<p class="cpitg-question">For: “{escape(answer.get("question", ""))}”</p>'
    if status == "not_covered":
        related = related_cards(answer.get("retrieved") or [])
        body = (
            "<p>The archive doesn't answer this. These are the closest sections, "
            "as related reading:</p>" + related
            if related
            else "<p>The archive doesn't answer this, and nothing in it comes close.</p>"
        )
        return f'<div class="cpitg-sources"><h3>Not in the archive</h3>{question}{body}</div>'
    head = '<div class="cpitg-sources"><h3>Sources</h3>' + question
    if status == "hedged":
        head += (
            f'<p class="cpitg-caveat"><span class="cpitg-badge cpitg-hedged">{HEDGED_BADGE}'
            f"</span> {escape(answer.get('caveat') or HEDGED_NOTE)}</p>"
        )
    dated = as_of_line(answer.get("as_of"))
    if dated:
        head += f'<p class="cpitg-asof">{escape(dated)}</p>'
    note = stale_note(answer.get("as_of"), today)
    if note:
        head += f'<p class="cpitg-note">ℹ {escape(note)}</p>'
    cards = "".join(source_card(c) for c in answer.get("citations", []))
    return head + cards + "</div>"


# ---------------------------------------------------------------- review tab


def status_html(manifest: Mapping, *, feedback_rows: int | None = None) -> str:
    """The index status: build, model, sources, and counts per season."""
    counts = manifest.get("counts", {})
    rows = "".join(
        f"<tr><td>{_badge(season)}</td><td>{int(c.get('sections', 0))}</td>"
        f"<td>{int(c.get('chunks', 0))}</td></tr>"
        for season, c in (counts.get("per_season") or {}).items()
    )
    sources = "".join(
        f"<tr><td>{_link(s.get('url'), s.get('url', ''))}</td>"
        f"<td>{escape(s.get('source', ''))}</td><td>{escape(s.get('fetched_at', ''))}</td>"
        f"<td>{int(s.get('sections', 0))}</td></tr>"
        for s in manifest.get("sources", [])
    )
    store = manifest.get("chroma_url") or "embedded Chroma"
    facts = [
        ("Build", manifest.get("build_id", "?")),
        ("Built at (UTC)", manifest.get("built_at", "?")),
        ("Embedding model", manifest.get("model", "?")),
        ("Vector store", store),
        ("Sections / chunks", f"{counts.get('sections', '?')} / {counts.get('chunks', '?')}"),
    ]
    if feedback_rows is not None:
        facts.append(("Feedback records", feedback_rows))
    fact_rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    history = manifest.get("history") or []
    last = ""
    if history:
        changes = history[-1].get("changes", {})
        last = (
            "<p>Last ingest: "
            f"{len(changes.get('sections_added', []))} sections added, "
            f"{len(changes.get('sections_changed', []))} changed, "
            f"{len(changes.get('sections_removed', []))} removed.</p>"
        )
    return (
        '<div class="cpitg-status">'
        f'<table class="cpitg-table">{fact_rows}</table>{last}'
        '<h4>Per season</h4><table class="cpitg-table"><tr><th>Season</th><th>Sections</th>'
        f"<th>Chunks</th></tr>{rows}</table>"
        '<h4>Sources</h4><table class="cpitg-table"><tr><th>Page</th><th>Read from</th>'
        f"<th>Fetched</th><th>Sections</th></tr>{sources}</table></div>"
    )


def sections_html(sections: Sequence, season: str | None, topic: str | None) -> str:
    """All sections of one season and/or topic, each expandable to its full text and link."""
    chosen = [
        s
        for s in sections
        if (not season or s.season == season)
        and (not topic or (s.heading_path and s.heading_path[0] == topic))
    ]
    items = "".join(
        "<details>"
        f"<summary>{_badge(s.season)} {escape(SEP.join(s.heading_path))}</summary>"
        f'<div class="cpitg-passage">{highlight(s.text, [])}</div>{_link(s.url)}'
        "</details>"
        for s in chosen
    )
    return (
        f'<div class="cpitg-section-list"><p>{len(chosen)} of {len(sections)} sections</p>'
        f"{items}</div>"
    )
