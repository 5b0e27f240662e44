"""The bundled archive snapshot (data/snapshot/), read as pages under their live URLs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ingest.errors import SourceError
from ingest.fetch import read_path
from records import Page
from settings import SNAPSHOT_DIR


def snapshot_pages(snapshot_dir: Path = SNAPSHOT_DIR) -> list[Page]:
    """Return the bundled archive snapshot as pages, each under its live URL from the manifest."""
    manifest_path = snapshot_dir / "manifest.json"
    if not manifest_path.exists():
        raise SourceError(
            str(snapshot_dir), "bundled snapshot missing (data/snapshot/manifest.json)"
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    pages = []
    for entry in manifest["pages"]:
        (page,) = read_path(snapshot_dir / entry["file"])
        pages.append(replace(page, url=entry["url"], fetched_at=entry["captured"]))
    return pages
