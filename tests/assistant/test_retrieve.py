"""Retrieval's lookup of the passages that spell out the letters a question asks about, and
the sentences it re-scores passages by, read bare and under their heading."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import get_index
from assistant.kinds import expansion_spans
from assistant.query import make_query
from assistant.retrieve import context_tables, retrieve, spelled_out
from sentences import chunk_sentences, in_context


@pytest.fixture(scope="module")
def index(snapshot_settings):
    return get_index(snapshot_settings)


def _query(question: str, index, seasons: list[str] | None = None):
    return make_query(question, question, index, seasons)


def _spells(chunk, acronym: str) -> bool:
    return any(expansion_spans(acronym, s) for s in chunk_sentences(chunk))


@pytest.mark.parametrize(
    ("question", "acronym"),
    [
        ("FHIR?", "FHIR"),
        ("what does eRD stand for", "eRD"),
        ("What does FHIR stand for in the new EPS standards?", "FHIR"),
    ],
)
def test_the_passage_that_spells_the_letters_out_comes_first(index, question, acronym) -> None:
    query = _query(question, index)
    found = spelled_out(query, index)
    assert found and all(_spells(index.chunks[chunk_id], acronym) for chunk_id in found)
    first = retrieve(query, index, top_k=5)[0]
    assert first.chunk.id in found


def test_a_question_that_asks_no_expansion_looks_nothing_up(index) -> None:
    assert spelled_out(_query("When does MYS become compulsory for FP34C?", index), index) == set()


def test_a_named_season_keeps_its_passages_only(index) -> None:
    query = _query("What does FHIR stand for?", index)
    spelling_seasons = {index.chunks[i].season for i in spelled_out(query, index)}
    other = next(s for s in index.seasons if s not in spelling_seasons)
    held = _query("What does FHIR stand for?", index, seasons=[other])
    assert {hit.chunk.season for hit in retrieve(held, index, top_k=10)} <= {other}


@pytest.mark.parametrize(
    ("question", "history", "acronym"),
    [
        ("fhir - what do the letters mean?", None, "FHIR"),  # lower case: the archive knows it
        ("what's lfpse short for", None, "LFPSE"),
        ("What do those four letters spell out? The standards keep saying FHIR.", None, "FHIR"),
        ("what does it stand for?", ["is LFPSE replacing the old system?"], "LFPSE"),
        ("what does it stand for?", None, ""),  # nothing named: no letters to look up
    ],
)
def test_the_letters_asked_about_are_found_without_capitals(
    index, question, history, acronym
) -> None:
    from assistant.query import make_queries

    whole, _ = make_queries(question, history, index)
    assert whole.kind is not None and whole.kind.kind == "expansion"
    assert whole.kind.acronym == acronym
    assert bool(spelled_out(whole, index)) == bool(acronym)


def test_the_build_stores_each_sentence_read_under_its_heading(index) -> None:
    tables = context_tables(index)
    assert set(tables) == {c.id for c in index.chunks.values() if chunk_sentences(c)}
    for chunk in index.chunks.values():
        rows = [index.sentence_vector(in_context(chunk, s)) for s in chunk_sentences(chunk)]
        assert all(row is not None for row in rows), chunk.id  # stored, not embedded now
        np.testing.assert_array_equal(tables[chunk.id], np.stack(rows))


def test_a_sentence_under_its_heading_says_what_it_is_about(index) -> None:
    query = _query("Can patients look up services on NHS Service Finder themselves?", index)
    found = [
        (chunk, s)
        for chunk in index.chunks.values()
        for s in chunk_sentences(chunk)
        if "not accessible by the public" in s
    ]
    assert found
    for chunk, sentence in found:
        # "It is not accessible by the public ..." names no tool; its heading does.
        assert in_context(chunk, sentence) == f"{chunk.heading_path[-1]}: {sentence}"
        bare = float(index.sentence_vector(sentence) @ query.vector)
        under = float(index.sentence_vector(in_context(chunk, sentence)) @ query.vector)
        assert under > bare + 0.1
    first = retrieve(query, index, top_k=1)[0]
    assert any(first.chunk.id == chunk.id for chunk, _ in found)
