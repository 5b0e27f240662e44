"""A build stores the vectors of its words, so the reader's paraphrase matching embeds
nothing when a process answers its first question; a build from before still answers the
same, and the next ingest adds them, embedding only words it has not seen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from index_support import QUESTION, answer_json, build_in_process, comparable, stored_vectors

from assistant.match import word_vectors
from index.builds import current_build_dir, read_index
from index.embed import embed_texts
from index.search import forget_index, open_index
from sentences import distinct_words
from settings import load_settings


def test_a_build_stores_the_model_s_vector_of_every_word_it_holds(base_index: Path) -> None:
    words = stored_vectors(base_index, "words.npz")
    chunks = list(read_index(base_index).chunks.values())

    assert sorted(words) == distinct_words(chunks)
    assert {"nhsmail", "passwords", "expire"} <= set(words)
    sample = sorted(words)[::7]
    expected = embed_texts(sample, load_settings(index_dir=base_index).embed_model)
    np.testing.assert_allclose(np.stack([words[w] for w in sample]), expected, atol=1e-5)


def test_the_reader_matches_with_the_build_s_word_vectors(base_index: Path) -> None:
    forget_index()
    index = open_index(load_settings(index_dir=base_index))
    words = stored_vectors(base_index, "words.npz")

    kept, vectors = word_vectors(index).known(["nhsmail", "passwords", "unheard"])

    assert kept == ["nhsmail", "passwords"]
    assert np.array_equal(vectors, np.stack([words["nhsmail"], words["passwords"]]))


def test_a_build_without_word_vectors_answers_the_same_and_the_next_ingest_adds_them(
    index_copy: Path, base_pages: Path
) -> None:
    forget_index()
    before = comparable(answer_json(index_copy, QUESTION))
    words = stored_vectors(index_copy, "words.npz")
    (current_build_dir(index_copy) / "words.npz").unlink()
    forget_index()

    # The reader embeds the words itself, to the same answer.
    assert comparable(answer_json(index_copy, QUESTION)) == before

    # Not reused as it is: the next ingest writes a build with the words, chunks reused.
    outcome = build_in_process(base_pages, index_copy)
    assert outcome.written
    assert outcome.chunks_embedded == 0
    assert outcome.words_embedded == len(words)
    assert sorted(stored_vectors(index_copy, "words.npz")) == sorted(words)


def test_reingest_embeds_only_the_words_it_has_not_seen(
    index_copy: Path, edited_pages: Path
) -> None:
    old = set(stored_vectors(index_copy, "words.npz"))

    outcome = build_in_process(edited_pages, index_copy)

    new = set(stored_vectors(index_copy, "words.npz"))
    assert outcome.words_embedded == len(new - old) > 0
    assert "technicians" in new - old  # from the added section
