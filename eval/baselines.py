"""The systems our hybrid is compared with, run on the same questions in the same eval.

- "bm25": llama-index's BM25Retriever over our chunks, alone.
- "dense": the vector retriever over our chunks (Chroma), alone.
- "llamaindex-default": what llama-index does out of the box: each page as ONE Document,
  the default SentenceSplitter (1024 tokens, 200 overlap), a VectorStoreIndex in memory
  with the same embedding model, and ``as_retriever()`` with its default top-2.

Every system retrieves for the same query text (a follow-up resolved against its history
the way the assistant does it), so the columns compare retrieval, not conversation
handling. Only our hybrid applies season filters and newest-first ordering: that is part of
what is being compared.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from eval.metrics import Passage
from index.search import SearchIndex
from records import OVERVIEW, Chunk, Section

BASELINES: tuple[str, ...] = ("bm25", "dense", "llamaindex-default")
TOP_K = 10  # passages each of our own retrievers returns, as the assistant's `retrieved`


def chunk_passage(chunk: Chunk) -> Passage:
    """Return one of our chunks as a scorer Passage."""
    return Passage(text=chunk.text, season=chunk.season, label=chunk.context, url=chunk.url)


def bm25_search(index: SearchIndex, text: str, k: int = TOP_K) -> list[Passage]:
    """Return the top k chunks by BM25 alone (zero-score results dropped: they match nothing)."""
    from llama_index.core.schema import QueryBundle

    # The retriever is shared with every request and ranks the whole index: read, don't set.
    results = index.bm25.retrieve(QueryBundle(query_str=text))[:k]
    return [chunk_passage(index.chunks[n.node.node_id]) for n in results if (n.score or 0) > 0]


def dense_search(
    index: SearchIndex, text: str, vector: np.ndarray, k: int = TOP_K
) -> list[Passage]:
    """Return the top k chunks by embedding similarity alone (the vector retriever over Chroma)."""
    from llama_index.core.schema import QueryBundle

    retriever = index.vector_index.as_retriever(similarity_top_k=k)
    results = retriever.retrieve(QueryBundle(query_str=text, embedding=vector.tolist()))
    return [chunk_passage(index.chunks[n.node.node_id]) for n in results]


def passage_vectors(index: SearchIndex) -> dict[str, np.ndarray]:
    """Return the stored embedding of every chunk, read once from the vector store.

    The abstention trade-off plot needs the cosine of each question with its retrieved
    passages; reading the stored vectors costs one call, re-embedding 200 passages ~40 s.
    """
    collection = index.vector_index.vector_store.client  # ChromaVectorStore.client: the collection
    got = collection.get(ids=list(index.chunks), include=["embeddings"])
    return {
        chunk_id: np.asarray(vector, dtype=np.float32)
        for chunk_id, vector in zip(got["ids"], got["embeddings"], strict=True)
    }


@dataclass(frozen=True)
class _Piece:
    """A stretch of a page document that belongs to one season and heading."""

    start: int
    end: int
    season: str
    label: str


@dataclass
class DefaultPipeline:
    """llama-index's out-of-the-box pipeline over the same pages, ready to query."""

    retriever: object  # llama_index VectorIndexRetriever, top-2
    pages: dict[str, tuple[str, list[_Piece]]]  # document id -> (text, season pieces)
    nodes: int
    build_s: float
    urls: dict[str, str] = field(default_factory=dict)  # document id -> page URL

    def search(self, text: str, vector: np.ndarray) -> list[Passage]:
        """Return the default top-2 nodes, each split into its season segments."""
        from llama_index.core.schema import QueryBundle

        results = self.retriever.retrieve(QueryBundle(query_str=text, embedding=vector.tolist()))
        return [self._passage(n.node) for n in results]

    def _passage(self, node) -> Passage:
        doc_text, pieces = self.pages[node.ref_doc_id]
        start = node.start_char_idx
        end = node.end_char_idx
        if start is None or end is None or doc_text[start:end] != node.text:
            start = doc_text.find(node.text)  # the splitter normally records offsets
            end = start + len(node.text)
        segments = tuple(
            (piece.season, doc_text[max(start, piece.start) : min(end, piece.end)])
            for piece in pieces
            if piece.start < end and piece.end > start
        )
        seasons = list(dict.fromkeys(season for season, _ in segments))
        label = f"page characters {start:,}-{end:,} ({', '.join(seasons) or 'no season'})"
        return Passage(
            text=node.text,
            season=seasons[0] if len(seasons) == 1 else None,
            label=label,
            url=self.urls.get(node.ref_doc_id, ""),
            segments=segments if start >= 0 else (),
        )


def page_documents(sections: list[Section]) -> dict[str, tuple[str, list[_Piece], str]]:
    """Render each page's sections back into one plain text, with headings, as the page reads.

    Returns page URL -> (text, the season pieces of the text, page title). Headings appear
    once, where they change ("Winter 2021 updates", then "EPS and RTEC", ...), so the
    document reads like the page rather than like our chunks with their heading context.
    """
    by_page: dict[str, list[Section]] = defaultdict(list)
    for section in sections:
        by_page[section.page_url].append(section)
    documents = {}
    for page_url, page_sections in by_page.items():
        title = page_sections[0].page_title
        text = title
        pieces: list[_Piece] = []
        season, path = None, ()
        for section in page_sections:
            lines = []
            if section.season != season and section.season != OVERVIEW:
                lines.append(f"{section.season} updates")
                path = ()
            for depth, heading in enumerate(section.heading_path):
                if path[: depth + 1] != section.heading_path[: depth + 1]:
                    lines.append(heading)
            lines.append(section.text)
            season, path = section.season, section.heading_path
            start = len(text) + 2
            text += "\n\n" + "\n\n".join(lines)
            label = " > ".join((section.season, *section.heading_path))
            pieces.append(_Piece(start, len(text), section.season, label))
        documents[page_url] = (text, pieces, title)
    return documents


def build_default_pipeline(index: SearchIndex) -> DefaultPipeline:
    """Index each page as one Document the llama-index default way, with our embedding model."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core.node_parser import SentenceSplitter

    from index.embed import load_embedder

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Using MockLLM" to stdout
        LlamaSettings.llm = None
    documents = []
    pages: dict[str, tuple[str, list[_Piece]]] = {}
    urls: dict[str, str] = {}
    for page_url, (text, pieces, _title) in page_documents(index.sections).items():
        document = Document(text=text)
        documents.append(document)
        pages[document.doc_id] = (text, pieces)
        urls[document.doc_id] = page_url
    # SentenceSplitter() is the default transformation; named so that a changed global
    # llama-index Settings elsewhere cannot change the baseline.
    vector_index = VectorStoreIndex.from_documents(
        documents,
        embed_model=load_embedder(index.settings.embed_model),
        transformations=[SentenceSplitter()],
    )
    retriever = vector_index.as_retriever()  # default similarity_top_k = 2
    return DefaultPipeline(
        retriever=retriever,
        pages=pages,
        nodes=len(vector_index.docstore.docs),
        build_s=time.perf_counter() - started,
        urls=urls,
    )
