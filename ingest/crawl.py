"""Crawl a site section from a start URL: every HTML page and PDF under its path, fetched once.

From the start page the crawler follows links that stay on the start URL's host and
under its path prefix (the start URL's folder: /it/updates.html -> /it/), and adds the
site's sitemap entries under the same prefix. Before fetching, every URL is brought to
one canonical form (no fragment, no tracking parameters, no trailing slash, sorted
query), and a page's rel=canonical and redirect target count as seen too, so each page
is fetched once. Links to anything but HTML and PDF (images, style sheets, Word files)
are skipped unfetched; a response of another type is skipped too. robots.txt, the
polite gap between requests and the size cap are the Fetcher's (ingest/fetch.py).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from bs4 import BeautifulSoup

from ingest import formats
from ingest.errors import SourceError
from ingest.fetch import AlreadyFetched, Fetcher
from records import Page

log = logging.getLogger(__name__)

# Query parameters that only track where a visitor came from: the same page either way.
TRACKING_PARAMETERS = ("utm_", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid",
                       "_ga", "_gl", "yclid", "igshid", "_hsenc", "_hsmi")  # fmt: skip
# Link endings that are never HTML or PDF: skipped without a request.
NOT_DOCUMENTS = (
    ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".bmp", ".css", ".js",
    ".json", ".xml", ".rss", ".zip", ".gz", ".tar", ".rar", ".7z", ".doc", ".docx",
    ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".csv", ".txt", ".mp3", ".mp4", ".mov",
    ".avi", ".woff", ".woff2", ".ttf", ".exe", ".dmg", ".ics",
)  # fmt: skip
MAX_SITEMAPS = 10  # a sitemap index may name others; read at most this many
SITEMAP_MAX_BYTES = 10 * 1024 * 1024

# Why a link was not fetched (the keys of CrawlResult.skipped).
OFF_SITE = "off-site"
OUTSIDE_PREFIX = "outside the start URL's path"
BLOCKED = "blocked by robots.txt"
NOT_A_DOCUMENT = "not HTML or PDF"
TOO_DEEP = "deeper than the depth limit"
OVER_LIMIT = "over the page limit"
DUPLICATE = "same page as another URL"


@dataclass
class CrawlResult:
    """What a crawl found: the documents fetched, the pages that failed, what it skipped."""

    start_url: str
    pages: list[Page] = field(default_factory=list)  # HTML and PDF, in the order found
    failed: list[SourceError] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> links


def canonical_url(url: str) -> str:
    """The one form a URL is known by: http(s), lower-case host, no default port, no
    fragment, no tracking parameters, sorted query, and no trailing slash (but "/")."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path or "/"
    while "//" in path:
        path = path.replace("//", "/")
    if len(path) > 1:
        path = path.rstrip("/")
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PARAMETERS)
    )
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def path_prefix(start_url: str) -> str:
    """The folder a crawl stays in: "/it/updates.html" -> "/it/", "/it/a/" -> "/it/a/"."""
    path = urlsplit(start_url).path or "/"
    return path[: path.rfind("/") + 1]


def crawl(
    start_url: str,
    fetcher: Fetcher,
    *,
    max_pages: int,
    depth: int,
    known: dict[str, Page] | None = None,
    progress: Callable[[str], None] | None = None,
) -> CrawlResult:
    """Fetch the start page and what it links to within the section, breadth first.

    known maps canonical URLs to the last copy of each page, so a re-crawl asks with
    If-None-Match / If-Modified-Since and gets 304s for what has not changed. Raises
    SourceError when the start page itself cannot be fetched.
    """
    known = known or {}
    start = urlsplit(start_url)
    host, prefix = start.netloc.lower(), path_prefix(start_url)
    result = CrawlResult(start_url=start_url)
    queue: list[tuple[str, int]] = [(start_url, 0)]
    queued: set[str] = {canonical_url(start_url)}
    seen: set[str] = set()  # canonical forms of what was fetched (asked, redirected, declared)

    def consider(link: str, link_depth: int) -> None:
        """Queue a link when it is in the section and not yet known, else count why not."""
        parts = urlsplit(link)
        if parts.scheme not in ("http", "https"):
            return  # mailto:, javascript:, tel: are not pages
        key = canonical_url(link)
        if key in queued or key in seen:
            return
        if parts.netloc.lower() != host:
            result.skipped[OFF_SITE] += 1
        elif not (parts.path or "/").startswith(prefix) and f"{parts.path}/" != prefix:
            result.skipped[OUTSIDE_PREFIX] += 1
        elif parts.path.lower().endswith(NOT_DOCUMENTS):
            result.skipped[NOT_A_DOCUMENT] += 1
        elif link_depth > depth:
            result.skipped[TOO_DEEP] += 1
        elif not fetcher.allowed_by_robots(link):
            result.skipped[BLOCKED] += 1
        else:
            queued.add(key)
            queue.append((_without_fragment(link), link_depth))

    for link in _sitemap_links(start_url, fetcher):
        consider(link, 1)

    while queue:
        if len(result.pages) >= max_pages:
            result.skipped[OVER_LIMIT] += len(queue)
            break
        url, url_depth = queue.pop(0)
        key = canonical_url(url)
        try:
            page = fetcher.fetch(url, known.get(key), seen=lambda u: canonical_url(u) in seen)
        except AlreadyFetched:
            result.skipped[DUPLICATE] += 1  # a redirect to a page we have
            continue
        except SourceError as error:
            if url == start_url:
                raise
            if error.reason == BLOCKED:
                result.skipped[BLOCKED] += 1
            elif error.reason.startswith(f"not an {formats.labels()}"):
                result.skipped[NOT_A_DOCUMENT] += 1
            else:
                result.failed.append(error)
            continue
        names = {key, canonical_url(page.url)}
        declared = _declared_canonical(page, host)
        if declared:
            names.add(canonical_url(declared))
        if names & seen:
            result.skipped[DUPLICATE] += 1  # a redirect or rel=canonical to a page we have
            continue
        seen.update(names)
        result.pages.append(page)
        if progress:
            progress(page.url)
        for link in _links(page):
            consider(link, url_depth + 1)
    return result


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def _links(page: Page) -> list[str]:
    """The absolute URLs an HTML page links to (a PDF's links are not followed)."""
    if page.kind != "html":
        return []
    soup = BeautifulSoup(page.html, "lxml")
    base_tag = soup.find("base", href=True)
    base = urljoin(page.url, str(base_tag["href"])) if base_tag else page.url
    links = []
    for anchor in soup.find_all(["a", "area"], href=True):
        href = str(anchor["href"]).strip()
        if href and not href.startswith("#"):
            links.append(urljoin(base, href))
    return links


def _declared_canonical(page: Page, host: str) -> str | None:
    """The page's rel=canonical URL when it is on the same site, else None."""
    if page.kind != "html":
        return None
    link = BeautifulSoup(page.html, "lxml").find("link", rel="canonical", href=True)
    if link is None:
        return None
    href = urljoin(page.url, str(link["href"]).strip())
    return href if urlsplit(href).netloc.lower() == host else None


def _sitemap_links(start_url: str, fetcher: Fetcher) -> list[str]:
    """Page URLs from the site's sitemaps (robots.txt's Sitemap: lines, else /sitemap.xml)."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(start_url))
    todo = fetcher.sitemaps(start_url) or [f"{origin}/sitemap.xml"]
    pages: list[str] = []
    read = 0
    while todo and read < MAX_SITEMAPS:
        text = fetcher.get_text(todo.pop(0), max_bytes=SITEMAP_MAX_BYTES)
        read += 1
        if not text:
            continue
        try:
            root = ElementTree.fromstring(text.encode("utf-8"))
        except ElementTree.ParseError as error:
            log.warning("skipping an unreadable sitemap (%s)", error)
            continue
        locations = [el.text.strip() for el in root.iter() if _local(el.tag) == "loc" and el.text]
        if _local(root.tag) == "sitemapindex":
            todo.extend(locations)
        else:
            pages.extend(locations)
    return pages


def _local(tag: str) -> str:
    """An XML tag without its namespace: "{http://www.sitemaps.org/...}loc" -> "loc"."""
    return tag.rsplit("}", 1)[-1]
