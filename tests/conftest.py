"""Shared test fixtures: the bundled snapshot indexed once per test session.

Building the index takes ~25 s on 2 cores (model load + embedding), so every test that
needs the real archive shares one build; tests that change an index make their own in a
temp folder from small pages.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def snapshot_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index folder holding the bundled snapshot, built once for the whole session."""
    from index.embed import token_counter
    from index.store import build
    from ingest import ingest
    from settings import load_settings

    index_dir = tmp_path_factory.mktemp("snapshot-index")
    settings = load_settings(index_dir=index_dir)
    result = ingest(count_tokens=token_counter(None), progress=False)
    assert not result.errors, result.errors
    build(result.sections, result.chunks, result.sources(), settings, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def snapshot_settings(snapshot_index_dir: Path):
    """Settings pointing at the session's snapshot index."""
    from settings import load_settings

    return load_settings(index_dir=snapshot_index_dir)
