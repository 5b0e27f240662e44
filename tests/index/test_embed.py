"""Unit tests for index.embed: a question's texts and words embedded together or apart."""

from __future__ import annotations

import numpy as np

from index.embed import _cheaper_apart, embed_texts, embed_together


def test_short_words_share_a_short_question_s_encode() -> None:
    assert not _cheaper_apart(["When does MYS become compulsory?"], ["jabs", "fp34c"], None)
    assert not _cheaper_apart(["When does MYS become compulsory?"], [], None)


def test_many_words_beside_long_texts_get_their_own_encode() -> None:
    long = "How many pharmacies took part in the winter pilot of the new smartcard readers? " * 2
    words = ["zorblatt", "quuxified", "leeds", "jabs", "ran", "gizmo"]
    assert _cheaper_apart([long, long[:60], long[60:]], words, None)


def test_vectors_come_back_in_their_groups() -> None:
    queries, words = ["When does MYS become compulsory?"], ["jabs", "fp34c"]
    query_vectors, word_vectors = embed_together(queries, words)
    assert query_vectors.shape == (1, 384) and word_vectors.shape == (2, 384)
    assert np.allclose(word_vectors, embed_texts(words), atol=1e-5)
    assert embed_together(queries, [])[1].shape == (0, 384)
