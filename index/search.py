"""Open a built index for querying: the llama-index dense and BM25 retrievers over one build.

Everything heavy (the embedding model, Chroma, BM25) is loaded once here and shared by
every question; assistant/retrieve drives the retrievers.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from index.bm25 import load_bm25
from index.builds import StoredIndex, read_index
from index.checks import check_build, probe_collection
from index.chroma import chroma_client, connection_reason, is_connection_error, unreachable_message
from index.errors import CorruptIndexError, IndexUnavailableError, rebuild_command
from index.vectors import load_sentence_table, load_vectors
from records import Chunk, Section
from settings import Settings

__all__ = ["IndexUnavailableError", "SearchIndex", "forget_index", "open_index"]

T = TypeVar("T")
# BM25 ranks this many passages per question (all of a small index); set once at load,
# since the retriever is shared by every request and must not change per call.
BM25_TOP_K = 200


@dataclass
class SearchIndex:
    """A loaded build: chunks, sections, retrievers, and sentence vectors for the composer."""

    settings: Settings
    stored: StoredIndex
    vector_index: object  # llama_index VectorStoreIndex over the build's Chroma collection
    collection: object  # that Chroma collection (guarded in server mode), for nearest()
    bm25: object  # llama_index BM25Retriever
    sentence_rows: dict[str, int]
    sentence_vectors: np.ndarray
    # The build's word vectors (words.npz): empty for a build from before the file, whose
    # words the reader embeds on first use instead.
    stored_words: dict[str, np.ndarray] = field(default_factory=dict)
    # What close() releases: the Chroma client (its SQLite files) and any scratch copy.
    resources: list = field(default_factory=list, repr=False)
    # Tables the assistant derives from this build (sentence matrices, IDF), made once on
    # first use and dropped with the build, so a question still answering from an old
    # build keeps its own tables while a new build loads.
    _derived: dict = field(default_factory=dict, repr=False)
    # Re-entrant: a table's maker may use another table (topic names use the word counts).
    _derived_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def derived(self, name: str, make: Callable[[SearchIndex], T]) -> T:
        """Return the table called name for this build, made by make(self) on first use."""
        with self._derived_lock:  # one maker at a time: two threads never build it twice
            if name not in self._derived:
                self._derived[name] = make(self)
            return self._derived[name]

    def close(self) -> None:
        """Release the Chroma client and scratch files; the index is unusable afterwards."""
        _release(self.resources)

    @property
    def chunks(self) -> dict[str, Chunk]:
        return self.stored.chunks

    @property
    def sections(self) -> list[Section]:
        return self.stored.sections

    @property
    def manifest(self) -> dict:
        return self.stored.manifest

    @property
    def seasons(self) -> list[str]:
        """Seasons in the index, newest first."""
        order = {c.season: c.season_order for c in self.chunks.values()}
        return sorted(order, key=lambda s: -order[s])

    @property
    def topics(self) -> list[str]:
        """Top-level headings (topics) in the index, alphabetically."""
        return sorted({c.heading_path[0] for c in self.chunks.values() if c.heading_path})

    def embed_query(self, text: str) -> np.ndarray:
        from index.embed import embed_query

        return embed_query(text, self.settings.embed_model)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        from index.embed import embed_texts

        return embed_texts(texts, self.settings.embed_model)

    def embed_together(self, queries: list[str], texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        from index.embed import embed_together

        return embed_together(queries, texts, self.settings.embed_model)

    def embed_with_spans(
        self, queries: list[str], spans: list[list[tuple[int, int]]], texts: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from index.embed import embed_with_spans

        return embed_with_spans(queries, spans, texts, self.settings.embed_model)

    def whole_words(self) -> frozenset[str]:
        """The words the embedding model's tokenizer holds whole (index.embed.whole_words)."""
        from index.embed import whole_words

        return whole_words(self.settings.embed_model)

    def nearest(
        self, vector: np.ndarray, count: int, where: dict[str, list[str]] | None = None
    ) -> list[tuple[str, float]]:
        """The count passages nearest the vector, as (chunk id, cosine similarity), best first.

        where keeps only passages whose metadata field holds one of the listed values
        ({"season": ["Winter 2021"]}). Chroma is asked for ids and distances alone: the
        llama-index retriever over the same collection also rebuilds every passage's node
        from its stored JSON, about 9 ms a question against 2 ms, and the chunks are
        already in memory.
        """
        conditions = [{key: {"$in": list(values)}} for key, values in (where or {}).items()]
        if len(conditions) > 1:
            conditions = [{"$and": conditions}]
        found = self.collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
            n_results=count,
            where=conditions[0] if conditions else None,
            include=["distances"],
        )
        ids, distances = found["ids"][0], found["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def keyword(self, text: str) -> list[tuple[str, float]]:
        """The passages BM25 scores above zero for the text, as (chunk id, score), best first."""
        from index.bm25 import rank_by_keywords

        return rank_by_keywords(self.bm25, text)

    def sentence_vector(self, sentence: str) -> np.ndarray | None:
        """The stored embedding of a sentence of some chunk, or None if unknown."""
        row = self.sentence_rows.get(sentence)
        return None if row is None else self.sentence_vectors[row]


_cache: dict[tuple, SearchIndex] = {}
_cache_lock = threading.Lock()
_retired: list[tuple[float, SearchIndex]] = []  # replaced indexes, closed after a grace time
RETIRE_AFTER_S = 60.0  # a question takes ~0.1 s: a minute is ample for one in flight


def open_index(settings: Settings) -> SearchIndex:
    """Return the current build loaded for search, cached until the build changes.

    Only a successful load is cached: when loading fails (the Chroma server is down, the
    index is missing or broken) the error is raised and the next call tries again, so a
    long-running app recovers by itself once the server is back or the index is rebuilt.
    A server that goes down after the load makes each query raise IndexUnavailableError
    within ~4 s; the same loaded index answers again once the server is back.
    """
    index_dir = Path(settings.index_dir)
    stored_head = (
        (index_dir / "CURRENT").read_text().strip() if (index_dir / "CURRENT").exists() else None
    )
    key = (str(index_dir.resolve()), stored_head, settings.chroma_url, settings.embed_model)
    with _cache_lock:
        if key not in _cache:
            # A newer build replaces the old one in memory. The old one is closed a minute
            # later, not now: another thread may still be answering from it.
            _retired.extend((time.monotonic(), old) for old in _cache.values())
            _cache.clear()
            _close_retired(older_than=RETIRE_AFTER_S)
            _cache[key] = _load(settings)
        return _cache[key]


def forget_index() -> None:
    """Drop and close the loaded index, so the next open_index() loads it again from disk.

    Closing releases Chroma's open SQLite files (e.g. before unmounting the index folder).
    """
    with _cache_lock:
        _retired.extend((0.0, old) for old in _cache.values())
        _cache.clear()
        _close_retired(older_than=0.0)


def _close_retired(older_than: float) -> None:
    now = time.monotonic()
    keep = []
    for retired_at, index in _retired:
        if now - retired_at >= older_than:
            index.close()
        else:
            keep.append((retired_at, index))
    _retired[:] = keep


def _load(settings: Settings) -> SearchIndex:
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from index.embed import load_embedder

    stored = read_index(settings.index_dir)
    check_build(stored, settings)  # a missing file or the wrong store mode, said plainly
    embedder = load_embedder(settings.embed_model)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Using MockLLM" to stdout
        LlamaSettings.llm = None  # no generative model anywhere in the loop
    LlamaSettings.embed_model = embedder
    resources: list = []
    collection = _open_collection(settings, stored, resources)
    vector_index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=collection), embed_model=embedder
    )
    try:
        bm25 = load_bm25(stored.build_dir, min(len(stored.chunks), BM25_TOP_K))
        texts, vectors = load_sentence_table(stored.build_dir / "sentences.npz")
        words = load_vectors(stored.build_dir / "words.npz") or {}
    except Exception as error:  # noqa: BLE001 - a damaged zip/JSON/pickle raises many types
        _release(resources)
        first_line = str(error).splitlines()[0] if str(error) else ""
        raise CorruptIndexError(
            f"index in {settings.index_dir} is incomplete ({error.__class__.__name__}: "
            f"{first_line}): rebuild it with: {rebuild_command(settings.index_dir)}"
        ) from error
    return SearchIndex(
        settings=settings,
        stored=stored,
        vector_index=vector_index,
        collection=collection,
        bm25=bm25,
        sentence_rows={t: i for i, t in enumerate(texts)},
        sentence_vectors=vectors,
        stored_words=words,
        resources=resources,
    )


def _open_collection(settings: Settings, stored: StoredIndex, resources: list):
    """Return the build's Chroma collection, guarded so server failures read clearly.

    What must be closed with the index (the client, a scratch copy) goes into resources.
    """
    name = stored.manifest["collection"]
    if settings.chroma_url:
        client = chroma_client(settings)  # server down: IndexUnavailableError in ~3 s
        resources.append(client)
        try:
            collection = client.get_collection(name)
        except Exception as error:  # noqa: BLE001 - chromadb raises many types for one cause
            _release(resources)
            raise _server_failure(settings, error, name) from error
        return _GuardedCollection(collection, settings, name)
    try:
        collection = _embedded_collection(stored.build_dir, name, resources)
        probe_collection(collection, stored.manifest)
        return collection
    except Exception as error:  # noqa: BLE001 - chromadb raises many types for one cause
        _release(resources)
        first_line = str(error).splitlines()[0] if str(error) else ""
        raise CorruptIndexError(
            f"vector store in {stored.build_dir / 'chroma'} is unreadable "
            f"({error.__class__.__name__}: {first_line}): "
            f"rebuild it with: {rebuild_command(settings.index_dir)}"
        ) from error


def _embedded_collection(build_dir: Path, name: str, resources: list):
    """Open the build's embedded Chroma collection, from a scratch copy if it is read-only.

    Embedded Chroma writes to its folder even to read (it replays its log into the HNSW
    files on open), so a build on a read-only mount or image cannot be opened in place.
    Copying its chroma/ folder to a temp dir costs ~2.5 MB for the snapshot; the rest of
    the build (chunks, BM25, sentence vectors) is only read and stays where it is.
    """

    path = build_dir / "chroma"
    if _writable(path):
        client = chroma_client(Settings(), build_dir)
    else:
        scratch = tempfile.TemporaryDirectory(prefix="cpitg-chroma-")
        resources.append(scratch)
        shutil.copytree(path, Path(scratch.name) / "chroma")
        client = chroma_client(Settings(), Path(scratch.name))  # opens <scratch>/chroma
    resources.append(client)  # closed before the scratch copy is removed (last in, first out)
    return client.get_collection(name)


def _release(resources: list) -> None:
    """Close clients and remove scratch folders, last opened first."""
    while resources:
        resource = resources.pop()
        try:
            if isinstance(resource, tempfile.TemporaryDirectory):
                resource.cleanup()
            else:
                resource.close()
        except Exception:  # noqa: BLE001 - releasing is best effort
            pass


def _writable(path: Path) -> bool:
    """True when path's file system is mounted read-write and path accepts writes.

    os.access alone is not enough: root passes it on a read-only mount.
    """
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return False
    except OSError:
        return True  # let Chroma report what is wrong
    return os.access(path, os.W_OK)


def _server_failure(settings: Settings, error: Exception, collection: str) -> Exception:
    """Turn a failed Chroma server call into IndexUnavailableError with a one-line reason."""
    from chromadb.errors import NotFoundError

    if is_connection_error(error):
        return IndexUnavailableError(
            unreachable_message(settings.chroma_url or "", connection_reason(error))
        )
    if isinstance(error, NotFoundError) or "does not exist" in str(error):
        return IndexUnavailableError(
            f"the Chroma server at {settings.chroma_url} has no collection {collection} "
            "(was it restarted on another --path?): rebuild it with: "
            f"{rebuild_command(settings.index_dir)}"
        )
    return error


class _GuardedCollection:
    """A Chroma server collection whose failures raise IndexUnavailableError.

    llama-index's ChromaVectorStore calls query()/get() on it; a server that went down or
    hangs would otherwise surface as a raw httpx error (or, without our timeouts, a hang).
    """

    def __init__(self, collection, settings: Settings, name: str) -> None:
        self._collection = collection
        self._settings = settings
        self._name = name

    def __getattr__(self, attribute: str):
        value = getattr(self._collection, attribute)
        if attribute not in ("query", "get", "count", "peek"):
            return value

        def guarded(*args, **kwargs):
            try:
                return value(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - classified below
                failure = _server_failure(self._settings, error, self._name)
                if failure is error:
                    raise
                raise failure from error

        return guarded
