"""The assistant: one entry point, ask(), used by the CLI, the app and the eval alike.

The flow, a module per step:
    query.py      clean the question, resolve follow-ups, split compound asks, read intent
    retrieve.py   dense + BM25 passages, fused, season-aware
    reader.py     named features of every sentence against the question
    decide.py     the fitted models: what to quote, and answered / hedged / not_covered
    compose.py    the answer text with [n] citations, key spans, caveat or related reading
    citations.py  passage numbers and the mechanical check of every [n]
"""

from __future__ import annotations

import time

from assistant.compose import Part, compose
from assistant.decide import decide, load_model
from assistant.query import BadQuestionError, Query, clean_question, make_queries
from assistant.reader import Reading, read
from assistant.retrieve import retrieve
from index.search import SearchIndex, open_index
from records import Answer, Hit
from settings import Settings, load_settings

__all__ = ["ask", "BadQuestionError", "clean_question", "get_index"]


def get_index(settings: Settings | None = None) -> SearchIndex:
    """Return the loaded index (loaded once per process, reloaded when a new build lands)."""
    return open_index(settings or load_settings())


def ask(
    question: str,
    history: list | None = None,
    season: str | list[str] | None = None,
    topic: str | list[str] | None = None,
    *,
    settings: Settings | None = None,
    top_k: int = 10,
) -> Answer:
    """Answer one question from the archive, citing sources, or say the archive lacks it.

    history holds the earlier turns (strings, or role/content dicts) so follow-ups work;
    season and topic restrict the passages used.
    """
    started = time.perf_counter()
    text = clean_question(question)
    settings = settings or load_settings()
    index = get_index(settings)
    seasons = [season] if isinstance(season, str) else list(season or [])
    topics = [topic] if isinstance(topic, str) else list(topic or [])
    unknown = [s for s in seasons if s not in index.seasons]
    if unknown:
        raise BadQuestionError(
            f"unknown season {unknown[0]!r}; the index has: {', '.join(index.seasons)}"
        )
    model = load_model(settings.answer.model_path)
    whole_hits, parts, retrieving = prepare(text, history, index, settings, seasons, topics, top_k)
    decided = [
        Part(query, hits, decide(query, readings, index, model, settings.answer, hits))
        for query, hits, readings in parts
    ]
    if single_ask(whole_hits, parts):
        whole_hits = decided[0].decision.passages  # shown in the reader's order
    answer = compose(text, decided, whole_hits)
    total = time.perf_counter() - started
    answer.timings_ms = {
        "retrieve": retrieving * 1000,
        "answer": (total - retrieving) * 1000,
        "total": total * 1000,
    }
    return answer


def single_ask(whole_hits: list[Hit], parts: list) -> bool:
    """True when the question is one ask, read on the whole question's passages: its answer
    shows them in the reader's order. A compound question's shown passages stay in
    retrieval order (its parts each read passages of their own)."""
    return len(parts) == 1 and parts[0][1] is whole_hits


def prepare(
    text: str,
    history: list | None,
    index: SearchIndex,
    settings: Settings,
    seasons: list[str] | None = None,
    topics: list[str] | None = None,
    top_k: int = 10,
) -> tuple[list[Hit], list[tuple[Query, list[Hit], list[Reading]]], float]:
    """Read, retrieve and read again: everything the decision needs, for each part.

    Returns the whole question's passages (the answer's `retrieved`), each part's query,
    passages and sentence readings, and the seconds spent retrieving. The eval's
    calibration fits the models on exactly these readings.
    """
    started = time.perf_counter()
    whole, queries = make_queries(text, history, index, seasons=seasons, topics=topics)
    whole_hits = retrieve(whole, index, top_k=top_k)
    retrieving = time.perf_counter() - started
    parts = []
    for query in queries:
        if query is whole:
            hits = whole_hits
        else:
            begun = time.perf_counter()
            hits = retrieve(query, index, top_k=top_k)
            retrieving += time.perf_counter() - begun
        parts.append((query, hits, read(query, hits, index, settings.answer)))
    return whole_hits, parts, retrieving
