"""Read a question before retrieval: clean it, find its parts, its season intent and what it asks.

The first step of the flow: question text in, Query records out. A Query holds everything
later steps need to know about the question and nothing about the archive's answer:
- the text to retrieve with (a follow-up already made self-contained), its vector, and
  the vector dense retrieval searches with (with a conversation behind the question, the
  whole conversation's vector mixed in);
- the seasons it restricts to (named, or the caller's filter), "latest" intent, and any
  bulletin it names that the archive has no content for;
- the kind of answer it asks for (assistant/kinds.py), its focus words ("which *robotic*
  systems"), the nation and the figures it pins down.
A compound question ("how many took part, and which system were they on?") is split into
parts, each a Query of its own, so each part is decided and cited on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.followup import ArchiveWords, previous_questions, resolve
from assistant.kinds import Asked, asked_kind, known_acronym, question_acronym
from assistant.lexicon import (
    SEASON_RE,
    focus_stops,
    generic_focus,
    latest_pattern,
    month_pattern,
    nations,
    unnamed_mentions,
)
from assistant.match import word_vectors
from assistant.spelling import Mended, mend_spelling, spelling_words
from assistant.terms import STOPWORDS, question_terms, unmatched_spans
from index.search import SearchIndex

MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TAG = re.compile(r"<[^>]{0,500}>")
_BULLETIN_RE = re.compile(
    r"\b(spring|summer|autumn|fall|winter)(\s*(of\s*)?('?\d{2}|\d{4}))?\s+(it\s+)?"
    r"(updates?|bulletins?|edition|issue|newsletter|one)\b",
    re.IGNORECASE,
)
# Where a compound question's next ask starts: a join, then a question word.
_ASK_WORD = (
    r"(?:what|when|which|who|whom|whose|where|why|how|is|are|was|were|does|do|did|can|could|"
    r"will|would|should|has|have)"
)
_PART_BREAK = re.compile(
    rf"(?:\?\s+|\s*[;—–]\s*(?:and\s+|also\s+|plus\s+)?|,?\s+(?:and|also|plus|but)\s+(?:also\s+)?)"
    rf"(?={_ASK_WORD}\b)",
    re.IGNORECASE,
)
_ASKS = re.compile(
    rf"^\s*{_ASK_WORD}\b|\b(?:what|when|which|who|whom|whose|where|why|how)\b|\?\s*$",
    re.IGNORECASE,
)
_FOCUS = re.compile(
    r"\b(?:which|what|how many|how much|minimum|maximum)\s+((?:[\w'’-]+\s+){0,2}[\w'’-]+)", re.I
)


class BadQuestionError(ValueError):
    """The question cannot be answered as given (empty, too long, ...)."""


@dataclass(frozen=True)
class Query:
    """A question (or one part of a compound question) prepared for retrieval and reading."""

    text: str  # self-contained: a follow-up carries its earlier turns' topic
    asked: str  # the words the user typed for this part
    vector: np.ndarray
    seasons: tuple[str, ...] = ()  # restrict to these seasons (named or filtered)
    wants_latest: bool = False
    topics: tuple[str, ...] = ()
    missing_seasons: tuple[str, ...] = ()  # named in the question, but not in the archive
    kind: Asked | None = None
    terms: tuple[str, ...] = ()  # the content words of the whole (resolved) question
    ask_terms: tuple[str, ...] = ()  # those of the words that ask, without chat around them
    focus: tuple[str, ...] = ()
    counted: tuple[str, ...] = ()  # what a count question counts: "how many *referrals*"
    named: tuple[str, ...] = ()  # what a name question asks to be named: "which *pharmacies*"
    nation: str | None = None
    pinned: tuple[str, ...] = field(default=())  # figures and dates the question pins down
    # Where its words sit that the passage sharing most of them does not use, and their
    # vector read in the question: what it asks beyond what the archive says of its
    # subject, which the question prior compares with the train questions' own.
    unmatched: tuple[tuple[int, int], ...] = ()
    unmatched_vector: np.ndarray | None = None
    # What dense retrieval searches with: the vector, with the whole conversation's mixed
    # in when there is one (follow_up.conversation_weight); None means the vector itself.
    search_vector: np.ndarray | None = None
    mended: tuple[Mended, ...] = ()  # typos read as the archive's words (assistant/spelling)

    @property
    def retrieval_vector(self) -> np.ndarray:
        """The vector dense retrieval and its sentence re-scoring search with."""
        return self.vector if self.search_vector is None else self.search_vector

    @property
    def unmatched_text(self) -> str:
        """Its unmatched words, for the reason shown ("who's person heading up")."""
        return " ".join(self.text[a:b] for a, b in self.unmatched)


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


def make_queries(
    question: str,
    history: list | None,
    index: SearchIndex,
    seasons: list[str] | None = None,
    topics: list[str] | None = None,
) -> tuple[Query, list[Query]]:
    """Return the whole question as one Query, and its parts (one Query per ask).

    Parts after the first lean on it as follow-ups do on earlier turns: in "until when was
    it funded, and what replaces it?" the second part is read with the first's topic.
    """
    words = archive_words(index)
    tuning = index.settings.follow_up
    spelling = spelling_words(index), index.settings.spelling
    question, mended = mend_spelling(question, *spelling)
    # The user's earlier turns, read once as text and mended like the question.
    earlier_turns = [mend_spelling(turn, *spelling)[0] for turn in previous_questions(history)]
    asks = [(resolve(question, earlier_turns, words, tuning), question)]  # the whole first
    parts = split_parts(question)
    if len(parts) >= 2:
        earlier = list(earlier_turns)
        for part in parts:
            asks.append((resolve(part, earlier, words, tuning) if earlier else part, part))
            earlier = [*earlier, part]
    read = [make_query(t, a, index, seasons, topics, vector=_NOT_YET) for t, a in asks]
    conversations = [" ".join([*earlier_turns, a]) if earlier_turns else "" for _, a in asks]
    whole, *queries = _embed_queries(read, index, conversations, tuning.conversation_weight)
    if mended:
        whole, *queries = (replace(q, mended=tuple(mended)) for q in [whole, *queries])
    return whole, queries or [whole]


_NOT_YET = np.zeros(0, dtype=np.float32)  # a Query read but not embedded yet


def _embed_queries(
    queries: list[Query], index: SearchIndex, conversations: list[str], weight: float
) -> list[Query]:
    """Give the queries their vectors (and their unmatched words' vectors, from the same
    pass), embedding their texts and their words the archive has no vector for in one
    encode: a short encode costs mostly per call, and the reader would otherwise embed
    each new word on first sight (assistant/match.py).

    conversations holds, for each query, the user's earlier turns and its own words ("" with
    no history): its vector, weight times, is mixed into what dense retrieval searches
    with, so a turn the follow-up rules read as standing alone still leans a little on the
    topic before it, and one they resolved gets back the turns they dropped.
    """
    vectors = word_vectors(index)
    new_words = vectors.unseen(
        w for q in queries for w in (*q.terms, *q.ask_terms, *q.focus, *q.counted)
    )
    spans = {q.text: list(q.unmatched) for q in queries}  # the same for the same text
    for conversation in conversations:
        if conversation:
            spans.setdefault(conversation, [])
    texts = list(spans)
    text_vectors, span_vectors, word_rows = index.embed_with_spans(
        texts, list(spans.values()), new_words
    )
    vectors.remember(new_words, word_rows)
    by_text = dict(zip(texts, zip(text_vectors, span_vectors, strict=True), strict=True))
    embedded = []
    for query, conversation in zip(queries, conversations, strict=True):
        vector, unmatched_vector = by_text[query.text]
        search = None
        if conversation:
            mixed = vector + weight * by_text[conversation][0]
            search = (mixed / np.linalg.norm(mixed)).astype(vector.dtype)
        embedded.append(
            replace(query, vector=vector, unmatched_vector=unmatched_vector, search_vector=search)
        )
    return embedded


def unmatched_in(text: str, index: SearchIndex) -> tuple[tuple[int, int], ...]:
    """Where the question's words sit that the passage sharing most of them (BM25's
    first, headings included) does not use; all of them when no passage shares any."""
    ranked = index.keyword(text)
    chunk = index.chunks[ranked[0][0]] if ranked else None
    passage = f"{' '.join(chunk.heading_path)} {chunk.text}" if chunk else ""
    return tuple(unmatched_spans(text, passage))


def archive_words(index: SearchIndex) -> ArchiveWords:
    """The archive's subject words (headings, capitalised terms) and its whole vocabulary.

    "rtec", "smartcards", "nhsmail", "sonar": a question naming one has a subject of its
    own; one naming none in the archive's own words ("until when?") leans on the
    conversation (assistant/followup.py).
    """
    return index.derived("archive_words", _make_archive_words)


def _make_archive_words(index: SearchIndex) -> ArchiveWords:
    subjects: set[str] = set()
    vocabulary: set[str] = set()
    for chunk in index.chunks.values():
        for heading in chunk.heading_path:
            subjects.update(question_terms(heading))
        text = chunk.text
        subjects.update(w.lower() for w in re.findall(r"\b[A-Z][\w&-]*[A-Z0-9][\w&-]*\b", text))
        subjects.update(w.lower() for w in re.findall(r"(?<=[a-z,;] )[A-Z][a-z]{2,}\b", text))
        vocabulary.update(question_terms(chunk.embed_text))
    return ArchiveWords(frozenset(subjects - STOPWORDS - generic_focus()), frozenset(vocabulary))


def ask_clause(question: str) -> str:
    """The part of a message that asks: its questions, without the context around them.

    "We're a small independent in Leeds and our PMR keeps going on about it. When does
    MYS become compulsory?" asks "When does MYS become compulsory?". A message with no
    question mark asks in its sentences that open with a question word, else throughout.
    """
    pieces = [p.strip() for p in re.split(r"(?<=[.?!])\s+|\s*[;—–]\s*", question) if p.strip()]
    asking = [p for p in pieces if p.endswith("?")] or [p for p in pieces if _ASKS.search(p)]
    return " ".join(asking) if asking else question


def split_parts(question: str) -> list[str]:
    """Split a compound question into its asks; a plain question is one part.

    Context before the first ask stays with it ("We're in Leeds; when does ...?"), and a
    piece that asks nothing ("... and thanks") joins the part before it.
    """
    pieces = [p.strip(" ,;") for p in _PART_BREAK.split(question) if p and p.strip(" ,;")]
    parts: list[str] = []
    for piece in pieces:
        if parts and (not _ASKS.search(piece) or len(question_terms(piece)) == 0):
            parts[-1] = f"{parts[-1]} {piece}"
        elif parts and not _ASKS.search(parts[-1]):
            parts[-1] = f"{parts[-1]}; {piece}"  # context, then the first ask
        else:
            parts.append(piece)
    return parts if len(parts) > 1 else [question]


def make_query(
    text: str,
    asked: str,
    index: SearchIndex,
    seasons: list[str] | None = None,
    topics: list[str] | None = None,
    vector: np.ndarray | None = None,
) -> Query:
    """Embed the question (unless given its vector) and read it; explicit season filters
    win over named seasons. Given a vector, the unmatched words' vector is left to
    _embed_queries, which embeds every part in one pass."""
    named = seasons_named(text, index.seasons)
    chosen = tuple(seasons or named)
    ask = ask_clause(asked)
    unmatched = unmatched_in(text, index)
    kind = _with_acronym(asked_kind(ask) or asked_kind(asked) or asked_kind(text), ask, text, index)
    if vector is None:
        vectors, span_vectors, _ = index.embed_with_spans([text], [list(unmatched)], [])
        vector, unmatched_vector = vectors[0], span_vectors[0]
    else:
        unmatched_vector = None
    return Query(
        text=text,
        asked=asked,
        vector=vector,
        unmatched=unmatched,
        unmatched_vector=unmatched_vector,
        seasons=chosen,
        wants_latest=wants_latest(text) and not chosen,
        topics=tuple(topics or ()),
        missing_seasons=tuple(seasons_missing(text, index.seasons)) if not seasons else (),
        kind=kind,
        terms=tuple(question_terms(strip_seasons(text))),
        ask_terms=tuple(question_terms(strip_seasons(ask))),
        focus=tuple(focus_words(ask) or focus_words(text)),
        counted=tuple(counted_words(kind, ask) or counted_words(kind, text)),
        named=tuple(named_words(kind, ask) or named_words(kind, text)),
        nation=nation_named(text),
        pinned=tuple(pinned_figures(text)),
    )


def _with_acronym(kind: Asked | None, ask: str, text: str, index: SearchIndex) -> Asked | None:
    """An expansion question whose letters are not in capitals, or in an earlier turn
    ("what does it stand for?"), asks about the acronym the resolved question names or,
    failing that, a word of it that the archive spells out."""
    if kind is None or kind.kind != "expansion" or kind.acronym:
        return kind
    acronym = question_acronym(text) or known_acronym(ask, index) or known_acronym(text, index)
    return replace(kind, acronym=acronym) if acronym else kind


def season_mentions(question: str) -> list[tuple[str, str]]:
    """Return the (season, year) pairs a question names: "autumn 2021" -> ("Autumn", "2021").

    The year is "" when not given ("the winter update").
    """
    mentions = []
    for match in SEASON_RE.finditer(question):
        name = match.group(1).lower().replace("fall", "autumn").capitalize()
        year = (match.group(2) or "").lstrip("'")
        mentions.append((name, "20" + year if len(year) == 2 else year))
    return mentions


def seasons_named(question: str, known: list[str]) -> list[str]:
    """Return the index's seasons that the question names ("the autumn 2021 update")."""
    found: list[str] = []
    for name, year in season_mentions(question):
        for season in known:
            label, _, season_year = season.partition(" ")
            if label == name and (not year or year == season_year) and season not in found:
                found.append(season)
    return found


def seasons_missing(question: str, known: list[str]) -> list[str]:
    """Return the bulletins a question names ("the spring 2022 update") that have no content.

    Only a season followed by "update"/"bulletin" counts: "go live in spring 2021" is a
    date, not a bulletin.
    """
    missing = []
    for match in _BULLETIN_RE.finditer(question):
        ((name, year),) = season_mentions(match.group(0))
        if not seasons_named(f"{name} {year}", known):
            missing.append(f"{name} {year}".strip())
    return missing


def wants_latest(question: str) -> bool:
    """True when the question asks for the latest or current position."""
    return bool(latest_pattern().search(question))


def strip_seasons(question: str) -> str:
    """The question without its season words: they pick a bulletin, they are not the topic."""
    return _BULLETIN_RE.sub(" ", SEASON_RE.sub(" ", question))


def focus_words(question: str) -> list[str]:
    """Return the content words of what the question asks about ("which robotic systems")."""
    return [w for match in _FOCUS.finditer(question) for w in _phrase_words(match.group(1))]


def counted_words(kind: Asked | None, question: str) -> list[str]:
    """What a count or share question counts: "how many GP *referrals*", "what share of *GP
    practices*". Unlike focus words, "pharmacies" or "months" are kept: they say what is
    counted even where they don't say what the question is about."""
    if kind is None or kind.rule.counted is None:
        return []
    found = kind.rule.counted.finditer(question)
    return [w for m in found for w in _phrase_words(m.group(1), focus=False)]


def named_words(kind: Asked | None, question: str) -> list[str]:
    """What a name question asks to be named: "which *pharmacies*", "which *hospital software
    company*". As with counted words, "pharmacies" is kept: it says what the names are of."""
    if kind is None or kind.rule.named is None:
        return []
    found = kind.rule.named.finditer(question)
    words = [w for m in found for w in _phrase_words(m.group(1), focus=False)]
    return [w for w in words if not unnamed_mentions().opens(w)]  # "which *five* pharmacies"


def _phrase_words(phrase: str, focus: bool = True) -> list[str]:
    """The words of a phrase after "which" / "how many", up to its verb. A focus phrase
    keeps only words that can say what it is about (no stop words, no generic_focus.txt)."""
    words: list[str] = []
    for position, token in enumerate(phrase.lower().split()):
        if token in focus_stops() or (token.endswith("ed") and (focus or position)):
            break  # the phrase ends where the verb or a function word starts
        word = re.sub(r"['’]s$", "", token)
        general = word in STOPWORDS or word in generic_focus()
        if len(word) > 2 and not (focus and general):
            words.append(word)
    return words


def nation_named(question: str) -> str | None:
    """The nation the question asks about, if it names one other than England."""
    lowered = question.lower()
    for nation, spellings in nations().items():
        if nation != "england" and any(re.search(rf"\b{s}\b", lowered) for s in spellings):
            return nation
    return None


def pinned_figures(question: str) -> list[str]:
    """Return figures and dates a question pins down ("in August 2021", "the 4-item limit").

    A bulletin season ("the autumn 2021 update") picks a bulletin, so it is not a figure.
    """
    text = strip_seasons(question)
    months = month_pattern().pattern
    found = [m.group(0) for m in re.finditer(rf"(?i){months}\s+\d{{4}}\b", text)]
    text = re.sub(rf"(?i){months}\s+\d{{4}}\b", " ", text)
    found += re.findall(r"\b\d+(?:\.\d+)?\b", text)
    return found
