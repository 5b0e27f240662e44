"""Build the Section tree every parser shares: page title > season > topic > sub-topic.

A parser walks its document in reading order and tells a SectionBuilder about each
heading (with its level) and each block; the builder keeps the open headings, notices
season headings ("Autumn 2021 updates"), and emits one Section per heading that has text.
HTML and PDF parsers both use it, so a bulletin reads the same from either.
"""

from __future__ import annotations

import hashlib
import re

from records import OVERVIEW, Block, Section, season_order

SEASON_RE = re.compile(
    r"^(spring|summer|autumn|winter)\s+(\d{4})"
    r"(?:\s+(?:pharmacy\s+)?(?:it\s+)?(?:updates?|bulletins?))?\s*$",
    re.IGNORECASE,
)
# A heading or paragraph with fewer letters than this is noise, not content.
MIN_TEXT_CHARS = 2


def season_of(heading: str) -> str | None:
    """Return "Autumn 2021" for a season heading like "Autumn 2021 updates", else None."""
    match = SEASON_RE.match(heading.strip())
    if not match:
        return None
    return f"{match.group(1).capitalize()} {match.group(2)}"


class SectionBuilder:
    """Collects blocks under the current heading and emits a Section when the next starts.

    default_season is the season of text outside any season heading: "overview" for an
    archive page, the bulletin's own season for a PDF edition.
    """

    def __init__(self, page_url: str, page_title: str, default_season: str = OVERVIEW) -> None:
        self.page_url = page_url
        self.page_title = page_title
        self.default_season = default_season
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []  # open headings below the title: (level, text)
        self.season = default_season
        self.season_level: int | None = None
        self.anchor = ""
        self.blocks: list[Block] = []
        self.used_ids: set[str] = set()
        self.made_anchors: set[str] = set()
        self.real_level = 1  # level of the last <h1>-<h6>, for accordion titles below it

    def heading(self, level: int, text: str, anchor: str, real: bool = True) -> None:
        """Open a heading of the given level (1 = the page title); its text follows."""
        self._flush()
        if real:
            self.real_level = level
        self.anchor = anchor or self._slug(text)
        if level == 1:
            self.stack = []
            return
        season = season_of(text)
        if season:
            self.season, self.season_level = season, level
            self.stack = []
            return
        if self.season_level is not None and level <= self.season_level:
            # A heading at season level that is not a season ("Get involved") ends the
            # bulletins: what follows is page-level material again.
            self.season, self.season_level = self.default_season, None
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))

    def move_anchor(self, anchor: str) -> None:
        """Cite what follows by a new anchor under the same headings (a PDF's next page)."""
        self._flush()
        self.anchor = anchor

    def level_below(self) -> int:
        """The level for a title that is not an <hN>: just under the last real heading.

        Consecutive accordion titles are siblings, not each nested in the one before.
        """
        return min(6, self.real_level + 1)

    def _slug(self, text: str) -> str:
        """A unique anchor for a heading without one: "NHS App" -> "nhs-app", "nhs-app-2"."""
        base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
        slug, n = base, 1
        while slug in self.made_anchors:
            n += 1
            slug = f"{base}-{n}"
        self.made_anchors.add(slug)
        return slug

    def add(self, block: Block) -> None:
        """Add a block of text under the open heading (blocks too short to mean anything go)."""
        if len(block.text) >= MIN_TEXT_CHARS:
            self.blocks.append(block)

    def finish(self) -> list[Section]:
        """Emit the last section and return them all, in document order."""
        self._flush()
        return self.sections

    def _flush(self) -> None:
        if not self.blocks:
            return
        path = tuple(text for _, text in self.stack) or (self.page_title,)
        key = "|".join((self.page_url, self.season, *path))
        section_id = hashlib.sha1(key.encode()).hexdigest()[:16]
        while section_id in self.used_ids:  # the same heading twice in one season
            section_id = hashlib.sha1((key + section_id).encode()).hexdigest()[:16]
        self.used_ids.add(section_id)
        self.sections.append(
            Section(
                id=section_id,
                url=f"{self.page_url}#{self.anchor}" if self.anchor else self.page_url,
                page_url=self.page_url,
                page_title=self.page_title,
                season=self.season,
                season_order=season_order(self.season),
                heading_path=path,
                blocks=tuple(self.blocks),
            )
        )
        self.blocks = []
