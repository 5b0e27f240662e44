"""Paraphrase-tolerant matching: how well a text covers each of a question's words.

Contractors name things in their own words ("jabs" for vaccinations, "edition" for
version, "the CSU" for the commissioning support unit), so exact word matching refuses
answerable questions. Here a question word matches a text by, best first:
- the word itself or its stem ("suppliers" / "supplier"): 1.0;
- initials: "commissioning support unit" in the question and "CSU" in the text, or the
  other way round: 1.0;
- meaning: the cosine between the word's embedding and the closest text word's, from the
  same MiniLM model the index uses ("jabs" / "vaccinations" 0.53, "edition" / "version"
  0.73, "jabs" / "smartcard" -0.04).
Word vectors for the archive's vocabulary are made once per index build; a question word
the archive never uses is embedded when first seen (with the question itself, see
assistant/query.py) and remembered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from assistant.terms import TextView, content_words, term_in, text_holds, text_view
from index.search import SearchIndex

# Question words the archive never uses are remembered up to this many (about 30 MB of
# vectors); past it the older half is dropped, so a long-running server cannot grow
# without bound on typos and one-off words.
ASKED_WORDS_KEPT = 20_000


@dataclass(frozen=True)
class WordMatch:
    """How one question word is matched in a text: by which text word, and how closely."""

    word: str
    matched: str  # the text word (or initials) it matched; "" if none
    score: float  # 1.0 exact, stem or initials; else the embedding cosine (clipped at 0)


class WordVectors:
    """Embeddings of single words, for the archive's vocabulary and words asked since."""

    def __init__(self, index: SearchIndex) -> None:
        vocabulary = sorted({w for c in index.chunks.values() for w in content_words(c.embed_text)})
        stored = index.stored_words  # the build embedded them (words.npz), unless it is older
        unstored = [w for w in vocabulary if w not in stored]
        embedded = dict(zip(unstored, index.embed_texts(unstored), strict=True)) if unstored else {}
        vectors = (
            np.stack([stored[w] if w in stored else embedded[w] for w in vocabulary])
            if vocabulary
            else np.zeros((0, 1), np.float32)
        )
        self._index = index
        self._vocabulary = (frozenset(vocabulary), tuple(vocabulary))  # for term_in
        self._rows = {w: i for i, w in enumerate(vocabulary)}
        self._vectors = vectors
        self._asked: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def known(self, words: list[str]) -> tuple[list[str], np.ndarray]:
        """Return the words that have vectors (the archive's vocabulary) and their vectors."""
        kept = [w for w in words if w in self._rows]
        rows = [self._rows[w] for w in kept]
        return kept, self._vectors[rows] if rows else np.zeros((0, self._vectors.shape[1]))

    def unseen(self, words: Iterable[str]) -> list[str]:
        """The words (once each) that have no vector yet: not the archive's, not asked before."""
        return [w for w in dict.fromkeys(words) if w not in self._rows and w not in self._asked]

    def remember(self, words: list[str], vectors: np.ndarray) -> None:
        """Keep vectors embedded elsewhere (with the question's own, in one encode)."""
        with self._lock:
            self._asked.update(zip(words, vectors, strict=True))
            if len(self._asked) > ASKED_WORDS_KEPT:
                for word in list(self._asked)[: len(self._asked) - ASKED_WORDS_KEPT // 2]:
                    del self._asked[word]  # the oldest first (dicts keep insertion order)

    def in_archive(self, words: list[str]) -> list[WordMatch]:
        """How closely the archive's vocabulary comes to each word: the word, its stem or
        spelling (1.0), else the archive word nearest in meaning."""
        held, ordered = self._vocabulary
        matches = {w: WordMatch(w, w, 1.0) for w in words if term_in(w, held, "", ordered)}
        rest = [w for w in dict.fromkeys(words) if w not in matches]
        if rest and ordered:
            matches.update(self.nearest(rest, list(ordered), self._vectors))
        return [matches.get(w, WordMatch(w, "", 0.0)) for w in words]

    def nearest(
        self, words: list[str], candidates: list[str], matrix: np.ndarray
    ) -> dict[str, WordMatch]:
        """Each word's nearest candidate in meaning (matrix: the candidates' vectors), with
        its cosine clipped at 0."""
        similarity = self.of(words) @ matrix.T
        found = {}
        for word, row in zip(words, similarity, strict=True):
            best = int(row.argmax())
            found[word] = WordMatch(word, candidates[best], max(0.0, float(row[best])))
        return found

    def of(self, words: list[str]) -> np.ndarray:
        """Return one vector per word, embedding (and remembering) words not seen before."""
        new = self.unseen(words)
        if new:
            self.remember(new, self._index.embed_texts(new))
        asked = [w for w in dict.fromkeys(words) if w not in self._rows]
        with self._lock:
            found = {w: self._asked[w] for w in asked if w in self._asked}
        lost = [w for w in asked if w not in found]
        if lost:  # dropped meanwhile by another question's remember: embed them again
            found.update(zip(lost, self._index.embed_texts(lost), strict=True))
        return np.stack(
            [self._vectors[self._rows[w]] if w in self._rows else found[w] for w in words]
        )


def word_vectors(index: SearchIndex) -> WordVectors:
    """The word vectors for this index build, made on first use."""
    return index.derived("word_vectors", WordVectors)


def match_words(words: list[str], text: str, vectors: WordVectors) -> list[WordMatch]:
    """Return how well the text covers each question word (exact, initials, or meaning)."""
    if not words:
        return []
    view = text_view(text)
    matches: dict[str, WordMatch] = {}
    for word, initials in _initial_matches(words, view).items():
        matches[word] = WordMatch(word, initials, 1.0)
    for word in words:
        if word not in matches and text_holds(word, text):
            matches[word] = WordMatch(word, word, 1.0)
    rest = [w for w in words if w not in matches]
    if rest:
        candidates, matrix = vectors.known(list(view.vocabulary))
        if candidates:
            matches.update(vectors.nearest(rest, candidates, matrix))
    return [matches.get(w, WordMatch(w, "", 0.0)) for w in words]


def _initial_matches(words: list[str], view: TextView) -> dict[str, str]:
    """Question words that a run of initials in the text (or the question) accounts for.

    "commissioning support unit" in the question and "CSU" in the text: all three words
    are matched by "CSU". "CSU" in the question and "Commissioning Support Unit" in the
    text: "csu" is matched by the phrase.
    """
    found: dict[str, str] = {}
    acronyms = view.acronyms
    for size in (4, 3, 2):
        for start in range(len(words) - size + 1):
            run = words[start : start + size]
            initials = "".join(w[0] for w in run)
            if initials in acronyms:
                for w in run:
                    found.setdefault(w, initials.upper())
    spelled = _spelled_runs(view.sequence)
    for word in words:
        if 2 <= len(word) <= 6 and word not in found and word in spelled:
            found[word] = spelled[word]
    return found


_JOIN = frozenset({"and", "of", "for", "the", "in", "on", "to"})
_SPELLED_LENGTHS = range(2, 7)  # how many letters a question word spelling initials has


@lru_cache(maxsize=8192)
def _spelled_runs(text_words: tuple[str, ...]) -> dict[str, str]:
    """Every string of 2-6 initials the text's runs of words spell, with the first run that
    spells it ("csu": "commissioning support unit"). Joining words ("of", "and") are skipped
    inside a run, and a run never starts at one (it would be found again from the next
    word). Worked out once per text: the same passage lines meet every question's words."""
    spelled: dict[str, str] = {}
    for size in _SPELLED_LENGTHS:
        for start, first in enumerate(text_words):
            if first in _JOIN:
                continue
            run = [w for w in text_words[start : start + size + 2] if w not in _JOIN][:size]
            if len(run) == size:
                spelled.setdefault("".join(w[0] for w in run), " ".join(run))
    return spelled


def coverage(matches: list[WordMatch], weights: list[float]) -> float:
    """The weighted mean match score: how much of the question the text covers (0..1)."""
    total = sum(weights)
    if not matches or total <= 0:
        return 0.0
    return sum(m.score * w for m, w in zip(matches, weights, strict=True)) / total
