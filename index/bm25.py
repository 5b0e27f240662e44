"""The keyword side of the index: a llama-index BM25 retriever over the chunks, saved and loaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from index.nodes import to_node
from records import Chunk


def write_bm25(build_dir: Path, chunks: list[Chunk]) -> None:
    """Build the BM25 index of the chunks (English stemming) and save it in build_dir/bm25."""
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    retriever = BM25Retriever.from_defaults(
        nodes=[to_node(c) for c in chunks],
        similarity_top_k=min(50, len(chunks)),
        stemmer=Stemmer.Stemmer("english"),
        language="english",
    )
    retriever.persist(str(build_dir / "bm25"), show_progress=False)


def load_bm25(build_dir: Path, top_k: int):
    """Load a build's BM25 retriever, ranking top_k passages per question."""
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    bm25 = BM25Retriever.from_persist_dir(str(build_dir / "bm25"))
    bm25.stemmer = Stemmer.Stemmer("english")
    bm25.similarity_top_k = top_k
    return bm25


def rank_by_keywords(bm25, text: str) -> list[tuple[str, float]]:
    """The passages the retriever's BM25 model scores above zero, as (chunk id, score), best
    first (at most its top k).

    The retriever's own model, stemmer and tokenizer, read directly: its retrieve() also
    rebuilds a llama-index node from stored JSON for every passage ranked (all of a small
    index), about 5 ms a question against under 1 ms for the ranking alone.
    """
    import bm25s

    tokens = bm25s.tokenize(
        text,
        stemmer=None if bm25.skip_stemming else bm25.stemmer,
        token_pattern=bm25.token_pattern,
        show_progress=False,
    )
    mask = np.array(bm25.corpus_weight_mask) if bm25.corpus_weight_mask else None
    found, scores = bm25.bm25.retrieve(
        tokens, k=bm25.similarity_top_k, show_progress=False, weight_mask=mask
    )
    ranked = []
    for document, score in zip(found[0], scores[0], strict=True):
        if score <= 0:
            continue
        stored = document if isinstance(document, dict) else bm25.corpus[int(document)]
        ranked.append((stored["node_id"], float(score)))
    return ranked


def bm25_problems(bm25_dir: Path) -> list[str]:
    """Read every file of a persisted BM25 index (bm25s: JSON and .npy files)."""
    problems = []
    for path in sorted(bm25_dir.iterdir()):
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".npy":
                np.load(path, mmap_mode="r")
            elif path.suffix == ".jsonl":
                with open(path, encoding="utf-8") as handle:
                    for line in handle:
                        json.loads(line)
        except (OSError, ValueError) as error:
            problems.append(f"bm25/{path.name} unreadable ({error.__class__.__name__})")
    if not (bm25_dir / "params.index.json").exists():
        problems.append("bm25/params.index.json missing")
    return problems
