"""The feedback store on a real SQLite file: records, filters, CSV, candidates, concurrency."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from assistant.feedback import CANDIDATE_TYPES, FeedbackError, FeedbackRecord, FeedbackStore

ANSWER = {
    "question": "When does MYS become compulsory for FP34C?",
    "answer": "After March 2022 FP34C submissions through MYS become compulsory. [1]",
    "abstained": False,
    "as_of": "Winter 2021",
    "citations": [
        {
            "n": 1,
            "season": "Winter 2021",
            "heading_path": ["Reducing burden"],
            "url": "https://example.org/archive/#winter-2021-reducing-burden",
            "text": "This FP34C version will continue ... compulsory.",
            "sentences": ["This FP34C version will continue ... compulsory."],
        }
    ],
    "retrieved": [],
    "timings_ms": {"total": 12.0},
}


def record(rating: str = "down", **changes: object) -> FeedbackRecord:
    rec = FeedbackRecord.from_answer(
        ANSWER, rating, filters={"seasons": ["Winter 2021"], "topic": None}
    )
    for key, value in changes.items():
        setattr(rec, key, value)
    return rec


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "fb" / "feedback.db")


def test_add_and_read_back_everything(store: FeedbackStore) -> None:
    feedback_id = store.add(record(comment="wrong date", wrong_source=True))
    [row] = store.list()
    assert row["id"] == feedback_id
    assert row["rating"] == "down" and row["wrong_source"] is True
    assert row["question"] == ANSWER["question"] and row["answer"] == ANSWER["answer"]
    assert row["as_of"] == "Winter 2021" and row["abstained"] is False
    assert row["citations"][0]["url"].endswith("#winter-2021-reducing-burden")
    assert row["citations"][0]["heading_path"] == ["Reducing burden"]
    assert row["filters"] == {"seasons": ["Winter 2021"], "topic": None}
    assert row["created_at"].endswith("+00:00")  # UTC, ISO 8601


def test_database_is_in_wal_mode(store: FeedbackStore) -> None:
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_filters(store: FeedbackStore) -> None:
    store.add(record("up", question="What is NHSmail?"))
    flagged = store.add(record("down", wrong_source=True, comment="cites the 2021 form"))
    store.add(record("down", as_of="Summer 2021", citations=[]))
    assert len(store.list()) == 3
    assert [r["rating"] for r in store.list({"rating": "up"})] == ["up"]
    assert [r["id"] for r in store.list({"wrong_source": True})] == [flagged]
    assert [r["id"] for r in store.list({"text": "2021 FORM"})] == [flagged]
    assert len(store.list({"season": "Summer 2021"})) == 1
    assert len(store.list({"text": "%"})) == 0  # LIKE wildcards are matched literally
    assert [r["id"] for r in store.list()] == sorted((r["id"] for r in store.list()), reverse=True)


def test_update_and_delete(store: FeedbackStore) -> None:
    feedback_id = store.add(record("up"))
    assert store.update(feedback_id, rating="down", comment="actually wrong", wrong_source=True)
    row = store.get(feedback_id)
    assert (row["rating"], row["comment"], row["wrong_source"]) == ("down", "actually wrong", True)
    assert row["updated_at"]
    assert not store.update(feedback_id + 100, comment="nobody")
    assert store.delete(feedback_id) and store.get(feedback_id) is None


def test_bad_records_are_refused_and_nothing_is_lost(store: FeedbackStore) -> None:
    kept = store.add(record())
    with pytest.raises(FeedbackError, match="rating"):
        store.add(record("meh"))
    with pytest.raises(FeedbackError, match="question"):
        store.add(record(question="  "))
    assert [r["id"] for r in store.list()] == [kept]


def test_csv_export_round_trips_and_defuses_formulas(store: FeedbackStore) -> None:
    store.add(record(comment='=HYPERLINK("http://evil")', question='Q, with "quotes"\nand lines'))
    rows = list(csv.DictReader(io.StringIO(store.to_csv())))
    assert len(rows) == 1
    assert rows[0]["question"] == 'Q, with "quotes"\nand lines'
    assert rows[0]["comment"].startswith("'=")  # shown as text by spreadsheets, never run
    assert rows[0]["citations"].startswith("[1] Winter 2021 > Reducing burden <https://")
    assert rows[0]["seasons"] == "Winter 2021"


def test_concurrent_writes_lose_nothing(store: FeedbackStore) -> None:
    """8 threads x 25 writes, each thread on its own connections: all 200 rows land."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def write(thread: int) -> None:
        try:
            barrier.wait()
            for i in range(25):
                store.add(record(comment=f"t{thread}-{i}"))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    comments = {r["comment"] for r in store.list({"limit": 1000})}
    assert comments == {f"t{t}-{i}" for t in range(8) for i in range(25)}
    assert store.count() == 200


def test_candidate_has_the_eval_shape(store: FeedbackStore) -> None:
    feedback_id = store.add(record(wrong_source=True))
    item = store.add_candidate(
        feedback_id,
        answer_facts=["March 2022", "  ", "Manage Your Service (MYS) portal"],
        section="Reducing burden",
        season="Winter 2021",
        gold_quote="after which FP34C submissions through the MYS portal will become compulsory",
    )
    assert item == json.loads(store.candidates_path.read_text().splitlines()[0])
    assert item["id"] == f"fb-{feedback_id:04d}"
    assert item["source"] == f"feedback #{feedback_id}"
    assert item["answer_facts"] == ["March 2022", "Manage Your Service (MYS) portal"]
    assert {"id", "type", "question", "answer_facts", "gold_quote", "season", "section"} <= set(
        item
    )
    assert store.get(feedback_id)["candidate_id"] == item["id"]
    again = store.add_candidate(
        feedback_id, answer_facts=["March 2022"], section="Reducing burden", season="Winter 2021"
    )
    assert again["id"] == f"fb-{feedback_id:04d}-2"  # ids stay unique in the file


def test_candidate_validation(store: FeedbackStore) -> None:
    feedback_id = store.add(record())
    with pytest.raises(FeedbackError, match="fact"):
        store.add_candidate(feedback_id, answer_facts=[" "], section="X", season="Winter 2021")
    with pytest.raises(FeedbackError, match="season and section"):
        store.add_candidate(feedback_id, answer_facts=["x"], section="", season="Winter 2021")
    with pytest.raises(FeedbackError, match="type"):
        store.add_candidate(
            feedback_id, answer_facts=["x"], section="X", season="Winter 2021", type="essay"
        )
    with pytest.raises(FeedbackError, match="no feedback"):
        store.add_candidate(999, answer_facts=["x"], section="X", season="Winter 2021")
    item = store.add_candidate(
        feedback_id, answer_facts=[], section=None, season=None, type="unanswerable"
    )
    assert (item["answer_facts"], item["season"], item["section"]) == ([], None, None)
    assert len(store.candidates()) == 1  # only the valid item was written


def test_follow_up_candidates_keep_their_history(store: FeedbackStore) -> None:
    rec = record(history=["About how many integrated care systems are there in England?"])
    item = store.add_candidate(
        store.add(rec),
        answer_facts=["between 300,000 and 3 million"],
        section="Integrated Care Systems (ICS) and local digital priorities",
        season="Summer 2021",
        type="followup",
    )
    assert item["history"] == ["About how many integrated care systems are there in England?"]


def test_concurrent_candidates_each_get_a_line(store: FeedbackStore) -> None:
    ids = [store.add(record()) for _ in range(6)]

    def promote(feedback_id: int) -> None:
        for _ in range(5):
            store.add_candidate(
                feedback_id, answer_facts=["x"], section="Reducing burden", season="Winter 2021"
            )

    threads = [threading.Thread(target=promote, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    items = store.candidates()
    assert len(items) == 30
    assert len({item["id"] for item in items}) == 30


def test_candidate_types_match_the_eval_set() -> None:
    from eval.validate import ALLOWED_TYPES

    assert set(CANDIDATE_TYPES) == set(ALLOWED_TYPES)


def test_an_older_database_gains_the_status_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "feedback.db"
    with sqlite3.connect(path) as conn:  # the first release's table, without status
        conn.execute(
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT "
            "NULL, updated_at TEXT, rating TEXT NOT NULL, wrong_source INTEGER NOT NULL "
            "DEFAULT 0, comment TEXT NOT NULL DEFAULT '', question TEXT NOT NULL, answer TEXT "
            "NOT NULL, abstained INTEGER NOT NULL DEFAULT 0, as_of TEXT, citations TEXT NOT "
            "NULL DEFAULT '[]', filters TEXT NOT NULL DEFAULT '{}', history TEXT NOT NULL "
            "DEFAULT '[]', candidate_id TEXT)"
        )
        conn.execute(
            "INSERT INTO feedback (created_at, rating, question, answer) "
            "VALUES ('2026-01-01T00:00:00+00:00', 'up', 'old question', 'old answer')"
        )
    store = FeedbackStore(path)
    [old] = store.list()
    assert old["question"] == "old question" and old["status"] == ""
    hedged = store.add(FeedbackRecord.from_answer({**ANSWER, "status": "hedged"}, "down"))
    assert store.get(hedged)["status"] == "hedged"
    assert "status" in store.to_csv().splitlines()[0].split(",")
