"""Ingest: fetch pages (live URL, local files, or the bundled snapshot), parse, chunk."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunk import chunk_sections
from ingest.fetch import Fetcher, FetchOptions, SourceError, read_path
from ingest.parse import parse_page
from records import Chunk, Page, Section
from settings import SNAPSHOT_DIR


@dataclass
class Ingested:
    """Everything ingest produced from its sources, plus what went wrong per source."""

    pages: list[Page] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    section_counts: dict[str, int] = field(default_factory=dict)  # by page source

    def sources(self) -> list[dict]:
        """The manifest's record of each page: where it came from, when, and its sections."""
        return [
            {
                "source": page.source,
                "url": page.url,
                "fetched_at": page.fetched_at,
                "sections": self.section_counts.get(page.source, 0),
            }
            for page in self.pages
        ]


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
        pages.append(Page(page.source, entry["url"], page.html, entry["captured"]))
    return pages


def ingest(
    urls: list[str] | None = None,
    paths: list[Path] | None = None,
    *,
    count_tokens,
    max_tokens: int = 256,
    fetch_options: FetchOptions | None = None,
    progress: bool = True,
) -> Ingested:
    """Fetch, parse and chunk the sources (the bundled snapshot when none are given).

    A source that fails is recorded in `errors` and the others go on.
    """
    from tqdm import tqdm

    result = Ingested()
    if not urls and not paths:
        result.pages.extend(snapshot_pages())
    for path in tqdm(paths or [], desc="read", unit="path", disable=not progress or not paths):
        try:
            result.pages.extend(read_path(Path(path)))
        except SourceError as error:
            result.errors.append(error)
    if urls:
        fetcher = Fetcher(fetch_options or FetchOptions())
        try:
            for url in tqdm(urls, desc="fetch", unit="page", disable=not progress):
                try:
                    result.pages.append(fetcher.fetch(url))
                except SourceError as error:
                    result.errors.append(error)
        finally:
            fetcher.close()

    parsed_pages = []
    for page in tqdm(result.pages, desc="parse", unit="page", disable=not progress):
        try:
            sections = parse_page(page)
        except SourceError as error:
            result.errors.append(error)
            continue
        result.sections.extend(sections)
        result.section_counts[page.source] = len(sections)
        parsed_pages.append(page)
    result.pages = parsed_pages
    result.chunks = chunk_sections(result.sections, count_tokens, max_tokens)
    return result
