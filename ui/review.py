"""The secretariat's Review tab: feedback table, CSV export, eval candidates, index status.

When ASSISTANT_ADMIN_PASSWORD is set the tab starts locked. Unlocking sets a per-session
gr.State that every handler here checks on the server, so hiding the panel is not the
only guard: a crafted request from a locked session still gets an error.
"""

from __future__ import annotations

import hmac
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import gradio as gr

from assistant import get_index
from assistant.feedback import CANDIDATE_TYPES, FeedbackError, FeedbackStore
from index.builds import StoredIndex, read_index
from index.search import IndexUnavailableError
from settings import Settings
from ui import render

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
FAILED_LOGIN_DELAY_S = 1.0  # slows password guessing to one try a second per session


@dataclass
class ReviewService:
    """The Review tab's handlers for one feedback store and one index folder."""

    settings: Settings
    store: FeedbackStore
    admin_password: str | None

    def __post_init__(self) -> None:
        # One folder for this run's CSV exports; Gradio copies each into its own cache.
        self._exports = Path(tempfile.mkdtemp(prefix="cpitg-feedback-"))

    @property
    def locked_by_default(self) -> bool:
        return bool(self.admin_password)

    def _require(self, unlocked: bool) -> None:
        if not unlocked:
            raise gr.Error("Unlock the Review tab with the admin password first.")

    def unlock(self, password: str) -> tuple:
        """Check the admin password; on success, open the review panel.

        Outputs: unlocked state, login row, review panel, login message, password box.
        """
        if self.admin_password and hmac.compare_digest(
            (password or "").encode(), self.admin_password.encode()
        ):
            return True, gr.update(visible=False), gr.update(visible=True), "", ""
        time.sleep(FAILED_LOGIN_DELAY_S)
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

    def load(self, unlocked: bool) -> tuple:
        """Everything the panel shows when it opens. Outputs: table, status, sections."""
        if not unlocked:
            return gr.skip(), gr.skip(), gr.skip()
        return (
            self.feedback_table(True, "", False, "", ""),
            self.status(True),
            self.sections(True, "", ""),
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
        record["as_of"] or ("(not in archive)" if record["abstained"] else ""),
        sources,
        shown_filters,
        record["candidate_id"] or "",
    ]


__all__ = ["CANDIDATE_TYPES", "RATING_CHOICES", "TABLE_HEADERS", "ReviewService"]
