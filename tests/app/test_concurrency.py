"""Questions asked concurrently while a new build lands: through the real app over HTTP, and
through the real assistant in process.

Every answer must complete, and must equal the answer the same question gets asked one at
a time on the build it was answered from (a non-empty abstention is not enough); every
question asked after the switch must be answered from the new build, which the running
app picks up by itself.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bench.appserver import REPO_ROOT, AppServer, start_app
from bench.gradio_wire import GradioWire
from settings import SNAPSHOT_DIR

sys.path.insert(0, str(REPO_ROOT / "tests" / "index"))
from index_support import copy_index, write_page  # noqa: E402

QUESTIONS = [
    "When does MYS become compulsory for FP34C?",
    "How many workstream areas does CP ITG organise its work into?",
    "What is the NHSmail Virtual Visits platform?",
    "What did the Winter 2021 bulletin say about NHSmail?",
    "Which CPCS IT suppliers are assured?",
    "How much does it cost to replace a lost or broken NHS Smartcard?",
    "What is the price of a pint of milk?",
]
NEW_QUESTION = "When does the Pharmacy Widget Service launch?"
NEW_SEASON, NEW_TOPIC = "Spring 2022", "Pharmacy widgets"
NEW_SECTION = {
    (NEW_SEASON, NEW_TOPIC): [
        "The Pharmacy Widget Service launches on 1 May 2022 for every community pharmacy "
        "in England.",
        "Pharmacy teams can register for the Pharmacy Widget Service through the NHS "
        "Business Services Authority portal from April 2022.",
    ]
}
CLIENTS = 6
ROUNDS_AFTER_SWITCH = 2  # each client asks every question this often on the new build
MAX_ROUNDS = 40  # a bound on every client's loop, whatever happens


def comparable(answer: dict) -> dict:
    """The whole JSON answer but its timings, which always differ."""
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def new_build(index_dir: Path, work: Path):
    """Build the snapshot plus one new section into index_dir: it becomes CURRENT."""
    from index.embed import token_counter
    from index.store import build
    from ingest import ingest
    from settings import load_settings

    extra = write_page(work / "extra-page", NEW_SECTION).parent
    result = ingest(paths=[SNAPSHOT_DIR, extra], count_tokens=token_counter(None), progress=False)
    assert not result.errors, result.errors
    settings = load_settings(index_dir=index_dir)
    return build(result.sections, result.chunks, result.sources(), settings, progress=False)


@dataclass
class Asked:
    """One answer a client got: the question, the answer, and whether the switch had
    happened before the question was sent."""

    question: str
    answer: dict | None
    error: str | None
    after_switch: bool


@dataclass
class LoadDuringBuild:
    """Clients asking in threads until told to stop, each after a few rounds on the new build."""

    ask: Callable[[object, str], dict]  # (client, question) -> JSON answer
    make_client: Callable[[], object]
    switched: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    results: list[Asked] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    first_answers: threading.Barrier = field(default_factory=lambda: threading.Barrier(CLIENTS + 1))

    def client(self, number: int) -> None:
        rng = random.Random(number)
        client = self.make_client()
        rounds_after = 0
        try:
            for round_ in range(MAX_ROUNDS):
                order = rng.sample(QUESTIONS, len(QUESTIONS))
                after_at_start = self.switched.is_set()
                for question in order:
                    after = self.switched.is_set()
                    try:
                        asked = Asked(question, self.ask(client, question), None, after)
                    except Exception as error:  # noqa: BLE001 - every failure is reported
                        asked = Asked(question, None, f"{type(error).__name__}: {error}", after)
                    with self.lock:
                        self.results.append(asked)
                if round_ == 0:
                    self.first_answers.wait(timeout=600)
                if after_at_start:
                    rounds_after += 1
                if rounds_after >= ROUNDS_AFTER_SWITCH:
                    return
        finally:
            close = getattr(client, "close", None)
            if close:
                close()

    def run(self, land: Callable[[], object]) -> object:
        """Start the clients, land the new build once each has answered a round, wait."""
        threads = [threading.Thread(target=self.client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        self.first_answers.wait(timeout=600)  # every client is asking
        outcome = land()
        self.switched.set()
        for thread in threads:
            thread.join()
        return outcome


def check(results: list[Asked], before: dict, after: dict) -> None:
    """Every answer complete and equal to a one-at-a-time answer of its build."""
    assert [r.error for r in results if r.error] == []
    assert any(not r.after_switch for r in results) and any(r.after_switch for r in results)
    for asked in results:
        got = comparable(asked.answer)
        if asked.after_switch:
            assert got == after[asked.question], asked.question
        else:  # asked before the switch, answered from the old build or the new one
            assert got in (before[asked.question], after[asked.question]), asked.question


# ---------------------------------------------------------------- through the app


@pytest.fixture
def served_copy(snapshot_index_dir: Path, tmp_path: Path) -> tuple[Path, AppServer]:
    index_dir = copy_index(snapshot_index_dir, tmp_path / "index")
    app = start_app(index_dir, tmp_path / "app")
    yield index_dir, app
    app.stop()


def test_the_app_answers_every_question_while_a_new_build_lands(
    served_copy: tuple[Path, AppServer], tmp_path: Path
) -> None:
    index_dir, app = served_copy

    def ask(client: httpx.Client, question: str) -> dict:
        response = client.post("/api/ask", json={"question": question})
        response.raise_for_status()
        return response.json()

    with httpx.Client(base_url=app.url, timeout=120) as one:
        old_build = one.get("/api/health").json()["build_id"]
        before = {q: comparable(ask(one, q)) for q in [*QUESTIONS, NEW_QUESTION]}
        load = LoadDuringBuild(ask, lambda: httpx.Client(base_url=app.url, timeout=120))
        outcome = load.run(lambda: new_build(index_dir, tmp_path))
        health = one.get("/api/health").json()
        after = {q: comparable(ask(one, q)) for q in [*QUESTIONS, NEW_QUESTION]}

    assert outcome.written and outcome.build_id != old_build
    check(load.results, before, after)
    # The running app picked the new build up by itself: health, answers, chat filters.
    assert health["build_id"] == outcome.build_id and NEW_SEASON in health["seasons"]
    assert before[NEW_QUESTION]["status"] != "answered"  # hedged from some other launch
    assert after[NEW_QUESTION]["status"] == "answered"
    assert after[NEW_QUESTION]["citations"][0]["heading_path"] == [NEW_TOPIC]
    assert "1 May 2022" in after[NEW_QUESTION]["answer"]
    with GradioWire(app.url) as page:
        names = [d["api_name"] for d in page.dependencies()]
        seasons, topics = page.call(names.index("filter_choices")).data
    assert NEW_SEASON in [s[0] if isinstance(s, list) else s for s in seasons["choices"]]
    assert [NEW_TOPIC, NEW_TOPIC] in topics["choices"]
    assert "Traceback" not in app.log()


# ---------------------------------------------------------------- in process


def test_the_assistant_answers_every_question_while_a_new_build_lands(
    snapshot_index_dir: Path, tmp_path: Path
) -> None:
    from assistant import ask as assistant_ask
    from settings import load_settings

    index_dir = copy_index(snapshot_index_dir, tmp_path / "index")
    settings = load_settings(index_dir=index_dir)

    def ask(_client: object, question: str) -> dict:
        return assistant_ask(question, settings=settings).to_json()

    before = {q: comparable(ask(None, q)) for q in [*QUESTIONS, NEW_QUESTION]}
    load = LoadDuringBuild(ask, object)
    outcome = load.run(lambda: new_build(index_dir, tmp_path))
    after = {q: comparable(ask(None, q)) for q in [*QUESTIONS, NEW_QUESTION]}

    assert outcome.written
    check(load.results, before, after)
    assert after[NEW_QUESTION]["citations"][0]["heading_path"] == [NEW_TOPIC]
