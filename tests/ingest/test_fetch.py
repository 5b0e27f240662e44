"""Tests for ingest.fetch against a real HTTP server on 127.0.0.1 and real files on disk."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingest.fetch import Fetcher, FetchOptions, SourceError, fetch_url, read_path
from settings import Settings

GOOD_HTML = b"<!doctype html><html><body><h1>Autumn 2021</h1><p>EPS news.</p></body></html>"
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 01 Sep 2021 10:00:00 GMT"
ROBOTS = "User-agent: *\nDisallow: /private/\n"
SMALL_CAP = 10 * 1024  # tests' max_bytes; /big sends more than this
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


@dataclass
class Server:
    """The running test server: its base URL, what it was asked, and what robots.txt says."""

    base: str
    hits: Counter = field(default_factory=Counter)  # path -> requests
    conditional: int = 0  # requests to /good that carried If-None-Match
    robots: str | None = ROBOTS  # None -> 404, "500" -> server error


def _make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output quiet
            pass

        def send(self, status: int, body: bytes = b"", ctype: str = "text/html", **headers):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path
            server.hits[path] += 1
            try:
                self.route(path)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the slow route): nothing to answer

        def route(self, path: str) -> None:
            if path == "/robots.txt":
                if server.robots is None:
                    self.send(404, b"no robots here", "text/plain")
                elif server.robots == "500":
                    self.send(500, b"oops", "text/plain")
                else:
                    self.send(200, server.robots.encode(), "text/plain")
            elif path in ("/good", "/private/page"):
                if self.headers.get("If-None-Match") == ETAG:
                    server.conditional += 1
                    self.send_response(304)
                    self.send_header("ETag", ETAG)
                    self.end_headers()
                    return
                self.send(
                    200,
                    GOOD_HTML,
                    "text/html; charset=utf-8",
                    ETag=ETAG,
                    Last_Modified=LAST_MODIFIED,
                )
            elif path == "/missing":
                self.send(404, b"<h1>Not here</h1>")
            elif path == "/forbidden":
                self.send(403, b"<h1>No</h1>")
            elif path == "/error":
                self.send(500, b"<h1>Broken</h1>")
            elif path == "/flaky":
                if server.hits[path] == 1:
                    self.send(503, b"<h1>Busy</h1>")
                else:
                    self.send(200, GOOD_HTML)
            elif path == "/throttled":
                self.send(429, b"<h1>Slow down</h1>")
            elif path == "/slow":
                time.sleep(0.6)
                self.send(200, GOOD_HTML)
            elif path == "/redirect":
                self.send(302, Location="/good")
            elif path == "/redirect-abs":
                self.send(301, Location=f"{server.base}/redirect")
            elif path == "/loop":
                self.send(302, Location="/loop")
            elif path == "/offsite":
                port = server.base.rsplit(":", 1)[1]
                self.send(302, Location=f"http://127.0.0.2:{port}/good")
            elif path == "/big":
                self.send(200, b"<p>" + b"x" * (SMALL_CAP * 2) + b"</p>")
            elif path == "/big-unsized":
                # No Content-Length: HTTP/1.0 ends the body by closing, so the cap must
                # stop the download while streaming.
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<p>" + b"x" * (SMALL_CAP * 2) + b"</p>")
            elif path == "/pdf":
                self.send(200, PDF_BYTES, "application/pdf", ETag=ETAG)
            elif path == "/files/bulletin.pdf":
                self.send(200, PDF_BYTES, "application/octet-stream")
            elif path == "/not-really.pdf":
                self.send(200, GOOD_HTML, "application/pdf")
            elif path == "/logo.png":
                self.send(200, b"\x89PNG\r\n\x1a\n", "image/png")
            elif path == "/empty":
                self.send(200, b"")
            elif path == "/latin1":
                body = "<html><body><p>Café – 10 µg</p></body></html>".encode("latin-1", "replace")
                self.send(200, body, "text/html; charset=ISO-8859-1")
            elif path == "/meta-charset":
                body = b'<html><head><meta charset="windows-1252"></head><p>\x80 5 \x93ok\x94</p>'
                self.send(200, body, "text/html")
            else:
                self.send(404, b"<h1>Unknown route</h1>")

    return Handler


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    """Run the scripted HTTP server on a free port of 127.0.0.1 for one test."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)  # a proxy must not intercept 127.0.0.1
    state = Server(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def opts(**overrides) -> FetchOptions:
    """Fast options for tests: no polite delay, short timeout and backoff, a small cap."""
    values = dict(
        timeout=0.3, max_bytes=SMALL_CAP, delay=0.0, delay_factor=0.0, retries=3, backoff=0.01
    )
    return FetchOptions(**{**values, **overrides})


class RecordingClock:
    """A clock whose time moves only when the fetcher sleeps; it records every sleep.

    What the fetcher asks to wait is then exactly its politeness rule, whatever the
    machine's speed.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class RealTimeClock(RecordingClock):
    """Real time, but sleeps are only recorded (for the gap that grows with latency)."""

    def monotonic(self) -> float:
        return time.monotonic()


def fetch_error(url: str, **overrides) -> SourceError:
    """Fetch url, expecting a SourceError, and check it names the URL."""
    with pytest.raises(SourceError) as info:
        fetch_url(url, opts(**overrides))
    assert info.value.source == url
    assert str(info.value) == f"{url}: {info.value.reason}"
    return info.value


# --- fetch_url: pages that work -------------------------------------------------------------


def test_defaults_match_the_pipeline() -> None:
    options = FetchOptions()
    assert options == FetchOptions.from_settings(Settings())  # the settings' defaults
    assert (options.timeout, options.max_bytes, options.max_document_bytes) == (
        10.0,
        5 * 1024 * 1024,
        25 * 1024 * 1024,
    )
    assert (options.retries, options.backoff, options.respect_robots) == (3, 0.5, True)
    assert options.user_agent == "cpitg-assistant/0.1 (+bulletin archive indexer)"


def test_good_page_returns_html_and_final_url(server: Server) -> None:
    page = fetch_url(f"{server.base}/good#eps", opts())
    assert page.html == GOOD_HTML.decode()
    assert page.source == f"{server.base}/good#eps"
    assert page.url == f"{server.base}/good"  # fragment dropped
    assert page.fetched_at.endswith("+00:00") and "T" in page.fetched_at


def test_same_host_redirects_are_followed(server: Server) -> None:
    url = f"{server.base}/redirect-abs"
    page = fetch_url(url, opts())
    assert page.html == GOOD_HTML.decode()
    assert (page.source, page.url) == (url, f"{server.base}/good")
    assert server.hits["/redirect-abs"] == server.hits["/redirect"] == server.hits["/good"] == 1


def test_charset_from_content_type_header(server: Server) -> None:
    page = fetch_url(f"{server.base}/latin1", opts())
    assert "Café" in page.html and "µg" in page.html


def test_charset_from_meta_tag(server: Server) -> None:
    page = fetch_url(f"{server.base}/meta-charset", opts())
    assert "€ 5 “ok”" in page.html


def test_retry_after_503_succeeds(server: Server) -> None:
    page = fetch_url(f"{server.base}/flaky", opts())
    assert page.html == GOOD_HTML.decode()
    assert server.hits["/flaky"] == 2


# --- fetch_url: errors ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://example.org/page.html", "file:///etc/hosts", "not a url"])
def test_non_http_urls_are_rejected(url: str) -> None:
    error = fetch_error(url)
    assert "http" in error.reason


def test_404(server: Server) -> None:
    error = fetch_error(f"{server.base}/missing")
    assert (error.reason, error.status, error.gone) == ("HTTP 404 Not Found", 404, True)
    assert server.hits["/missing"] == 1


def test_4xx_is_not_retried(server: Server) -> None:
    assert fetch_error(f"{server.base}/forbidden").reason == "HTTP 403 Forbidden"
    assert server.hits["/forbidden"] == 1


def test_500_is_retried_then_reported(server: Server) -> None:
    error = fetch_error(f"{server.base}/error")
    assert error.reason == "HTTP 500 Internal Server Error after 3 attempts"
    assert (error.status, error.gone) == (500, False)
    assert server.hits["/error"] == 3


def test_retries_back_off_doubling(server: Server) -> None:
    clock = RecordingClock()
    with Fetcher(opts(backoff=0.25, respect_robots=False), clock=clock) as fetcher:
        with pytest.raises(SourceError):
            fetcher.fetch(f"{server.base}/error")
    assert clock.sleeps == [0.25, 0.5]  # before the 2nd and the 3rd attempt


def test_429_is_retried(server: Server) -> None:
    error = fetch_error(f"{server.base}/throttled", retries=2)
    assert error.reason == "HTTP 429 Too Many Requests after 2 attempts"
    assert server.hits["/throttled"] == 2


def test_timeout_is_retried_then_reported(server: Server) -> None:
    error = fetch_error(f"{server.base}/slow", timeout=0.2, retries=2)
    assert error.reason == "timed out after 0.2 s (2 attempts)"
    assert server.hits["/slow"] == 2


def test_connection_refused() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/", retries=2, respect_robots=False)
    assert error.reason.startswith("could not connect (")
    assert error.reason.endswith("after 2 attempts")


def test_redirect_to_another_site_is_refused(server: Server) -> None:
    port = server.base.rsplit(":", 1)[1]
    error = fetch_error(f"{server.base}/offsite")
    assert error.reason == f"redirected to another site (http://127.0.0.2:{port}/good)"


def test_redirect_loop_stops(server: Server) -> None:
    assert fetch_error(f"{server.base}/loop").reason == "too many redirects (more than 5)"
    assert server.hits["/loop"] == 6


def test_allowed_hosts_limit_the_start_url(server: Server) -> None:
    with pytest.raises(SourceError, match="127.0.0.1 is not one of the allowed sites"):
        fetch_url(f"{server.base}/good", opts(), allowed_hosts={"example.org"})
    page = fetch_url(f"{server.base}/redirect", opts(), allowed_hosts={"127.0.0.1"})
    assert page.url == f"{server.base}/good"


def test_pdf_is_fetched_as_bytes(server: Server) -> None:
    page = fetch_url(f"{server.base}/pdf", opts())
    assert (page.kind, page.data, page.html, page.etag) == ("pdf", PDF_BYTES, "", ETAG)
    assert page.content == PDF_BYTES


def test_untyped_download_named_pdf_is_read_as_pdf(server: Server) -> None:
    page = fetch_url(f"{server.base}/files/bulletin.pdf", opts())
    assert (page.kind, page.data) == ("pdf", PDF_BYTES)


def test_a_page_served_as_pdf_that_is_not_one(server: Server) -> None:
    assert fetch_error(f"{server.base}/not-really.pdf").reason == "served as PDF but is not one"


def test_neither_html_nor_pdf(server: Server) -> None:
    error = fetch_error(f"{server.base}/logo.png")
    assert error.reason == "not an HTML page or PDF (content-type: image/png)"


def test_pdf_has_its_own_size_cap(server: Server) -> None:
    error = fetch_error(f"{server.base}/pdf", max_document_bytes=20)
    assert error.reason == "file larger than 20 bytes cap"


@pytest.mark.parametrize("path", ["/big", "/big-unsized"])
def test_oversized_page(server: Server, path: str) -> None:
    assert fetch_error(f"{server.base}{path}").reason == "page larger than 10.0 KiB cap"


def test_empty_page(server: Server) -> None:
    assert fetch_error(f"{server.base}/empty").reason == "empty page"


# --- robots.txt ----------------------------------------------------------------------------


def test_robots_blocks_private_and_is_read_once(server: Server) -> None:
    with Fetcher(opts()) as fetcher:
        with pytest.raises(SourceError) as info:
            fetcher.fetch(f"{server.base}/private/page")
        assert info.value.reason == "blocked by robots.txt"
        assert fetcher.fetch(f"{server.base}/good").html == GOOD_HTML.decode()
    assert server.hits["/private/page"] == 0
    assert server.hits["/robots.txt"] == 1


def test_robots_ignored_when_not_respected(server: Server) -> None:
    page = fetch_url(f"{server.base}/private/page", opts(respect_robots=False))
    assert page.html == GOOD_HTML.decode()
    assert server.hits["/robots.txt"] == 0


def test_missing_robots_allows_all(server: Server) -> None:
    server.robots = None
    assert fetch_url(f"{server.base}/private/page", opts()).html == GOOD_HTML.decode()


def test_broken_robots_allows_all_with_a_warning(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    server.robots = "500"
    with caplog.at_level(logging.WARNING, logger="ingest.fetch"):
        assert fetch_url(f"{server.base}/private/page", opts()).html == GOOD_HTML.decode()
    assert "robots.txt" in caplog.text and "HTTP 500" in caplog.text


# --- politeness and the cache --------------------------------------------------------------


def test_polite_gap_between_requests_to_one_host(server: Server) -> None:
    clock = RecordingClock()
    with Fetcher(opts(delay=0.3, respect_robots=False), clock=clock) as fetcher:
        fetcher.fetch(f"{server.base}/good")
        assert clock.sleeps == []  # the first request to a host waits for nothing
        fetcher.fetch(f"{server.base}/good")
        fetcher.fetch(f"{server.base}/good")
    assert clock.sleeps == [0.3, 0.3]  # no time passed in between: the whole gap, each time
    assert server.hits["/good"] == 3


def test_gap_grows_with_the_hosts_response_time(server: Server) -> None:
    clock = RealTimeClock()  # /slow takes 0.6 s to answer (the handler sleeps)
    with Fetcher(opts(delay=0.01, delay_factor=4, timeout=5, respect_robots=False),
                 clock=clock) as fetcher:  # fmt: skip
        fetcher.fetch(f"{server.base}/slow")
        fetcher.fetch(f"{server.base}/good")
    [asked] = clock.sleeps
    assert asked >= 4 * 0.6 - 0.1  # at least four times the 0.6 s the server took


def test_robots_crawl_delay_is_honoured(server: Server) -> None:
    server.robots = "User-agent: *\nCrawl-delay: 2\n"
    clock = RecordingClock()
    with Fetcher(opts(delay=0.1), clock=clock) as fetcher:
        fetcher.fetch(f"{server.base}/good")  # robots.txt first, then the page
        fetcher.fetch(f"{server.base}/good")
    assert clock.sleeps == [2.0, 2.0]


def test_known_copy_sends_validators_and_comes_back_on_304(server: Server) -> None:
    url = f"{server.base}/good"
    first = fetch_url(url, opts())
    assert (first.etag, first.last_modified) == (ETAG, LAST_MODIFIED)
    assert server.conditional == 0
    aged = replace(first, fetched_at="2021-01-01T00:00:00+00:00")
    second = Fetcher(opts()).fetch(url, known=aged)
    assert server.conditional == 1
    assert server.hits["/good"] == 2
    assert (second.html, second.url, second.etag) == (first.html, first.url, ETAG)
    assert second.fetched_at > aged.fetched_at  # the check renews it


def test_a_known_copy_of_another_url_sends_no_validators(server: Server) -> None:
    other = replace(fetch_url(f"{server.base}/good", opts()), url=f"{server.base}/elsewhere")
    fetch_url(f"{server.base}/good", opts())
    with Fetcher(opts()) as fetcher:
        assert fetcher.fetch(f"{server.base}/good", known=other).html == GOOD_HTML.decode()
    assert server.conditional == 0


# --- read_path -----------------------------------------------------------------------------


def test_read_single_file(tmp_path: Path) -> None:
    path = tmp_path / "autumn-2021.html"
    path.write_bytes(GOOD_HTML)
    [page] = read_path(path)
    assert page.html == GOOD_HTML.decode()
    assert page.source == str(path)
    assert page.url == path.resolve().as_uri() and page.url.startswith("file://")


def test_read_folder_recursively_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "winter.htm").write_bytes(b"<h1>Winter</h1>")
    (tmp_path / "a.html").write_bytes(b"<h1>A</h1>")
    (tmp_path / "notes.txt").write_text("not a page")
    pages = read_path(tmp_path)
    assert [Path(p.source).name for p in pages] == ["a.html", "winter.htm"]
    assert pages[1].html == "<h1>Winter</h1>"


def test_read_file_meta_charset(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(b'<meta charset="iso-8859-1"><p>Caf\xe9</p>')
    assert "Café" in read_path(path)[0].html


def test_html_content_without_html_extension_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "saved-page"
    path.write_bytes(b"<p>Saved without an extension</p>")
    assert read_path(path)[0].html == "<p>Saved without an extension</p>"


def test_read_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.html"
    with pytest.raises(SourceError) as info:
        read_path(path)
    assert (info.value.source, info.value.reason) == (str(path), "no such file or folder")


@pytest.mark.parametrize(
    "name, content",
    [("notes.txt", b"just some words, no markup"), ("blob.html", b"\x00\x01\x02 <p>binary")],
)
def test_read_neither_html_nor_pdf(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match="not an HTML page or PDF file$"):
        read_path(path)


@pytest.mark.parametrize("name", ["bulletin.pdf", "bulletin.html", "bulletin"])
def test_a_pdf_is_known_by_its_bytes_whatever_its_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(PDF_BYTES)
    [page] = read_path(path)
    assert (page.kind, page.data, page.html) == ("pdf", PDF_BYTES, "")


def test_read_folder_of_html_and_pdf(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_bytes(b"<h1>A</h1>")
    (tmp_path / "b.pdf").write_bytes(PDF_BYTES)
    assert [p.kind for p in read_path(tmp_path)] == ["html", "pdf"]


def test_read_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match="empty file$"):
        read_path(path)


def test_read_folder_without_html(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SourceError) as info:
        read_path(tmp_path)
    assert (info.value.source, info.value.reason) == (
        str(tmp_path),
        "no .html or .pdf files in folder",
    )


def test_read_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.html"
    path.write_bytes(b"<p>" + b"x" * (5 * 1024 * 1024) + b"</p>")
    with pytest.raises(SourceError, match="file larger than 5.0 MiB cap$"):
        read_path(path)
    with pytest.raises(SourceError, match="file larger than 10.0 KiB cap$"):
        read_path(path, max_bytes=SMALL_CAP)
    pdf = tmp_path / "huge.pdf"
    pdf.write_bytes(PDF_BYTES + b"0" * SMALL_CAP)
    assert read_path(pdf, max_bytes=SMALL_CAP)[0].kind == "pdf"  # a PDF has its own cap
    with pytest.raises(SourceError, match="file larger than 10.0 KiB cap$"):
        read_path(pdf, max_document_bytes=SMALL_CAP)
