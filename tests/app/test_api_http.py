"""The plain JSON API (POST /api/ask, GET /api/health) of app.py served for real, over HTTP."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.questionlog import QuestionLog
from bench.appserver import REPO_ROOT, AppServer, start_app

sys.path.insert(0, str(REPO_ROOT / "tests" / "index"))
from index_support import ChromaServer, build_in_process, copy_index  # noqa: E402

QUESTION = "When does MYS become compulsory for FP34C?"
FIRST = "Where was the GP referral pilot for CPCS IT being run?"
FOLLOW_UP = "Which pharmacy system were those pharmacies on?"


@pytest.fixture(scope="module")
def http(app_server: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_server.url, timeout=60) as client:
        yield client


def without_timings(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def local(settings, question: str, **kwargs) -> dict:
    """The same question answered in-process: what the CLI prints."""
    from assistant import ask

    return without_timings(ask(question, settings=settings, **kwargs).to_json())


def test_ask_returns_the_cli_json_answer(http: httpx.Client, snapshot_settings) -> None:
    response = http.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert {"retrieve", "answer", "total"} <= set(answer["timings_ms"])
    assert without_timings(answer) == local(snapshot_settings, QUESTION)
    assert answer["status"] == "answered" and answer["as_of"] == "Winter 2021"


def test_history_turns_a_follow_up_into_the_earlier_topic(
    http: httpx.Client, snapshot_settings
) -> None:
    expected = local(snapshot_settings, FOLLOW_UP, history=[FIRST])
    assert expected["citations"][0]["heading_path"][-1] == "GP CPCS IT pilot"
    as_strings = http.post("/api/ask", json={"question": FOLLOW_UP, "history": [FIRST]})
    as_messages = http.post(
        "/api/ask",
        json={
            "question": FOLLOW_UP,
            "history": [
                {"role": "user", "content": FIRST},
                {"role": "assistant", "content": "It ran in ..."},
            ],
        },
    )
    assert without_timings(as_strings.json()) == expected
    assert without_timings(as_messages.json()) == expected


def test_season_and_topic_filters(http: httpx.Client) -> None:
    one = http.post(
        "/api/ask", json={"question": "What is NHSmail used for?", "season": "Autumn 2021"}
    )
    assert {h["season"] for h in one.json()["retrieved"]} == {"Autumn 2021"}
    several = http.post(
        "/api/ask",
        json={"question": "What is NHSmail used for?", "season": ["Summer 2021", "Autumn 2021"]},
    )
    assert {h["season"] for h in several.json()["retrieved"]} <= {"Summer 2021", "Autumn 2021"}
    topic = http.post("/api/ask", json={"question": "What is new?", "topic": "EPS and RTEC"})
    assert {h["heading_path"][0] for h in topic.json()["retrieved"]} == {"EPS and RTEC"}


def test_a_question_the_archive_lacks_is_a_200_not_covered(http: httpx.Client) -> None:
    response = http.post("/api/ask", json={"question": "What is the price of a pint of milk?"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "not_covered" and answer["abstained"] is True
    assert answer["citations"] == [] and answer["retrieved"]


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b"", JSON, 422, "the body is empty"),
        (b"{not json", JSON, 400, "the body is not valid JSON"),
        (b'{"question": "x"', JSON, 400, "the body is not valid JSON"),
        (b'["When?"]', JSON, 422, "the body must be a JSON object"),
        (b'{"question": "x"}', {"Content-Type": "text/plain"}, 415, "send the body as JSON"),
        (b'{"history": []}', JSON, 422, "missing field 'question'"),
        (b'{"questoin": "x"}', JSON, 422, "missing field 'question'"),
        (b'{"question": "x", "seasons": "Winter 2021"}', JSON, 422, "unknown field 'seasons'"),
        (b'{"question": 42}', JSON, 422, "question must be a string"),
        (b'{"question": ""}', JSON, 422, "bad question: the question is empty"),
        (b'{"question": "   "}', JSON, 422, "bad question: the question is empty"),
        (b'{"question": "<img src=x onerror=alert(1)>"}', JSON, 422, "the question is empty"),
        (('{"question": "' + "x" * 2001 + '"}').encode(), JSON, 422, "the limit is 2,000"),
        (b'{"question": "What is NHSmail?", "season": "Spring 1999"}', JSON, 422,
         "bad question: unknown season 'Spring 1999'"),
        (b'{"question": "What is NHSmail?", "season": 2021}', JSON, 422, "season must be"),
        (b'{"question": "What?", "history": "What is EPS?"}', JSON, 422, "history must be"),
        (b'{"question": "What?", "history": [{"role": "bot", "content": "x"}]}', JSON, 422,
         "history must be"),
        (('{"question": "What?", "history": [' + ",".join(['"q"'] * 21) + "]}").encode(), JSON,
         422, "history holds 21 turns; the limit is 20"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_4xx_with_one_error_line(
    http: httpx.Client, body: bytes, headers: dict, status: int, error: str
) -> None:
    response = http.post("/api/ask", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    assert error in response.json()["error"]
    assert "\n" not in response.json()["error"]


def test_the_body_is_capped_whether_or_not_its_length_is_declared(http: httpx.Client) -> None:
    huge = b'{"question": "' + b"x" * 70_000 + b'"}'  # over the 64 KiB default
    declared = http.post("/api/ask", content=huge, headers=JSON)
    assert declared.status_code == 413
    assert declared.json() == {"error": "the request body is over the 65,536-byte limit"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked, counted as it comes
        for start in range(0, len(huge), 8192):
            yield huge[start : start + 8192]

    streamed = httpx.post(http.base_url.join("/api/ask"), content=chunks(), headers=JSON)
    assert streamed.status_code == 413 and "limit" in streamed.json()["error"]
    assert http.post("/api/ask", json={"question": QUESTION}).status_code == 200  # still up


def test_health_names_the_build_its_counts_and_model(http: httpx.Client, snapshot_settings) -> None:
    from index.builds import read_index

    manifest = read_index(snapshot_settings.index_dir).manifest
    response = http.get("/api/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok" and health["build_id"] == manifest["build_id"]
    assert health["counts"] == manifest["counts"] and health["model"] == manifest["model"]
    assert health["vector_store"] == "embedded"
    assert health["seasons"] == ["Winter 2021", "Autumn 2021", "Summer 2021", "overview"]
    assert health["question_log"] == {"enabled": True, "retention_days": 90}


def test_openapi_documents_both_routes(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    assert {"/api/ask", "/api/health"} <= set(spec["paths"])
    ask = spec["paths"]["/api/ask"]["post"]
    assert {"200", "400", "413", "415", "422", "503"} <= set(ask["responses"])
    body = ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    request = spec["components"]["schemas"][body]
    assert request["required"] == ["question"]
    assert {"question", "history", "season", "topic"} == set(request["properties"])
    answer = spec["components"]["schemas"]["AnswerOut"]["properties"]
    assert {"status", "caveat", "key_spans", "citations", "retrieved"} <= set(answer)
    assert "503" in spec["paths"]["/api/health"]["get"]["responses"]
    assert http.get("/docs").status_code == 200


def test_the_readme_curl_call_works(app_server: AppServer) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    api = readme.split("## API", 1)[1]
    command = re.search(r"```sh\n(curl .*?)```", api, re.DOTALL).group(1)
    command = command.replace("http://127.0.0.1:7860", app_server.url.rstrip("/"))
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"status":"answered"' in done.stdout and "[1]" in done.stdout


def test_api_questions_are_logged_without_addresses(
    http: httpx.Client, app_server: AppServer
) -> None:
    question = "Is there any news about blockchain prescriptions?"
    logged = len(app_server.log())  # the server is shared: look at this test's lines only
    assert http.post("/api/ask", json={"question": question}).status_code == 200
    log = QuestionLog(app_server.feedback_db)
    [row] = [
        r for r in log.questions(("answered", "hedged", "not_covered")) if r["question"] == question
    ]
    assert row["channel"] == "api" and row["status"] in ("answered", "hedged", "not_covered")
    with sqlite3.connect(app_server.feedback_db) as conn:
        values = conn.execute("SELECT * FROM questions").fetchall()
    assert not any("127.0.0.1" in str(value) for row_ in values for value in row_)
    assert "127.0.0.1" not in app_server.log()[logged:]  # no access log line


# ---------------------------------------------------------------- index unavailable: 503


def test_no_index_is_a_503_and_the_app_recovers(snapshot_index_dir: Path, tmp_path: Path) -> None:
    index_dir = copy_index(snapshot_index_dir, tmp_path / "index")
    app = start_app(index_dir, tmp_path / "app")
    try:
        with httpx.Client(base_url=app.url, timeout=60) as client:
            assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
            current = (index_dir / "CURRENT").read_text()
            (index_dir / "CURRENT").unlink()  # the index is gone from under the app
            asked = client.post("/api/ask", json={"question": QUESTION})
            health = client.get("/api/health")
            (index_dir / "CURRENT").write_text(current)
            back = client.post("/api/ask", json={"question": QUESTION})
    finally:
        app.stop()
    assert asked.status_code == 503 and health.status_code == 503
    assert asked.json()["error"].startswith(f"no index in {index_dir}")
    assert "python -m ingest" in asked.json()["error"]
    assert health.json() == asked.json()
    assert back.status_code == 200
    assert "Traceback" not in app.log()


def test_a_chroma_server_down_is_a_503_and_the_app_recovers(
    tmp_path: Path, base_pages: Path
) -> None:
    server = ChromaServer(tmp_path / "chroma").start()
    try:
        index_dir = tmp_path / "index"
        build_in_process(base_pages, index_dir, chroma_url=server.url)
        question = "How often do NHSmail passwords expire?"
        app = start_app(index_dir, tmp_path / "app", extra_env={"ASSISTANT_CHROMA_URL": server.url})
        try:
            with httpx.Client(base_url=app.url, timeout=60) as client:
                before = client.post("/api/ask", json={"question": question})
                assert client.get("/api/health").json()["vector_store"] == server.url
                server.stop()
                asked = client.post("/api/ask", json={"question": question})
                health = client.get("/api/health")
                server.start()  # same port, same data
                after = client.post("/api/ask", json={"question": question})
        finally:
            app.stop()
    finally:
        server.stop()
    assert before.status_code == 200
    assert asked.status_code == 503 and health.status_code == 503
    for response in (asked, health):
        assert response.json()["error"].startswith(
            f"cannot reach the Chroma server at {server.url}"
        )
    assert after.status_code == 200
    assert without_timings(after.json()) == without_timings(before.json())
    assert "Traceback" not in app.log()


@pytest.fixture(scope="module")
def base_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The index tests' small bulletin page (three sections), for an index in a server."""
    from index_support import BASE_SECTIONS, write_page

    return write_page(tmp_path_factory.mktemp("base-pages"), BASE_SECTIONS).parent
