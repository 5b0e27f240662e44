"""Question terms: the content words a question turns on, and whether a text contains them."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

from assistant.lexicon import spellings, stopwords
from sentences import WORD

STOPWORDS = stopwords()


# A clitic on a word: "who's", "we've", "NHS's", "didn't". The passages' words are split
# at the apostrophe, so a question word kept whole never matches one of them, and as a word
# the index never saw it weighs as much as the rarest name.
_CLITIC = re.compile(r"^(.+?)(?:['’](?:s|re|ve|ll|d|m)|n['’]t)$")


def question_terms(text: str) -> list[str]:
    """Return the question's content words, lower-cased, without stop words or clitics
    ("who's" is a stop word, "the NHS's" is "nhs")."""
    words = re.findall(r"[a-z0-9£][a-z0-9&+/'’.-]*[a-z0-9]|[a-z0-9]", text.lower())
    terms = []
    for word in (w.strip(".'’") for w in words):
        if word in STOPWORDS:
            continue
        clitic = _CLITIC.match(word)
        if clitic:
            word = clitic.group(1)
        if word and word not in STOPWORDS:
            terms.append(word)
    return terms


def term_in(
    term: str,
    haystack_words: AbstractSet[str],
    haystack: str,
    sorted_words: Sequence[str] | None = None,
) -> bool:
    """True when a term (or its stem, e.g. "suppliers"/"supplier") occurs in the text.

    sorted_words, the same words sorted, makes the stem check a binary search.
    """
    if term in haystack_words or (len(term) > 3 and term in haystack):
        return True
    other = spellings().get(term)
    if other:
        return term_in(other, haystack_words, haystack, sorted_words)
    stem = re.sub(r"(ing|ed|es|s)$", "", term) if len(term) > 4 else term
    if len(stem) < 3:
        return False
    if sorted_words is None:
        return any(w.startswith(stem) for w in haystack_words)
    at = bisect.bisect_left(sorted_words, stem)  # the first word >= stem starts with it, if any
    return at < len(sorted_words) and sorted_words[at].startswith(stem)


@dataclass(frozen=True)
class TextView:
    """What matching needs of one text, worked out once: the same passage lines are matched
    against every question word, focus word and later question."""

    lowered: str
    words: frozenset[str]  # words_of(text)
    sorted_words: tuple[str, ...]  # the same, sorted
    sequence: tuple[str, ...]  # its words in order, for initials
    acronyms: frozenset[str]  # capitalised runs ("CSU"), lower-cased
    vocabulary: tuple[str, ...]  # its content words, sorted: the candidates for meaning


@lru_cache(maxsize=8192)
def text_view(text: str) -> TextView:
    lowered = text.lower()
    words = words_of(text)
    return TextView(
        lowered=lowered,
        words=frozenset(words),
        sorted_words=tuple(sorted(words)),
        sequence=tuple(WORD.findall(lowered)),
        acronyms=frozenset(a.lower() for a in re.findall(r"\b[A-Z][A-Z0-9&]{1,7}\b", text)),
        vocabulary=tuple(sorted(content_words(text))),
    )


@lru_cache(maxsize=65536)
def text_holds(term: str, text: str) -> bool:
    """term_in() for a whole text, from its cached view (the same lines recur per question)."""
    view = text_view(text)
    return term_in(term, view.words, view.lowered, view.sorted_words)


def content_words(text: str) -> set[str]:
    """The text's lower-cased words that may carry meaning: letters first, no stop words."""
    return set(WORD.findall(text.lower())) - STOPWORDS


_ASKED_WORD = re.compile(r"[a-z0-9][a-z0-9'’&-]*", re.IGNORECASE)


def unmatched_spans(question: str, passage: str) -> list[tuple[int, int]]:
    """Where the question's words that the passage does not use sit in it: what it asks
    beyond what the passage speaks of. Stop words stay, for they are often the ask itself:
    "Who's the person at NHSBSA heading up the RTEC project?" against a passage saying only
    that NHSBSA leads the RTEC project leaves "who's person heading up".
    """
    used = set(_ASKED_WORD.findall(passage.lower()))
    # Matched in the question as typed (lower() may change a text's length), compared lower.
    found = _ASKED_WORD.finditer(question)
    return [m.span() for m in found if m.group().lower() not in used]


def words_of(text: str) -> set[str]:
    """The lower-cased words of a text, as a set."""
    return set(re.findall(r"[a-z0-9£]+", text.lower()))


def idf_table(texts: Iterable[str]) -> dict[str, float]:
    """Return each word's inverse document frequency over the texts (rare words weigh more)."""
    document_frequency: dict[str, int] = {}
    total = 0
    for text in texts:
        total += 1
        for word in words_of(text):
            document_frequency[word] = document_frequency.get(word, 0) + 1
    return {w: math.log((total + 1) / (n + 0.5)) for w, n in document_frequency.items()}


def weighted_coverage(terms: list[str], text: str, idf: dict[str, float]) -> float:
    """Return the share of the terms' IDF weight that the text contains (0..1)."""
    if not terms:
        return 0.0
    default = max(idf.values(), default=1.0)  # a word the index never saw is as rare as any
    weights = [idf.get(t, default) for t in terms]
    found = sum(w for t, w in zip(terms, weights, strict=True) if text_holds(t, text))
    return found / (sum(weights) or 1.0)
