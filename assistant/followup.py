"""Resolve a follow-up question against the conversation before retrieval.

"And what about in the winter update?" after "How many people use the NHS App?" becomes
"How many people use the NHS App? in the winter update": the retriever then sees both
the topic and the new constraint. A question that stands on its own is left alone.
"""

from __future__ import annotations

import re

from assistant.retrieve import SEASON_RE
from assistant.terms import question_terms

# Openers and pronouns that only make sense after an earlier question.
_FOLLOW_UP_START = re.compile(
    r"^\s*(and|also|what about|how about|and what|what else|same|so|then|ok|okay|but)\b", re.I
)
_PRONOUN = re.compile(r"\b(it|its|it's|they|them|their|this|that|these|those|there|he|she)\b", re.I)


def previous_questions(history: list | None) -> list[str]:
    """Return the user's earlier questions from a history of strings or role/content dicts."""
    questions: list[str] = []
    for turn in history or []:
        if isinstance(turn, str):
            questions.append(turn)
        elif isinstance(turn, dict) and turn.get("role") == "user":
            content = turn.get("content")
            if isinstance(content, str):
                questions.append(content)
            elif isinstance(content, list):  # Gradio 6 may send content as parts
                questions.append(
                    " ".join(p.get("text", "") for p in content if isinstance(p, dict))
                )
        elif isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
            questions.append(turn[0])  # [user, assistant] pairs
    return [q.strip() for q in questions if q and q.strip()]


def is_follow_up(question: str) -> bool:
    """True when the question leans on an earlier one (an opener, or a pronoun and little else).

    A short question on a new topic ("What is RTEC?") stands alone.
    """
    terms = question_terms(SEASON_RE.sub(" ", question))
    return bool(_FOLLOW_UP_START.match(question)) or (
        len(terms) <= 3 and bool(_PRONOUN.search(question))
    )


def resolve(question: str, history: list | None) -> str:
    """Return the question made self-contained using the previous user question, if needed."""
    earlier = previous_questions(history)
    if not earlier or not is_follow_up(question):
        return question
    previous = earlier[-1]
    if SEASON_RE.search(question):
        # A new season replaces the old one: "... in the autumn update" -> "... winter".
        previous = SEASON_RE.sub(" ", previous)
        previous = re.sub(r"\b(in|from) the\s+(update|bulletin)s?\b", " ", previous, flags=re.I)
    return re.sub(r"\s+", " ", f"{previous} {question}").strip()
