"""Unit tests for index.embed: a question's texts and words embedded together or apart."""

from __future__ import annotations

import numpy as np

from index.embed import _cheaper_apart, embed_texts, embed_together, embed_with_spans


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


QUESTION = "Who's the person at NHSBSA heading up the RTEC project?"
ASK = [(0, 5), (10, 16), (17, 19), (27, 34), (35, 37)]  # "Who's", "person", "at", "heading", "up"


def test_a_question_and_its_span_words_come_from_one_pass() -> None:
    queries, words = [QUESTION, "When does MYS become compulsory?"], ["jabs", "fp34c"]
    vectors, spans, word_vectors = embed_with_spans(queries, [ASK, []], words)

    assert vectors.shape == spans.shape == (2, 384) and word_vectors.shape == (2, 384)
    assert np.allclose(vectors, embed_texts(queries), atol=1e-5)
    assert np.allclose(word_vectors, embed_texts(words), atol=1e-5)
    assert np.allclose(np.linalg.norm(spans, axis=1), 1.0, atol=1e-5)
    # Read alone or beside a longer question (padded), the span vector is the same.
    alone = embed_with_spans([QUESTION], [ASK], [])[1][0]
    assert np.allclose(alone, spans[0], atol=1e-5)


def test_a_span_vector_is_of_its_words_read_in_the_question() -> None:
    _, (asking, whole, covering), _ = embed_with_spans(
        [QUESTION] * 3, [ASK, [], [(0, len(QUESTION))]], []
    )
    # No spans pool the whole question, as do spans covering all of it.
    assert np.allclose(whole, covering, atol=1e-6)
    assert float(whole @ embed_texts([QUESTION])[0]) > 0.95  # the model's pooling, less [CLS]/[SEP]
    # Kept to the asking words, the vector moves towards a question asking the same of no
    # subject in particular, and away from the question's subject (which the words, read
    # in context, still carry some of).
    other, subject = embed_texts(["Who is the person in charge?", "NHSBSA RTEC project"])
    assert float(asking @ other) > float(whole @ other) + 0.1
    assert float(asking @ subject) < float(whole @ subject) - 0.1
