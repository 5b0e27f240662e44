"""Question terms: the content words a question turns on, and whether a text contains them."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from assistant.lexicon import spellings, stopwords

STOPWORDS = stopwords()


def question_terms(text: str) -> list[str]:
    """Return the question's content words, lower-cased, without stop words."""
    words = re.findall(r"[a-z0-9£][a-z0-9&+/'’.-]*[a-z0-9]|[a-z0-9]", text.lower())
    return [w for w in (w.strip(".'’") for w in words) if w and w not in STOPWORDS]


def term_in(term: str, haystack_words: set[str], haystack: str) -> bool:
    """True when a term (or its stem, e.g. "suppliers"/"supplier") occurs in the text."""
    if term in haystack_words or (len(term) > 3 and term in haystack):
        return True
    other = spellings().get(term)
    if other:
        return term_in(other, haystack_words, haystack)
    stem = re.sub(r"(ing|ed|es|s)$", "", term) if len(term) > 4 else term
    return len(stem) >= 3 and any(w.startswith(stem) for w in haystack_words)


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
    words, lowered = words_of(text), text.lower()
    found = sum(w for t, w in zip(terms, weights, strict=True) if term_in(t, words, lowered))
    return found / (sum(weights) or 1.0)
