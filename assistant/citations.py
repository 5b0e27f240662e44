"""Number the passages an answer quotes, and check every [n] marker against its passage.

Citations are a step of their own: the composer writes sentences, this module gives each
passage its number (the first passage quoted is [1]), and verify_citations checks
mechanically, before any answer is returned, that every sentence followed by [n] is inside
passage n and that every listed citation is used. A broken check would let a confident
wrong citation through, the worst thing this product can do, so it raises CitationError.
"""

from __future__ import annotations

import re

from records import Chunk, Citation
from sentences import strip_marker

_MARKED = re.compile(r"\s*(.+?) \[(\d+)\]")


class CitationError(AssertionError):
    """A [n] marker that does not point at a passage containing its sentence."""


class Numbering:
    """Passage numbers in order of first use, and the sentences quoted from each."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._chunks: dict[int, Chunk] = {}
        self._sentences: dict[int, list[str]] = {}

    def number(self, chunk: Chunk, sentences: list[str]) -> int:
        """Return the passage's number (giving it the next one if new); note what it quotes."""
        n = self._numbers.setdefault(chunk.id, len(self._numbers) + 1)
        self._chunks[n] = chunk
        quoted = self._sentences.setdefault(n, [])
        quoted.extend(s for s in sentences if s not in quoted)
        return n

    def citations(self) -> list[Citation]:
        """The numbered passages as citations, [1] first."""
        return [
            Citation(
                n=n,
                season=chunk.season,
                heading_path=chunk.heading_path,
                url=chunk.url,
                text=chunk.text,
                sentences=tuple(self._sentences[n]),
            )
            for n, chunk in sorted(self._chunks.items())
        ]

    def chunks(self) -> list[Chunk]:
        """The cited passages, [1] first."""
        return [chunk for _, chunk in sorted(self._chunks.items())]


def verify_citations(answer_text: str, citations: list[Citation]) -> None:
    """Check every sentence's [n] points at a passage containing it, and every citation is used.

    Lines without a marker (a caveat, a lead-in) are not quotes and are not checked.
    """
    by_n = {c.n: c for c in citations}
    used = set()
    for line in answer_text.split("\n"):
        for match in _MARKED.finditer(strip_marker(line)):
            sentence, n = match.group(1), int(match.group(2))
            citation = by_n.get(n)
            if citation is None or sentence not in citation.text:
                raise CitationError(f"[{n}] does not support: {sentence[:80]}")
            used.add(n)
    if used != set(by_n):
        raise CitationError(f"citations listed but not used: {sorted(set(by_n) - used)}")
