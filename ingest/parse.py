"""Turn fetched documents into Section records: the parse stage's one entry function.

Each format has its own parser module (ingest/parse_html.py, ingest/parse_pdf.py),
registered in ingest/formats.py; parse_page() hands a page to the parser of its kind.
Every parser builds the same tree (ingest/sections.py): page title > season > topic >
sub-topic, each section citing its page by URL#anchor (HTML) or URL#page=N (PDF).
"""

from __future__ import annotations

from ingest import formats
from ingest.errors import SourceError
from ingest.sections import season_of
from records import Page, Section
from settings import Settings

__all__ = ["parse_page", "season_of"]


def parse_page(page: Page, settings: Settings | None = None) -> list[Section]:
    """Return the page's sections in document order; raise SourceError if it has none."""
    try:
        fmt = formats.by_kind(page.kind)
    except KeyError:
        raise SourceError(page.source, f"no parser for {page.kind!r} documents") from None
    return fmt.parse_function()(page, settings or Settings())
