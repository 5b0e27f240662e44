"""Open a built index for querying: the llama-index dense and BM25 retrievers over one build.

Everything heavy (the embedding model, Chroma, BM25) is loaded once here and shared by
every question; assistant/retrieve drives the retrievers.
"""

from __future__ import annotations

import contextlib
import io
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.store import CorruptIndexError, StoredIndex, chroma_client, read_index
from records import Chunk, Section
from settings import Settings


class IndexUnavailableError(Exception):
    """The index's vector store cannot be reached (e.g. the Chroma server is down)."""


@dataclass
class SearchIndex:
    """A loaded build: chunks, sections, retrievers, and sentence vectors for the composer."""

    settings: Settings
    stored: StoredIndex
    vector_index: object  # llama_index VectorStoreIndex over the build's Chroma collection
    bm25: object  # llama_index BM25Retriever
    sentence_rows: dict[str, int]
    sentence_vectors: np.ndarray

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

    def sentence_vector(self, sentence: str) -> np.ndarray | None:
        """The stored embedding of a sentence of some chunk, or None if unknown."""
        row = self.sentence_rows.get(sentence)
        return None if row is None else self.sentence_vectors[row]


_cache: dict[tuple, SearchIndex] = {}
_cache_lock = threading.Lock()


def open_index(settings: Settings) -> SearchIndex:
    """Return the current build loaded for search, cached until the build changes."""
    index_dir = Path(settings.index_dir)
    stored_head = (
        (index_dir / "CURRENT").read_text().strip() if (index_dir / "CURRENT").exists() else None
    )
    key = (str(index_dir.resolve()), stored_head, settings.chroma_url, settings.embed_model)
    with _cache_lock:
        if key not in _cache:
            _cache.clear()  # a newer build replaces the old one in memory
            _cache[key] = _load(settings)
        return _cache[key]


def _load(settings: Settings) -> SearchIndex:
    import Stemmer
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from index.embed import load_embedder

    stored = read_index(settings.index_dir)
    embedder = load_embedder(settings.embed_model)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Using MockLLM" to stdout
        LlamaSettings.llm = None  # no generative model anywhere in the loop
    LlamaSettings.embed_model = embedder
    try:
        client = chroma_client(settings, stored.build_dir)
        collection = client.get_collection(stored.manifest["collection"])
    except Exception as error:  # noqa: BLE001 - chromadb raises many types for one cause
        where = settings.chroma_url or stored.build_dir / "chroma"
        if settings.chroma_url:
            raise IndexUnavailableError(
                f"cannot reach the Chroma server at {where} ({error.__class__.__name__}); "
                "check it is running"
            ) from error
        raise CorruptIndexError(
            f"vector store in {where} is unreadable ({error}): rebuild it with: python -m ingest"
        ) from error
    vector_index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=collection), embed_model=embedder
    )
    try:
        bm25 = BM25Retriever.from_persist_dir(str(stored.build_dir / "bm25"))
        bm25.stemmer = Stemmer.Stemmer("english")
        sentences = np.load(stored.build_dir / "sentences.npz", allow_pickle=True)
        texts = sentences["texts"].tolist()
        vectors = np.asarray(sentences["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError) as error:
        raise CorruptIndexError(
            f"index in {settings.index_dir} is incomplete ({error}): "
            "rebuild it with: python -m ingest"
        ) from error
    return SearchIndex(
        settings=settings,
        stored=stored,
        vector_index=vector_index,
        bm25=bm25,
        sentence_rows={t: i for i, t in enumerate(texts)},
        sentence_vectors=vectors,
    )
