"""An ingest killed with SIGKILL at any point leaves the previous index serving the same answers.

Each case starts a real `python -m ingest` command on a copy of the base index and kills
it -9 at one stage, seen from outside: after a delay, or when the build folder shows it
has reached a step (its temp folder, Chroma's SQLite file, BM25's folder, the manifest
that is written last before the switch). Every command that writes is covered: add
(the --path shorthand, at every stage), refresh and remove.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from index_support import (
    BASE_SECTIONS,
    REPO_ROOT,
    answer_json,
    build_in_process,
    cli_env,
    comparable,
    copy_index,
    edited_sections,
    write_page,
)

from index.builds import current_build_dir, read_index
from index.search import forget_index
from ingest.update import AddRequest, update
from settings import load_settings


def _tmp_has(name: str) -> Callable[[Path, float], bool]:
    def reached(index_dir: Path, _elapsed: float) -> bool:
        return any((tmp / name).exists() for tmp in (index_dir / "builds").glob(".tmp-*"))

    return reached


def _after(seconds: float) -> Callable[[Path, float], bool]:
    return lambda _index_dir, elapsed: elapsed >= seconds


def _tmp_started(index_dir: Path, _elapsed: float) -> bool:
    return any((index_dir / "builds").glob(".tmp-*"))


# stage -> (when to kill, must the old build still serve?). Killed just before the switch,
# the ingest may already have renamed its build and moved CURRENT: either build may serve.
KILL_POINTS: dict[str, tuple[Callable[[Path, float], bool], bool]] = {
    "while starting up (1.5 s)": (_after(1.5), True),
    "while embedding": (_tmp_started, True),
    "while writing Chroma": (_tmp_has("chroma/chroma.sqlite3"), True),
    "while writing BM25": (_tmp_has("bm25"), True),
    "just before the switch": (_tmp_has("manifest.json"), False),
}
# The other commands at the stages where their work differs from add's.
OTHER_COMMANDS = ("refresh", "remove")
OTHER_STAGES = ("while starting up (1.5 s)", "while writing Chroma", "just before the switch")
CASES = [("add", stage) for stage in KILL_POINTS] + [
    (command, stage) for command in OTHER_COMMANDS for stage in OTHER_STAGES
]


@pytest.fixture(scope="module")
def edited_answer(tmp_path_factory: pytest.TempPathFactory, edited_pages: Path) -> dict:
    """The answer an index of the edited pages gives (what a finished ingest serves)."""
    index_dir = tmp_path_factory.mktemp("edited-index") / "index"
    build_in_process(edited_pages, index_dir)
    return comparable(answer_json(index_dir))


@pytest.fixture(scope="module")
def base_answer(base_index: Path) -> dict:
    """The answer the base index gives."""
    return comparable(answer_json(base_index))


def _kill_at(index_dir: Path, argv: list[str], reached: Callable[[Path, float], bool]) -> str:
    """Run `python -m ingest ARGV` and SIGKILL it when reached() says so; say what happened."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", *argv, "--quiet", "--index-dir", str(index_dir)],
        cwd=REPO_ROOT,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    started = time.monotonic()
    try:
        while process.poll() is None:
            if reached(index_dir, time.monotonic() - started):
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return "killed"
            if time.monotonic() - started > 300:
                raise AssertionError("the ingest neither reached the stage nor finished")
            time.sleep(0.001)
        return f"finished first (exit {process.returncode})"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@dataclass
class KilledRun:
    """One killed ingest: its index copy, the command, what served before, how it went."""

    command: str
    index_dir: Path
    argv: list[str]
    old_build: str
    before: dict
    outcome: str = ""


def _prepare(command: str, index_dir: Path, pages: Path, edited_pages: Path) -> list[str]:
    """Set the copy up for the command and return the command's arguments.

    add: the edited pages replace the base ones. refresh: a registered folder of the
    base page is edited in place first. remove: the edited pages were added, and go.
    """
    settings = load_settings(index_dir=index_dir)
    if command == "add":
        return ["--path", str(edited_pages)]
    if command == "refresh":
        write_page(pages, BASE_SECTIONS)
        update(settings, add=[AddRequest(str(pages))], progress=False)
        write_page(pages, edited_sections())
        return ["refresh"]
    update(settings, add=[AddRequest(str(edited_pages))], progress=False)
    return ["remove", str(edited_pages)]


@pytest.fixture(scope="module")
def killed_runs(
    tmp_path_factory: pytest.TempPathFactory, base_index: Path, edited_pages: Path
) -> dict[tuple[str, str], KilledRun]:
    """Every case, each on its own copy of the base index, run side by side.

    Each ingest spends ~10 s loading torch and the model before it writes; running the
    cases together pays that about twice in wall time instead of once per case.
    """
    runs = {}
    for number, (command, stage) in enumerate(CASES):
        folder = tmp_path_factory.mktemp(f"kill-{number}")
        index_dir = copy_index(base_index, folder / "index")
        argv = _prepare(command, index_dir, folder / "pages", edited_pages)
        forget_index()
        runs[command, stage] = KilledRun(
            command,
            index_dir,
            argv,
            current_build_dir(index_dir).name,
            comparable(answer_json(index_dir)),
        )

    # At most six at a time: on two cores, more starve the watching threads, and a stage
    # that lasts a few milliseconds (BM25's folder) passes unseen.
    slots = threading.Semaphore(6)

    def run(case: tuple[str, str]) -> None:
        killed = runs[case]
        with slots:
            killed.outcome = _kill_at(killed.index_dir, killed.argv, KILL_POINTS[case[1]][0])

    workers = [threading.Thread(target=run, args=(case,)) for case in CASES]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    return runs


@pytest.mark.parametrize("case", CASES, ids=[f"{c} {s}" for c, s in CASES])
def test_sigkill_leaves_the_previous_index_serving(
    case: tuple[str, str],
    killed_runs: dict[tuple[str, str], KilledRun],
    edited_answer: dict,
    base_answer: dict,
) -> None:
    run = killed_runs[case]
    index_dir = run.index_dir
    old_must_serve = KILL_POINTS[case[1]][1]
    finished = base_answer if run.command == "remove" else edited_answer

    forget_index()  # answer from what is on disk now, not from memory
    serving = current_build_dir(index_dir).name
    if old_must_serve:
        assert run.outcome == "killed"
        assert serving == run.old_build
    if serving == run.old_build:
        assert comparable(answer_json(index_dir)) == run.before
    else:  # the kill came after the switch: the new build is whole and serves
        stored = read_index(index_dir)
        assert stored.manifest["counts"]["chunks"] == len(stored.chunks)
        assert comparable(answer_json(index_dir)) == finished

    # The same command again (or, when the killed one got as far as removing its source,
    # a plain build) succeeds and clears what the killed one left behind.
    settings = load_settings(index_dir=index_dir)
    registered = {s["location"] for s in read_index(index_dir).manifest["sources"]}
    if run.command == "remove" and run.argv[1] in registered:
        update(settings, remove=[run.argv[1]], refresh=[], progress=False)
    elif run.command == "add":
        update(settings, add=[AddRequest(run.argv[1])], refresh=[], progress=False)
    else:
        update(settings, refresh=None, progress=False)
    assert not list((index_dir / "builds").glob(".tmp-*"))
    assert not list(index_dir.glob("CURRENT.tmp-*"))
    assert len(list((index_dir / "builds").iterdir())) <= 2
    forget_index()
    assert comparable(answer_json(index_dir)) == finished
