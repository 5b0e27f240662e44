"""Fetch documents (HTML pages and PDFs) from the web or from disk: the first ingest stage.

`Fetcher.fetch` downloads one document politely (robots.txt, a per-host gap that grows
with the host's response time and honours Crawl-delay, retries with backoff, a size cap,
same-site redirects only, conditional requests when the last copy is known);
`read_path` reads saved files. Both return `records.Page` and report every failure as a
`SourceError` whose message is fit to show the user. Which formats exist, and how each
is recognised, is ingest/formats.py's table.
"""

from __future__ import annotations

import codecs
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.robotparser import RobotFileParser

import httpx

from ingest import formats
from ingest.errors import SourceError
from records import Page
from settings import Settings

__all__ = [
    "AlreadyFetched",
    "Clock",
    "FetchOptions",
    "Fetcher",
    "SourceError",
    "fetch_url",
    "read_path",
]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 5 * MiB
DEFAULT_MAX_DOCUMENT_BYTES = 25 * MiB
MAX_REDIRECTS = 5
REDIRECT_CODES = (301, 302, 303, 307, 308)
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to parse at least 500 KiB
# A robots.txt Crawl-delay is honoured up to this; a site asking for an hour per page
# would otherwise make one refresh run for days.
MAX_CRAWL_DELAY_S = 60.0

# Bytes a page's first 2 KB may declare its charset with: <meta charset="x"> or
# <meta http-equiv="Content-Type" content="text/html; charset=x">.
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.I)


class Clock(Protocol):
    """What the fetcher waits with: a monotonic time and a sleep (tests pass a recording one)."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class FetchOptions:
    """How politely and how patiently documents are downloaded (defaults: settings.py's)."""

    timeout: float = 10.0  # seconds per request, body included
    max_bytes: int = DEFAULT_MAX_BYTES  # an HTML page
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES  # a binary document (a PDF)
    delay: float = 0.02  # least gap in seconds between two requests to the same host
    delay_factor: float = 4.0  # ... and at least this many times its last response time
    retries: int = 3  # attempts in all (the first included) on timeouts, 5xx and 429
    backoff: float = 0.5  # wait before the 2nd attempt; doubles for each one after
    user_agent: str = "cpitg-assistant/0.1 (+bulletin archive indexer)"
    respect_robots: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchOptions:
        """The options the settings ask for."""
        return cls(
            timeout=settings.fetch_timeout_s,
            max_bytes=settings.html_max_bytes,
            max_document_bytes=settings.pdf_max_bytes,
            delay=settings.crawl_delay_s,
            delay_factor=settings.crawl_delay_factor,
            retries=settings.fetch_retries,
        )


class AlreadyFetched(SourceError):
    """A redirect to a page the caller has already fetched (a crawl fetches each page once)."""


class _RetryableStatus(Exception):
    """A 5xx or 429 answer, raised inside the retry loop so it can try again."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Fetcher:
    """Download documents over one HTTP connection pool, remembering robots.txt and timings.

    Not thread-safe: use one Fetcher per thread. Close it (or use it as a context
    manager) to release the connections.
    """

    def __init__(
        self,
        options: FetchOptions,
        *,
        allowed_hosts: set[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.options = options
        # Without allowed_hosts, each fetch stays on its own URL's host.
        self.allowed_hosts = {h.lower() for h in allowed_hosts} if allowed_hosts else None
        self.clock = clock or SystemClock()
        self._client = httpx.Client(
            timeout=httpx.Timeout(options.timeout),
            headers={"User-Agent": options.user_agent},
            follow_redirects=False,  # redirects are followed by hand, to keep them on site
        )
        self._robots: dict[str, RobotFileParser] = {}  # by origin, scheme://host:port
        self._last_request: dict[str, float] = {}  # by host: when the last request ended
        self._last_latency: dict[str, float] = {}  # by host: how long it took

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def fetch(
        self,
        url: str,
        known: Page | None = None,
        *,
        seen: Callable[[str], bool] | None = None,
    ) -> Page:
        """Download one document and return it, or raise SourceError saying why not.

        known is the last copy of this URL: its ETag / Last-Modified go with the request,
        and when the server answers 304 Not Modified, known comes back (its fetched_at
        renewed) without a body being sent. seen(url) says whether a redirect target was
        fetched already: such a redirect is not followed (AlreadyFetched is raised).
        """
        current = _parse_http_url(url)
        allowed = self.allowed_hosts or {current.host}
        if current.host not in allowed:
            raise SourceError(url, f"{current.host} is not one of the allowed sites")

        for _ in range(MAX_REDIRECTS + 1):
            if self.options.respect_robots and not self._robots_allow(current):
                raise SourceError(url, "blocked by robots.txt")
            headers: dict[str, str] = {}
            if known is not None and known.url == str(current):
                headers = _validators(known)
            response, body, fmt = self._get(url, current, headers)

            if response.status_code in REDIRECT_CODES:
                current = _redirect_target(url, current, response, allowed)
                if seen is not None and seen(str(current)):
                    raise AlreadyFetched(url, f"redirects to {current}, fetched already")
                continue
            if response.status_code == 304 and headers and known is not None:
                return replace(
                    known,
                    source=url,
                    fetched_at=_now(),
                    etag=response.headers.get("etag", known.etag),
                    last_modified=response.headers.get("last-modified", known.last_modified),
                )
            if not response.is_success:
                raise SourceError(url, _status_text(response), response.status_code)
            if not body.strip():
                raise SourceError(url, "empty page")
            assert fmt is not None  # a 2xx body always comes with its format
            content_type = response.headers.get("content-type", "")
            validators = {
                "etag": response.headers.get("etag"),
                "last_modified": response.headers.get("last-modified"),
            }
            if fmt.binary:
                if not fmt.sniff(body[:1024], current.path.lower()):
                    raise SourceError(url, f"served as {fmt.label} but is not one")
                return Page(url, str(current), "", _now(), fmt.kind, body, **validators)
            html = _decode(body, _charset_from_content_type(content_type))
            return Page(url, str(current), html, _now(), fmt.kind, **validators)

        raise SourceError(url, f"too many redirects (more than {MAX_REDIRECTS})")

    def sitemaps(self, url: str) -> list[str]:
        """The sitemaps robots.txt names for url's site (read once per site; [] if none)."""
        return list(self._robots_for(_parse_http_url(url)).site_maps() or [])

    def get_text(self, url: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
        """Download a small text resource (a sitemap), or None when it is not there.

        Politeness and robots.txt apply as to any fetch; nothing here raises.
        """
        try:
            current = _parse_http_url(url)
            if self.options.respect_robots and not self._robots_allow(current):
                return None
            self._wait_politely(current.host)
            started = self.clock.monotonic()
            try:
                response = self._client.get(current, follow_redirects=True)
            finally:
                self._record(current.host, started)
        except (SourceError, httpx.HTTPError):
            return None
        if not response.is_success or len(response.content) > max_bytes:
            return None
        return response.text

    def allowed_by_robots(self, url: str) -> bool:
        """Whether robots.txt lets us fetch url (always, when robots are not respected)."""
        if not self.options.respect_robots:
            return True
        return self._robots_allow(_parse_http_url(url))

    def _robots_allow(self, url: httpx.URL) -> bool:
        """Return whether robots.txt lets our user agent fetch url (read once per origin)."""
        return self._robots_for(url).can_fetch(self.options.user_agent, str(url))

    def _robots_for(self, url: httpx.URL) -> RobotFileParser:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        parser = self._robots.get(origin)
        if parser is None:
            parser = self._read_robots(origin)
            self._robots[origin] = parser
        return parser

    def _read_robots(self, origin: str) -> RobotFileParser:
        """Download and parse origin's robots.txt; a missing or unreadable one allows all."""
        robots_url = f"{origin}/robots.txt"
        parser = RobotFileParser(robots_url)
        host = httpx.URL(robots_url).host
        self._wait_politely(host)
        started = self.clock.monotonic()
        try:
            # One attempt, no retries; robots.txt may redirect (e.g. http -> https).
            with self._client.stream("GET", robots_url, follow_redirects=True) as response:
                status = response.status_code
                body = bytearray()
                if status < 400:
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) >= ROBOTS_MAX_BYTES:
                            break
        except httpx.HTTPError as exc:
            log.warning("could not read %s (%s); assuming everything is allowed", robots_url, exc)
            parser.allow_all = True
            return parser
        finally:
            self._record(host, started)
        if status >= 500:
            log.warning(
                "could not read %s (HTTP %d); assuming everything is allowed", robots_url, status
            )
            parser.allow_all = True
        elif status >= 400:
            # RFC 9309: a 4xx robots.txt (404 above all) means there are no rules.
            parser.allow_all = True
        else:
            parser.parse(bytes(body).decode("utf-8", errors="replace").splitlines())
        return parser

    def _get(
        self, source: str, url: httpx.URL, headers: dict[str, str]
    ) -> tuple[httpx.Response, bytes, formats.Format | None]:
        """GET url with retries and backoff: the response, a 2xx's body and its format."""
        attempts = max(1, self.options.retries)
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                self.clock.sleep(self.options.backoff * 2 ** (attempt - 2))
            self._wait_politely(url.host)
            started = self.clock.monotonic()
            try:
                return self._get_once(source, url, headers)
            except _RetryableStatus as exc:
                if attempt == attempts:
                    raise SourceError(
                        source,
                        f"{_status_text(exc.response)} after {_attempts(attempts)}",
                        exc.response.status_code,
                    ) from None
            except httpx.TimeoutException:
                if attempt == attempts:
                    raise SourceError(
                        source,
                        f"timed out after {self.options.timeout:g} s ({_attempts(attempts)})",
                    ) from None
            except httpx.TransportError as exc:
                if attempt == attempts:
                    connect = isinstance(exc, httpx.ConnectError)
                    what = "could not connect" if connect else "connection failed"
                    detail = str(exc) or type(exc).__name__
                    raise SourceError(
                        source, f"{what} ({detail}) after {_attempts(attempts)}"
                    ) from None
            except httpx.HTTPError as exc:  # e.g. a body that fails to gunzip: no retry
                raise SourceError(source, f"bad response ({exc})") from None
            finally:
                self._record(url.host, started)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _get_once(
        self, source: str, url: httpx.URL, headers: dict[str, str]
    ) -> tuple[httpx.Response, bytes, formats.Format | None]:
        """Make one GET; read a 2xx body of a known format within its size cap and time."""
        # httpx's timeout bounds each read; this deadline bounds the whole download.
        deadline = self.clock.monotonic() + self.options.timeout
        with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise _RetryableStatus(response)
            if not response.is_success:
                return response, b"", None
            content_type = response.headers.get("content-type", "")
            fmt = formats.by_content_type(content_type)
            if fmt is None and content_type.split(";")[0].strip().lower() in formats.UNTYPED:
                fmt = formats.by_suffix(url.path)
            if fmt is None:
                raise SourceError(
                    source,
                    f"not an {formats.labels()} (content-type: {content_type or 'none'})",
                )
            max_bytes = self.options.max_document_bytes if fmt.binary else self.options.max_bytes
            too_big = f"{'file' if fmt.binary else 'page'} larger than {_size(max_bytes)} cap"
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise SourceError(source, too_big)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise SourceError(source, too_big)
                if self.clock.monotonic() > deadline:
                    raise httpx.ReadTimeout("whole download too slow", request=response.request)
            return response, bytes(body), fmt

    def _record(self, host: str, started: float) -> None:
        """Note when a request to host ended and how long it took, for the next gap."""
        now = self.clock.monotonic()
        self._last_request[host] = now
        self._last_latency[host] = max(0.0, now - started)

    def gap(self, host: str) -> float:
        """Seconds to leave between the last request to host and the next one.

        The largest of: the least gap (delay), delay_factor times the host's last response
        time, and the site's robots.txt Crawl-delay (up to MAX_CRAWL_DELAY_S).
        """
        gap = max(self.options.delay, self.options.delay_factor * self._last_latency.get(host, 0))
        for origin, parser in self._robots.items():
            if httpx.URL(origin).host == host:
                asked = parser.crawl_delay(self.options.user_agent)
                if asked is not None:
                    gap = max(gap, min(float(asked), MAX_CRAWL_DELAY_S))
        return gap

    def _wait_politely(self, host: str) -> None:
        """Sleep until the gap has passed since the last request to host."""
        last = self._last_request.get(host)
        if last is not None:
            remaining = self.gap(host) - (self.clock.monotonic() - last)
            if remaining > 0:
                self.clock.sleep(remaining)


def fetch_url(url: str, options: FetchOptions, *, allowed_hosts: set[str] | None = None) -> Page:
    """Download one document with a throwaway Fetcher (use a Fetcher for many)."""
    with Fetcher(options, allowed_hosts=allowed_hosts) as fetcher:
        return fetcher.fetch(url)


def read_path(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
) -> list[Page]:
    """Read one saved HTML or PDF file, or every such file under a folder in sorted order."""
    if not path.exists():
        raise SourceError(str(path), "no such file or folder")
    if path.is_dir():
        files = sorted(
            (
                p
                for p in path.rglob("*")
                if p.suffix.lower() in formats.all_suffixes() and p.is_file()
            ),
            key=lambda p: p.relative_to(path).as_posix(),
        )
        if not files:
            raise SourceError(str(path), f"no {_folder_kinds()} files in folder")
        return [_read_file(p, max_bytes, max_document_bytes) for p in files]
    return [_read_file(path, max_bytes, max_document_bytes)]


def _folder_kinds() -> str:
    """ ".html or .pdf": the endings a folder is searched for."""
    return " or ".join(f.suffixes[0] for f in formats.FORMATS)


def _read_file(path: Path, max_bytes: int, max_document_bytes: int) -> Page:
    """Read one file as a Page of the format its bytes (or else its name) show."""
    source = str(path)
    try:
        size = path.stat().st_size
        head = path.open("rb").read(64 * 1024) if size else b""
    except OSError as exc:
        raise SourceError(source, f"could not read file ({exc.strerror or exc})") from None
    if not head.strip():
        raise SourceError(source, "empty file")
    fmt = formats.sniff(head, path.suffix)
    if fmt is None:
        raise SourceError(source, f"not an {formats.labels()} file")
    cap = max_document_bytes if fmt.binary else max_bytes
    if size > cap:
        raise SourceError(source, f"file larger than {_size(cap)} cap")
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise SourceError(source, f"could not read file ({exc.strerror or exc})") from None
    url = path.resolve().as_uri()
    if fmt.binary:
        return Page(source, url, "", _now(), fmt.kind, body)
    return Page(source, url, _decode(body, None), _now(), fmt.kind)


def _parse_http_url(url: str) -> httpx.URL:
    """Return url parsed and without fragment; raise SourceError unless it is http(s)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise SourceError(url, f"not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise SourceError(url, "not an http:// or https:// URL")
    if not parsed.host:
        raise SourceError(url, "URL has no host")
    # Servers never see the fragment; dropping it also drops a default :80/:443.
    return parsed.copy_with(fragment=None)


def _redirect_target(
    source: str, current: httpx.URL, response: httpx.Response, allowed: set[str]
) -> httpx.URL:
    """Return where a redirect points, or raise SourceError if it leaves the allowed sites."""
    location = response.headers.get("location")
    if not location:
        raise SourceError(source, f"{_status_text(response)} without a Location header")
    try:
        target = current.join(location)
    except httpx.InvalidURL:
        raise SourceError(source, f"redirected to an invalid URL ({location})") from None
    if target.scheme not in ("http", "https"):
        raise SourceError(source, f"redirected to a non-web address ({target})")
    if target.host not in allowed:
        raise SourceError(source, f"redirected to another site ({target})")
    return target.copy_with(fragment=None)


def _status_text(response: httpx.Response) -> str:
    """Return e.g. "HTTP 404 Not Found"."""
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


def _attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


def _size(n: int) -> str:
    """Return a byte count as people read it: "5.0 MiB", "10.0 KiB"."""
    if n >= MiB:
        return f"{n / MiB:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n} bytes"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- decoding -----------------------------------------------------------------------------


def _charset_from_content_type(content_type: str) -> str | None:
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def _decode(body: bytes, declared: str | None) -> str:
    """Decode HTML bytes: a BOM wins, then the declared charset, then <meta>, then utf-8."""
    if body.startswith(codecs.BOM_UTF8):
        return body[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", errors="replace")
    encoding = _codec(declared)
    if encoding is None:
        match = _META_CHARSET.search(body[:2048])
        encoding = _codec(match.group(1).decode("ascii")) if match else None
    return body.decode(encoding or "utf-8", errors="replace")


def _codec(label: str | None) -> str | None:
    """Return Python's codec for a charset label, or None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # Browsers read latin-1 and ascii labels as windows-1252 (WHATWG Encoding), and
    # pages that say latin-1 often hold cp1252 quotes and dashes.
    return "cp1252" if name in ("iso8859-1", "latin-1", "ascii") else name


def _validators(known: Page) -> dict[str, str]:
    headers = {}
    if known.etag:
        headers["If-None-Match"] = known.etag
    if known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    return headers
