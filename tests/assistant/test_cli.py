"""Tests for `python -m assistant ask`: JSON and human output, batches, exit codes, errors.

Four real subprocesses run side by side (one loads the model); the remaining cases call
assistant.__main__.main in-process, where the session's model and index are already loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant import ask
from assistant.__main__ import main

REPO = Path(__file__).resolve().parents[2]
MYS = "When does MYS become compulsory for FP34C?"
BATCH = [
    {"id": "q1", "question": MYS},
    {"id": 2, "question": "   "},
    {"id": "q3", "question": "Who won the FA Cup in 1990?"},
    {"id": "q4", "question": "What is CIS2?"},
]
ANSWER_FIELDS = {
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


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def runs(snapshot_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run every subprocess case at once; return their results and the paths they used."""
    work = tmp_path_factory.mktemp("assistant-cli")
    bad_batch = work / "bad.jsonl"
    bad_batch.write_text(
        json.dumps({"id": "a", "question": "What is EPS?"}) + "\n{not json\n", encoding="utf-8"
    )
    empty_index = work / "no-index"
    empty_index.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["ASSISTANT_INDEX_DIR"] = str(snapshot_index_dir)
    cases = {
        "json": (["ask", MYS, "--json"], env),
        "empty": (["ask", "", "--json"], env),
        "bad_batch": (["ask", "--batch", str(bad_batch), "--json"], env),
        "no_index": (["ask", MYS], {**env, "ASSISTANT_INDEX_DIR": str(empty_index)}),
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "assistant", *args],
            cwd=REPO,
            env=case_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (args, case_env) in cases.items()
    }
    results: dict = {}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=240)
            results[name] = Run(proc.returncode, out, err)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    results["paths"] = {"bad_batch": bad_batch, "no_index": empty_index}
    return results


def assert_one_error_line(run: Run, code: int) -> str:
    assert run.code == code, run
    assert run.out == ""
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


# ---------------------------------------------------------------- subprocesses


def test_json_answer_is_the_only_stdout(runs: dict) -> None:
    done = runs["json"]
    assert done.code == 0, done.err
    assert "Traceback" not in done.err
    assert done.out.endswith("\n") and done.out.count("\n") == 1
    data = json.loads(done.out)
    assert set(data) == ANSWER_FIELDS
    assert data["question"] == MYS
    assert data["abstained"] is False
    assert data["as_of"] == "Winter 2021"
    assert "Manage Your Service (MYS) portal will become compulsory. [1]" in data["answer"]
    first = data["citations"][0]
    assert (first["n"], first["season"], first["heading_path"]) == (
        1,
        "Winter 2021",
        ["Reducing burden"],
    )
    assert first["url"].endswith("#winter-2021-reducing-burden")
    assert 1 <= len(data["retrieved"]) <= 10
    assert set(data["timings_ms"]) == {"retrieve", "answer", "total"}


def test_batch_gives_one_json_line_per_question_in_order(
    snapshot_index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "questions.jsonl"
    batch.write_text("".join(json.dumps(item) + "\n" for item in BATCH), encoding="utf-8")
    code = main(["ask", "--batch", str(batch), "--json", "--index-dir", str(snapshot_index_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["id"] for row in rows] == [item["id"] for item in BATCH]
    assert [row["question"] for row in rows] == [item["question"] for item in BATCH]
    answered, bad, abstained, cis2 = rows
    assert set(answered) == {"id"} | ANSWER_FIELDS
    assert answered["as_of"] == "Winter 2021" and not answered["abstained"]
    assert bad == {"id": 2, "question": "   ", "error": "the question is empty"}
    assert abstained["abstained"] is True and abstained["citations"] == []
    assert abstained["as_of"] is None
    assert not cis2["abstained"]
    assert cis2["citations"][0]["season"] == "Summer 2021"


def test_empty_question_is_bad_input(runs: dict) -> None:
    line = assert_one_error_line(runs["empty"], 2)
    assert line == "error: the question is empty"


def test_bad_jsonl_line_is_bad_input(runs: dict) -> None:
    line = assert_one_error_line(runs["bad_batch"], 2)
    path = runs["paths"]["bad_batch"]
    assert line.startswith(f"error: {path}:2: not JSON (")


def test_no_index_exits_3_and_says_how_to_build_one(runs: dict) -> None:
    line = assert_one_error_line(runs["no_index"], 3)
    assert str(runs["paths"]["no_index"]) in line
    assert "python -m ingest" in line


# ---------------------------------------------------------------- in-process


def test_human_output_shows_the_answer_then_numbered_sources(
    snapshot_index_dir: Path, snapshot_settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["ask", MYS, "--index-dir", str(snapshot_index_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert "Manage Your Service (MYS) portal will become compulsory. [1]" in lines[0]
    sources = lines.index("As of the Winter 2021 bulletin.")
    # The answer first, as ask() gives it, a blank line, then the sources.
    assert lines[:sources] == [*ask(MYS, settings=snapshot_settings).answer.split("\n"), ""]
    assert lines[sources + 1] == "[1] Winter 2021 > Reducing burden"
    assert lines[sources + 2].strip().startswith("https://archive.psnc.org.uk/")
    assert lines[sources + 2].endswith("#winter-2021-reducing-burden")
    numbered = [line for line in lines[sources + 1 :] if line.startswith("[")]
    assert [line.split("]")[0] for line in numbered] == [
        f"[{n}" for n in range(1, len(numbered) + 1)
    ]
    assert not out.lstrip().startswith("{")


def test_unknown_season_is_bad_input(
    snapshot_index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["ask", "What is EPS?", "--season", "Spring 2030", "--index-dir", str(snapshot_index_dir)]
    )
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("error: unknown season 'Spring 2030'; the index has: ")
    assert err.count("\n") == 1


def test_season_flag_filters(snapshot_index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "ask",
            "What is EPS?",
            "--season",
            "Autumn 2021",
            "--json",
            "--index-dir",
            str(snapshot_index_dir),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert {c["season"] for c in data["citations"]} == {"Autumn 2021"}
    assert {r["season"] for r in data["retrieved"]} == {"Autumn 2021"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask"], "error: give a question or --batch FILE.jsonl (not both)"),
        (["ask", "--json"], "error: give a question or --batch FILE.jsonl (not both)"),
        (
            ["ask", "What is EPS?", "--batch", "questions.jsonl"],
            "error: give a question or --batch FILE.jsonl (not both)",
        ),
    ],
)
def test_question_or_batch_is_required(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", message + "\n")


def test_missing_batch_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.jsonl"
    code = main(["ask", "--batch", str(missing), "--json"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"error: cannot read {missing}: No such file or directory\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"question": "What is EPS?"}\n', 'each line needs {"id", "question"}'),
        ('{"id": 1, "question": 5}\n', 'each line needs {"id", "question"}'),
        ('["id", "question"]\n', 'each line needs {"id", "question"}'),
        (
            '{"id": 1, "question": "and in winter?", "history": "NHS App?"}\n',
            "history must be a list of earlier questions",
        ),
        (
            '{"id": 1, "question": "What is EPS?", "season": 2021}\n',
            "season must be a season name or a list of them",
        ),
    ],
)
def test_batch_lines_need_id_and_question(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text(content, encoding="utf-8")
    code = main(["ask", "--batch", str(batch), "--json"])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", f"error: {batch}:1: {problem}\n")


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_batch_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    batch = tmp_path / "empty.jsonl"
    batch.write_text(content, encoding="utf-8")
    code = main(["ask", "--batch", str(batch), "--json"])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", f"error: {batch} holds no questions\n")


def test_batch_lines_carry_history_and_season(
    snapshot_index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = ["How many people use the NHS App?", "and in the autumn update?"]
    lines = [
        {"id": "a", "question": "and in winter?", "history": chain},
        {"id": "b", "question": "What is EPS?", "season": "Autumn 2021"},
        {"id": "c", "question": "What is EPS?", "season": ["Summer 2021"]},
    ]
    batch = tmp_path / "chain.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    code = main(["ask", "--batch", str(batch), "--json", "--index-dir", str(snapshot_index_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    winter, autumn, summer = (json.loads(line) for line in out.splitlines())
    assert winter["status"] == "answered", winter["answer"]
    assert "16 million users" in winter["answer"] and winter["as_of"] == "Winter 2021"
    assert {r["season"] for r in autumn["retrieved"]} == {"Autumn 2021"}
    assert {r["season"] for r in summer["retrieved"]} == {"Summer 2021"}


def test_unknown_flag_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["ask", "What is EPS?", "--bogus"])
    out, err = capsys.readouterr()
    assert caught.value.code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
