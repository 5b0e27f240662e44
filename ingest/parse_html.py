"""Parse an HTML page into Section records: one per heading that has text.

The parser finds the page's main content (WordPress `entry-content`, else `article`,
`main`, ...), removes page chrome (menus, breadcrumbs, sidebars, cookie notices, forms,
scripts) and lists that are only links, keeps content that sits in collapsed accordion
panels and tables, and walks the headings in document order to build the tree: page
title (h1) > season ("Autumn 2021 updates") > topic > sub-topic.
"""

from __future__ import annotations

import re
from urllib.parse import urldefrag

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from ingest.errors import SourceError
from ingest.sections import SectionBuilder
from records import Block, Page, Section
from settings import Settings

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


def parse_html(page: Page, settings: Settings | None = None) -> list[Section]:
    """Return the page's sections in document order; raise SourceError if it has no content."""
    soup = BeautifulSoup(page.html, "lxml")
    page_url = _canonical_url(soup, page.url)
    title = _page_title(soup)
    root = _content_root(soup)
    if root is None:
        raise SourceError(page.source, "no recognisable content (the page has no body text)")
    _drop_chrome(root)

    builder = SectionBuilder(page_url=page_url, page_title=title)
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


def _walk(element: Tag, builder: SectionBuilder) -> None:
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


def _walk_list(list_tag: Tag, builder: SectionBuilder) -> None:
    """Add each item of a list as one whole block; nested lists follow as their own items."""
    if _is_link_list(list_tag):
        return  # a list of links (related pages, "the bulletins") points at content elsewhere
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


def _is_link_list(list_tag: Tag) -> bool:
    """True for a list whose every item is nothing but one or more links."""
    items = list_tag.find_all("li", recursive=False)
    if not items:
        return False
    for item in items:
        text = clean_text(item)
        linked = " ".join(clean_text(a) for a in item.find_all("a", href=True))
        if not text or re.sub(r"\W+", "", text) != re.sub(r"\W+", "", linked):
            return False
    return True


def _walk_table(table: Tag, builder: SectionBuilder) -> None:
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
