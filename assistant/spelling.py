"""Mend a question's typos to the archive's spelling before it is read.

"servcie finder - when did the survey reslts come out?" is read as "service finder - when
did the survey results come out?": the reader then matches the words the bulletins use and
the embedding reads words it knows, where a typo matched nothing and weighed as much as the
rarest name. A word is mended only when neither the archive nor the embedding model knows
it (the model's tokenizer holds "locked", "leeds" and "boots" whole, so they stay as typed,
and "wording" is a word it knows with an ending), it has at least min_letters letters, and
it is one edit from an archive word (a letter dropped, added, changed, or two neighbours
swapped; the first letter kept) that is not merely another form of it ("rollouts" is
"rollout" to the reader already). Of several such words, the likeliest typo wins
("interent" is "internet", two letters swapped, not "interest"), then the word the archive
uses most.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from assistant.lexicon import word_endings
from index.search import SearchIndex
from settings import SpellingSettings

_WORD = re.compile(r"[A-Za-z]+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Mended:
    """One typo mended: the word as typed, and the archive's word read in its place."""

    typed: str
    word: str


@dataclass(frozen=True)
class SpellingWords:
    """The archive's words with how often it uses each, and the words the model knows whole."""

    archive: dict[str, int]
    known: frozenset[str]


def spelling_words(index: SearchIndex) -> SpellingWords:
    """The words a typo may be mended to, and the words never taken for one (cached)."""
    return index.derived("spelling_words", _make_spelling_words)


def _make_spelling_words(index: SearchIndex) -> SpellingWords:
    counts: Counter[str] = Counter()
    for chunk in index.chunks.values():
        counts.update(w.lower() for w in _WORD.findall(chunk.embed_text))
    return SpellingWords(dict(counts), index.whole_words())


def mend_spelling(
    text: str, words: SpellingWords, tuning: SpellingSettings | None = None
) -> tuple[str, list[Mended]]:
    """Return the text with its typos mended to archive words, and what was mended."""
    tuning = tuning or SpellingSettings()
    mended: list[Mended] = []

    def mend(match: re.Match) -> str:
        typed = match.group()
        word = mended_word(typed.lower(), words, tuning.min_letters)
        if word is None:
            return typed
        mended.append(Mended(typed, word))
        return word.capitalize() if typed[0].isupper() else word

    return _WORD.sub(mend, text), mended


def mended_word(word: str, words: SpellingWords, min_letters: int) -> str | None:
    """The archive word a typo stands for, or None when the word is not taken for one."""
    if len(word) < min_letters or _known_word(word, words):
        return None
    candidates = {
        c: rank
        for c, rank in one_edit(word).items()
        if c in words.archive and c[0] == word[0] and not _forms_of_one(c, word)
    }
    return min(candidates, key=lambda c: (candidates[c], -words.archive[c], c), default=None)


def _known_word(word: str, words: SpellingWords) -> bool:
    """True when the archive or the model knows the word, or the model knows its stem."""
    if word in words.archive or word in words.known:
        return True
    stems = (word[: -len(e)] for e in word_endings() if word.endswith(e))
    return any(len(s) >= 3 and (s in words.known or f"{s}e" in words.known) for s in stems)


def one_edit(word: str) -> dict[str, int]:
    """Every string one edit away, with how unlikely that edit is as a typo: two letters
    swapped (0), a letter left out or doubled (1), then a letter mistyped (2)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits: dict[str, int] = {}
    for rank, strings in enumerate(
        (
            [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1],
            [a + c + b for a, b in splits for c in _LETTERS] + [a + b[1:] for a, b in splits if b],
            [a + c + b[1:] for a, b in splits if b for c in _LETTERS],
        )
    ):
        for string in strings:
            edits.setdefault(string, rank)
    edits.pop(word, None)
    return edits


def _forms_of_one(a: str, b: str) -> bool:
    """True when one word is the other with an ending ("rollout" / "rollouts")."""
    return a.startswith(b) or b.startswith(a)
