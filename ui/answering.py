"""Answer questions for the chat and the APIs: a few at a time, each one logged.

Every way into the app (the chat tab, POST /api/ask, the Gradio /ask endpoint) answers
through AnswerService.answer(). It runs assistant.ask() in a worker thread, at most
settings.answer_concurrency at once: one limiter for all three, so a burst on the API
cannot starve the chat, and a waiting request holds no thread. Then it logs the question
with its status and nearest section (the question log, assistant/questionlog.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import anyio
import anyio.to_thread

from assistant import ask, get_index
from assistant.followup import previous_questions
from assistant.questionlog import QuestionLog
from records import Answer
from settings import Settings

log = logging.getLogger("cpitg.app")


@dataclass
class AnswerService:
    """assistant.ask() behind one concurrency limit, with every answer logged."""

    settings: Settings
    questions: QuestionLog
    limiter: anyio.CapacityLimiter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.limiter = anyio.CapacityLimiter(self.settings.answer_concurrency)

    async def answer(
        self,
        question: str,
        *,
        channel: str,
        history: Sequence | None = None,
        seasons: Sequence[str] = (),
        topic: str | list[str] | None = None,
    ) -> Answer:
        """Answer one question in a worker thread once a slot is free, and log it.

        Raises what assistant.ask raises: BadQuestionError for bad input, the index
        errors (index.errors.IndexError_) when the index cannot answer.
        """
        work = partial(self.answer_now, question, channel, list(history or []), seasons, topic)
        return await anyio.to_thread.run_sync(work, limiter=self.limiter)

    def answer_now(
        self,
        question: str,
        channel: str,
        history: list,
        seasons: Sequence[str] = (),
        topic: str | list[str] | None = None,
    ) -> Answer:
        """Answer and log in the calling thread (answer() runs this in a worker)."""
        answer = ask(
            question,
            history=history,
            season=list(seasons) or None,
            topic=topic or None,
            settings=self.settings,
        )
        self._log(answer, channel, history, {"seasons": list(seasons), "topic": topic or None})
        return answer

    def _log(self, answer: Answer, channel: str, history: list, filters: dict) -> None:
        """Log the question; a full disk or locked database never costs the user the answer."""
        if not self.questions.enabled:
            return
        try:
            build_id = get_index(self.settings).manifest.get("build_id")
            self.questions.record(
                answer.to_json(),
                channel=channel,
                history=previous_questions(history),
                filters=filters,
                build_id=build_id,
            )
        except (sqlite3.Error, OSError) as error:
            log.warning("could not log the question: %s", error)
