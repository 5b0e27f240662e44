"""The review desk's feedback, index-status and section panels, and the desk's password.

The desk is off unless ASSISTANT_ADMIN_PASSWORD is set: the Review tab then only says how
to turn it on, and no review handler is registered at all, so none can be reached through
the Gradio API either. With a password the desk starts locked. Unlocking sets a
per-session gr.State, which lives on the server (a client cannot send its value), and
every handler here checks it, so hiding the panel is not the only guard. Nothing here runs
when a contractor opens the page: the panels load when the desk is unlocked.

Each panel is a function that places its components in a tab of the desk, wires its
events, and returns a Panel: what to load when the desk opens. ui/layout.py assembles them.
"""

from __future__ import annotations

import hmac
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import gradio as gr

from assistant import get_index
from assistant.feedback import CANDIDATE_TYPES, FeedbackError, FeedbackStore
from index.builds import StoredIndex, read_index
from index.search import IndexUnavailableError
from settings import Settings
from ui import render
from ui.facts import IndexFacts

PRIVATE = {"api_visibility": "private"}  # every UI event: the public API is /ask alone


def desk_table(headers: list[str], widths: list[str], elem_id: str, height: int = 420):
    """A read-only, wrapping table of the review desk."""
    return gr.Dataframe(
        headers=headers,
        datatype="str",
        interactive=False,
        wrap=True,
        max_height=height,
        elem_id=elem_id,
        column_widths=widths,
    )


LOCKED_MESSAGE = "Unlock the review desk with the admin password first."
DESK_OFF = (
    "### The review desk is off\n"
    "It holds other people's questions and feedback, so it opens only with a password. "
    "To turn it on, set `ASSISTANT_ADMIN_PASSWORD` and restart the app, for example:\n\n"
    "```sh\nASSISTANT_ADMIN_PASSWORD='choose-a-long-one' make run\n```"
)


@dataclass
class Panel:
    """One tab of the review desk: what it shows when the desk is unlocked."""

    load: Callable[[bool], tuple]  # (unlocked) -> one value per output
    outputs: list = field(default_factory=list)

    def open(self, unlocked: bool) -> object:
        """Run load for the desk opening, in the shape Gradio wants (one output: bare)."""
        values = self.load(unlocked)
        return values[0] if len(self.outputs) == 1 else values


TABLE_HEADERS = [
    "id",
    "time (UTC)",
    "rating",
    "wrong source",
    "comment",
    "question",
    "answer",
    "as of",
    "sources",
    "filters",
    "candidate",
]
TABLE_WIDTHS = ["3%", "9%", "5%", "5%", "13%", "15%", "22%", "7%", "11%", "5%", "5%"]
TABLE_ANSWER_CHARS = 300  # the table shows the start of each answer; the CSV has it all
RATING_CHOICES = [("All", ""), ("Thumbs up", "up"), ("Thumbs down", "down")]


def require(unlocked: bool) -> None:
    """Refuse a review handler called from a session that has not unlocked the desk."""
    if unlocked is not True:
        raise gr.Error(LOCKED_MESSAGE, print_exception=False)


def export_folder(prefix: str) -> Path:
    """A folder for this run's CSV exports; Gradio copies each into its own cache."""
    return Path(tempfile.mkdtemp(prefix=prefix))


@dataclass
class ReviewService:
    """The desk's password, and the feedback, status and section handlers."""

    settings: Settings
    store: FeedbackStore

    def __post_init__(self) -> None:
        self._exports = export_folder("cpitg-feedback-")

    @property
    def enabled(self) -> bool:
        """True when an admin password is set: without one the desk is off."""
        password = self.settings.admin_password
        return bool(password and password.get_secret_value())

    def _require(self, unlocked: bool) -> None:
        require(unlocked)

    def unlock(self, password: str) -> tuple:
        """Check the admin password; on success, open the desk.

        Outputs: unlocked state, login row, desk, login message, password box.
        """
        secret = self.settings.admin_password
        if (
            secret
            and secret.get_secret_value()
            and hmac.compare_digest((password or "").encode(), secret.get_secret_value().encode())
        ):
            return True, gr.update(visible=False), gr.update(visible=True), "", ""
        time.sleep(self.settings.failed_login_delay_s)  # one guess a second per session
        return False, gr.skip(), gr.skip(), "That password is not right.", ""

    # ------------------------------------------------------------ feedback table

    def feedback_table(
        self, unlocked: bool, rating: str, wrong_only: bool, text: str, season: str
    ) -> list[list]:
        """The feedback rows matching the filters, newest first, as table rows."""
        self._require(unlocked)
        return [_table_row(r) for r in self.store.list(_filters(rating, wrong_only, text, season))]

    def export_csv(
        self, unlocked: bool, rating: str, wrong_only: bool, text: str, season: str
    ) -> str:
        """Write the filtered feedback to a CSV file and return its path for download."""
        self._require(unlocked)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = self._exports / f"feedback-{stamp}.csv"
        path.write_text(
            self.store.to_csv(_filters(rating, wrong_only, text, season)), encoding="utf-8"
        )
        return str(path)

    def pick_row(self, unlocked: bool, event: gr.SelectData) -> tuple:
        """Fill the candidate form from the clicked feedback row.

        Outputs: feedback id, question, facts, gold quote, season, section, type, note.
        """
        self._require(unlocked)
        row = event.row_value or []
        try:
            record = self.store.get(int(row[0]))
        except (IndexError, TypeError, ValueError):
            record = None
        if record is None:
            return (gr.skip(),) * 8
        first = record["citations"][0] if record["citations"] else {}
        sentences = first.get("sentences") or []
        kind = "followup" if record["history"] else "factoid"
        return (
            str(record["id"]),
            record["question"],
            "",  # the corrected facts are the secretariat's to write
            sentences[0] if sentences else "",
            first.get("season") or record["as_of"],
            (first.get("heading_path") or [None])[-1],
            kind,
            render.md_escape(
                f"Feedback #{record['id']}: {record['rating']}"
                + (", wrong source" if record["wrong_source"] else "")
                + (f", comment: {record['comment']}" if record["comment"] else "")
            ),
        )

    def add_candidate(
        self,
        unlocked: bool,
        feedback_id: str | None,
        question: str,
        facts: str,
        gold_quote: str,
        season: str | None,
        section: str | None,
        kind: str,
    ) -> tuple[str, dict | None]:
        """Append the corrected item to the candidates file. Outputs: message, item."""
        self._require(unlocked)
        if not (feedback_id or "").strip().isdigit():
            return "Pick a feedback row first (click it in the table).", None
        try:
            item = self.store.add_candidate(
                int(feedback_id),
                answer_facts=facts.splitlines(),
                section=section,
                season=season,
                gold_quote=gold_quote,
                type=kind,
                question=question,
            )
        except FeedbackError as error:
            return f"⚠ {render.md_escape(str(error))}", None
        return (
            f"✓ Added **{render.md_escape(item['id'])}** to "
            f"{render.md_escape(str(self.store.candidates_path))}.",
            item,
        )

    # ------------------------------------------------------------ index

    def _stored(self) -> StoredIndex:
        try:
            return get_index(self.settings).stored
        except IndexUnavailableError:  # the sections and manifest are on disk regardless
            return read_index(self.settings.index_dir)

    def status(self, unlocked: bool) -> str:
        """The index status panel (manifest: sources, counts per season, build time)."""
        self._require(unlocked)
        return render.status_html(self._stored().manifest, feedback_rows=self.store.count())

    def sections(self, unlocked: bool, season: str, topic: str) -> str:
        """The section browser's list for a season and topic ("" = all)."""
        self._require(unlocked)
        return render.sections_html(self._stored().sections, season or None, topic or None)

    def load_feedback(self, unlocked: bool) -> tuple:
        """The feedback panel as the desk opens. Outputs: table."""
        if unlocked is not True:
            return (gr.skip(),)
        return (self.feedback_table(True, "", False, "", ""),)

    def load_status(self, unlocked: bool) -> tuple:
        """The status panel as the desk opens. Outputs: status."""
        return (self.status(True),) if unlocked is True else (gr.skip(),)

    def load_sections(self, unlocked: bool) -> tuple:
        """The section browser as the desk opens, its choices from the current build.

        Outputs: section list, season choice, topic choice.
        """
        if unlocked is not True:
            return gr.skip(), gr.skip(), gr.skip()
        facts = IndexFacts.from_stored(self._stored())
        return (
            self.sections(True, "", ""),
            gr.update(choices=facts.season_choices("All seasons"), value=""),
            gr.update(choices=facts.topic_choices(), value=""),
        )


def _filters(rating: str, wrong_only: bool, text: str, season: str) -> dict:
    return {
        "rating": rating or None,
        "wrong_source": bool(wrong_only),
        "text": (text or "").strip() or None,
        "season": season or None,
    }


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def _table_row(record: dict) -> list:
    sources = "; ".join(
        f"[{c.get('n')}] {c.get('season')} {render.SEP.join(c.get('heading_path') or [])}"
        for c in record["citations"]
    )
    filters = record["filters"]
    shown_filters = ", ".join(
        [*(filters.get("seasons") or []), *([filters["topic"]] if filters.get("topic") else [])]
    )
    return [
        record["id"],
        record["created_at"].replace("T", " ").replace("+00:00", ""),
        record["rating"],
        "yes" if record["wrong_source"] else "",
        record["comment"],
        record["question"],
        _shorten(record["answer"], TABLE_ANSWER_CHARS),
        (record["as_of"] or ("(not in archive)" if record["abstained"] else ""))
        + (" · hedged" if record.get("status") == "hedged" else ""),
        sources,
        shown_filters,
        record["candidate_id"] or "",
    ]


# ---------------------------------------------------------------- panels


def feedback_panel(review: ReviewService, facts: IndexFacts, unlocked: gr.State) -> Panel:
    """The Feedback tab: the table, its filters, CSV export, and the candidate form."""
    with gr.Tab("Feedback", elem_id="review-feedback"):
        with gr.Row():
            rating_filter = gr.Radio(RATING_CHOICES, value="", label="Rating", scale=2)
            wrong_filter = gr.Checkbox(label="Wrong source only", scale=1)
            text_filter = gr.Textbox(label="Search question, answer, comment", scale=2)
            season_review = gr.Dropdown(
                facts.season_choices("All seasons"), value="", label="Season", scale=1
            )
        with gr.Row():
            refresh_button = gr.Button("Refresh", elem_id="refresh-feedback")
            export_button = gr.Button("Export CSV", elem_id="export-csv")
        table = desk_table(TABLE_HEADERS, TABLE_WIDTHS, "feedback-table")
        csv_file = gr.File(label="CSV export", elem_id="csv-file", height=90, interactive=False)
        gr.Markdown(
            "### Turn an answer into a candidate eval item\n"
            "Click a row above, write the correct answer facts (one per line) and the "
            "section that holds them, then add it. Items go to the candidates file in the "
            "eval set's shape."
        )
        candidate_context = gr.Markdown()
        with gr.Row():
            candidate_id = gr.Textbox(
                label="Feedback #", interactive=False, scale=1, elem_id="candidate-id"
            )
            candidate_type = gr.Dropdown(
                list(CANDIDATE_TYPES), value="factoid", label="Type", scale=1
            )
            candidate_season = gr.Dropdown(
                facts.seasons, value=None, label="Season", allow_custom_value=True, scale=1
            )
            candidate_section = gr.Dropdown(
                facts.section_names, value=None, label="Section", allow_custom_value=True, scale=2
            )
        candidate_question = gr.Textbox(label="Question")
        candidate_facts = gr.Textbox(
            label="Correct answer facts (one per line)", lines=3, elem_id="candidate-facts"
        )
        candidate_quote = gr.Textbox(label="Gold quote (verbatim from the source)")
        candidate_button = gr.Button(
            "Add to eval candidates", variant="primary", elem_id="add-candidate"
        )
        candidate_message = gr.Markdown(elem_id="candidate-message")
        candidate_item = gr.JSON(label="Candidate item written")

    table_inputs = [unlocked, rating_filter, wrong_filter, text_filter, season_review]
    refresh_button.click(review.feedback_table, table_inputs, [table], **PRIVATE)
    for control in (rating_filter, wrong_filter, season_review):
        control.change(review.feedback_table, table_inputs, [table], **PRIVATE)
    text_filter.submit(review.feedback_table, table_inputs, [table], **PRIVATE)
    export_button.click(review.export_csv, table_inputs, [csv_file], **PRIVATE)
    form = [
        candidate_id,
        candidate_question,
        candidate_facts,
        candidate_quote,
        candidate_season,
        candidate_section,
        candidate_type,
    ]
    table.select(review.pick_row, [unlocked], [*form, candidate_context], **PRIVATE)
    candidate_button.click(
        review.add_candidate,
        [unlocked, *form],
        [candidate_message, candidate_item],
        **PRIVATE,
    ).then(review.feedback_table, table_inputs, [table], **PRIVATE)
    return Panel(review.load_feedback, [table])


def status_panel(review: ReviewService, unlocked: gr.State) -> Panel:
    """The Index status tab: build, model, sources, counts per season."""
    with gr.Tab("Index status", elem_id="review-status"):
        status = gr.HTML(elem_id="index-status")
        status_button = gr.Button("Refresh status")
    status_button.click(review.status, [unlocked], [status], **PRIVATE)
    return Panel(review.load_status, [status])


def sections_panel(review: ReviewService, facts: IndexFacts, unlocked: gr.State) -> Panel:
    """The Sections tab: every section of a season and topic, expandable to its text."""
    with gr.Tab("Sections", elem_id="review-sections"):
        with gr.Row():
            browse_season = gr.Dropdown(
                facts.season_choices("All seasons"), value="", label="Season"
            )
            browse_topic = gr.Dropdown(facts.topic_choices(), value="", label="Topic")
        section_list = gr.HTML(elem_id="section-list")
    for control in (browse_season, browse_topic):
        control.change(
            review.sections, [unlocked, browse_season, browse_topic], [section_list], **PRIVATE
        )
    return Panel(review.load_sections, [section_list, browse_season, browse_topic])
