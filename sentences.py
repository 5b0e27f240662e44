"""Sentence, word and list-marker helpers shared by ingest, the index, the assistant and the eval.

One home for the rules that say where a sentence ends, what a word is and what a list
marker is, so the chunker, the stored vectors, the reader, the answer composer and the
scorer all cut text the same way.
"""

from __future__ import annotations

import re

from records import Chunk

# Abbreviations whose full stop does not end a sentence.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "incl.", "approx.", "vs.", "No.", "St.", "Dr.", "Mr.")
_BRACKETED_SENTENCE = re.compile(r"\([A-Z][a-z]+\s+[a-z]")  # "(See the guide.)"
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z0-9“‘\"(£])")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences at ., ! or ? followed by a capital, skipping abbreviations."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].rstrip()
        if candidate.endswith(_ABBREVIATIONS) or re.search(r"\b[A-Z]\.$", candidate):
            continue  # "e.g. Cegedim" or an initial: not a sentence end
        if text[match.end() :].startswith("(") and not _BRACKETED_SENTENCE.match(text, match.end()):
            continue  # "... is needed. (WS1a-1d)": a reference belongs to its sentence
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def chunk_sentences(chunk: Chunk) -> list[str]:
    """Return the sentences of a chunk, line by line, so list items never merge."""
    return [s for line in chunk.text.split("\n") for s in line_sentences(line)]


def line_sentences(line: str) -> list[str]:
    """Return the sentences of one chunk line, its list marker removed."""
    return split_sentences(strip_marker(line))


def in_context(chunk: Chunk, sentence: str) -> str:
    """The sentence as its section reads it: under the passage's own heading.

    "Supplier briefings occurred in October 2020, February and May 2021." says nothing of
    the discharge service on its own; under its heading it does.
    """
    heading = chunk.heading_path[-1] if chunk.heading_path else ""
    return f"{heading}: {sentence}" if heading else sentence


def distinct_sentences(chunks: list[Chunk]) -> list[str]:
    """Every distinct sentence of the chunks, bare and in context, sorted: what a build
    stores vectors for."""
    return sorted(
        {text for c in chunks for s in chunk_sentences(c) for text in (s, in_context(c, s))}
    )


WORD = re.compile(r"[a-z][a-z0-9]+")  # a lower-cased word that may carry meaning


def distinct_words(chunks: list[Chunk]) -> list[str]:
    """Every distinct lower-cased word of the chunks' embedded texts, sorted: the build
    stores their vectors, so the reader's paraphrase matching needs no embedding at start."""
    return sorted({w for c in chunks for w in WORD.findall(c.embed_text.lower())})


def strip_marker(line: str) -> str:
    """Remove a leading "• " or "3. " list marker."""
    if line.startswith("• "):
        return line[2:]
    head, _, rest = line.partition(". ")
    return rest if head.isdigit() and rest else line
