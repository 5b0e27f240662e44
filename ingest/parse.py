"""Turn a bulletin archive page's HTML into Section records: one per heading that has text.

The parser finds the page's main content (WordPress `entry-content`, else `article`,
`main`, ...), removes page chrome (menus, breadcrumbs, sidebars, cookie notices, forms,
scripts), keeps content that sits in collapsed accordion panels and tables, and walks the
headings in document order to build the tree: page title (h1) > season ("Autumn 2021
updates") > topic > sub-topic.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urldefrag

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from ingest.fetch import SourceError
from records import OVERVIEW, Block, Page, Section, season_order

HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")

# Chrome that never holds bulletin content, wherever it sits.
DROP_TAGS = (
    "script", "style", "noscript", "template", "iframe", "svg", "canvas", "form",
    "nav", "aside", "input", "select", "textarea", "link", "meta",
)  # fmt: skip
# Class/id words of page chrome on WordPress-style sites. Matched as whole words of the
# attribute, so "entry-content" or "accordion-panel" are not caught by "content"/"nav".
CHROME_WORDS = {
    "cookie", "cookies", "consent", "gdpr", "banner", "breadcrumb", "breadcrumbs",
    "share", "sharing", "social", "sidebar", "widget", "widget-area", "related",
    "comments", "comment-respond", "newsletter", "menu", "navigation", "nav",
    "skip-link", "screen-reader-text", "site-header", "site-footer", "entry-footer",
    "post-navigation", "return-links", "masthead", "colophon", "secondary",
}  # fmt: skip
# Parts of class names (split at - and _) that only page furniture uses, e.g. Jetpack's
# "sd-sharing" and "jp-relatedposts". "header"/"footer"/"content" are not here: WordPress
# uses "entry-header" and "entry-content" for the post itself.
CHROME_PARTS = {
    "cookie", "cookies", "consent", "gdpr", "breadcrumb", "breadcrumbs", "share", "sharing",
    "sharedaddy", "social", "sidebar", "widget", "related", "relatedposts", "comments",
    "newsletter", "menu", "navigation", "nav", "masthead", "colophon", "skip",
}  # fmt: skip
# Where the main content lives, most specific first.
CONTENT_SELECTORS = (
    ".entry-content", "article", "main", "[role=main]", "#content", ".content", "body",
)  # fmt: skip
BLOCK_TAGS = {
    "p", "div", "section", "article", "ul", "ol", "li", "table", "tr", "td", "th",
    "thead", "tbody", "tfoot", "blockquote", "pre", "dl", "dt", "dd", "figure",
    "figcaption", "br", "hr", "details", "summary", "header", "footer", "main", *HEADING_TAGS,
}  # fmt: skip

SEASON_RE = re.compile(
    r"^(spring|summer|autumn|winter)\s+(\d{4})"
    r"(?:\s+(?:pharmacy\s+)?(?:it\s+)?(?:updates?|bulletins?))?\s*$",
    re.IGNORECASE,
)
# A heading or paragraph with fewer letters than this is noise, not content.
MIN_TEXT_CHARS = 2


def parse_page(page: Page) -> list[Section]:
    """Return the page's sections in document order; raise SourceError if it has no content."""
    soup = BeautifulSoup(page.html, "lxml")
    page_url = _canonical_url(soup, page.url)
    title = _page_title(soup)
    root = _content_root(soup)
    if root is None:
        raise SourceError(page.source, "no recognisable content (the page has no body text)")
    _drop_chrome(root)

    builder = _SectionBuilder(page_url=page_url, page_title=title)
    title_heading = soup.find("h1")
    if isinstance(title_heading, Tag) and root not in title_heading.parents:
        # The title sits outside the content (WordPress's entry-header): the text before
        # the first heading is still the title's section, linked by the title's anchor.
        builder.anchor = _anchor_of(title_heading)
    _walk(root, builder)
    sections = builder.finish()
    if not sections:
        raise SourceError(page.source, "no recognisable content (no headed text found)")
    return sections


def season_of(heading: str) -> str | None:
    """Return "Autumn 2021" for a season heading like "Autumn 2021 updates", else None."""
    match = SEASON_RE.match(heading.strip())
    if not match:
        return None
    return f"{match.group(1).capitalize()} {match.group(2)}"


def clean_text(element: Tag | NavigableString) -> str:
    """Return an element's visible text with block boundaries as spaces, whitespace collapsed.

    BeautifulSoup's get_text(" ") would put a space before every inline tag ("the
    <a>CP ITG</a>." -> "the CP ITG ."); joining strings and adding spaces only at block
    tags keeps the text verbatim, so quotes from the archive still match.
    """
    if isinstance(element, NavigableString):
        return re.sub(r"\s+", " ", str(element)).strip()
    parts: list[str] = []
    for node in element.descendants:
        if isinstance(node, Comment):
            continue
        if isinstance(node, NavigableString):
            parts.append(str(node))
        elif isinstance(node, Tag) and node.name in BLOCK_TAGS:
            parts.append(" ")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _canonical_url(soup: BeautifulSoup, fallback: str) -> str:
    """Prefer the page's declared canonical URL: the snapshot cites the live page by it."""
    link = soup.find("link", rel="canonical")
    href = link.get("href") if isinstance(link, Tag) else None
    if isinstance(href, str) and href.startswith(("http://", "https://")):
        return urldefrag(href.strip()).url
    return urldefrag(fallback).url


def _page_title(soup: BeautifulSoup) -> str:
    for selector in ("h1.entry-title", "article h1", "main h1", "h1"):
        found = soup.select_one(selector)
        if found and clean_text(found):
            return clean_text(found)
    if soup.title and soup.title.string:
        # "Page title - Site name": keep the page's own part.
        return re.split(r"\s+[-|–]\s+", soup.title.string.strip())[0]
    return "Untitled page"


def _content_root(soup: BeautifulSoup) -> Tag | None:
    """Return the most specific element holding the page's main text."""
    for selector in CONTENT_SELECTORS:
        for candidate in soup.select(selector):
            if _is_chrome(candidate):
                continue
            if len(clean_text(candidate)) >= 40:
                return candidate
    return None


def _is_chrome(tag: Tag) -> bool:
    """True for page furniture: site header/footer, menus, sharing, cookie notices, widgets."""
    if tag.attrs is None:
        return False
    if tag.name in ("header", "footer") and not _inside_content_article(tag):
        return True
    if tag.get("role") in ("navigation", "banner", "contentinfo", "dialog", "search"):
        return True
    names = [str(v).lower() for v in (tag.get("class") or [])]
    names += [str(tag.get("id") or "").lower()]
    for name in filter(None, names):
        # Whole names ("site-header") and name parts ("sd-sharing", "jp-relatedposts").
        if name in CHROME_WORDS or set(re.split(r"[-_]+", name)) & CHROME_PARTS:
            return True
    return False


def _inside_content_article(tag: Tag) -> bool:
    """An <header>/<footer> inside the article belongs to the post (entry header/footer)."""
    classes = " ".join(tag.get("class") or [])
    return "entry-header" in classes


def _drop_chrome(root: Tag) -> None:
    for tag in root.find_all(DROP_TAGS):
        tag.decompose()
    for comment in root.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in list(root.find_all(True)):
        if tag.decomposed:
            continue
        if _is_chrome(tag):
            tag.decompose()


class _SectionBuilder:
    """Collects blocks under the current heading and emits a Section when the next starts."""

    def __init__(self, page_url: str, page_title: str) -> None:
        self.page_url = page_url
        self.page_title = page_title
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []  # open headings below the title: (level, text)
        self.season = OVERVIEW
        self.season_level: int | None = None
        self.anchor = ""
        self.blocks: list[Block] = []
        self.used_ids: set[str] = set()
        self.made_anchors: set[str] = set()
        self.real_level = 1  # level of the last <h1>-<h6>, for accordion titles below it

    def heading(self, level: int, text: str, anchor: str, real: bool = True) -> None:
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
            self.season, self.season_level = OVERVIEW, None
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))

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
        if len(block.text) >= MIN_TEXT_CHARS:
            self.blocks.append(block)

    def finish(self) -> list[Section]:
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


def _walk(element: Tag, builder: _SectionBuilder) -> None:
    """Visit content in document order, sending headings and blocks to the builder."""
    inline: list[str] = []  # loose text and inline tags directly inside a container

    def flush_inline() -> None:
        text = re.sub(r"\s+", " ", "".join(inline)).strip()
        inline.clear()
        if text:
            builder.add(Block("p", text))

    for child in element.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            inline.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name not in BLOCK_TAGS and not _is_title_line(child):
            inline.append(clean_text(child) and _inline_text(child))
            continue
        flush_inline()
        if name in HEADING_TAGS:
            text = clean_text(child)
            if text:
                builder.heading(int(name[1]), text, _anchor_of(child))
        elif _is_title_line(child):
            # An accordion's title, a <summary>, or a bold-only line: a sub-heading one
            # level below the open one, so its panel's text is a section of its own.
            level = builder.level_below()
            builder.heading(level, clean_text(child), _anchor_of(child), real=False)
        elif name in ("p", "blockquote", "pre", "dt", "dd", "figcaption", "summary"):
            builder.add(Block("p", clean_text(child)))
        elif name in ("ul", "ol"):
            _walk_list(child, builder)
        elif name == "table":
            _walk_table(child, builder)
        else:  # div, section, details, ...: a container, look inside
            _walk(child, builder)
    flush_inline()


# Class-name parts that mark an accordion or toggle title ("accordion-title",
# "elementor-tab-title", "panel-heading"): the text of a collapsed panel's heading.
_PANEL_WORDS = {"accordion", "toggle", "collapse", "collapsible", "tab", "panel", "faq"}
_TITLE_WORDS = {"title", "header", "heading", "button", "toggle", "trigger", "question"}


def _is_title_line(tag: Tag) -> bool:
    """True for an element that titles the content after it but is not an <h1>-<h6>."""
    if tag.find(HEADING_TAGS):
        return False  # the real heading inside is walked as usual
    text = clean_text(tag)
    if not text or len(text) > 120:
        return False
    if tag.name == "summary":
        return True
    parts = {p for c in tag.get("class") or [] for p in re.split(r"[-_]+", str(c).lower())}
    if parts & _PANEL_WORDS and parts & _TITLE_WORDS:
        return True
    if tag.name == "button" and (tag.get("aria-controls") or tag.get("aria-expanded")):
        return True
    # <p><strong>Local digital priorities</strong></p>: WordPress editors' sub-heading.
    if tag.name == "p" and not text.endswith((".", ":", "?", "!", ";", ",")):
        only = [c for c in tag.children if not (isinstance(c, NavigableString) and not c.strip())]
        return (
            len(only) == 1
            and isinstance(only[0], Tag)
            and only[0].name in ("strong", "b")
            and len(text.split()) <= 12
        )
    return False


def _inline_text(tag: Tag) -> str:
    """Text of an inline tag with its own spacing kept, so words don't run together."""
    return "".join(str(s) for s in tag.find_all(string=True) if not isinstance(s, Comment))


def _walk_list(list_tag: Tag, builder: _SectionBuilder) -> None:
    """Add each item of a list as one whole block; nested lists follow as their own items."""
    numbered = list_tag.name == "ol"
    number = int(list_tag.get("start") or 1) if str(list_tag.get("start", "1")).isdigit() else 1
    for item in list_tag.find_all("li", recursive=False):
        # Lists nested in this item (not deeper) become items of their own, after it.
        nested = [sub for sub in item.find_all(["ul", "ol"]) if sub.find_parent("li") is item]
        for sub in nested:
            sub.extract()
        kind = "ol" if numbered else "li"
        builder.add(Block(kind, clean_text(item), number if numbered else None))
        number += 1
        for sub in nested:
            _walk_list(sub, builder)


def _walk_table(table: Tag, builder: _SectionBuilder) -> None:
    """Add each body row as a readable line: "Header: value; Header: value"."""
    headers: list[str] = []
    for row in table.find_all("tr"):
        cells = row.find_all(["th", "td"], recursive=False)
        texts = [clean_text(c) for c in cells]
        if not any(texts):
            continue
        if not headers and all(c.name == "th" for c in cells):
            headers = texts
            continue
        if headers and len(headers) == len(texts):
            line = "; ".join(f"{h}: {t}" if h else t for h, t in zip(headers, texts, strict=True))
        else:
            line = " | ".join(t for t in texts if t)
        builder.add(Block("row", line))


def _anchor_of(heading: Tag) -> str:
    """The id a link can jump to: the heading's own, an anchor inside it, or its wrapper's."""
    if heading.get("id"):
        return str(heading["id"])
    inner = heading.find(attrs={"id": True}) or heading.find("a", attrs={"name": True})
    if isinstance(inner, Tag):
        return str(inner.get("id") or inner.get("name"))
    parent = heading.parent
    if isinstance(parent, Tag) and parent.get("id") and len(parent.find_all(HEADING_TAGS)) <= 1:
        return str(parent["id"])  # <div id=...><h3>..</h3></div> or <details id=...><summary>
    return ""  # no anchor on the page: the builder makes a unique one from the heading
