"""The chat's behaviour: answer a question through assistant.ask, keep the turns, take feedback.

A conversation is a list of turns kept in a gr.State, one dict per question:
{"question", "answer" (Answer.to_json() or None), "error", "filters", "feedback_id"}.
The Chatbot only ever shows chat_messages(turns), two messages per turn, so message
index i always belongs to turn i // 2; the raw question stays in the turn, so follow-ups
resolve against what the user typed, not against its escaped display.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date

import gradio as gr

from assistant import BadQuestionError, get_index
from assistant.feedback import FeedbackRecord, FeedbackStore
from index.errors import IndexError_
from index.search import IndexUnavailableError
from ui import render
from ui.answering import AnswerService
from ui.facts import IndexFacts

log = logging.getLogger("cpitg.app")

EXAMPLES = (
    "When does MYS become compulsory for FP34C?",
    "How many integrated care systems are there in England?",
    "What is the NHSmail Virtual Visits platform?",
    "What did the Winter 2021 update say about the NHS App?",
)
UNAVAILABLE = (
    "The bulletin index can't be reached right now, so I can't look this up. "
    "Please try again in a minute; if it keeps happening, tell the CP ITG secretariat."
)
BROKEN = (
    "The bulletin index is being rebuilt or is damaged, so I can't look this up. "
    "Please try again shortly."
)
FAILED = "Something went wrong while answering that. Please try again, or rephrase the question."


@dataclass
class ChatService:
    """The chat tab's event handlers and the Gradio /ask endpoint, over one AnswerService."""

    answers: AnswerService
    store: FeedbackStore
    today: Callable[[], date] = date.today
    examples: tuple[str, ...] = field(default=EXAMPLES)

    # ------------------------------------------------------------ answering

    async def answer_turn(
        self, question: str, turns: list[dict], seasons: list[str], topic: str | None
    ) -> dict:
        """Ask the archive and return the new turn: an answer, or a friendly error notice."""
        filters = {"seasons": list(seasons or []), "topic": topic or None}
        turn: dict = {"question": question, "answer": None, "error": None, "filters": filters}
        try:
            answer = await self.answers.answer(
                question,
                channel="chat",
                history=history_of(turns),
                seasons=filters["seasons"],
                topic=filters["topic"],
            )
        except BadQuestionError as error:
            turn["error"] = render.friendly_bad_question(str(error), self.examples[0])
        except IndexUnavailableError as error:
            log.warning("index unavailable: %s", error)
            turn["error"] = UNAVAILABLE
        except IndexError_ as error:
            log.error("index problem: %s", error)
            turn["error"] = BROKEN
        except Exception:  # noqa: BLE001 - the chat must stay up; the log keeps the traceback
            log.exception("answering %r failed", question[:200])
            turn["error"] = FAILED
        else:
            turn["answer"] = answer.to_json()
        return turn

    def take_question(self, message: str) -> tuple:
        """Move the typed question out of the box and lock the box until the answer is in.

        Locking (rather than clearing from the answer stream) means nothing the server
        sends can overwrite a question the user is already typing, and one session never
        has two answers in flight. Outputs: question box, Ask button, taken question.
        """
        return gr.update(value="", interactive=False), gr.update(interactive=False), message

    def release_question_box(self) -> tuple:
        """Unlock the question box and the Ask button. Outputs: question box, Ask button."""
        return gr.update(interactive=True), gr.update(interactive=True)

    async def respond(
        self, message: str, turns: list[dict], seasons: list[str], topic: str | None
    ) -> AsyncIterator[tuple]:
        """Show the question at once, then the answer and its sources.

        Outputs: chatbot, turns, sources panel, feedback form.
        """
        if not (message or "").strip():
            gr.Warning("Type a question first, or pick one of the examples.")
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        today = self.today()
        pending = [*turns, {"question": message, "pending": True}]
        yield render.chat_messages(pending, today), gr.skip(), gr.skip(), gr.skip()
        turn = await self.answer_turn(message, turns, seasons, topic)
        turns = [*turns, turn]
        yield (
            render.chat_messages(turns, today),
            turns,
            # A notice (bad input, index down) leaves the last answer's sources in view.
            render.sources_html(turn, today) if turn["answer"] else gr.skip(),
            gr.update(visible=False),
        )

    def filter_choices(self) -> tuple:
        """The season and topic choices of the build answering now (one may just have landed).

        Outputs: season filter, topic filter.
        """
        try:
            facts = IndexFacts.from_stored(get_index(self.answers.settings).stored)
        except IndexError_:  # the chat says so when asked; the page keeps its choices
            return gr.skip(), gr.skip()
        return gr.update(choices=facts.seasons), gr.update(choices=facts.topic_choices())

    def show_sources(self, turns: list[dict], event: gr.SelectData) -> str:
        """Show the sources of the answer the user clicked on (or of its question)."""
        index = event.index if isinstance(event.index, int) else event.index[0]
        turn = turns[index // 2] if 0 <= index // 2 < len(turns) else None
        return render.sources_html(turn, self.today()) if turn else gr.skip()

    def clear(self) -> tuple:
        """Start a new conversation: empty chat, placeholder sources, no feedback form."""
        return "", [], [], render.SOURCES_PLACEHOLDER, gr.update(visible=False), None

    # ------------------------------------------------------------ feedback

    def on_like(self, turns: list[dict], event: gr.LikeData) -> tuple:
        """Store a thumbs up/down for the answer, then offer the comment form.

        Outputs: turns, feedback form, its note, the feedback id the form edits.
        """
        index = event.index if isinstance(event.index, int) else event.index[0]
        position = index // 2
        if not 0 <= position < len(turns) or turns[position].get("answer") is None:
            gr.Info("Feedback is for answers; that message was a notice.")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        turn = dict(turns[position])
        turns = [*turns[:position], turn, *turns[position + 1 :]]
        feedback_id = turn.get("feedback_id")
        if event.liked not in (True, False):  # the thumb was clicked again: withdrawn
            if feedback_id:
                self.store.delete(feedback_id)
            turn["feedback_id"] = None
            return turns, gr.update(visible=False), "", None
        rating = "up" if event.liked else "down"
        if feedback_id and self.store.update(feedback_id, rating=rating):
            pass
        else:
            record = FeedbackRecord.from_answer(
                turn["answer"],
                rating,
                filters=turn.get("filters"),
                history=[t["question"] for t in turns[:position] if t.get("answer")],
            )
            feedback_id = self.store.add(record)
            turn["feedback_id"] = feedback_id
        verdict = "helpful" if rating == "up" else "not helpful"
        note = (
            f"Thanks: saved as feedback #{feedback_id} ({verdict}). "
            "You can add a comment, or flag that the cited source is wrong:"
        )
        return turns, gr.update(visible=True), note, feedback_id

    def send_feedback(self, feedback_id: int | None, comment: str, wrong_source: bool) -> tuple:
        """Add the optional comment and wrong-source flag to the stored feedback.

        Outputs: note, comment box, wrong-source box.
        """
        if not feedback_id:
            return "Click the thumbs up or down under an answer first.", gr.skip(), gr.skip()
        if not self.store.update(
            int(feedback_id), comment=comment or "", wrong_source=wrong_source
        ):
            return "That feedback was withdrawn; click a thumb again.", gr.skip(), gr.skip()
        flagged = " and flagged the source as wrong" if wrong_source else ""
        return f"✓ Thanks, feedback #{feedback_id} updated{flagged}.", "", False

    # ------------------------------------------------------------ API

    async def api_ask(
        self, question: str, season: str | None = None, topic: str | None = None
    ) -> dict:
        """Answer a question from the CP ITG bulletin archive, citing sources.

        Returns the same JSON answer as `python -m assistant ask --json`: question, answer,
        status, caveat, abstained, as_of, key_spans, citations, retrieved, timings_ms.
        season may name one season ("Autumn 2021") or several separated by commas; topic
        is a top-level heading. A bad question (empty, over 2,000 characters, unknown
        season) raises an error whose message says what is wrong.
        """
        seasons = [s.strip() for s in (season or "").split(",") if s.strip()]
        try:
            answer = await self.answers.answer(
                question, channel="gradio_api", seasons=seasons, topic=topic or None
            )
        except BadQuestionError as error:
            raise gr.Error(f"bad question: {error}", print_exception=False) from error
        except IndexUnavailableError as error:
            raise gr.Error(f"index unavailable: {error}", print_exception=False) from error
        except IndexError_ as error:
            raise gr.Error(f"index problem: {error}", print_exception=False) from error
        return answer.to_json()


def history_of(turns: list[dict]) -> list[dict]:
    """The conversation so far as role/content dicts, answered turns only, raw question text."""
    history: list[dict] = []
    for turn in turns:
        if turn.get("answer") is None:
            continue
        history.append({"role": "user", "content": turn["question"]})
        history.append({"role": "assistant", "content": turn["answer"]["answer"]})
    return history
