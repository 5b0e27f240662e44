"""Unit tests for assistant.citations: numbering, and the check that every [n] is supported.

The check is the last guard against a confident wrong citation, so each way it must fail
has a test of its own.
"""

from __future__ import annotations

import pytest

from assistant.citations import CitationError, Numbering, verify_citations
from records import Chunk, Citation

TEXT = (
    "• CPCS IT is funded centrally. Contractors pay from October 2021.\n• Four suppliers are ready."
)


def chunk(chunk_id: str, text: str = TEXT) -> Chunk:
    return Chunk(
        id=chunk_id,
        section_id="s",
        url=f"https://example.org/page#{chunk_id}",
        page_url="https://example.org/page",
        season="Summer 2021",
        season_order=20212,
        heading_path=("CPCF/CPCS IT", "General"),
        text=text,
    )


def citation(n: int, text: str = TEXT) -> Citation:
    return Citation(n=n, season="Summer 2021", heading_path=("General",), url="u#a", text=text)


def test_numbering_gives_numbers_in_order_of_first_use() -> None:
    numbering = Numbering()
    assert numbering.number(chunk("a"), ["x"]) == 1
    assert numbering.number(chunk("b"), ["y"]) == 2
    assert numbering.number(chunk("a"), ["z", "x"]) == 1
    cited = numbering.citations()
    assert [c.n for c in cited] == [1, 2]
    assert cited[0].sentences == ("x", "z")
    assert cited[0].url == "https://example.org/page#a"


def test_a_supported_answer_passes() -> None:
    answer = "CPCS IT is funded centrally. [1] Contractors pay from October 2021. [1]"
    verify_citations(answer, [citation(1)])
    listed = (
        "The bulletins don't give a cost. The closest they say:\n• Four suppliers are ready. [1]"
    )
    verify_citations(listed, [citation(1)])  # a caveat line carries no marker


def test_a_sentence_not_in_its_passage_fails() -> None:
    with pytest.raises(CitationError, match=r"\[1\] does not support: Five suppliers"):
        verify_citations("Five suppliers are ready. [1]", [citation(1)])


def test_a_marker_without_a_citation_fails() -> None:
    with pytest.raises(CitationError, match=r"\[2\] does not support"):
        verify_citations("Four suppliers are ready. [2]", [citation(1)])


def test_a_citation_never_used_fails() -> None:
    with pytest.raises(CitationError, match=r"citations listed but not used: \[2\]"):
        verify_citations("Four suppliers are ready. [1]", [citation(1), citation(2)])


def test_a_sentence_cited_to_the_wrong_passage_fails() -> None:
    other = citation(2, "Something else entirely.")
    with pytest.raises(CitationError):
        verify_citations("Four suppliers are ready. [2] Something else entirely. [1]",
                         [citation(1), other])  # fmt: skip
