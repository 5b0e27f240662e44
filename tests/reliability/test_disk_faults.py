"""A full disk or a read-only index folder fails the ingest with one clear line, and the
previous index keeps serving the same answers.

The faults are real: a read-only bind mount and a small tmpfs filled up (the tests run as
root, which ignores permission bits, so chmod would prove nothing). Where mount is not
permitted, `chattr +i` stands in for the read-only folder, and RLIMIT_FSIZE (writes fail
with EFBIG) for the full disk; that one runs everywhere.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from index_support import answer_json, build_in_process, comparable, copy_index, run_cli

from index.builds import current_build_dir
from index.errors import IndexWriteError
from index.search import forget_index


def _run(*command: str) -> bool:
    return subprocess.run(command, capture_output=True).returncode == 0


def _unmount(mount_point: Path) -> None:
    """Unmount, lazily if something still holds a file open (never leave a mount behind)."""
    forget_index()  # closes the in-process Chroma client and its SQLite files
    if not _run("umount", str(mount_point)):
        _run("umount", "-l", str(mount_point))


def _ingest(pages: Path, index_dir: Path, **popen) -> subprocess.CompletedProcess:
    return run_cli(
        "ingest", "--quiet", "--path", str(pages), "--index-dir", str(index_dir), **popen
    )


def _command(argv: list[str], index_dir: Path, **popen) -> subprocess.CompletedProcess:
    """Run `python -m ingest ARGV --quiet --index-dir DIR`."""
    return run_cli("ingest", *argv, "--quiet", "--index-dir", str(index_dir), **popen)


# The source commands that write, as run on a copy of the base index. refresh and remove
# need a second source registered first (the edited pages, added in process).
SOURCE_COMMANDS = {
    "refresh": ["refresh"],
    "remove the edited pages": ["remove", "{edited}"],
    "add a PDF": ["add", "{pdf}"],
}
PDF = Path(__file__).resolve().parents[1] / "stub_data" / "pdf" / "bulletin-spring-2023.pdf"


def _with_edited_pages(index_dir: Path, edited_pages: Path) -> None:
    from ingest.update import AddRequest, update
    from settings import load_settings

    update(load_settings(index_dir=index_dir), add=[AddRequest(str(edited_pages))],
           progress=False)  # fmt: skip
    forget_index()


def _argv(name: str, edited_pages: Path) -> list[str]:
    return [a.format(edited=edited_pages, pdf=PDF) for a in SOURCE_COMMANDS[name]]


def _assert_clean_failure(done: subprocess.CompletedProcess, reason: str) -> None:
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: could not write the ")
    assert f"({reason})" in lines[0]
    assert lines[0].endswith("the previous index is unchanged")


def _assert_previous_serves(index_dir: Path, build_id: str, answer: dict) -> None:
    assert current_build_dir(index_dir).name == build_id
    assert not list((index_dir / "builds").glob(".tmp-*"))
    forget_index()
    assert comparable(answer_json(index_dir)) == answer


@pytest.fixture
def read_only_index(base_index: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the base index that cannot be written: a read-only bind mount."""
    source = copy_index(base_index, tmp_path / "index")
    mount_point = tmp_path / "read-only"
    mount_point.mkdir()
    if _run("mount", "--bind", str(source), str(mount_point)):
        try:
            if not _run("mount", "-o", "remount,bind,ro", str(mount_point)):
                pytest.skip("cannot remount a bind mount read-only here")
            yield mount_point
        finally:
            _unmount(mount_point)
        return
    # No mount permission: make the folders immutable instead (root cannot write either).
    folders = [source, source / "builds"]
    if not all(_run("chattr", "+i", str(folder)) for folder in folders):
        for folder in folders:
            _run("chattr", "-i", str(folder))
        pytest.skip("neither mount nor chattr +i is permitted here")
    try:
        yield source
    finally:
        forget_index()
        for folder in folders:
            _run("chattr", "-i", str(folder))


def test_read_only_index_folder_fails_the_ingest_cleanly(
    read_only_index: Path, edited_pages: Path
) -> None:
    build_id = current_build_dir(read_only_index).name
    before = comparable(answer_json(read_only_index))
    is_mount = os.statvfs(read_only_index).f_flag & os.ST_RDONLY

    done = _ingest(edited_pages, read_only_index)

    _assert_clean_failure(done, "Read-only file system" if is_mount else "Operation not permitted")
    # And the read-only index still answers (embedded Chroma is opened from a scratch copy).
    _assert_previous_serves(read_only_index, build_id, before)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs mounted for the test."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if not _run("mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)):
        pytest.skip("mount -t tmpfs is not permitted here (the RLIMIT_FSIZE test still runs)")
    try:
        yield mount_point
    finally:
        _unmount(mount_point)


def _fill(disk: Path, leave_bytes: int) -> Path:
    """Fill the file system with one file, leaving about leave_bytes free."""
    stat = os.statvfs(disk)
    size = stat.f_bavail * stat.f_frsize - leave_bytes
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, size)
    return filler


def test_full_disk_fails_the_ingest_cleanly(
    small_disk: Path, base_index: Path, edited_pages: Path
) -> None:
    index_dir = copy_index(base_index, small_disk / "index")
    build_id = current_build_dir(index_dir).name
    before = comparable(answer_json(index_dir))
    forget_index()
    filler = _fill(small_disk, leave_bytes=128 * 1024)  # a build needs ~1 MB

    # In-process (the CLI prints the same error as its one line: see the tests above).
    with pytest.raises(IndexWriteError) as caught:
        build_in_process(edited_pages, index_dir)

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("could not write the ")
    assert "(No space left on device)" in message
    assert message.endswith("the previous index is unchanged")
    _assert_previous_serves(index_dir, build_id, before)
    # With space again, the same ingest goes through.
    forget_index()
    filler.unlink()
    assert build_in_process(edited_pages, index_dir).written


def _limit_file_size() -> None:
    """In the child: writes past 64 KB fail with EFBIG (SIGXFSZ ignored, so no kill)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_file_size_limit_fails_the_ingest_cleanly(index_copy: Path, edited_pages: Path) -> None:
    build_id = current_build_dir(index_copy).name
    before = comparable(answer_json(index_copy))

    done = _ingest(edited_pages, index_copy, preexec_fn=_limit_file_size)

    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: could not write the ")
    assert lines[0].endswith("the previous index is unchanged")
    _assert_previous_serves(index_copy, build_id, before)


@pytest.mark.parametrize("name", list(SOURCE_COMMANDS))
def test_source_commands_on_a_read_only_index_fail_cleanly(
    name: str, base_index: Path, edited_pages: Path, tmp_path: Path
) -> None:
    source = copy_index(base_index, tmp_path / "index")
    _with_edited_pages(source, edited_pages)
    mount_point = tmp_path / "read-only"
    mount_point.mkdir()
    if not (
        _run("mount", "--bind", str(source), str(mount_point))
        and _run("mount", "-o", "remount,bind,ro", str(mount_point))
    ):
        _run("umount", str(mount_point))
        pytest.skip("cannot remount a bind mount read-only here (the size-limit test runs)")
    try:
        build_id = current_build_dir(mount_point).name
        before = comparable(answer_json(mount_point))
        done = _command(_argv(name, edited_pages), mount_point)
        _assert_clean_failure(done, "Read-only file system")
        _assert_previous_serves(mount_point, build_id, before)
    finally:
        _unmount(mount_point)


@pytest.mark.parametrize("name", list(SOURCE_COMMANDS))
def test_source_commands_under_a_file_size_limit_fail_cleanly(
    name: str, index_copy: Path, edited_pages: Path
) -> None:
    _with_edited_pages(index_copy, edited_pages)
    if name == "refresh":  # something to rebuild: the registered edited page changes back
        from index_support import BASE_SECTIONS, write_page

        changed = index_copy.parent / "changed"
        shutil.copytree(edited_pages, changed)
        _with_edited_pages(index_copy, changed)
        write_page(changed, BASE_SECTIONS)
    build_id = current_build_dir(index_copy).name
    before = comparable(answer_json(index_copy))

    done = _command(_argv(name, edited_pages), index_copy, preexec_fn=_limit_file_size)

    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: could not write the ")
    assert lines[0].endswith("the previous index is unchanged")
    _assert_previous_serves(index_copy, build_id, before)
