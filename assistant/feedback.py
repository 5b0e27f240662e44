"""Store what users think of answers (SQLite), and turn flagged answers into eval candidates.

The app writes one row per thumbs up/down, with the question, the answer, its citations,
the filters in force and the time; the secretariat reads them back in the Review tab,
exports them as CSV, and promotes a wrong answer into a candidate eval item (one JSON
line in the eval set's shape) with the corrected facts.

SQLite runs in WAL mode so the Review tab can read while chat sessions write, and every
call opens its own connection: sqlite3 connections must not be shared across threads,
and Gradio runs handlers in a thread pool. The question log (assistant/questionlog.py)
keeps its table in the same file and uses the same connection and candidate helpers.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RATINGS = ("up", "down")
# The eval set's item types (eval/validate.py ALLOWED_TYPES; a test keeps the two equal).
CANDIDATE_TYPES = (
    "factoid",
    "temporal",
    "list",
    "acronym",
    "multi_passage",
    "followup",
    "compound",
    "partial",
    "unanswerable",
)
# A writer waits this long for another writer's lock before giving up: a feedback write
# takes ~1 ms, so 10 s only runs out if something holds the database badly wrong.
BUSY_TIMEOUT_MS = 10_000
MAX_COMMENT_CHARS = 4000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    wrong_source INTEGER NOT NULL DEFAULT 0,
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT '',
    as_of TEXT,
    citations TEXT NOT NULL DEFAULT '[]',
    filters TEXT NOT NULL DEFAULT '{}',
    history TEXT NOT NULL DEFAULT '[]',
    candidate_id TEXT
);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at);
"""
# Columns added after the first release, with their definitions: a database written by an
# older version gains them when it is opened, its rows kept.
_ADDED_COLUMNS = {"status": "TEXT NOT NULL DEFAULT ''"}

CSV_COLUMNS = (
    "id",
    "created_at",
    "rating",
    "wrong_source",
    "comment",
    "question",
    "answer",
    "abstained",
    "status",
    "as_of",
    "citations",
    "seasons",
    "topic",
    "candidate_id",
)


class FeedbackError(ValueError):
    """A feedback record or candidate item is not valid as given."""


@dataclass
class FeedbackRecord:
    """One thumbs up/down on one answer, with everything needed to judge it later."""

    rating: str  # "up" or "down"
    question: str
    answer: str
    abstained: bool = False
    status: str = ""  # "answered", "hedged" or "not_covered", as in the JSON answer
    as_of: str | None = None
    citations: list[dict] = field(default_factory=list)  # as in Answer.to_json()
    filters: dict = field(default_factory=dict)  # {"seasons": [...], "topic": ...}
    history: list[str] = field(default_factory=list)  # earlier questions in the chat
    comment: str = ""
    wrong_source: bool = False
    created_at: str = ""  # ISO 8601 UTC; filled in by add() when empty

    @classmethod
    def from_answer(
        cls,
        answer: Mapping,
        rating: str,
        *,
        filters: Mapping | None = None,
        history: list[str] | None = None,
    ) -> FeedbackRecord:
        """Build a record from a JSON answer (Answer.to_json()) and a rating."""
        return cls(
            rating=rating,
            question=str(answer.get("question", "")),
            answer=str(answer.get("answer", "")),
            abstained=bool(answer.get("abstained", False)),
            status=str(answer.get("status") or ""),
            as_of=answer.get("as_of"),
            citations=[
                {k: c.get(k) for k in ("n", "season", "heading_path", "url", "sentences")}
                for c in answer.get("citations", [])
            ],
            filters=dict(filters or {}),
            history=list(history or []),
        )


class FeedbackStore:
    """Feedback rows in one SQLite file, plus the candidates JSONL beside it."""

    def __init__(self, path: Path | str, candidates_path: Path | str | None = None) -> None:
        """Open (and create if needed) the store at path; candidates go to candidates_path.

        candidates_path defaults to eval_candidates.jsonl in the database's folder.
        """
        self.path = Path(path)
        self.candidates_path = (
            Path(candidates_path) if candidates_path else self.path.parent / "eval_candidates.jsonl"
        )
        self._keeper = open_database(self.path, _SCHEMA, "feedback", _ADDED_COLUMNS)

    def close(self) -> None:
        """Close the store's database (each call opens its own connection; this is the one
        kept open between calls)."""
        self._keeper.close()

    def add(self, record: FeedbackRecord) -> int:
        """Store one feedback record and return its id."""
        if record.rating not in RATINGS:
            raise FeedbackError(
                f"rating must be one of {', '.join(RATINGS)}, not {record.rating!r}"
            )
        if not record.question.strip():
            raise FeedbackError("feedback needs the question it is about")
        created = record.created_at or _now()
        with transaction(self.path) as conn:
            cursor = conn.execute(
                """INSERT INTO feedback (created_at, rating, wrong_source, comment, question,
                   answer, abstained, status, as_of, citations, filters, history)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    created,
                    record.rating,
                    int(record.wrong_source),
                    record.comment[:MAX_COMMENT_CHARS],
                    record.question,
                    record.answer,
                    int(record.abstained),
                    record.status,
                    record.as_of,
                    json.dumps(record.citations, ensure_ascii=False),
                    json.dumps(record.filters, ensure_ascii=False),
                    json.dumps(record.history, ensure_ascii=False),
                ),
            )
            return int(cursor.lastrowid)

    def update(
        self,
        feedback_id: int,
        *,
        rating: str | None = None,
        comment: str | None = None,
        wrong_source: bool | None = None,
    ) -> bool:
        """Change the rating, comment or wrong-source flag of a record; False if no such id."""
        changes: dict[str, object] = {}
        if rating is not None:
            if rating not in RATINGS:
                raise FeedbackError(f"rating must be one of {', '.join(RATINGS)}")
            changes["rating"] = rating
        if comment is not None:
            changes["comment"] = comment[:MAX_COMMENT_CHARS]
        if wrong_source is not None:
            changes["wrong_source"] = int(wrong_source)
        if not changes:
            return self.get(feedback_id) is not None
        changes["updated_at"] = _now()
        assignments = ", ".join(f"{column} = ?" for column in changes)  # fixed column names
        with transaction(self.path) as conn:
            cursor = conn.execute(
                f"UPDATE feedback SET {assignments} WHERE id = ?", (*changes.values(), feedback_id)
            )
            return cursor.rowcount == 1

    def delete(self, feedback_id: int) -> bool:
        """Remove a record (the user withdrew the thumb); False if there was none."""
        with transaction(self.path) as conn:
            return conn.execute("DELETE FROM feedback WHERE id = ?", (feedback_id,)).rowcount == 1

    def get(self, feedback_id: int) -> dict | None:
        """Return one record as a dict, or None."""
        with transaction(self.path) as conn:
            row = conn.execute("SELECT * FROM feedback WHERE id = ?", (feedback_id,)).fetchone()
        return _row_dict(row) if row else None

    def list(self, filters: Mapping | None = None) -> list[dict]:
        """Return records newest first, filtered.

        filters: rating ("up"/"down"), wrong_source (True: flagged only), text (in the
        question, answer or comment), season (the answer's as_of or a cited season),
        since (ISO date or time), limit (default 1000).
        """
        filters = filters or {}
        where: list[str] = []
        params: list[object] = []
        if filters.get("rating"):
            where.append("rating = ?")
            params.append(filters["rating"])
        if filters.get("wrong_source"):
            where.append("wrong_source = 1")
        if filters.get("text"):
            pattern = "%" + like_escape(str(filters["text"])) + "%"
            where.append(
                "(question LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\' "
                "OR comment LIKE ? ESCAPE '\\')"
            )
            params += [pattern, pattern, pattern]
        if filters.get("season"):
            where.append("(as_of = ? OR citations LIKE ? ESCAPE '\\')")
            season = str(filters["season"])
            params += [season, '%"season": "' + like_escape(season) + '"%']
        if filters.get("since"):
            where.append("created_at >= ?")
            params.append(str(filters["since"]))
        sql = "SELECT * FROM feedback"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(int(filters.get("limit") or 1000))
        with transaction(self.path) as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_row_dict(row) for row in rows]

    def count(self) -> int:
        """Return how many records are stored."""
        with transaction(self.path) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def to_csv(self, filters: Mapping | None = None) -> str:
        """Return the (filtered) records as CSV text, one row per record, header first."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in self.list({**(filters or {}), "limit": 1_000_000}):
            citations = "; ".join(
                f"[{c.get('n')}] {' > '.join([c.get('season') or '', *c.get('heading_path', [])])}"
                f" <{c.get('url')}>"
                for c in row["citations"]
            )
            values = [
                row["id"],
                row["created_at"],
                row["rating"],
                "yes" if row["wrong_source"] else "",
                row["comment"],
                row["question"],
                row["answer"],
                "yes" if row["abstained"] else "",
                row["status"],
                row["as_of"] or "",
                citations,
                ", ".join(row["filters"].get("seasons") or []),
                row["filters"].get("topic") or "",
                row["candidate_id"] or "",
            ]
            writer.writerow([csv_safe(v) for v in values])
        return out.getvalue()

    def add_candidate(
        self,
        feedback_id: int,
        *,
        answer_facts: list[str],
        section: str | None,
        season: str | None,
        gold_quote: str | None = None,
        type: str = "factoid",  # noqa: A002 - the eval set's field name
        question: str | None = None,
        note: str | None = None,
    ) -> dict:
        """Append a candidate eval item made from feedback #feedback_id; return the item.

        The item has the eval set's shape (id, type, question, answer_facts, gold_quote,
        season, section) plus "source": "feedback #N", and "history" when the question
        was a follow-up. The file is locked while appending, so two reviewers clicking at
        once both land, each on its own line.
        """
        record = self.get(feedback_id)
        if record is None:
            raise FeedbackError(f"no feedback #{feedback_id}")
        facts = [f.strip() for f in answer_facts if f and f.strip()]
        if type not in CANDIDATE_TYPES:
            raise FeedbackError(f"type must be one of {', '.join(CANDIDATE_TYPES)}")
        if type == "unanswerable":
            facts, section, season, gold_quote = [], None, None, None
        elif not facts:
            raise FeedbackError("give at least one corrected answer fact")
        elif not (section and section.strip()) or not (season and season.strip()):
            raise FeedbackError("give the season and section that hold the answer")
        item: dict = {
            "id": "",
            "type": type,
            "question": (question or record["question"]).strip(),
            "answer_facts": facts,
            "gold_quote": (gold_quote or "").strip() or None,
            "season": season,
            "section": section.strip() if section else None,
            "source": f"feedback #{feedback_id}",
        }
        if record["history"]:
            item["history"] = record["history"]
        if note and note.strip():
            item["note"] = note.strip()
        append_candidate(self.candidates_path, item, f"fb-{feedback_id:04d}")
        with transaction(self.path) as conn:
            conn.execute(
                "UPDATE feedback SET candidate_id = ? WHERE id = ?", (item["id"], feedback_id)
            )
        return item

    def candidates(self) -> list[dict]:
        """Return the candidate items written so far (oldest first)."""
        return read_candidates(self.candidates_path)


# ---------------------------------------------------------------- shared with the question log


def open_database(
    path: Path, schema: str, table: str, added_columns: Mapping[str, str] | None = None
) -> sqlite3.Connection:
    """Create the database file and its tables if needed, in WAL mode, and add new columns.

    Returns a connection to keep open while the store is in use: SQLite checkpoints the
    WAL whenever its last connection closes (~10 ms of fsync here), so with this one open
    the per-call connections close cheaply. WAL is a property of the file: set once,
    every later connection uses it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(schema)  # commits by itself
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for column, definition in (added_columns or {}).items():
            if column not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        conn.commit()
        conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # holds the WAL open
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """Yield a fresh connection inside a transaction, committed on success, then closed."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.row_factory = sqlite3.Row
    with closing(conn):
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, and ~10x fewer fsyncs
        # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
        # instead of one failing with "database is locked" when it upgrades a read lock.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def append_candidate(path: Path, item: dict, base_id: str) -> dict:
    """Give item a free id (base_id, base_id-2, ...) and append it to the candidates file.

    The file is locked while appending, so two reviewers clicking at once both land, each
    on its own line. Returns the item with its id.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            taken = {_line_id(line) for line in handle if line.strip()}
            item["id"] = _free_id(base_id, taken)
            handle.seek(0, os.SEEK_END)
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return item


def read_candidates(path: Path) -> list[dict]:
    """Return the candidate items in the file (oldest first); none if there is no file."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def csv_safe(value: object) -> object:
    """Defuse spreadsheet formulas: a cell starting with = + - @ would run in Excel."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def like_escape(text: str) -> str:
    """Text for a LIKE pattern with ESCAPE '\\': % and _ match literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _row_dict(row: sqlite3.Row) -> dict:
    data = dict(row)
    data["wrong_source"] = bool(data["wrong_source"])
    data["abstained"] = bool(data["abstained"])
    for key, empty in (("citations", []), ("filters", {}), ("history", [])):
        try:
            data[key] = json.loads(data[key]) if data[key] else empty
        except json.JSONDecodeError:
            data[key] = empty
    return data


def _line_id(line: str) -> str:
    try:
        return str(json.loads(line).get("id", ""))
    except (json.JSONDecodeError, AttributeError):
        return ""


def _free_id(base: str, taken: set[str]) -> str:
    """base, or base-2, base-3, ... if a reviewer already promoted the same feedback."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
