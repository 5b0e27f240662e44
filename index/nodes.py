"""Chunks as llama-index TextNodes: the one shape both the Chroma and the BM25 stores hold."""

from __future__ import annotations

import numpy as np

from records import Chunk


def to_node(chunk: Chunk, vector: np.ndarray | None = None):
    """Return the llama-index TextNode for a chunk (heading context + text, our metadata)."""
    from llama_index.core.schema import TextNode

    metadata = {
        "chunk_id": chunk.id,
        "season": chunk.season,
        "season_order": chunk.season_order,
        "topic": chunk.heading_path[0] if chunk.heading_path else "",
        "heading": " > ".join(chunk.heading_path),
        "url": chunk.url,
    }
    return TextNode(
        id_=chunk.id,
        text=chunk.embed_text,
        metadata=metadata,
        excluded_embed_metadata_keys=list(metadata),
        excluded_llm_metadata_keys=list(metadata),
        embedding=None if vector is None else [float(x) for x in vector],
    )
