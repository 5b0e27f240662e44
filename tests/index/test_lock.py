"""One ingest at a time: a second one refuses clearly (or waits), and never corrupts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from index_support import REPO_ROOT, build_in_process, cli_env, collection_count, run_cli

from index.builds import current_build_dir, ingest_lock, read_index
from index.errors import IngestLockedError


def test_second_ingest_refuses_while_one_runs(index_copy: Path, edited_pages: Path) -> None:
    before = current_build_dir(index_copy).name
    with ingest_lock(index_copy):
        done = run_cli(
            "ingest", "--quiet", "--path", str(edited_pages), "--index-dir", str(index_copy)
        )

    assert done.returncode == 4
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: another ingest (pid ")
    assert "is running on" in lines[0]
    assert current_build_dir(index_copy).name == before


def test_the_lock_covers_reading_the_previous_build(index_copy: Path, edited_pages: Path) -> None:
    # build() must not read (and diff against) the serving build before it holds the lock.
    with ingest_lock(index_copy), pytest.raises(IngestLockedError):
        build_in_process(edited_pages, index_copy)


def waiting_for_lock(lock_file: Path) -> bool:
    """True when some process or thread is blocked waiting for lock_file's flock.

    The kernel lists a blocked request in /proc/locks with "->" before its lock type, and
    the file's device and inode: "1: -> FLOCK ADVISORY WRITE 123 00:2a:4711 0 EOF".
    """
    info = lock_file.stat()
    inode = f":{info.st_ino} "
    return any(
        "->" in line and inode in line for line in Path("/proc/locks").read_text().splitlines()
    )


def test_a_waiting_ingest_runs_when_the_lock_is_released(
    index_copy: Path, edited_pages: Path
) -> None:
    events: list[str] = []
    before = current_build_dir(index_copy).name

    def wait_and_build() -> None:
        outcome = build_in_process(edited_pages, index_copy, wait=True)
        events.append("built")
        events.append(outcome)

    with ingest_lock(index_copy):
        worker = threading.Thread(target=wait_and_build)
        worker.start()
        for _ in range(10_000):  # until the worker is blocked on the lock (bounded)
            if waiting_for_lock(index_copy / "ingest.lock") or not worker.is_alive():
                break
            time.sleep(0.01)
        assert waiting_for_lock(index_copy / "ingest.lock")  # it waits on the lock...
        assert events == [] and current_build_dir(index_copy).name == before  # ...doing nothing
        events.append("released")
    worker.join()

    assert events[:2] == ["released", "built"]  # it built only once the lock was free
    outcome = events[2]
    assert outcome.written
    assert outcome.changes.sections_added == ["Winter 2021 > Summary Care Record"]


def test_a_killed_lock_holder_does_not_block_the_next_ingest(
    index_copy: Path, edited_pages: Path
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from index.builds import ingest_lock\n"
            "with ingest_lock(Path(sys.argv[1])):\n"
            "    print('locked', flush=True)\n"
            "    time.sleep(600)\n",
            str(index_copy),
        ],
        cwd=REPO_ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(IngestLockedError):
            build_in_process(edited_pages, index_copy)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()

    assert build_in_process(edited_pages, index_copy).written


def test_concurrent_ingests_leave_one_whole_index(
    index_copy: Path, base_pages: Path, edited_pages: Path
) -> None:
    """Ingests started together: each finishes or refuses, and the index stays whole."""
    start = threading.Barrier(3)
    outcomes: list[object] = []

    def run(pages: Path) -> None:
        start.wait()
        try:
            outcomes.append(build_in_process(pages, index_copy))
        except IngestLockedError as error:
            outcomes.append(error)

    workers = [threading.Thread(target=run, args=(p,)) for p in (edited_pages, base_pages)]
    workers.append(threading.Thread(target=run, args=(edited_pages,)))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert len(outcomes) == 3
    assert any(isinstance(o, IngestLockedError) for o in outcomes)  # three at once: overlap
    stored = read_index(index_copy)
    ids = [
        json.loads(line)["id"]
        for line in (stored.build_dir / "chunks.jsonl").read_text().splitlines()
    ]
    assert len(ids) == len(set(ids)) == stored.manifest["counts"]["chunks"]
    assert collection_count(index_copy) == len(ids)
    assert not list((index_copy / "builds").glob(".tmp-*"))
