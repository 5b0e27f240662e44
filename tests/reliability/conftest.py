"""Fixtures for the reliability tests: the index tests' small pages, index and helpers."""

from __future__ import annotations

import sys
from pathlib import Path

# The small test pages and their helpers live beside the index tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "index"))

from index_support import (  # noqa: E402, F401 - fixtures are found by name
    base_index,
    base_pages,
    edited_pages,
    index_copy,
    no_ambient_index_settings,
)
