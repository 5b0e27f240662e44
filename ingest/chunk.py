"""Cut sections into chunks that fit the embedding model, never splitting an item or sentence.

A chunk is whole blocks of one section (a paragraph, a list item, a table row), packed in
order up to the model's limit, so a passage holds a sub-topic's neighbouring items and the
answer composer picks sentences from them. (On the team's 199 eval questions, packed sections, 69
chunks, rank the answer's passage first for 84% of questions; one item per chunk, 138
chunks, for 79%.) A block too long for the model on its own is cut at sentence ends.
Each chunk's id hashes its source, heading path and text, so re-ingest can skip unchanged
chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from records import Block, Chunk, Section
from sentences import split_sentences

TokenCounter = Callable[[str], int]


def chunk_sections(
    sections: Iterable[Section], count_tokens: TokenCounter, max_tokens: int = 256
) -> list[Chunk]:
    """Return the chunks of all sections, in order, each within max_tokens with its context."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in sections:
        context = " > ".join((section.season, *section.heading_path)) + "\n"
        budget = max_tokens - count_tokens(context)
        for text in _pack(section.blocks, count_tokens, budget):
            made = _make_chunk(section, text)
            if made.id in seen:  # the same text twice under one heading: index it once
                continue
            seen.add(made.id)
            chunks.append(made)
    return chunks


def _pack(blocks: tuple[Block, ...], count_tokens: TokenCounter, budget: int) -> list[str]:
    """Pack the section's blocks, in order, into chunk texts that each fit the budget."""
    texts: list[str] = []
    group: list[str] = []
    group_tokens = 0
    for block in blocks:
        line = block.render()
        tokens = count_tokens(line)
        if tokens > budget:
            if group:
                texts.append("\n".join(group))
            group, group_tokens = [], 0
            texts.extend(_split_long(line, count_tokens, budget))
            continue
        if group and group_tokens + tokens > budget:
            # A lead-in line ("... such as:") moves on with the items it introduces.
            carried = [group.pop()] if group[-1].endswith(":") and len(group) > 1 else []
            texts.append("\n".join(group))
            group = carried
            group_tokens = sum(count_tokens(x) for x in group)
        group.append(line)
        group_tokens += tokens
    if group:
        texts.append("\n".join(group))
    return texts


def _split_long(line: str, count_tokens: TokenCounter, budget: int) -> list[str]:
    """Cut one over-long block at sentence ends into pieces within the budget."""
    pieces: list[str] = []
    current: list[str] = []
    for sentence in split_sentences(line):
        candidate = " ".join([*current, sentence])
        if current and count_tokens(candidate) > budget:
            pieces.append(" ".join(current))
            current = [sentence]
        else:
            current.append(sentence)
    if current:
        pieces.append(" ".join(current))
    # A single sentence longer than the whole budget is kept whole: the model truncates
    # its tail, but splitting mid-sentence would break the citation check.
    return pieces


def _make_chunk(section: Section, text: str) -> Chunk:
    key = "\x1f".join((section.page_url, section.season, *section.heading_path, text))
    return Chunk(
        id=hashlib.sha256(key.encode()).hexdigest()[:24],
        section_id=section.id,
        url=section.url,
        page_url=section.page_url,
        season=section.season,
        season_order=section.season_order,
        heading_path=section.heading_path,
        text=text,
    )
