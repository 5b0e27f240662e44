"""Tests for ingest.chunk with the real model tokenizer: sizes, whole items, stable ids."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from index.embed import token_counter
from ingest import snapshot_pages
from ingest.chunk import chunk_sections
from ingest.parse import parse_page
from records import Block, Chunk, Section, season_order
from sentences import split_sentences

MAX_TOKENS = 256


@pytest.fixture(scope="module")
def count() -> Callable[[str], int]:
    return token_counter(None)


@pytest.fixture(scope="module")
def sections() -> list[Section]:
    return [s for page in snapshot_pages() for s in parse_page(page)]


@pytest.fixture(scope="module")
def chunks(sections: list[Section], count: Callable[[str], int]) -> list[Chunk]:
    return chunk_sections(sections, count, MAX_TOKENS)


def make_section(
    blocks: list[Block],
    season: str = "Autumn 2021",
    path: tuple[str, ...] = ("EPS and RTEC", "EPS"),
) -> Section:
    return Section(
        id="test-section-" + season.replace(" ", "-"),
        url="https://example.org/archive/#" + "-".join(path).lower().replace(" ", "-"),
        page_url="https://example.org/archive/",
        page_title="Archive",
        season=season,
        season_order=season_order(season),
        heading_path=path,
        blocks=tuple(blocks),
    )


# Thirty-odd distinct sentences of 15-25 tokens each: ~600 tokens in one paragraph.
LONG_SENTENCES = [
    f"Pilot site number {n} reported that the new dispensing workflow, e.g. Cegedim's module, "
    f"saved about {n + 3} minutes a day (see the 1st July report)."
    if n % 3
    else f"Dr. Patel at site {n} said “the checks now run before the patient arrives.”"
    for n in range(1, 34)
]
LONG_BLOCK = " ".join(LONG_SENTENCES)


# ---------------------------------------------------------------- the snapshot's chunks


def test_every_chunk_fits_the_model(chunks: list[Chunk], count: Callable[[str], int]) -> None:
    assert len(chunks) > 40
    sizes = [count(c.embed_text) for c in chunks]
    assert max(sizes) <= MAX_TOKENS, max(sizes)


def test_every_block_is_whole_in_exactly_one_chunk(
    sections: list[Section], chunks: list[Chunk], count: Callable[[str], int]
) -> None:
    by_section: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_section.setdefault(chunk.section_id, []).append(chunk)
    assert set(by_section) == {s.id for s in sections}
    for section in sections:
        lines = [line for c in by_section[section.id] for line in c.text.split("\n")]
        # Every chunk line is one block, in the section's order: nothing split or merged.
        assert lines == [b.render() for b in section.blocks], section.heading_path


def test_chunks_carry_their_section_context(sections: list[Section], chunks: list[Chunk]) -> None:
    by_id = {s.id: s for s in sections}
    for chunk in chunks:
        section = by_id[chunk.section_id]
        assert (chunk.url, chunk.page_url, chunk.season) == (
            section.url,
            section.page_url,
            section.season,
        )
        assert chunk.season_order == section.season_order
        assert chunk.heading_path == section.heading_path
        assert chunk.embed_text == " > ".join((chunk.season, *chunk.heading_path)) + "\n" + (
            chunk.text
        )


def test_chunk_ids_are_stable_across_runs(
    sections: list[Section], chunks: list[Chunk], count: Callable[[str], int]
) -> None:
    again = chunk_sections(sections, count, MAX_TOKENS)
    assert [c.id for c in again] == [c.id for c in chunks]
    assert len({c.id for c in chunks}) == len(chunks)


def test_chunk_id_changes_only_where_text_changes(
    sections: list[Section], chunks: list[Chunk], count: Callable[[str], int]
) -> None:
    target = next(i for i, s in enumerate(sections) if s.heading_path[-1] == "NHS App")
    section = sections[target]
    edited_block = dataclasses.replace(section.blocks[0], text=section.blocks[0].text + " Edited.")
    edited = [*sections]
    edited[target] = dataclasses.replace(section, blocks=(edited_block, *section.blocks[1:]))
    after = chunk_sections(edited, count, MAX_TOKENS)
    before_ids = {c.id for c in chunks}
    after_ids = {c.id for c in after}
    # Only the chunk holding the edited item gets a new id; the section's other chunks
    # and every other section's keep theirs.
    (old_id,) = [c.id for c in chunks if section.blocks[0].render() in c.text.split("\n")]
    (new_id,) = [c.id for c in after if edited_block.render() in c.text.split("\n")]
    assert before_ids - after_ids == {old_id}
    assert after_ids - before_ids == {new_id}


def test_same_text_in_two_seasons_gets_two_ids(count: Callable[[str], int]) -> None:
    blocks = [Block("li", "NHS App reached more than 16 million users by October 2021.")]
    autumn = chunk_sections([make_section(blocks, "Autumn 2021")], count)
    winter = chunk_sections([make_section(blocks, "Winter 2021")], count)
    assert [c.text for c in autumn] == [c.text for c in winter]
    assert autumn[0].id != winter[0].id


def test_same_text_under_two_headings_gets_two_ids(count: Callable[[str], int]) -> None:
    blocks = [Block("p", "Contact it@psnc.org.uk for more information.")]
    eps = chunk_sections([make_section(blocks, path=("EPS and RTEC", "EPS"))], count)
    rtec = chunk_sections([make_section(blocks, path=("EPS and RTEC", "RTEC"))], count)
    assert eps[0].id != rtec[0].id


# ---------------------------------------------------------------- packing and splitting


def test_small_section_is_one_chunk_in_block_order(count: Callable[[str], int]) -> None:
    blocks = [
        Block("p", "Contractors can take these steps:"),
        Block("li", "Register for RTEC."),
        Block("ol", "Check the EPS tracker.", 3),
    ]
    (chunk,) = chunk_sections([make_section(blocks)], count)
    assert chunk.text == (
        "Contractors can take these steps:\n• Register for RTEC.\n3. Check the EPS tracker."
    )


def test_over_long_block_is_split_only_at_sentence_ends(count: Callable[[str], int]) -> None:
    assert count(LONG_BLOCK) > 2 * MAX_TOKENS
    section = make_section([Block("p", LONG_BLOCK)])
    pieces = chunk_sections([section], count, MAX_TOKENS)
    assert len(pieces) >= 3
    for piece in pieces:
        assert count(piece.embed_text) <= MAX_TOKENS
        assert piece.text.endswith((".", ".”"))
    # Joined back, the pieces are the block; every sentence is whole in exactly one piece.
    assert " ".join(p.text for p in pieces) == LONG_BLOCK
    for sentence in LONG_SENTENCES:
        assert sum(sentence in p.text for p in pieces) == 1, sentence
    boundaries = [p.text.split(" ")[0] for p in pieces]
    assert all(word in ("Pilot", "Dr.") for word in boundaries)


def test_over_long_block_between_short_ones(count: Callable[[str], int]) -> None:
    blocks = [
        Block("p", "Before the long item."),
        Block("li", LONG_BLOCK),
        Block("p", "After the long item."),
    ]
    pieces = chunk_sections([make_section(blocks)], count, MAX_TOKENS)
    assert pieces[0].text == "Before the long item."
    assert pieces[1].text.startswith("• " + LONG_SENTENCES[0])
    assert pieces[-1].text == "After the long item."
    assert all(count(p.embed_text) <= MAX_TOKENS for p in pieces)


def test_single_sentence_longer_than_the_budget_stays_whole(count: Callable[[str], int]) -> None:
    """Cutting inside a sentence would break the citation check: it is kept whole."""
    sentence = (
        "The plan covers " + ", ".join(f"item {n} for site {n * 7}" for n in range(120)) + "."
    )
    assert count(sentence) > MAX_TOKENS
    pieces = chunk_sections([make_section([Block("p", sentence)])], count, MAX_TOKENS)
    assert [p.text for p in pieces] == [sentence]


def test_lead_in_line_moves_with_the_items_it_introduces(count: Callable[[str], int]) -> None:
    context = count("Autumn 2021 > EPS and RTEC > EPS\n")
    budget = MAX_TOKENS - context
    lead_in = Block("p", "Contractors can take steps to gain pharmacy access such as:")
    item = Block(
        "li", "Asking the local ShCR team for a pharmacy login and a short training session."
    )
    # Fill the first chunk so the lead-in still fits but its first item does not: each
    # filler sentence is ~12 tokens, the item ~20, so the slack left is too small for it.
    filler: list[str] = []
    while True:
        sentence = f"Background sentence {len(filler)} about the local records programme."
        if count(" ".join([*filler, sentence])) + count(lead_in.render()) > budget:
            break
        filler.append(sentence)
    blocks = [Block("p", " ".join(filler)), lead_in, item]
    first_fit = count(blocks[0].render()) + count(lead_in.render())
    assert first_fit <= budget < first_fit + count(item.render())
    pieces = chunk_sections([make_section(blocks)], count, MAX_TOKENS)
    assert [p.text for p in pieces] == [blocks[0].render(), f"{lead_in.render()}\n{item.render()}"]


def test_duplicate_text_under_one_heading_is_indexed_once(count: Callable[[str], int]) -> None:
    long_item = Block("li", LONG_SENTENCES[0])
    blocks = [long_item, Block("p", LONG_BLOCK), long_item]
    pieces = chunk_sections([make_section(blocks)], count, MAX_TOKENS)
    assert len({p.id for p in pieces}) == len(pieces)


# ---------------------------------------------------------------- split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Choose an assured provider, e.g. Cegedim or Sonar. Then tell the LPC.",
            ["Choose an assured provider, e.g. Cegedim or Sonar.", "Then tell the LPC."],
        ),
        (
            "Suppliers, i.e. PMR vendors, were told. They agreed.",
            ["Suppliers, i.e. PMR vendors, were told.", "They agreed."],
        ),
        (
            "Ask Dr. Smith about the pilot. She leads it.",
            ["Ask Dr. Smith about the pilot.", "She leads it."],
        ),
        (
            "Report by J. Smith and Mr. Jones was shared. It is online.",
            ["Report by J. Smith and Mr. Jones was shared.", "It is online."],
        ),
        (
            "Attend the Virtual LHCRs/ICS Event (1st July noon-1.30pm). Next, read the notes.",
            ["Attend the Virtual LHCRs/ICS Event (1st July noon-1.30pm).", "Next, read the notes."],
        ),
        (
            "The team said “go live is near.” Then it slipped.",
            ["The team said “go live is near.”", "Then it slipped."],
        ),
        (
            'He said "it works." Then it broke.',
            ['He said "it works."', "Then it broke."],
        ),
        (
            "Is RTEC live? Yes! It went live in 2020.",
            ["Is RTEC live?", "Yes!", "It went live in 2020."],
        ),
        (
            "NHSmail Teams reached 1.3 million users. 14.5 million calls were made.",
            ["NHSmail Teams reached 1.3 million users.", "14.5 million calls were made."],
        ),
        (
            "Email it@psnc.org.uk. We reply within a week.",
            ["Email it@psnc.org.uk.", "We reply within a week."],
        ),
        (
            "The list is “Suggested features list v1.0”. Feedback is welcome.",
            ["The list is “Suggested features list v1.0”.", "Feedback is welcome."],
        ),
        (
            "The fee is £3.50 per item. £2 extra applies on Sundays.",
            ["The fee is £3.50 per item.", "£2 extra applies on Sundays."],
        ),
        (
            "See psnc.org.uk/dms for updates and org.uk/itrequirements too.",
            ["See psnc.org.uk/dms for updates and org.uk/itrequirements too."],
        ),
        (
            "It is needed. (See the guide.) Then act.",
            ["It is needed.", "(See the guide.)", "Then act."],
        ),
        # A trailing reference code in brackets belongs to the sentence it labels: the
        # workstream items end "... wherever it is needed. (WS1a-1d)".
        (
            "Ensuring information can be safely accessed, wherever it is needed. (WS1a-1d)",
            ["Ensuring information can be safely accessed, wherever it is needed. (WS1a-1d)"],
        ),
        ("A sentence without a full stop", ["A sentence without a full stop"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences
