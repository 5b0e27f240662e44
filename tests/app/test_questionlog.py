"""The question log on a real SQLite file: what is kept, for how long, the gaps, the CSV."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.feedback import FeedbackError, FeedbackRecord, FeedbackStore
from assistant.questionlog import NO_SECTION, QuestionLog

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def hit(season: str, *path: str, url: str = "https://example.org/#x", score: float = 0.5):
    return {"rank": 1, "score": score, "season": season, "heading_path": list(path), "url": url,
            "text": "passage"}  # fmt: skip


def answer(question: str, status: str, *, caveat: str = "", nearest: dict | None = None) -> dict:
    retrieved = [nearest] if nearest else []
    return {"question": question, "answer": "...", "status": status, "caveat": caveat,
            "abstained": status == "not_covered", "as_of": None, "key_spans": [],
            "citations": [], "retrieved": retrieved, "timings_ms": {}}  # fmt: skip


class Clock:
    """A settable clock, so retention can be tested without waiting 90 days."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path: Path, clock: Clock) -> QuestionLog:
    return QuestionLog(tmp_path / "db" / "feedback.db", retention_days=90, clock=clock)


SMARTCARD = hit("Winter 2021", "Reducing burden", "Smartcards", url="https://x/#smart")
WALES = hit("Autumn 2021", "EPS and RTEC", "Wales", url="https://x/#wales")


def test_a_question_is_kept_with_its_status_and_nearest_section(log: QuestionLog) -> None:
    logged = log.record(
        answer("How much is a new Smartcard?", "not_covered", nearest=SMARTCARD),
        channel="api",
        history=["What is a Smartcard?"],
        filters={"seasons": [], "topic": None},
        build_id="b1",
    )
    row = log.get(logged)
    assert row["question"] == "How much is a new Smartcard?"
    assert (row["status"], row["channel"], row["build_id"]) == ("not_covered", "api", "b1")
    assert row["topic"] == "Reducing burden"
    assert row["nearest_season"] == "Winter 2021"
    assert row["nearest_path"] == ["Reducing burden", "Smartcards"]
    assert row["nearest_url"] == "https://x/#smart" and row["nearest_score"] == 0.5
    assert row["history"] == ["What is a Smartcard?"]
    assert row["asked_at"] == "2026-03-01T12:00:00+00:00"


def test_no_ip_address_or_client_detail_is_stored(log: QuestionLog) -> None:
    log.record(answer("q", "answered", nearest=SMARTCARD), channel="chat")
    with sqlite3.connect(log.path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(questions)")}
    assert not columns & {"ip", "client", "host", "address", "user_agent", "session"}
    assert columns >= {"question", "status", "topic", "nearest_path", "asked_at"}


def test_bad_records_are_refused_and_nothing_is_lost(log: QuestionLog) -> None:
    log.record(answer("kept", "hedged", nearest=WALES), channel="chat")
    with pytest.raises(ValueError, match="status must be one of"):
        log.record(answer("q", "maybe"), channel="chat")
    with pytest.raises(ValueError, match="channel must be one of"):
        log.record(answer("q", "answered"), channel="email")
    assert [r["question"] for r in log.questions(("hedged",))] == ["kept"]


def test_a_question_with_nothing_near_still_counts(log: QuestionLog) -> None:
    log.record(answer("Who won the cup?", "not_covered"), channel="chat")
    [row] = log.questions()
    assert row["topic"] == NO_SECTION and row["nearest_path"] == [] and row["nearest_url"] is None


def test_retention_deletes_old_questions(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "feedback.db"
    log = QuestionLog(path, retention_days=90, clock=clock)
    clock.now = NOW - timedelta(days=91)
    log.record(answer("too old", "not_covered"), channel="chat")
    clock.now = NOW - timedelta(days=89)
    log.record(answer("recent", "not_covered"), channel="chat")
    clock.now = NOW
    assert log.prune() == 1
    assert [r["question"] for r in log.questions()] == ["recent"]
    # Opening the log prunes too: a shorter retention set later applies at once.
    QuestionLog(path, retention_days=30, clock=clock)
    assert log.count() == 0
    with pytest.raises(ValueError, match="retention_days"):
        QuestionLog(path, retention_days=0)


def test_the_off_switch_records_nothing(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "feedback.db"
    QuestionLog(path, clock=clock).record(answer("before", "hedged"), channel="chat")
    off = QuestionLog(path, enabled=False, clock=clock)
    assert off.record(answer("after", "not_covered"), channel="api") is None
    assert [r["question"] for r in off.questions()] == ["before"]  # kept until it expires


def test_gaps_group_by_topic_with_counts_and_latest_examples(
    log: QuestionLog, clock: Clock
) -> None:
    asked = [
        ("How much is a new Smartcard?", "not_covered", SMARTCARD),
        ("Does EPS work in Wales?", "hedged", WALES),
        ("how much is a new smartcard?", "not_covered", SMARTCARD),  # the same, asked again
        ("Can I reuse an old Smartcard?", "hedged", SMARTCARD),
        ("When is the Smartcard reader update?", "answered", SMARTCARD),  # not a gap
        ("Who sets Smartcard prices?", "not_covered", SMARTCARD),
    ]
    for minute, (question, status, nearest) in enumerate(asked):
        clock.now = NOW + timedelta(minutes=minute)
        log.record(answer(question, status, nearest=nearest), channel="chat")
    smartcards, wales = log.gaps(examples=2)
    assert (smartcards.topic, smartcards.not_covered, smartcards.hedged) == (
        "Reducing burden",
        3,
        1,
    )
    assert smartcards.total == 4
    assert smartcards.examples == ["Who sets Smartcard prices?", "Can I reuse an old Smartcard?"]
    assert smartcards.latest_at == "2026-03-01T12:05:00+00:00"
    assert (wales.topic, wales.total, wales.examples) == (
        "EPS and RTEC",
        1,
        ["Does EPS work in Wales?"],
    )
    hedged_only = {g.topic: (g.not_covered, g.hedged) for g in log.gaps(("hedged",))}
    assert hedged_only == {"Reducing burden": (0, 1), "EPS and RTEC": (0, 1)}
    clock.now = NOW + timedelta(days=10)
    assert log.gaps(days=7) == []  # all asked over a week before "now"
    assert len(log.gaps(days=30)) == 2
    with pytest.raises(ValueError, match="unknown status"):
        log.questions(("bogus",))


def test_csv_export_is_formula_safe(log: QuestionLog) -> None:
    log.record(
        answer('=HYPERLINK("http://evil")', "hedged", caveat="-2+3", nearest=WALES),
        channel="api",
        history=["first question"],
    )
    log.record(answer("answered ones stay out", "answered", nearest=WALES), channel="api")
    rows = list(csv.DictReader(io.StringIO(log.to_csv())))
    assert len(rows) == 1
    [row] = rows
    assert row["question"].startswith("'=") and row["caveat"] == "'-2+3"
    assert row["nearest_section"] == "EPS and RTEC > Wales" and row["status"] == "hedged"
    assert row["earlier_questions"] == "first question"


def test_one_click_makes_a_candidate_eval_item(log: QuestionLog, tmp_path: Path) -> None:
    candidates = tmp_path / "eval_candidates.jsonl"
    missing = log.record(
        answer("How much is a new Smartcard?", "not_covered", nearest=SMARTCARD),
        channel="chat",
        history=["What is a Smartcard?"],
    )
    partial = log.record(
        answer("Does EPS work in Wales?", "hedged", caveat="Wales is not covered.", nearest=WALES),
        channel="api",
    )
    answered = log.record(answer("fine", "answered"), channel="api")

    first = log.add_candidate(missing, candidates)
    assert first["id"] == f"log-{missing:04d}" and first["type"] == "unanswerable"
    assert first["near"] == "Winter 2021 › Reducing burden › Smartcards"
    assert first["answer_facts"] == [] and first["season"] is None and first["section"] is None
    assert first["history"] == ["What is a Smartcard?"]
    assert first["source"] == f"question log #{missing}"
    second = log.add_candidate(partial, candidates)
    assert second["type"] == "partial" and second["uncovered"] == "Wales is not covered."
    assert [json.loads(line)["id"] for line in candidates.read_text().splitlines()] == [
        first["id"],
        second["id"],
    ]
    assert log.get(missing)["candidate_id"] == first["id"]

    with pytest.raises(FeedbackError, match="already candidate"):
        log.add_candidate(missing, candidates)
    with pytest.raises(FeedbackError, match="not a gap"):
        log.add_candidate(answered, candidates)
    with pytest.raises(FeedbackError, match="no logged question #999"):
        log.add_candidate(999, candidates)
    assert len(candidates.read_text().splitlines()) == 2  # refusals wrote nothing


def test_the_log_shares_the_feedback_database_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "feedback.db"
    store = FeedbackStore(path)
    log = QuestionLog(path)
    store.add(FeedbackRecord.from_answer(answer("q", "answered"), "up"))
    log.record(answer("q", "answered"), channel="chat")
    assert store.count() == 1 and log.count() == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_writers_all_land(log: QuestionLog) -> None:
    start = threading.Barrier(8)

    def write(worker: int) -> None:
        start.wait()
        for k in range(25):
            log.record(answer(f"q{worker}-{k}", "not_covered", nearest=WALES), channel="api")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.count() == 200
    assert {r["question"] for r in log.questions()} == {
        f"q{w}-{k}" for w in range(8) for k in range(25)
    }
