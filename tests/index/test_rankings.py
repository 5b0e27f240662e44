"""The index's two rankings without llama-index nodes: nearest (Chroma) and keyword (BM25)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import get_index

QUESTION = "When does the NHS App let patients nominate a pharmacy?"


@pytest.fixture(scope="module")
def index(snapshot_settings):
    return get_index(snapshot_settings)


def test_nearest_ranks_as_the_llama_index_retriever_over_the_same_collection(index) -> None:
    from llama_index.core.schema import QueryBundle

    vector = index.embed_query(QUESTION)
    retriever = index.vector_index.as_retriever(similarity_top_k=20)
    expected = [
        n.node.node_id for n in retriever.retrieve(QueryBundle(QUESTION, embedding=vector.tolist()))
    ]
    found = index.nearest(vector, 20)
    assert [chunk_id for chunk_id, _ in found] == expected
    cosines = [score for _, score in found]
    assert cosines == sorted(cosines, reverse=True)
    # The score is the cosine of the question and the passage's stored vector.
    best_id, best = found[0]
    stored = index.collection.get(ids=[best_id], include=["embeddings"])["embeddings"][0]
    assert best == pytest.approx(float(np.dot(vector, stored)), abs=1e-4)


def test_nearest_keeps_to_the_listed_metadata_values(index) -> None:
    vector = index.embed_query(QUESTION)
    season = index.seasons[1]
    found = index.nearest(vector, 40, {"season": [season]})
    assert found and {index.chunks[i].season for i, _ in found} == {season}
    topic = index.chunks[found[0][0]].heading_path[0]
    both = index.nearest(vector, 40, {"season": [season], "topic": [topic]})
    assert both and all(
        index.chunks[i].season == season and index.chunks[i].heading_path[0] == topic
        for i, _ in both
    )
    assert len(both) <= len(found)


@pytest.mark.parametrize("question", [QUESTION, "cpcs it suppliers assured?", "the of and"])
def test_keyword_ranks_as_the_llama_index_bm25_retriever(index, question: str) -> None:
    from llama_index.core.schema import QueryBundle

    expected = [
        (n.node.node_id, float(n.score))
        for n in index.bm25.retrieve(QueryBundle(query_str=question))
        if n.score > 0
    ]
    assert index.keyword(question) == expected
