"""Drop PDF items that an HTML source already has, so each item is cited once, by its anchor.

The bulletins come both as the archive's web page and as PDF editions, so the same item
can arrive twice. The HTML section wins: its #anchor lands on the item, where #page=N
only lands on a page. An item is the same when its words are the same (case, quotes,
dashes, bullets and line breaks aside), or, for an item of duplicate_min_chars or more,
when its words sit inside an HTML item (the PDF split it at a page break).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from records import Section
from settings import Settings

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def words(text: str) -> str:
    """The text as its bare words: "The ‘Who Pays’ framework." -> "the who pays framework"."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return " ".join(re.findall(r"[\w£%]+", text))


def drop_duplicates(
    sections: list[Section], pdf_pages: set[str], settings: Settings
) -> tuple[list[Section], list[str]]:
    """Return the sections without PDF items already in an HTML section, and one note per
    PDF section that lost items (where they went)."""
    html_items: dict[str, str] = {}  # bare words -> the HTML section's URL
    for section in sections:
        if section.page_url not in pdf_pages:
            for block in section.blocks:
                html_items.setdefault(words(block.text), section.url)
    long_items = [(text, url) for text, url in html_items.items() if text]

    def found_in(text: str) -> str | None:
        if text in html_items:
            return html_items[text]
        if len(text) >= settings.duplicate_min_chars:
            padded = f" {text} "
            return next((url for item, url in long_items if padded in f" {item} "), None)
        return None

    kept: list[Section] = []
    notes: list[str] = []
    for section in sections:
        if section.page_url not in pdf_pages:
            kept.append(section)
            continue
        blocks, where = [], []
        for block in section.blocks:
            url = found_in(words(block.text))
            if url is None:
                blocks.append(block)
            else:
                where.append(url)
        if where:
            label = " > ".join((section.season, *section.heading_path))
            others = f" (and {len(set(where)) - 1} more)" if len(set(where)) > 1 else ""
            notes.append(
                f"duplicate: {label} ({section.url}): {len(where)} of {len(section.blocks)} "
                f"items already in {where[0]}{others}"
            )
        if blocks:
            kept.append(replace(section, blocks=tuple(blocks)))
    return kept, notes
