"""The index folder's builds: where they live, which one serves (CURRENT), and the ingest lock.

Layout under the index folder (ASSISTANT_INDEX_DIR):

    CURRENT                 name of the build that serves answers
    builds/<build_id>/      manifest.json, chunks.jsonl, sections.jsonl, bm25/,
                            vectors.npz (chunk embeddings), sentences.npz, words.npz,
                            chroma/ (embedded mode only)
    builds/.tmp-<build_id>/ a build being written, or the leftover of a killed ingest
    ingest.lock             held while an ingest runs (flock), with the holder's pid

A build is written into a new folder and only becomes CURRENT (an atomic rename) once it
is complete, so an interrupted, killed or failed ingest leaves the previous build serving.
The next ingest, holding the lock, deletes what a dead one left behind. A pruned build's
Chroma server collection is deleted with it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from index.chroma import collection_for, delete_collection
from index.errors import (
    REBUILD_HINT,
    CorruptIndexError,
    IngestLockedError,
    NoIndexError,
    rebuild_command,
)
from index.manifest import section_from_dict
from records import Chunk, Section, chunk_from_dict
from settings import Settings

KEEP_OLD_BUILDS = 1  # the build before CURRENT stays on disk, for a quick roll back


def new_build_id() -> str:
    """A fresh build name: UTC time to the second plus a random tag, e.g. 20250101T120000-ab12cd."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


@dataclass
class StoredIndex:
    """A loaded build: its manifest, chunks, sections and the paths of its stores."""

    build_dir: Path
    manifest: dict
    chunks: dict[str, Chunk]
    sections: list[Section]


def current_build_dir(index_dir: Path) -> Path:
    """Return the folder of the build that serves answers; raise NoIndexError if none."""
    current = Path(index_dir) / "CURRENT"
    if not current.exists():
        raise NoIndexError(f"no index in {index_dir}: {REBUILD_HINT}")
    try:
        name = current.read_text().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise CorruptIndexError(
            f"index in {index_dir} is unreadable (CURRENT: {error}): "
            f"rebuild it with: {rebuild_command(index_dir)}"
        ) from error
    build_dir = Path(index_dir) / "builds" / name
    if not name or "/" in name or not (build_dir / "manifest.json").exists():
        raise CorruptIndexError(
            f"index in {index_dir} is incomplete (missing builds/{name}/manifest.json): "
            f"rebuild it with: {rebuild_command(index_dir)}"
        )
    return build_dir


def read_index(index_dir: Path) -> StoredIndex:
    """Read the current build's manifest, chunks and sections (no models, no Chroma)."""
    build_dir = current_build_dir(index_dir)
    try:
        manifest = json.loads((build_dir / "manifest.json").read_text())
        if not isinstance(manifest, dict) or "collection" not in manifest:
            raise ValueError("manifest.json is not an index manifest")
        chunks = {c.id: c for c in map(chunk_from_dict, read_jsonl(build_dir / "chunks.jsonl"))}
        sections = [section_from_dict(d) for d in read_jsonl(build_dir / "sections.jsonl")]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise CorruptIndexError(
            f"index in {index_dir} is unreadable ({error.__class__.__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}): "
            f"rebuild it with: {rebuild_command(index_dir)}"
        ) from error
    if len(chunks) != manifest.get("counts", {}).get("chunks", len(chunks)):
        raise CorruptIndexError(
            f"index in {index_dir} is incomplete (chunks.jsonl holds {len(chunks)} chunks, "
            f"the manifest {manifest['counts']['chunks']}): "
            f"rebuild it with: {rebuild_command(index_dir)}"
        )
    return StoredIndex(build_dir, manifest, chunks, sections)


@contextmanager
def ingest_lock(index_dir: Path, wait: bool = False) -> Iterator[None]:
    """Hold the index folder's ingest lock: one ingest at a time, never two writers.

    flock is released by the kernel when its holder dies, so a SIGKILLed ingest never
    leaves a stale lock behind; the pid written inside is only for the message.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    lock_path = index_dir / "ingest.lock"
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.seek(0)
            holder = handle.read().strip()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise IngestLockedError(
                f"another ingest{who} is running on {index_dir} (lock: {lock_path}); "
                "wait for it to finish and try again"
            ) from error
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_name(index_dir: Path, default: str) -> str:
    """The name CURRENT holds, or default when there is none (or it cannot be read)."""
    try:
        return (index_dir / "CURRENT").read_text().strip() or default
    except OSError:
        return default


def set_current(index_dir: Path, build_id: str) -> None:
    """Point CURRENT at build_id with an atomic rename (readers see the old or the new)."""
    tmp = index_dir / f"CURRENT.tmp-{os.getpid()}"
    write_durably(tmp, build_id + "\n")
    os.replace(tmp, index_dir / "CURRENT")
    fsync_dir(index_dir)


def clean_leftovers(index_dir: Path, settings: Settings) -> None:
    """Remove what killed ingests left: half-written builds and CURRENT.tmp files.

    Called with the lock held, so nothing else is writing them.
    """
    for path in index_dir.glob("CURRENT.tmp-*"):
        path.unlink(missing_ok=True)
    builds = index_dir / "builds"
    if builds.is_dir():
        for path in builds.glob(".tmp-*"):
            drop_build(path, settings)


def discard_build(index_dir: Path, build_id: str, settings: Settings) -> None:
    """Delete a failed build's folder and collection, unless CURRENT already names it."""
    if current_name(index_dir, "") == build_id:
        return  # the switch happened (only its final fsync failed): the build serves
    for path in (index_dir / "builds" / f".tmp-{build_id}", index_dir / "builds" / build_id):
        if path.exists():
            drop_build(path, settings)
    if settings.chroma_url:
        delete_collection(settings.chroma_url, collection_for(build_id))


def prune_old_builds(
    index_dir: Path, current_id: str, previous_id: str | None, settings: Settings
) -> None:
    """Delete every build but CURRENT and the one it replaced, and failed ingests' leftovers."""
    keep = {current_id, previous_id} if KEEP_OLD_BUILDS else {current_id}
    for path in (index_dir / "builds").iterdir():
        if path.name not in keep and path.is_dir():
            drop_build(path, settings)


def drop_build(path: Path, settings: Settings) -> None:
    """Delete a build folder and, if it lived in a Chroma server, its collection."""
    url, collection = None, None
    manifest_path = path / "manifest.json"
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text())
            url, collection = manifest.get("chroma_url"), manifest.get("collection")
        except (OSError, ValueError, AttributeError):
            pass
    elif path.name.startswith(".tmp-") and settings.chroma_url:
        url, collection = settings.chroma_url, collection_for(path.name[len(".tmp-") :])
    if url and collection:
        delete_collection(url, collection)
    shutil.rmtree(path, ignore_errors=True)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write one JSON object per line."""
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    """Read one JSON object per non-empty line."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_durably(path: Path, text: str) -> None:
    """Write a small file and fsync it, so a rename after it never exposes an empty file."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries to disk, so a rename in it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
