"""Fixtures for the index tests: small bulletin pages and an index built from them once."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # for `import index_support` in test modules

from index_support import (  # noqa: E402, F401 - fixtures are found by name
    base_index,
    base_pages,
    edited_pages,
    index_copy,
    no_ambient_index_settings,
)
