"""Tests for ingest.crawl on a small real site served from 127.0.0.1 (tests/stub_data/site).

The site has what a crawler meets: links in the menu and in the text, a sitemap with a
page nothing links to, a redirect, a redirect loop, a 404, a page robots.txt disallows,
an off-site link, a link outside the section, a PDF, an image and a zip download, and
the same page under several URLs (fragments, tracking parameters, trailing slashes,
rel=canonical).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.siteserver import Route, Site, SiteServer
from ingest.crawl import (
    BLOCKED,
    DUPLICATE,
    NOT_A_DOCUMENT,
    OFF_SITE,
    OUTSIDE_PREFIX,
    OVER_LIMIT,
    TOO_DEEP,
    canonical_url,
    crawl,
    path_prefix,
)
from ingest.errors import SourceError
from ingest.fetch import Fetcher, FetchOptions
from ingest.parse import parse_page

STUB = Path(__file__).resolve().parents[1] / "stub_data"
SITE = STUB / "site"
# Every page of the /kit/ section the crawl can reach (depth 3), in the order it finds them:
# the sitemap's first, then breadth first from the start page.
SECTION = [
    "/kit/index.html",
    "/kit/wifi.html",
    "/kit/sitemap-only.html",
    "/kit/printers.html",
    "/kit/scanners/",
    "/kit/backups.html",
    "/kit/guide.pdf",
    "/kit/backups/offsite.html",
    "/kit/backups/offsite/deep.html",
]


def scripted(site: Site) -> None:
    """The routes no file can be."""
    site.files["/kit/guide.pdf"] = (STUB / "pdf" / "kit-guide.pdf").resolve()
    site.redirect("/kit/old-printers.html", "/kit/printers.html")
    site.redirect("/kit/loop.html", "/kit/loop.html", 302)
    site.routes["/kit/download"] = Route(200, b"PK\x03\x04 driver", "application/zip")


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)  # a proxy must not intercept 127.0.0.1
    with SiteServer(SITE) as running:
        scripted(running)
        yield running


def fetcher() -> Fetcher:
    return Fetcher(FetchOptions(delay=0, delay_factor=0, timeout=5, retries=1))


def run(site: Site, **limits):
    with fetcher() as web:
        return crawl(f"{site.base}/kit/index.html", web, **{"max_pages": 50, "depth": 3, **limits})


def paths(result) -> list[str]:
    return [page.url.removeprefix(result.start_url.rsplit("/kit/", 1)[0]) for page in result.pages]


def test_crawl_finds_every_page_of_the_section_once(site: Site) -> None:
    result = run(site)
    assert paths(result) == SECTION
    # Each page is asked for once, however many URLs lead to it (menu, text, sitemap,
    # ?utm_source=..., #fragments, /kit/scanners without its slash, the old URL's redirect).
    for path in SECTION:
        asked = sum(n for p, n in site.hits.items() if p.split("?")[0] == path)
        assert asked == 1, (path, dict(site.hits))
    assert not any("utm_" in p or "fbclid" in p for p in site.hits)


def test_crawl_skips_what_it_must_and_counts_why(site: Site) -> None:
    result = run(site)
    assert result.skipped == {
        OUTSIDE_PREFIX: 2,  # /news/outside.html, from the page and from the sitemap
        BLOCKED: 1,  # /kit/private/secret.html
        OFF_SITE: 1,  # https://example.org/elsewhere
        NOT_A_DOCUMENT: 2,  # logo.png (by its name), the zip download (by its type)
        DUPLICATE: 1,  # /kit/old-printers.html redirects to a page already fetched
    }
    never_asked = {"/kit/private/secret.html", "/news/outside.html", "/kit/logo.png"}
    assert not never_asked & site.fetched()
    assert site.hits["/kit/old-printers.html"] == 1 and site.hits["/kit/printers.html"] == 1


def test_crawl_reports_broken_links_and_goes_on(site: Site) -> None:
    result = run(site)
    failed = {error.source.rsplit("/kit/", 1)[1]: error for error in result.failed}
    assert set(failed) == {"loop.html", "missing.html"}
    assert failed["loop.html"].reason == "too many redirects (more than 5)"
    assert (failed["missing.html"].reason, failed["missing.html"].gone) == (
        "HTTP 404 Not Found",
        True,
    )


def test_crawled_pages_parse_and_cite_their_canonical_urls(site: Site) -> None:
    result = run(site)
    by_path = dict(zip(paths(result), result.pages, strict=True))
    scanners = parse_page(by_path["/kit/scanners/"])
    assert {s.page_url for s in scanners} == {f"{site.base}/kit/scanners/"}
    # The menu, header and footer are chrome; the start page's link list is not content.
    index = parse_page(by_path["/kit/index.html"])
    text = "\n".join(s.text for s in index)
    assert "Kit guide home" not in text and "a test site" not in text
    assert "Label printers" not in text  # the "In this guide" list is only links
    assert "This guide covers the hardware" in text
    guide = parse_page(by_path["/kit/guide.pdf"])
    assert guide[1].url == f"{site.base}/kit/guide.pdf#page=1"
    assert {s.season for s in guide} == {"overview"}


def test_max_pages_stops_the_crawl(site: Site) -> None:
    result = run(site, max_pages=3)
    assert paths(result) == SECTION[:3]
    assert result.skipped[OVER_LIMIT] > 0


def test_depth_limits_how_far_links_are_followed(site: Site) -> None:
    shallow = run(site, depth=1)
    assert "/kit/backups/offsite.html" not in paths(shallow)
    assert shallow.skipped[TOO_DEEP] == 1  # offsite.html, linked from backups.html
    assert "/kit/sitemap-only.html" in paths(shallow)  # sitemap entries count as depth 1
    start_only = run(site, depth=0)
    assert paths(start_only) == ["/kit/index.html"]


def test_a_recrawl_asks_conditionally_and_gets_304s(site: Site) -> None:
    first = run(site)
    known = {canonical_url(page.url): page for page in first.pages}
    with fetcher() as web:
        again = crawl(f"{site.base}/kit/index.html", web, max_pages=50, depth=3, known=known)
    assert paths(again) == SECTION
    assert {p: n for p, n in site.not_modified.items()} == {p: 1 for p in SECTION}
    assert [p.content for p in again.pages] == [p.content for p in first.pages]


def test_a_start_page_that_fails_fails_the_crawl(site: Site) -> None:
    with fetcher() as web, pytest.raises(SourceError) as info:
        crawl(f"{site.base}/kit/nothing-here.html", web, max_pages=5, depth=1)
    assert info.value.reason == "HTTP 404 Not Found"


@pytest.mark.parametrize(
    "url, canonical",
    [
        ("HTTP://Example.ORG:80/kit/", "http://example.org/kit"),
        ("https://example.org:443/kit/a.html#part", "https://example.org/kit/a.html"),
        ("https://example.org/kit//a.html?utm_source=x&b=2&a=1", "https://example.org/kit/a.html?a=1&b=2"),
        ("https://example.org/?fbclid=1&gclid=2", "https://example.org/"),
        ("http://127.0.0.1:8000/kit/scanners/", "http://127.0.0.1:8000/kit/scanners"),
    ],
)  # fmt: skip
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "start, prefix",
    [
        ("http://h/kit/index.html", "/kit/"),
        ("http://h/kit/", "/kit/"),
        ("http://h/kit", "/"),
        ("http://h/", "/"),
    ],
)
def test_the_section_is_the_start_urls_folder(start: str, prefix: str) -> None:
    assert path_prefix(start) == prefix
