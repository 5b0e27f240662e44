"""Resolve a follow-up question against the whole conversation before retrieval.

"And what about in the winter update?" after "How many people use the NHS App?" becomes
"How many people use the NHS App? and in the winter update?": the retriever then sees
both the topic and the new constraint. The topic carries through every later turn: the
conversation is read from its first turn, each follow-up adding to the context and each
new constraint (a season, a nation) replacing the old one, so after "How many people use
the NHS App?", "and in the autumn update?", the third turn "and in winter?" reads "How
many people use the NHS App? and in winter?". A question that stands on its own starts a
new context.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from assistant.lexicon import SEASON_RE, latest_pattern, nations
from assistant.terms import question_terms
from settings import FollowUpSettings

# Openers and pronouns that only make sense after an earlier question.
_FOLLOW_UP_START = re.compile(
    r"^\s*(and|also|what about|how about|and what|what else|same|so|then|ok|okay|but|plus|"
    r"anything|any)\b",
    re.I,
)
_PRONOUN = re.compile(
    r"\b(it|its|it's|they|them|their|this|that|these|those|he|she|his|her|one)\b", re.I
)
_BULLETIN_WORDS = re.compile(r"\b(in|from|of) the\s+(update|bulletin|edition|one)s?\b", re.I)


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


@dataclass(frozen=True)
class ArchiveWords:
    """The words the archive names its topics by (subjects), and all the words it uses."""

    subjects: frozenset[str]
    vocabulary: frozenset[str]


def is_follow_up(
    question: str, words: ArchiveWords | None = None, tuning: FollowUpSettings | None = None
) -> bool:
    """True when the question leans on an earlier one.

    It does when it opens like a follow-up ("and ...", "what about ..."), when it has a
    pronoun and few other words ("when is it due?", "are they hiring anyone for it?"),
    when it names nothing at all ("until when?"), or, given the archive's words, when it
    names none of the archive's subjects and either uses only words the archive uses ("I
    mean going by the autumn bulletin") or names no name of its own and is either bare, a
    word or two ("is there a target go-live?", "how do i sign up?"), or names a bulletin
    ("I mean going by the autumn bulletin specifically"). A short question on a new topic ("What is
    RTEC?") stands alone, and so does one about something the archive never mentions
    ("who won the FA Cup?").
    """
    tuning = tuning or FollowUpSettings()
    terms = question_terms(SEASON_RE.sub(" ", question))
    if _FOLLOW_UP_START.match(question) or not terms:
        return True
    short = len(terms) <= tuning.pronoun_words
    if short and _PRONOUN.search(re.sub(r"\bIT\b", " ", question)):  # not "CPCS IT"
        return True
    if words is None or any(_known(t, words.subjects) for t in terms):
        return False
    if all(_known(t, words.vocabulary) for t in terms):
        return True
    if _names_its_own(question, words):
        return False
    # naming a bulletin but no subject, it changes the season of the subject before it
    return len(terms) <= tuning.bare_words or bool(SEASON_RE.search(question))


def _names_its_own(question: str, words: ArchiveWords) -> bool:
    """True when the question names something in capitals the archive doesn't use."""
    body = question.strip()[1:]  # its opening capital is not a name
    return any(w.lower() not in words.vocabulary for w in re.findall(r"\b[A-Z][\w&-]+", body))


def _known(term: str, words: Collection[str]) -> bool:
    return term in words or (term.endswith("s") and term[:-1] in words)


def resolve(
    question: str,
    history: list | None,
    words: ArchiveWords | None = None,
    tuning: FollowUpSettings | None = None,
) -> str:
    """Return the question made self-contained from the earlier user turns, if it needs them.

    words, when given, are the archive's subjects and vocabulary (see is_follow_up).
    """
    earlier = previous_questions(history)
    if not earlier or not is_follow_up(question, words, tuning):
        return question
    context: list[str] = []
    for turn in earlier:
        leans = context and is_follow_up(turn, words, tuning)
        context = _carry(context, turn) if leans else [turn]
    return " ".join(_carry(context, question))


def _carry(context: list[str], turn: str) -> list[str]:
    """Add a turn to the context; a season or nation it names replaces the context's own,
    and one asking for the latest position ("what's the newest one?") drops the season."""
    replaced = context
    if SEASON_RE.search(turn) or latest_pattern().search(turn):
        replaced = [_BULLETIN_WORDS.sub(" ", SEASON_RE.sub(" ", c)) for c in replaced]
    any_nation = re.compile(
        rf"\b({'|'.join(s for spellings in nations().values() for s in spellings)})\b", re.I
    )
    if any_nation.search(turn):
        replaced = [any_nation.sub(" ", c) for c in replaced]
    # A turn left with no subject ("and in the ?") says nothing more: drop it.
    kept = [c for i, c in enumerate(replaced) if i == 0 or question_terms(c)]
    return [re.sub(r"\s+", " ", c).strip() for c in kept] + [turn.strip()]
