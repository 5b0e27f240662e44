"""The one table of document formats ingest reads: how each is recognised and who parses it.

Adding a source type means writing one parser module with a `parse(page, settings)`
function returning Sections, and adding its row here. Fetching, reading files, crawling
and parsing all look formats up in this table and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import import_module

# Tags that make a file with an unknown extension count as HTML.
_HTML_TAG = re.compile(rb"<(?:!doctype\s+html|html|body|h[1-6]|p)[\s>/]", re.I)


@dataclass(frozen=True)
class Format:
    """One document format: its name, how to recognise it, and its parser."""

    kind: str  # the name pages carry in Page.kind: "html", "pdf"
    label: str  # how messages name it: "HTML page", "PDF"
    content_types: tuple[str, ...]  # HTTP Content-Type values (without parameters)
    suffixes: tuple[str, ...]  # file name endings, lower case
    binary: bool  # kept as bytes (Page.data) rather than decoded text (Page.html)
    magic: bytes | None  # what the file starts with, when the format has a signature
    parser: str  # "module:function" of its parser, imported on first use

    def sniff(self, head: bytes, suffix: str) -> bool:
        """True when a file's first bytes (and its name ending) say it is this format."""
        if self.magic is not None:
            return head.lstrip()[: len(self.magic)] == self.magic
        # A text format: no NUL bytes, and its name ending or its tags show.
        return b"\0" not in head and (suffix in self.suffixes or bool(_HTML_TAG.search(head)))

    def parse_function(self):
        """The parser: parse(page, settings) -> list[Section]."""
        module, _, name = self.parser.partition(":")
        return getattr(import_module(module), name)


FORMATS: tuple[Format, ...] = (
    Format(
        kind="html",
        label="HTML page",
        content_types=("text/html", "application/xhtml+xml"),
        suffixes=(".html", ".htm"),
        binary=False,
        magic=None,
        parser="ingest.parse_html:parse_html",
    ),
    Format(
        kind="pdf",
        label="PDF",
        content_types=("application/pdf", "application/x-pdf"),
        suffixes=(".pdf",),
        binary=True,
        magic=b"%PDF-",
        parser="ingest.parse_pdf:parse_pdf",
    ),
)
# Servers that do not know a file's type send this; the URL's ending and the bytes decide.
UNTYPED = ("application/octet-stream", "binary/octet-stream")


def by_kind(kind: str) -> Format:
    """The format called kind; KeyError for a kind no parser reads."""
    for fmt in FORMATS:
        if fmt.kind == kind:
            return fmt
    raise KeyError(kind)


def by_content_type(content_type: str) -> Format | None:
    """The format an HTTP Content-Type names ("text/html; charset=utf-8" -> HTML), or None."""
    bare = content_type.split(";")[0].strip().lower()
    return next((f for f in FORMATS if bare in f.content_types), None)


def by_suffix(name: str) -> Format | None:
    """The format a file name or URL path ending names (".pdf" -> PDF), or None."""
    lower = name.lower()
    return next((f for f in FORMATS if lower.endswith(f.suffixes)), None)


def sniff(head: bytes, suffix: str) -> Format | None:
    """The format a file's first bytes show; signatures win over names (a PDF saved as .html)."""
    for fmt in sorted(FORMATS, key=lambda f: f.magic is None):
        if fmt.sniff(head, suffix.lower()):
            return fmt
    return None


def all_suffixes() -> tuple[str, ...]:
    """Every file name ending some parser reads, for reading folders."""
    return tuple(s for f in FORMATS for s in f.suffixes)


def labels() -> str:
    """The formats' names for messages: "HTML page or PDF"."""
    return " or ".join(f.label for f in FORMATS)
