"""The index's errors, each reported by the CLIs as one line, and the words that explain them."""

from __future__ import annotations

import os
from pathlib import Path

REBUILD_HINT = "build one with: python -m ingest   (or: make run)"
LOW_DISK_BYTES = 1 << 20  # less than 1 MB free after a failed write: call it a full disk


class IndexError_(Exception):
    """Base for index problems that the CLI reports as one line."""


class NoIndexError(IndexError_):
    """No index has been built in the index folder yet."""


class CorruptIndexError(IndexError_):
    """The index folder exists but a build is unreadable or incomplete."""


class IngestLockedError(IndexError_):
    """Another ingest holds the lock on this index folder."""


class IndexUnavailableError(IndexError_):
    """The index's vector store cannot be reached (e.g. the Chroma server is down)."""


class IndexWriteError(IndexError_):
    """An ingest could not write its build (full disk, read-only folder, store error)."""


def rebuild_command(index_dir: Path | str) -> str:
    """Return the command that rebuilds this index folder, e.g. "python -m ingest"."""
    if Path(index_dir) == Path("index_store"):
        return "python -m ingest"
    return f"python -m ingest --index-dir {index_dir}"


def write_error(index_dir: Path | str, reason: str) -> IndexWriteError:
    """The one-line IndexWriteError for a write under index_dir that failed for reason."""
    return IndexWriteError(
        f"could not write the index in {index_dir} ({reason}); the previous index is unchanged"
    )


def failure_reason(path: Path, error: BaseException) -> str:
    """Why a write failed, in words: the OS error, or the state of the disk under path.

    Chroma hides the OS error ("Error in compaction ..."), so a full or read-only file
    system is recognised from statvfs: under 1 MB free, or the ST_RDONLY flag.
    """
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        stat = os.statvfs(probe)
        if stat.f_flag & os.ST_RDONLY:
            return "Read-only file system"
        if stat.f_bavail * stat.f_frsize < LOW_DISK_BYTES:
            return "No space left on device"
    except OSError:
        pass
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__
