"""Question terms: the content words a question turns on, and whether a text contains them."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing done down during each either few for from
    further get gets got had has have having he her here hers how i if in into is it its itself
    just know let like me more most my no nor not now of off on once only or other our out over
    own please same she should so some such tell than that the their them then there these they
    this those through to too under until up us very was we were what when where which while who
    whom why will with would you your yours any anything something thing things there's what's
    whats is it's its did does say said says mention mentioned mentions update updates
    bulletin bulletins archive cp itg group pharmacy pharmacies community contractor
    contractors ve re ll d s t m ours isn't isn’t don't don’t we're""".split()
)


def question_terms(text: str) -> list[str]:
    """Return the question's content words, lower-cased, without stop words."""
    words = re.findall(r"[a-z0-9£][a-z0-9&+/'’.-]*[a-z0-9]|[a-z0-9]", text.lower())
    return [w for w in (w.strip(".'’") for w in words) if w and w not in STOPWORDS]


# Spellings a question and the bulletins use for the same thing.
SYNONYMS = {"wales": "welsh", "scotland": "scottish", "e-prescribing": "prescribing"}


def term_in(term: str, haystack_words: set[str], haystack: str) -> bool:
    """True when a term (or its stem, e.g. "suppliers"/"supplier") occurs in the text."""
    if term in haystack_words or (len(term) > 3 and term in haystack):
        return True
    if term in SYNONYMS:
        return term_in(SYNONYMS[term], haystack_words, haystack)
    stem = re.sub(r"(ing|ed|es|s)$", "", term) if len(term) > 4 else term
    return len(stem) >= 3 and any(w.startswith(stem) for w in haystack_words)


def words_of(text: str) -> set[str]:
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
    words, lowered = words_of(text), text.lower()
    found = sum(w for t, w in zip(terms, weights, strict=True) if term_in(t, words, lowered))
    return found / (sum(weights) or 1.0)
