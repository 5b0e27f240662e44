"""The app's /ask API through gradio_client, against app.py started as a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from assistant.questionlog import QuestionLog
from bench.appserver import REPO_ROOT, AppServer
from exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NO_INDEX

QUESTION = "When does MYS become compulsory for FP34C?"
CONTRACT = {
    "question",
    "answer",
    "status",
    "caveat",
    "abstained",
    "as_of",
    "key_spans",
    "citations",
    "retrieved",
    "timings_ms",
}


@pytest.fixture(scope="module")
def client(app_server: AppServer) -> Client:
    return Client(app_server.url, verbose=False)


def test_ask_returns_the_json_contract(client: Client, snapshot_settings) -> None:
    result = client.predict(QUESTION, api_name="/ask")
    assert CONTRACT <= set(result)
    assert result["question"] == QUESTION
    assert result["abstained"] is False
    assert result["as_of"] == "Winter 2021"
    assert "[1]" in result["answer"]
    citation = result["citations"][0]
    assert {"n", "season", "heading_path", "url", "text"} <= set(citation)
    assert "#" in citation["url"] and isinstance(citation["heading_path"], list)
    assert 0 < len(result["retrieved"]) <= 10
    assert {"rank", "score", "season", "heading_path", "url", "text"} <= set(result["retrieved"][0])
    assert {"retrieve", "answer", "total"} <= set(result["timings_ms"])

    # The same answer as assistant.ask() gives in-process (what the CLI prints).
    from assistant import ask

    local = ask(QUESTION, settings=snapshot_settings).to_json()
    assert result["answer"] == local["answer"]
    assert result["citations"] == local["citations"]


def test_season_filter_is_respected(client: Client) -> None:
    result = client.predict("What is NHSmail used for?", "Autumn 2021", api_name="/ask")
    assert result["retrieved"], result
    assert {hit["season"] for hit in result["retrieved"]} == {"Autumn 2021"}
    assert {c["season"] for c in result["citations"]} <= {"Autumn 2021"}


def test_several_seasons_separated_by_commas(client: Client) -> None:
    result = client.predict(
        "What is NHSmail used for?", "Summer 2021, Autumn 2021", api_name="/ask"
    )
    assert {hit["season"] for hit in result["retrieved"]} <= {"Summer 2021", "Autumn 2021"}


def test_an_unanswerable_question_abstains(client: Client) -> None:
    result = client.predict("Who won the FA Cup in 1990?", api_name="/ask")
    assert result["status"] == "not_covered" and result["abstained"] is True
    assert result["citations"] == [] and result["as_of"] is None


def test_an_on_topic_question_the_archive_lacks_is_hedged(client: Client) -> None:
    result = client.predict(
        "How much does it cost to replace a lost or broken NHS Smartcard?", api_name="/ask"
    )
    assert result["status"] == "hedged" and result["abstained"] is False
    assert result["caveat"] and result["answer"].startswith(result["caveat"])
    assert result["citations"]  # the closest passage, cited


@pytest.mark.parametrize(
    ("question", "season", "message"),
    [
        ("", None, "the question is empty"),
        ("   ", None, "the question is empty"),
        ("<img src=x onerror=alert(1)>", None, "the question is empty"),
        ("x" * 2001, None, "the limit is 2,000"),
        ("What is NHSmail?", "Spring 1999", "unknown season"),
    ],
)
def test_bad_input_gets_a_clear_error(
    client: Client, question: str, season: str | None, message: str
) -> None:
    with pytest.raises(AppError, match=message) as error:
        client.predict(question, season, api_name="/ask")
    assert str(error.value).startswith("bad question:")


def test_only_ask_is_public(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list(endpoints) == ["/ask"]


def test_the_app_stays_up_after_errors(client: Client, app_server: AppServer) -> None:
    logged = len(app_server.log())  # the server is shared: look at this test's lines only
    with pytest.raises(AppError):
        client.predict("", api_name="/ask")
    assert app_server.process.poll() is None
    assert client.predict(QUESTION, api_name="/ask")["abstained"] is False
    assert "Traceback" not in app_server.log()[logged:]


def test_no_index_exits_3_with_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(tmp_path / "empty"), "GRADIO_SERVER_PORT": "0"}
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_NO_INDEX
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "python -m ingest" in lines[0] and "make run" in lines[0]


def test_concurrent_requests_get_the_one_at_a_time_answers(
    client: Client, app_server: AppServer
) -> None:
    """Eight gradio clients at once: every one gets the answer its question gets alone."""
    questions = [QUESTION, "What is NHSmail used for?"] * 4

    def without_timings(answer: dict) -> dict:
        return {k: v for k, v in answer.items() if k != "timings_ms"}

    alone = {q: without_timings(client.predict(q, api_name="/ask")) for q in set(questions)}

    def one(question: str) -> dict:
        return Client(app_server.url, verbose=False).predict(question, api_name="/ask")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, questions))
    assert [without_timings(r) for r in results] == [alone[q] for q in questions]


def run_app(index_dir: Path, port: str) -> subprocess.CompletedProcess:
    """Run app.py on the index and port given, to its exit."""
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir), "GRADIO_SERVER_PORT": port}
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_port_exits_2_with_one_clear_line(snapshot_index_dir: Path) -> None:
    done = run_app(snapshot_index_dir, "abc")
    assert done.returncode == EXIT_BAD_INPUT
    assert done.stderr.strip() == (
        "error: bad configuration: GRADIO_SERVER_PORT must be a port number (0-65535), not 'abc'"
    )


def test_a_busy_port_exits_1_with_one_clear_line(snapshot_index_dir: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_app(snapshot_index_dir, str(port))
    assert done.returncode == EXIT_FAILED
    assert done.stderr.strip() == (
        f"error: cannot serve on 127.0.0.1:{port}: Address already in use"
    )


def test_gradio_questions_are_logged(client: Client, app_server: AppServer) -> None:
    question = "What is the NHSmail Virtual Visits platform?"
    client.predict(question, api_name="/ask")
    logged = QuestionLog(app_server.feedback_db).questions(("answered", "hedged", "not_covered"))
    assert [r["channel"] for r in logged if r["question"] == question] == ["gradio_api"]
