"""The review desk's Gaps panel: what people asked that the archive could not answer.

It lists the logged questions the assistant did not cover, or only hedged, grouped by
the topic of their nearest section, with counts and the latest examples: what the next
bulletin should cover. The list exports to CSV, and one click on a question's
"make candidate" cell turns it into a candidate eval item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import gradio as gr

from assistant.feedback import FeedbackError
from assistant.questionlog import GAP_STATUSES, QuestionLog
from settings import Settings
from ui import render
from ui.review import PRIVATE, Panel, desk_table, export_folder, require

PERIODS = [("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90), ("Everything kept", 0)]
DEFAULT_PERIOD = 30
STATUS_CHOICES = [("Not covered", "not_covered"), ("Hedged", "hedged")]
STATUS_NAMES = {"not_covered": "not covered", "hedged": "hedged", "answered": "answered"}
TOPIC_HEADERS = ["topic", "not covered", "hedged", "asked", "last asked (UTC)", "latest questions"]
TOPIC_WIDTHS = ["22%", "8%", "7%", "6%", "12%", "45%"]
QUESTION_HEADERS = [
    "#",
    "asked (UTC)",
    "status",
    "topic",
    "question",
    "nearest section",
    "what the archive lacks",
    "eval candidate",
]
QUESTION_WIDTHS = ["4%", "10%", "7%", "12%", "25%", "17%", "15%", "10%"]
MAKE_CANDIDATE = "+ make candidate"
EXAMPLES_PER_TOPIC = 3
SHOWN_QUESTIONS = 500  # rows in the questions table; the CSV has them all


@dataclass
class GapsService:
    """The Gaps panel's handlers over the question log."""

    settings: Settings
    log: QuestionLog
    _exports: Path = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._exports = export_folder("cpitg-gaps-")

    def note(self) -> str:
        """Whether questions are being logged, for how long, and how many are kept."""
        kept = self.log.count()
        if not self.log.enabled:
            return (
                f"⚠ The question log is **off** (`ASSISTANT_QUESTION_LOG=off`): nothing new is "
                f"recorded. {kept:,} earlier questions are kept until they are "
                f"{self.log.retention_days} days old."
            )
        return (
            f"The question log is on: {kept:,} questions kept, each for "
            f"{self.log.retention_days} days (`ASSISTANT_QUESTION_LOG_DAYS`). No IP address "
            "or other detail about who asked is stored."
        )

    def view(self, unlocked: bool, period: int, statuses: list[str], topic: str) -> tuple:
        """The panel's contents for the filters.

        Outputs: note, topics table, questions table, topic choice.
        """
        require(unlocked)
        days = int(period) or None
        kinds = [s for s in statuses or [] if s in GAP_STATUSES]
        groups = self.log.gaps(kinds, days=days, examples=EXAMPLES_PER_TOPIC)
        topics = [g.topic for g in groups]
        chosen = topic if topic in topics else ""
        choices = [("All topics", ""), *[(t, t) for t in topics]]
        return (
            self.note(),
            [_topic_row(g) for g in groups],
            self._question_rows(kinds, days, chosen or None),
            gr.update(choices=choices, value=chosen),
        )

    def load(self, unlocked: bool) -> tuple:
        """The panel as the desk opens: the last 30 days, both statuses, every topic."""
        if unlocked is not True:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return self.view(True, DEFAULT_PERIOD, list(GAP_STATUSES), "")

    def pick_topic(
        self, unlocked: bool, period: int, statuses: list[str], event: gr.SelectData
    ) -> str:
        """Clicking a topic row narrows the questions to it. Outputs: topic choice."""
        require(unlocked)
        row = event.row_value or []
        return row[0] if row else ""

    def pick_question(
        self, unlocked: bool, period: int, statuses: list[str], topic: str, event: gr.SelectData
    ) -> tuple:
        """A click on a question's "make candidate" cell adds it to the eval candidates.

        Outputs: message, questions table.
        """
        require(unlocked)
        index = event.index if isinstance(event.index, list | tuple) else [event.index, None]
        row = event.row_value or []
        if len(index) < 2 or index[1] != len(QUESTION_HEADERS) - 1 or not row:
            return gr.skip(), gr.skip()
        if row[-1] != MAKE_CANDIDATE:
            return (
                f"Question #{row[0]} is already candidate **{render.md_escape(row[-1])}**.",
                gr.skip(),
            )
        try:
            item = self.log.add_candidate(int(row[0]), self.settings.candidates_path)
        except (FeedbackError, TypeError, ValueError) as error:
            return f"⚠ {render.md_escape(str(error))}", gr.skip()
        kinds = [s for s in statuses or [] if s in GAP_STATUSES]
        return (
            f"✓ Added **{render.md_escape(item['id'])}** ({item['type']}) to "
            f"{render.md_escape(str(self.settings.candidates_path))}: complete its gap kind "
            "and any answer facts before it joins the eval set.",
            self._question_rows(kinds, int(period) or None, topic or None),
        )

    def export_csv(self, unlocked: bool, period: int, statuses: list[str]) -> str:
        """Write the gap questions for the filters to a CSV file; return its path."""
        require(unlocked)
        kinds = [s for s in statuses or [] if s in GAP_STATUSES]
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = self._exports / f"gaps-{stamp}.csv"
        path.write_text(self.log.to_csv(kinds, days=int(period) or None), encoding="utf-8")
        return str(path)

    def _question_rows(self, kinds: list[str], days: int | None, topic: str | None) -> list:
        rows = self.log.questions(kinds, days=days, topic=topic, limit=SHOWN_QUESTIONS)
        return [_question_row(r) for r in rows]


def _topic_row(group) -> list:
    return [
        group.topic,
        group.not_covered,
        group.hedged,
        group.total,
        _shown_time(group.latest_at),
        " · ".join(group.examples),
    ]


def _question_row(row: dict) -> list:
    nearest = render.SEP.join([row["nearest_season"] or "", *row["nearest_path"]]).strip(" ›")
    return [
        row["id"],
        _shown_time(row["asked_at"]),
        STATUS_NAMES.get(row["status"], row["status"]),
        row["topic"],
        row["question"],
        nearest,
        row["caveat"],
        row["candidate_id"] or MAKE_CANDIDATE,
    ]


def _shown_time(stamp: str) -> str:
    return stamp.replace("T", " ").replace("+00:00", "")


def gaps_panel(gaps: GapsService, unlocked: gr.State) -> Panel:
    """The Gaps tab: gap questions by topic, the questions themselves, CSV, candidates."""
    with gr.Tab("Gaps", elem_id="review-gaps"):
        gr.Markdown(
            "Questions the archive could not answer, or answered only in part, grouped by "
            "the topic of the nearest section: what the next bulletin should cover."
        )
        note = gr.Markdown(elem_id="gaps-note")
        with gr.Row():
            period = gr.Dropdown(PERIODS, value=DEFAULT_PERIOD, label="Asked in", scale=1)
            statuses = gr.CheckboxGroup(
                STATUS_CHOICES, value=list(GAP_STATUSES), label="Status", scale=1
            )
            topic = gr.Dropdown(
                [("All topics", "")], value="", label="Topic", scale=2, elem_id="gaps-topic"
            )
        with gr.Row():
            refresh = gr.Button("Refresh", elem_id="gaps-refresh")
            export = gr.Button("Export CSV", elem_id="gaps-export")
        topics_table = desk_table(TOPIC_HEADERS, TOPIC_WIDTHS, "gaps-topics", height=320)
        gr.Markdown(
            f"Click a topic to see its questions. Click **{MAKE_CANDIDATE}** on a question "
            "to add it to the eval candidates file."
        )
        message = gr.Markdown(elem_id="gaps-message")
        questions_table = desk_table(
            QUESTION_HEADERS, QUESTION_WIDTHS, "gaps-questions", height=480
        )
        csv_file = gr.File(label="CSV export", elem_id="gaps-csv", height=90, interactive=False)

    filters = [unlocked, period, statuses, topic]
    outputs = [note, topics_table, questions_table, topic]
    refresh.click(gaps.view, filters, outputs, **PRIVATE)
    for control in (period, statuses, topic):
        control.input(gaps.view, filters, outputs, **PRIVATE)
    topics_table.select(gaps.pick_topic, [unlocked, period, statuses], [topic], **PRIVATE).then(
        gaps.view, filters, outputs, **PRIVATE
    )
    questions_table.select(gaps.pick_question, filters, [message, questions_table], **PRIVATE)
    export.click(gaps.export_csv, [unlocked, period, statuses], [csv_file], **PRIVATE)
    return Panel(gaps.load, outputs)
