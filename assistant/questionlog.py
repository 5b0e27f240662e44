"""Log the questions people ask, and show the secretariat what the archive could not answer.

One row per question asked through the chat or the API: when, through which channel, the
question and the earlier questions of its conversation, its status (answered, hedged,
not covered), a hedged answer's caveat, and its nearest section (the top retrieved
passage: season, heading path, link). No IP address, session or browser detail is kept.
Rows older than the retention setting are deleted.

The gaps are the questions the archive could not answer, or only hedged, grouped by the
topic of their nearest section: what the next bulletin should cover.

The table lives in the feedback database (assistant/feedback.py), in WAL mode, so the
review desk reads while the chat and the API write.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from assistant.feedback import (
    FeedbackError,
    append_candidate,
    csv_safe,
    open_database,
    transaction,
)

STATUSES = ("answered", "hedged", "not_covered")
GAP_STATUSES = ("not_covered", "hedged")
CHANNELS = ("chat", "api", "gradio_api")  # the chat tab, /api/ask, the Gradio /ask endpoint
NO_SECTION = "(nothing close in the archive)"
PRUNE_EVERY_S = 3600.0  # writes delete expired rows at most once an hour
MAX_LISTED = 5000  # rows the review desk reads at most for one view

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    question TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    filters TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('answered', 'hedged', 'not_covered')),
    caveat TEXT NOT NULL DEFAULT '',
    topic TEXT NOT NULL,
    nearest_season TEXT,
    nearest_path TEXT NOT NULL DEFAULT '[]',
    nearest_url TEXT,
    nearest_score REAL,
    build_id TEXT,
    candidate_id TEXT
);
CREATE INDEX IF NOT EXISTS questions_asked ON questions (asked_at);
CREATE INDEX IF NOT EXISTS questions_status ON questions (status, asked_at);
"""

CSV_COLUMNS = (
    "id",
    "asked_at",
    "channel",
    "status",
    "topic",
    "question",
    "earlier_questions",
    "caveat",
    "nearest_season",
    "nearest_section",
    "nearest_url",
    "build_id",
    "candidate_id",
)


@dataclass
class GapTopic:
    """One topic's unanswered and hedged questions: counts and the latest examples."""

    topic: str
    not_covered: int = 0
    hedged: int = 0
    latest_at: str = ""
    examples: list[str] = field(default_factory=list)  # distinct questions, newest first

    @property
    def total(self) -> int:
        return self.not_covered + self.hedged


def _utc_now() -> datetime:
    return datetime.now(UTC)


class QuestionLog:
    """The questions table of the feedback database, with retention and an off switch."""

    def __init__(
        self,
        path: Path | str,
        *,
        retention_days: int = 90,
        enabled: bool = True,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Open (and create if needed) the log in the SQLite file at path; prune old rows.

        With enabled=False nothing new is recorded; what is stored stays readable until
        it expires.
        """
        if retention_days < 1:
            raise ValueError("retention_days must be 1 or more")
        self.path = Path(path)
        self.retention_days = retention_days
        self.enabled = enabled
        self._clock = clock
        self._pruned_at = float("-inf")
        self._prune_lock = threading.Lock()
        self._keeper = open_database(self.path, _SCHEMA, "questions")
        self.prune()

    def close(self) -> None:
        """Close the log's database (the connection kept open between calls)."""
        self._keeper.close()

    # ------------------------------------------------------------ writing

    def record(
        self,
        answer: Mapping,
        *,
        channel: str,
        history: Sequence[str] = (),
        filters: Mapping | None = None,
        build_id: str | None = None,
    ) -> int | None:
        """Log one answered question (a JSON answer); return its id, or None when off."""
        if not self.enabled:
            return None
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
        status = str(answer.get("status") or "")
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        nearest = _nearest(answer)
        path = list(nearest.get("heading_path") or [])
        with transaction(self.path) as conn:
            cursor = conn.execute(
                """INSERT INTO questions (asked_at, channel, question, history, filters,
                   status, caveat, topic, nearest_season, nearest_path, nearest_url,
                   nearest_score, build_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    self._now(),
                    channel,
                    str(answer.get("question", "")),
                    json.dumps(list(history), ensure_ascii=False),
                    json.dumps(dict(filters or {}), ensure_ascii=False),
                    status,
                    str(answer.get("caveat") or ""),
                    path[0] if path else NO_SECTION,
                    nearest.get("season"),
                    json.dumps(path, ensure_ascii=False),
                    nearest.get("url"),
                    nearest.get("score"),
                    build_id,
                ),
            )
            logged = int(cursor.lastrowid)
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_S:
            self.prune()
        return logged

    def prune(self) -> int:
        """Delete the rows older than the retention period; return how many went."""
        with self._prune_lock:
            self._pruned_at = time.monotonic()
            cutoff = (self._clock() - timedelta(days=self.retention_days)).isoformat(
                timespec="seconds"
            )
            with transaction(self.path) as conn:
                return conn.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount

    # ------------------------------------------------------------ reading

    def count(self) -> int:
        """How many questions are logged."""
        with transaction(self.path) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0])

    def get(self, question_id: int) -> dict | None:
        """One logged question as a dict, or None."""
        with transaction(self.path) as conn:
            row = conn.execute("SELECT * FROM questions WHERE id = ?", (question_id,)).fetchone()
        return _row_dict(row) if row else None

    def questions(
        self,
        statuses: Sequence[str] = GAP_STATUSES,
        days: int | None = None,
        topic: str | None = None,
        limit: int = MAX_LISTED,
    ) -> list[dict]:
        """Logged questions with these statuses, newest first; days: only the last N days."""
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown:
            raise ValueError(f"unknown status {unknown[0]!r}")
        if not statuses:
            return []
        where = [f"status IN ({', '.join('?' * len(statuses))})"]
        params: list[object] = list(statuses)
        if days is not None:
            where.append("asked_at >= ?")
            since = self._clock() - timedelta(days=days)
            params.append(since.isoformat(timespec="seconds"))
        if topic is not None:
            where.append("topic = ?")
            params.append(topic)
        sql = f"SELECT * FROM questions WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
        params.append(int(limit))
        with transaction(self.path) as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_row_dict(row) for row in rows]

    def gaps(
        self, statuses: Sequence[str] = GAP_STATUSES, days: int | None = None, examples: int = 3
    ) -> list[GapTopic]:
        """The gap questions grouped by nearest topic, most asked first.

        Each topic counts every ask (the same question asked twice counts twice) and keeps
        its latest distinct questions as examples.
        """
        topics: dict[str, GapTopic] = {}
        for row in self.questions(statuses, days=days):  # newest first
            group = topics.setdefault(row["topic"], GapTopic(row["topic"]))
            if row["status"] == "not_covered":
                group.not_covered += 1
            else:
                group.hedged += 1
            group.latest_at = max(group.latest_at, row["asked_at"])
            seen = {e.casefold() for e in group.examples}
            if len(group.examples) < examples and row["question"].casefold() not in seen:
                group.examples.append(row["question"])
        newest_first = sorted(topics.values(), key=lambda g: g.latest_at, reverse=True)
        return sorted(newest_first, key=lambda g: -g.total)  # stable: ties stay newest first

    def to_csv(self, statuses: Sequence[str] = GAP_STATUSES, days: int | None = None) -> str:
        """The gap questions as CSV text, newest first, header first."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in self.questions(statuses, days=days, limit=1_000_000):
            values = [
                row["id"],
                row["asked_at"],
                row["channel"],
                row["status"],
                row["topic"],
                row["question"],
                " | ".join(row["history"]),
                row["caveat"],
                row["nearest_season"] or "",
                " > ".join(row["nearest_path"]),
                row["nearest_url"] or "",
                row["build_id"] or "",
                row["candidate_id"] or "",
            ]
            writer.writerow([csv_safe(v) for v in values])
        return out.getvalue()

    # ------------------------------------------------------------ candidates

    def add_candidate(self, question_id: int, candidates_path: Path) -> dict:
        """Append a candidate eval item made from logged question #question_id; return it.

        A question the archive did not cover becomes an "unanswerable" item near its
        nearest section; a hedged one a "partial" item whose uncovered ask is the caveat.
        The secretariat completes it (the gap kind, any answer facts) before it joins the
        eval set. A question already made into a candidate raises FeedbackError.
        """
        row = self.get(question_id)
        if row is None:
            raise FeedbackError(f"no logged question #{question_id}")
        if row["status"] not in GAP_STATUSES:
            raise FeedbackError(f"question #{question_id} was answered; it is not a gap")
        if row["candidate_id"]:
            raise FeedbackError(
                f"question #{question_id} is already candidate {row['candidate_id']}"
            )
        near = " › ".join([row["nearest_season"] or "", *row["nearest_path"]]).strip(" ›")
        item: dict = {
            "id": "",
            "type": "unanswerable" if row["status"] == "not_covered" else "partial",
            "question": row["question"],
            "answer_facts": [],
            "gold_quote": None,
            "season": None,
            "section": None,
            "near": near or NO_SECTION,
        }
        if row["status"] == "hedged":
            item["uncovered"] = row["caveat"]
        if row["history"]:
            item["history"] = row["history"]
        item["source"] = f"question log #{question_id}"
        item["note"] = f"asked {row['asked_at']} via {row['channel']}; the assistant " + (
            "found nothing to answer it" if row["status"] == "not_covered" else "hedged"
        )
        append_candidate(Path(candidates_path), item, f"log-{question_id:04d}")
        with transaction(self.path) as conn:
            conn.execute(
                "UPDATE questions SET candidate_id = ? WHERE id = ?", (item["id"], question_id)
            )
        return item

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")


def _nearest(answer: Mapping) -> dict:
    """The passage nearest the question: the top retrieved one, else the first citation."""
    for key in ("retrieved", "citations"):
        items = answer.get(key) or []
        if items and isinstance(items[0], Mapping):
            return dict(items[0])
    return {}


def _row_dict(row) -> dict:
    data = dict(row)
    for key, empty in (("history", []), ("filters", {}), ("nearest_path", [])):
        try:
            data[key] = json.loads(data[key]) if data[key] else empty
        except json.JSONDecodeError:
            data[key] = empty
    return data
