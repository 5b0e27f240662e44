"""Ingest: fetch documents (the bundled snapshot, files, live URLs, crawls), parse, chunk.

Two entry functions:
- ingest() runs the stages once over the sources it is given and returns the sections
  and chunks (tests and benchmarks build indexes from it);
- update() (ingest/update.py) keeps an index in step with its source registry: it is
  what `python -m ingest` and its add / refresh / remove commands run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunk import chunk_sections
from ingest.errors import SourceError
from ingest.fetch import Fetcher, FetchOptions, read_path
from ingest.parse import parse_page
from ingest.snapshot import snapshot_pages
from ingest.sources import PageRecord, Source, bundled_source, normalise_location, source_id
from records import Chunk, Page, Section

__all__ = ["Ingested", "SourceError", "ingest", "snapshot_pages"]


@dataclass
class Ingested:
    """Everything ingest produced from its sources, plus what went wrong per source."""

    pages: list[Page] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    section_counts: dict[str, int] = field(default_factory=dict)  # by page source
    origins: dict[str, str] = field(default_factory=dict)  # page source -> the source named
    cited: dict[str, str] = field(default_factory=dict)  # page source -> the URL sections cite

    def sources(self) -> list[dict]:
        """The manifest's record of each source: where it came from, when, its pages."""
        by_location: dict[str, Source] = {}
        for page in self.pages:
            named = self.origins.get(page.source, page.source)
            if named == "bundled":
                source = by_location.setdefault(named, bundled_source())
            else:
                location = normalise_location(named)
                source = by_location.setdefault(
                    location, Source(id=source_id(location), location=location, kind=page.kind)
                )
            sections = self.section_counts.get(page.source, 0)
            source.pages.append(
                PageRecord(url=page.url, kind=page.kind, cited_as=self.cited.get(page.source, ""),
                           source=page.source, fetched_at=page.fetched_at, sections=sections)
            )  # fmt: skip
            source.sections += sections
            source.fetched_at = max(source.fetched_at, page.fetched_at)
            if source.kind != page.kind:
                source.kind = "mixed"
        return [source.to_dict() for source in by_location.values()]


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
        for page in snapshot_pages():
            result.pages.append(page)
            result.origins[page.source] = "bundled"
    for path in tqdm(paths or [], desc="read", unit="path", disable=not progress or not paths):
        try:
            for page in read_path(Path(path)):
                result.pages.append(page)
                result.origins[page.source] = str(path)
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
        result.cited[page.source] = sections[0].page_url
        parsed_pages.append(page)
    result.pages = parsed_pages
    result.chunks = chunk_sections(result.sections, count_tokens, max_tokens)
    return result
