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
