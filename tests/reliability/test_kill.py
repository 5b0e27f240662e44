"""An ingest killed with SIGKILL at any point leaves the previous index serving the same answers.

Each case starts a real `python -m ingest` of the edited pages on a copy of the base
index and kills it -9 at one stage, seen from outside: after a delay, or when the build
folder shows it has reached a step (its temp folder, Chroma's SQLite file, BM25's
folder, the manifest that is written last before the switch).
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
    REPO_ROOT,
    answer_json,
    build_in_process,
    cli_env,
    comparable,
    copy_index,
)

from index.builds import current_build_dir, read_index
from index.search import forget_index


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


@pytest.fixture(scope="module")
def edited_answer(tmp_path_factory: pytest.TempPathFactory, edited_pages: Path) -> dict:
    """The answer an index of the edited pages gives (what a finished ingest serves)."""
    index_dir = tmp_path_factory.mktemp("edited-index") / "index"
    build_in_process(edited_pages, index_dir)
    return comparable(answer_json(index_dir))


def _kill_at(index_dir: Path, pages: Path, reached: Callable[[Path, float], bool]) -> str:
    """Run the ingest and SIGKILL it when reached() says so; return what happened."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", "--quiet", "--path", str(pages), "--index-dir",
         str(index_dir)],
        cwd=REPO_ROOT,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    started = time.monotonic()
    try:
        while process.poll() is None:
            if reached(index_dir, time.monotonic() - started):
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return "killed"
            if time.monotonic() - started > 180:
                raise AssertionError("the ingest neither reached the stage nor finished")
            time.sleep(0.001)
        return f"finished first (exit {process.returncode})"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@dataclass
class KilledRun:
    """One killed ingest: its index copy, what served before, and how the kill went."""

    index_dir: Path
    old_build: str
    before: dict
    outcome: str = ""


@pytest.fixture(scope="module")
def killed_runs(
    tmp_path_factory: pytest.TempPathFactory, base_index: Path, edited_pages: Path
) -> dict[str, KilledRun]:
    """Every kill point, each on its own copy of the base index, run side by side.

    Each ingest spends ~10 s loading torch and the model before it writes; running the
    cases together pays that once in wall time instead of five times.
    """
    runs = {}
    for number, stage in enumerate(KILL_POINTS):
        index_dir = copy_index(base_index, tmp_path_factory.mktemp(f"kill-{number}") / "index")
        runs[stage] = KilledRun(
            index_dir, current_build_dir(index_dir).name, comparable(answer_json(index_dir))
        )

    def run(stage: str) -> None:
        runs[stage].outcome = _kill_at(runs[stage].index_dir, edited_pages, KILL_POINTS[stage][0])

    workers = [threading.Thread(target=run, args=(stage,)) for stage in KILL_POINTS]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    return runs


@pytest.mark.parametrize("stage", list(KILL_POINTS))
def test_sigkill_leaves_the_previous_index_serving(
    stage: str, killed_runs: dict[str, KilledRun], edited_pages: Path, edited_answer: dict
) -> None:
    run = killed_runs[stage]
    index_dir = run.index_dir
    old_must_serve = KILL_POINTS[stage][1]

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
        assert comparable(answer_json(index_dir)) == edited_answer

    # The next ingest succeeds and clears what the killed one left behind.
    build_in_process(edited_pages, index_dir)
    assert not list((index_dir / "builds").glob(".tmp-*"))
    assert not list(index_dir.glob("CURRENT.tmp-*"))
    assert len(list((index_dir / "builds").iterdir())) <= 2
    forget_index()
    assert comparable(answer_json(index_dir)) == edited_answer
