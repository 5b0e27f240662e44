"""The assistant: one entry point, ask(), used by the CLI, the app and the eval alike."""

from __future__ import annotations

import re
import time

from assistant.answer import Composer, ExtractiveComposer
from assistant.followup import resolve
from assistant.retrieve import make_query, retrieve
from index.search import SearchIndex, open_index
from records import Answer
from settings import Settings, load_settings

MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TAG = re.compile(r"<[^>]{0,500}>")

__all__ = ["ask", "BadQuestionError", "clean_question", "get_index"]


class BadQuestionError(ValueError):
    """The question cannot be answered as given (empty, too long, ...)."""


def clean_question(question: object) -> str:
    """Return the question as plain text, or raise BadQuestionError saying what is wrong.

    Control characters become spaces and HTML tags are reduced to their text, so
    "<b>EPS</b> dates?" is asked as "EPS dates?".
    """
    if not isinstance(question, str):
        raise BadQuestionError("the question must be text")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadQuestionError(
            f"the question is {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}"
        )
    text = _CONTROL.sub(" ", question)
    text = _TAG.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    if not re.search(r"\w", text):
        raise BadQuestionError("the question is empty")
    return text


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
    composer: Composer | None = None,
    top_k: int = 10,
) -> Answer:
    """Answer one question from the archive, citing sources, or say the archive lacks it.

    history holds the earlier turns (strings, or role/content dicts) so follow-ups work;
    season and topic restrict the passages used.
    """
    started = time.perf_counter()
    text = clean_question(question)
    index = get_index(settings)
    seasons = [season] if isinstance(season, str) else list(season or [])
    topics = [topic] if isinstance(topic, str) else list(topic or [])
    unknown = [s for s in seasons if s not in index.seasons]
    if unknown:
        raise BadQuestionError(
            f"unknown season {unknown[0]!r}; the index has: {', '.join(index.seasons)}"
        )
    resolved = resolve(text, history)
    query = make_query(resolved, index, seasons=seasons, topics=topics)
    hits = retrieve(query, index, top_k=top_k)
    retrieved_at = time.perf_counter()
    answer = (composer or ExtractiveComposer()).compose(text, query, hits, index)
    done = time.perf_counter()
    answer.timings_ms = {
        "retrieve": (retrieved_at - started) * 1000,
        "answer": (done - retrieved_at) * 1000,
        "total": (done - started) * 1000,
    }
    return answer
