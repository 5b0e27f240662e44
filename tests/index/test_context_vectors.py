"""A build stores each sentence read under its heading beside the bare sentence, so
retrieval's re-scoring embeds nothing when a process answers its first question; a build
from before still answers the same, and the next ingest adds them, embedding only those."""

from __future__ import annotations

from pathlib import Path

from index_support import QUESTION, answer_json, build_in_process, comparable, stored_vectors

from index.builds import current_build_dir, read_index
from index.search import forget_index
from index.vectors import save_vectors
from sentences import chunk_sentences, distinct_sentences, in_context


def test_a_build_stores_every_sentence_bare_and_under_its_heading(base_index: Path) -> None:
    stored = stored_vectors(base_index, "sentences.npz")
    chunks = list(read_index(base_index).chunks.values())

    assert sorted(stored) == distinct_sentences(chunks)
    chunk = next(c for c in chunks if c.heading_path[-1] == "NHSmail")
    sentence = next(s for s in chunk_sentences(chunk) if "passwords" in s)
    assert sentence in stored and f"NHSmail: {sentence}" in stored
    assert in_context(chunk, sentence) == f"NHSmail: {sentence}"


def test_a_build_without_them_answers_the_same_and_the_next_ingest_adds_them(
    index_copy: Path, base_pages: Path
) -> None:
    forget_index()
    before = comparable(answer_json(index_copy, QUESTION))
    chunks = list(read_index(index_copy).chunks.values())
    bare = sorted({s for c in chunks for s in chunk_sentences(c)})
    stored = stored_vectors(index_copy, "sentences.npz")
    path = current_build_dir(index_copy) / "sentences.npz"
    save_vectors(path, bare, stored, len(next(iter(stored.values()))))  # as builds before
    forget_index()

    # Retrieval embeds the in-context sentences itself, to the same answer.
    assert comparable(answer_json(index_copy, QUESTION)) == before

    # Not reused as it is: the next ingest adds them, and embeds nothing else.
    outcome = build_in_process(base_pages, index_copy)
    assert outcome.written
    assert outcome.chunks_embedded == 0
    assert outcome.sentences_embedded == len(stored) - len(bare) > 0
    assert sorted(stored_vectors(index_copy, "sentences.npz")) == sorted(stored)
