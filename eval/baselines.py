"""The systems ours is compared with, run on the same questions in the same eval.

Two answer the question, beside ours (they use our query reading and retrieval, so they
compare the answer layer alone):
- "rules": the rule cascade the fitted decision replaced (eval/rule_cascade.py): it
  answers or abstains (not covered); it knows no hedged state.
- "naive": the top-1 retrieved passage and a cosine cut-off: the passage's sentence
  closest in meaning to the question, answered with its line when that cosine reaches the
  threshold fitted on train by `make calibrate` (assistant/model/decision.json), else not
  covered.

Three only retrieve (scored on retrieval and on the top passage taken as the answer):
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
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eval.metrics import Passage
from index.search import SearchIndex
from records import ANSWERED, NOT_COVERED, OVERVIEW, Chunk, Hit, Section

if TYPE_CHECKING:  # the assistant's reading types, for hints only
    from assistant.query import Query
    from assistant.reader import Reading

ANSWER_BASELINES: tuple[str, ...] = ("rules", "naive")
RETRIEVAL_BASELINES: tuple[str, ...] = ("bm25", "dense", "llamaindex-default")
BASELINES: tuple[str, ...] = (*ANSWER_BASELINES, *RETRIEVAL_BASELINES)
TWO_STATES: tuple[str, ...] = (ANSWERED, NOT_COVERED)  # the answer baselines never hedge
TOP_K = 10  # passages each of our own retrievers returns, as the assistant's `retrieved`


class BaselineUnavailableError(RuntimeError):
    """A baseline cannot run as asked (its fitted threshold is missing)."""


@dataclass(frozen=True)
class BaselineAnswer:
    """What an answer baseline said: its state, its text, and the passages it quoted."""

    status: str  # ANSWERED or NOT_COVERED
    answer: str
    cited: list[Passage]
    reason: str
    score: float | None = None  # the naive baseline's cosine


def rules_answer(query: Query, hits: list[Hit], index: SearchIndex) -> BaselineAnswer:
    """Answer as the old rule cascade did: its quoted items, or not covered.

    The cascade returns only its text; the passages it quoted are the retrieved ones
    holding one of its lines (every line is a whole source item of a retrieved passage).
    """
    from eval.rule_cascade import answer_by_rules

    abstained, text, reason = answer_by_rules(query, hits, index)
    if abstained:
        return BaselineAnswer(NOT_COVERED, "", [], reason)
    lines = [line for line in text.split("\n") if line.strip()]
    cited = [chunk_passage(h.chunk) for h in hits if any(line in h.chunk.text for line in lines)]
    return BaselineAnswer(ANSWERED, text, cited, reason)


def naive_answer(hits: list[Hit], readings: list[Reading], threshold: float) -> BaselineAnswer:
    """Answer with the top passage's sentence closest to the question, if close enough.

    readings are the assistant's sentence readings of the question's first part; the
    cosine is their "meaning" feature. Answered (with the sentence's line) when the cosine
    is at least the threshold, else not covered.
    """
    best = naive_sentence(hits, readings)
    if best is None:
        return BaselineAnswer(NOT_COVERED, "", [], "nothing retrieved", 0.0)
    cosine = float(best.features["meaning"])
    if cosine < threshold:
        return BaselineAnswer(NOT_COVERED, "", [], f"cosine {cosine:.3f} < {threshold:.3f}", cosine)
    reason = f"cosine {cosine:.3f} >= {threshold:.3f}"
    return BaselineAnswer(ANSWERED, best.line_text, [chunk_passage(hits[0].chunk)], reason, cosine)


def naive_sentence(hits: list[Hit], readings: list[Reading]) -> Reading | None:
    """The naive baseline's pick: the top-1 passage's sentence closest to the question.

    Returns that sentence's reading (its "meaning" feature is the cosine), or None when
    nothing was retrieved. Calibration fits the threshold on the same pick.
    """
    top = [r for r in readings if hits and r.hit is hits[0]]
    return max(top, key=lambda r: r.features["meaning"]) if top else None


def naive_threshold(model_path: Path) -> float:
    """The naive baseline's cosine threshold, fitted on train, from the model file."""
    try:
        data = json.loads(Path(model_path).read_text(encoding="utf-8"))
        return float(data["baselines"]["naive_cosine_threshold"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BaselineUnavailableError(
            f"{model_path} has no baselines.naive_cosine_threshold ({error.__class__.__name__}): "
            "rebuild it with make calibrate, or run with --no-baselines"
        ) from error


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
