"""Server mode: the index in a real `chroma run` on 127.0.0.1 answers like the embedded one,
fails clearly when the server is down or hung (never a hang), and recovers when it is back.

No test here times anything (the figures are `make bench`'s): a hung server is proved not
to hang a question by the order of events. The question fails while the server is still
stopped, and the server is only resumed after it returned.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from index_support import (
    QUESTION,
    ChromaServer,
    answer_json,
    build_in_process,
    cli_env,
    comparable,
    copy_index,
    manifest,
    run_cli,
)

from index.chroma import COLLECTION_PREFIX
from index.search import IndexUnavailableError, forget_index

SNAPSHOT_QUESTIONS = [
    "When does MYS become compulsory for FP34C?",
    "How many workstream areas does CP ITG organise its work into?",
    "What is the Pharmacy IT Gantt chart?",
    "What did the Winter 2021 bulletin say about NHSmail?",
    "Is there anything about blockchain prescriptions?",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A real Chroma server on a free port, its data in a temp folder."""
    running = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    yield running
    forget_index()
    running.stop()


def _collections(server: ChromaServer) -> list[str]:
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=server.port)
    try:
        return sorted(c.name for c in client.list_collections())
    finally:
        client.close()


def test_ingest_and_ask_through_the_server(
    server: ChromaServer, tmp_path: Path, base_pages: Path, edited_pages: Path, base_index: Path
) -> None:
    index_dir = tmp_path / "index"
    env = cli_env(ASSISTANT_CHROMA_URL=server.url)

    # The first build in process (a new index through the CLI would embed the bundled
    # snapshot too); the re-ingest below goes through the real CLI.
    build_in_process(base_pages, index_dir, chroma_url=server.url)
    first_manifest = manifest(index_dir)
    assert first_manifest["chroma_url"] == server.url
    assert not (index_dir / "builds" / first_manifest["build_id"] / "chroma").exists()
    # Same pages, same answer as the embedded index.
    assert comparable(answer_json(index_dir, chroma_url=server.url)) == comparable(
        answer_json(base_index)
    )

    # Re-ingest through the server with the CLI (the edited page replaces the base one):
    # the change report, and one collection per build kept.
    second = run_cli("ingest", "--quiet", "--path", str(edited_pages), "--index-dir",
                     str(index_dir), env=env)  # fmt: skip
    assert second.returncode == 0, second.stderr
    current = manifest(index_dir)
    changes = current["history"][-1]["changes"]
    assert changes["sections_added"] == ["Winter 2021 > Summary Care Record"]
    assert changes["sections_removed"] == ["Winter 2021 > Smartcards"]
    assert changes["sections_changed"] == ["Autumn 2021 > NHSmail"]
    assert current["chroma_url"] == server.url
    assert "365 days" in answer_json(index_dir, chroma_url=server.url)["answer"]
    build_in_process(base_pages, index_dir, chroma_url=server.url)
    third = manifest(index_dir)
    # The pruned build's collection went with it; the previous one stays for a roll back.
    ours = [c for c in _collections(server) if c.startswith(COLLECTION_PREFIX)]
    assert first_manifest["collection"] not in ours
    assert {current["collection"], third["collection"]} <= set(ours)


def test_snapshot_answers_match_the_embedded_index(
    server: ChromaServer, tmp_path: Path, snapshot_index_dir: Path
) -> None:
    """The whole archive in the server gives the same answers and citations."""
    # Switching a copy of the session's snapshot index to the server re-ingests the whole
    # snapshot into it (its embeddings reused by chunk hash: same model, same vectors).
    from index.embed import token_counter
    from index.store import build
    from ingest import ingest
    from settings import load_settings

    index_dir = copy_index(snapshot_index_dir, tmp_path / "index")
    result = ingest(count_tokens=token_counter(None), progress=False)
    settings = load_settings(index_dir=index_dir, chroma_url=server.url)
    outcome = build(result.sections, result.chunks, result.sources(), settings, progress=False)
    assert outcome.written and outcome.embedded == 0
    assert manifest(index_dir)["chroma_url"] == server.url

    for question in SNAPSHOT_QUESTIONS:
        embedded = answer_json(snapshot_index_dir, question)
        served = answer_json(index_dir, question, chroma_url=server.url)
        assert comparable(served) == comparable(embedded), question
        assert served["retrieved"] == embedded["retrieved"], question


@pytest.fixture
def server_index(server: ChromaServer, tmp_path: Path, base_pages: Path) -> Path:
    """A small index whose vectors live in the module's server."""
    index_dir = tmp_path / "index"
    build_in_process(base_pages, index_dir, chroma_url=server.url)
    return index_dir


def test_server_down_fails_fast_and_clearly_then_recovers(
    server: ChromaServer, server_index: Path
) -> None:
    expected = comparable(answer_json(server_index, chroma_url=server.url))  # loaded, cached
    server.stop()
    try:
        # The loaded index: its next question raises, naming the server and the cause.
        with pytest.raises(IndexUnavailableError) as caught:
            answer_json(server_index, chroma_url=server.url)
        assert str(caught.value).startswith(
            f"cannot reach the Chroma server at {server.url} (connection refused)"
        )
        # A fresh load fails the same way, and is retried (not cached) by the next question.
        forget_index()
        with pytest.raises(IndexUnavailableError) as reloaded:
            answer_json(server_index, chroma_url=server.url)
        assert str(reloaded.value) == str(caught.value)

        # The CLIs: exit 1 with one line on stderr, no traceback.
        env = cli_env(ASSISTANT_CHROMA_URL=server.url)
        asked = run_cli("assistant", "ask", QUESTION, "--index-dir", str(server_index), env=env)
        assert asked.returncode == 1
        assert asked.stderr.strip().splitlines() == [f"error: {caught.value}"]
        ingested = run_cli("ingest", "--quiet", "--index-dir", str(server_index), env=env)
        assert ingested.returncode == 1
        assert ingested.stderr.strip().splitlines() == [f"error: {caught.value}"]
    finally:
        server.start()  # same port, same data folder

    # Back: the same process answers again (the failed load was not cached).
    assert comparable(answer_json(server_index, chroma_url=server.url)) == expected


def test_hung_server_fails_within_the_deadline_then_recovers(
    server: ChromaServer, server_index: Path
) -> None:
    expected = comparable(answer_json(server_index, chroma_url=server.url))
    assert server.process is not None
    events: list[str] = []
    os.kill(server.process.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        for attempt in ("loaded index", "fresh load"):
            # The read timeout must fire: nothing else can end the call, since the server
            # stays stopped until after this loop. A hang would never reach the append.
            with pytest.raises(IndexUnavailableError, match="timed out: no answer") as caught:
                answer_json(server_index, chroma_url=server.url)
            assert str(caught.value).startswith(f"cannot reach the Chroma server at {server.url}")
            events.append(f"{attempt} failed")
            forget_index()
    finally:
        events.append("server resumed")
        os.kill(server.process.pid, signal.SIGCONT)

    assert events == ["loaded index failed", "fresh load failed", "server resumed"]

    assert comparable(answer_json(server_index, chroma_url=server.url)) == expected


def test_an_index_built_for_the_server_says_so_without_it(server_index: Path) -> None:
    with pytest.raises(IndexUnavailableError, match="set ASSISTANT_CHROMA_URL=http://127.0.0.1"):
        answer_json(server_index)


def test_manifest_names_the_server_collection(server: ChromaServer, server_index: Path) -> None:
    data = json.loads((server_index / "builds" / manifest(server_index)["build_id"] /
                       "manifest.json").read_text())  # fmt: skip
    assert data["collection"] in _collections(server)


def test_a_server_that_lost_its_data_is_named_and_rebuilt(tmp_path: Path, base_pages: Path) -> None:
    """Restarted on another --path, the server lacks the collection: say so; ingest fixes it."""
    first = ChromaServer(tmp_path / "data-1").start()
    try:
        index_dir = tmp_path / "index"
        build_in_process(base_pages, index_dir, chroma_url=first.url)
        expected = comparable(answer_json(index_dir, chroma_url=first.url))
    finally:
        forget_index()
        first.stop()
    second = ChromaServer(tmp_path / "data-2", port=first.port).start()
    try:
        with pytest.raises(IndexUnavailableError, match="has no collection .* another --path"):
            answer_json(index_dir, chroma_url=second.url)
        # Nothing changed in the pages, but the ingest sees the collection missing.
        assert build_in_process(base_pages, index_dir, chroma_url=second.url).written
        assert comparable(answer_json(index_dir, chroma_url=second.url)) == expected
    finally:
        forget_index()
        second.stop()
