"""Find the passages that answer a question: dense + BM25 retrieval, fused, season-aware.

Dense search asks the build's Chroma collection for the nearest passages (ids and
distances only: index.search.SearchIndex.nearest); keyword search ranks with the BM25
model of llama-index's BM25Retriever (SearchIndex.keyword). No LLM is in the loop. The
rankings are fused by weighted reciprocal rank, then the season logic applies: a season
the question names (or the caller filters on) restricts the passages; "latest"/"current"
prefers the newest season that covers the question; otherwise equal passages from
several bulletins rank newest first.
"""

from __future__ import annotations

import numpy as np

from assistant.kinds import acronym_key, spelled_out_table
from assistant.query import Query
from assistant.terms import idf_table, weighted_coverage
from index.search import SearchIndex
from records import OVERVIEW, Hit
from sentences import chunk_sentences, in_context
from settings import RetrievalSettings


def retrieve(query: Query, index: SearchIndex, top_k: int = 10) -> list[Hit]:
    """Return the top_k passages for the query, best first."""
    tuning = index.settings.retrieval
    dense = _dense(query, index, tuning)
    keyword = _bm25(query, index, tuning)
    allowed = _allowed_ids(query, index)
    if allowed is not None:
        dense = [(i, s) for i, s in dense if i in allowed]
        keyword = [(i, s) for i, s in keyword if i in allowed]
        if not dense and not keyword and query.seasons and not query.topics:
            return []  # a named season with nothing relevant: say so rather than drift
    spelling = spelled_out(query, index)
    fused = _with_spelled_out(_fuse(dense, keyword, tuning)[: tuning.candidates], spelling, allowed)
    fused = _rescore(fused, query, index, tuning, spelling)
    fused = _prefer_newest(fused, index)
    return [
        Hit(chunk=index.chunks[chunk_id], score=score, rank=rank)
        for rank, (chunk_id, score) in enumerate(fused[:top_k], start=1)
    ]


def _dense(query: Query, index: SearchIndex, tuning: RetrievalSettings) -> list[tuple[str, float]]:
    where = {}
    if query.seasons:
        where["season"] = list(query.seasons)
    if query.topics:
        where["topic"] = list(query.topics)
    return index.nearest(query.retrieval_vector, tuning.candidates, where)


def _bm25(query: Query, index: SearchIndex, tuning: RetrievalSettings) -> list[tuple[str, float]]:
    # BM25 filters rebuild its corpus, so it ranks everything (its top k is set at load
    # to the whole index) and we filter after.
    return index.keyword(query.text)[: tuning.candidates * 3]


def _allowed_ids(query: Query, index: SearchIndex) -> set[str] | None:
    if not query.seasons and not query.topics:
        return None
    return {
        chunk_id
        for chunk_id, chunk in index.chunks.items()
        if (not query.seasons or chunk.season in query.seasons)
        and (not query.topics or (chunk.heading_path and chunk.heading_path[0] in query.topics))
    }


def _fuse(
    dense: list[tuple[str, float]], keyword: list[tuple[str, float]], tuning: RetrievalSettings
) -> list[tuple[str, float]]:
    """Weighted reciprocal-rank fusion of the two rankings."""
    scores: dict[str, float] = {}
    rankings = ((tuning.dense_weight, dense), (tuning.bm25_weight, keyword[: tuning.candidates]))
    for weight, ranking in rankings:
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (tuning.rrf_k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def spelled_out(query: Query, index: SearchIndex) -> frozenset[str]:
    """The passages that spell out the letters an expansion question asks about.

    "What does FHIR stand for?" is answered by the one sentence that writes the words out,
    which neither ranking need find: the letters are rare and the words are not asked.
    """
    if query.kind is None or not query.kind.acronym:
        return frozenset()
    return spelled_out_table(index).get(acronym_key(query.kind.acronym), frozenset())


def _with_spelled_out(
    fused: list[tuple[str, float]], spelling: frozenset[str], allowed: set[str] | None
) -> list[tuple[str, float]]:
    """Join the passages that spell out the asked letters to the candidates (re-scoring
    gives them their bonus), keeping to the season or topic the question is held to."""
    present = {chunk_id for chunk_id, _ in fused}
    extra = [
        (chunk_id, 0.0)
        for chunk_id in sorted(spelling)
        if chunk_id not in present and (allowed is None or chunk_id in allowed)
    ]
    return fused + extra


def _rescore(
    fused: list[tuple[str, float]],
    query: Query,
    index: SearchIndex,
    tuning: RetrievalSettings,
    spelling: frozenset[str],
) -> list[tuple[str, float]]:
    """Add the best-sentence and term-coverage signals (and the spelling passages' bonus)
    to the fused scores, and re-sort. A sentence counts bare or under its heading,
    whichever is closer to the question."""
    vectors, idf = build_tables(index)
    contexts = context_tables(index)
    terms = list(query.terms)
    newest_first = index.seasons
    recency = {s: 1 - i / max(1, len(newest_first) - 1) for i, s in enumerate(newest_first)}
    searched = query.retrieval_vector
    rescored = []
    for chunk_id, score in fused:
        matrix = vectors.get(chunk_id)
        best_sentence = float((matrix @ searched).max()) if matrix is not None else 0.0
        context_rows = contexts.get(chunk_id)
        if context_rows is not None:  # a sentence may say more under its heading
            best_sentence = max(best_sentence, float((context_rows @ searched).max()))
        chunk = index.chunks[chunk_id]
        coverage = weighted_coverage(terms, chunk.embed_text, idf)
        bonus = tuning.w_recency * recency.get(chunk.season, 0.0)
        bonus += tuning.w_spelled_out * (chunk_id in spelling)
        signals = tuning.w_best_sentence * best_sentence + tuning.w_term_coverage * coverage
        rescored.append((chunk_id, score + signals + bonus))
    return sorted(rescored, key=lambda item: -item[1])


def build_tables(index: SearchIndex) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each chunk's sentence vectors as one matrix, and the IDF table: once per index build."""
    return index.derived("sentence_tables", _make_tables)


def _make_tables(index: SearchIndex) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    matrices = {}
    for chunk_id, chunk in index.chunks.items():
        rows = [index.sentence_vector(s) for s in chunk_sentences(chunk)]
        rows = [r for r in rows if r is not None]
        if rows:
            matrices[chunk_id] = np.stack(rows)
    idf = idf_table(c.embed_text for c in index.chunks.values())
    return matrices, idf


def context_tables(index: SearchIndex) -> dict[str, np.ndarray]:
    """Each chunk's sentences read under its heading (sentences.in_context), as one matrix
    per chunk: once per index build. A build older than these vectors embeds them here."""
    return index.derived("context_tables", _make_context_tables)


def _make_context_tables(index: SearchIndex) -> dict[str, np.ndarray]:
    texts = {
        chunk_id: [in_context(chunk, s) for s in chunk_sentences(chunk)]
        for chunk_id, chunk in index.chunks.items()
    }
    unstored = sorted({t for ts in texts.values() for t in ts if index.sentence_vector(t) is None})
    embedded = dict(zip(unstored, index.embed_texts(unstored), strict=True)) if unstored else {}
    return {
        chunk_id: np.stack([embedded[t] if t in embedded else index.sentence_vector(t) for t in ts])
        for chunk_id, ts in texts.items()
        if ts
    }


def closer_elsewhere(query: Query, index: SearchIndex) -> tuple[float, str]:
    """How much closer the archive comes to the question in bulletins other than the seasons
    it is restricted to, and the season where it does: (best sentence similarity in any
    other bulletin - best in the named seasons, that season), or (0, "") when unrestricted.

    "What did the summer 2021 update say about the DSPT deadline?" finds summer passages
    however poorly they fit; that the autumn bulletin fits far better is what tells the
    decision that the summer one doesn't say.
    """
    if not query.seasons:
        return 0.0, ""
    matrix, seasons = index.derived("sentence_seasons", _sentence_seasons)
    similarity = matrix @ query.vector
    inside = np.isin(seasons, query.seasons)
    outside = np.flatnonzero(~inside & (seasons != OVERVIEW))  # the overview is no bulletin
    if not outside.size:
        return 0.0, ""
    best_inside = float(similarity[inside].max()) if inside.any() else 0.0
    best = outside[int(similarity[outside].argmax())]
    margin = float(similarity[best]) - best_inside
    return (margin, str(seasons[best])) if margin > 0 else (0.0, "")


def _sentence_seasons(index: SearchIndex) -> tuple[np.ndarray, np.ndarray]:
    """Every sentence vector of the archive as one matrix, beside its passage's season."""
    vectors, _ = build_tables(index)
    matrix = np.concatenate(list(vectors.values()))
    seasons = np.concatenate(
        [[index.chunks[chunk_id].season] * len(rows) for chunk_id, rows in vectors.items()]
    )
    return matrix, seasons


def _prefer_newest(fused: list[tuple[str, float]], index: SearchIndex) -> list[tuple[str, float]]:
    """Rank the newest bulletin first among passages that say the same thing.

    Bulletins repeat standing items word for word; the copies fuse to nearly equal
    scores, and the newest copy is the one a contractor should see. A passage on the same
    heading that says something else keeps its own score, even when the question asks for
    the latest: the newest bulletin's item on a heading often lacks what an older one said
    (the reader's latest_newest feature weighs the newest for such questions).
    """
    if not fused:
        return fused
    best: dict[str, tuple[str, float]] = {}
    ordered: list[tuple[str, float]] = []
    for chunk_id, score in fused:
        chunk = index.chunks[chunk_id]
        key = chunk.text
        if key in best:
            kept_id, kept_score = best[key]
            if chunk.season_order > index.chunks[kept_id].season_order:
                # Swap: the newer copy takes the better score and position.
                best[key] = (chunk_id, kept_score)
                ordered[ordered.index((kept_id, kept_score))] = (chunk_id, kept_score)
                ordered.append((kept_id, score))
            else:
                ordered.append((chunk_id, score))
            continue
        best[key] = (chunk_id, score)
        ordered.append((chunk_id, score))
    return ordered
