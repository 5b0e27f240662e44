"""Fetch bulletin pages from the web or from disk as raw HTML: the first ingest stage.

`fetch_url` / `Fetcher.fetch` download one page politely (robots.txt, a per-host delay,
retries with backoff, a size cap, same-site redirects only, an optional on-disk cache with
conditional requests); `read_path` reads saved .html files. Both return `records.Page` and
report every failure as a `SourceError` whose message is fit to show the user.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.robotparser import RobotFileParser

import httpx

from records import Page

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 5 * MiB
MAX_REDIRECTS = 5
HTML_TYPES = ("text/html", "application/xhtml+xml")
HTML_SUFFIXES = (".html", ".htm")
REDIRECT_CODES = (301, 302, 303, 307, 308)
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to parse at least 500 KiB

# Bytes a page's first 2 KB may declare its charset with: <meta charset="x"> or
# <meta http-equiv="Content-Type" content="text/html; charset=x">.
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.I)
# Tags that make a file with an unknown extension count as HTML.
_HTML_TAG = re.compile(rb"<(?:!doctype\s+html|html|body|h[1-6]|p)[\s>/]", re.I)


class SourceError(Exception):
    """A page or file that cannot be ingested, with a reason fit to show the user."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass
class FetchOptions:
    """How politely and how patiently pages are downloaded."""

    timeout: float = 10.0  # seconds per request, body included
    max_bytes: int = DEFAULT_MAX_BYTES
    delay: float = 1.0  # seconds between two requests to the same host
    retries: int = 3  # attempts in all (the first included) on timeouts, 5xx and 429
    backoff: float = 0.5  # wait before the 2nd attempt; doubles for each one after
    user_agent: str = "cpitg-assistant/0.1 (+bulletin archive indexer)"
    cache_dir: Path | None = None
    respect_robots: bool = True


class _RetryableStatus(Exception):
    """A 5xx or 429 answer, raised inside the retry loop so it can try again."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Fetcher:
    """Download pages over one HTTP connection pool, remembering robots.txt and timings.

    Not thread-safe: use one Fetcher per thread. Close it (or use it as a context
    manager) to release the connections.
    """

    def __init__(self, options: FetchOptions, *, allowed_hosts: set[str] | None = None) -> None:
        self.options = options
        # Without allowed_hosts, each fetch stays on its own URL's host.
        self.allowed_hosts = {h.lower() for h in allowed_hosts} if allowed_hosts else None
        self._client = httpx.Client(
            timeout=httpx.Timeout(options.timeout),
            headers={"User-Agent": options.user_agent},
            follow_redirects=False,  # redirects are followed by hand, to keep them on site
        )
        self._robots: dict[str, RobotFileParser] = {}  # by origin, scheme://host:port
        self._last_request: dict[str, float] = {}  # by host, time.monotonic()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def fetch(self, url: str) -> Page:
        """Download one HTML page and return it, or raise SourceError saying why not."""
        current = _parse_http_url(url)
        allowed = self.allowed_hosts or {current.host}
        if current.host not in allowed:
            raise SourceError(url, f"{current.host} is not one of the allowed sites")
        cached = _load_cache(self.options.cache_dir, url)

        for _ in range(MAX_REDIRECTS + 1):
            if self.options.respect_robots and not self._robots_allow(current):
                raise SourceError(url, "blocked by robots.txt")
            headers: dict[str, str] = {}
            if cached and cached["final_url"] == str(current):
                headers = _validators(cached)
            response, body = self._get(url, current, headers)

            if response.status_code in REDIRECT_CODES:
                current = _redirect_target(url, current, response, allowed)
                continue
            if response.status_code == 304 and headers:
                return _page_from_cache(self.options.cache_dir, url, cached, response)
            if not response.is_success:
                raise SourceError(url, _status_text(response))
            if not body.strip():
                raise SourceError(url, "empty page")

            content_type = response.headers.get("content-type", "")
            final_url = str(current)
            fetched_at = _now()
            if self.options.cache_dir is not None:
                meta = {
                    "url": url,
                    "final_url": final_url,
                    "etag": response.headers.get("etag"),
                    "last_modified": response.headers.get("last-modified"),
                    "fetched_at": fetched_at,
                    "content_type": content_type,
                }
                _save_cache(self.options.cache_dir, url, meta, body)
            html = _decode(body, _charset_from_content_type(content_type))
            return Page(source=url, url=final_url, html=html, fetched_at=fetched_at)

        raise SourceError(url, f"too many redirects (more than {MAX_REDIRECTS})")

    def _robots_allow(self, url: httpx.URL) -> bool:
        """Return whether robots.txt lets our user agent fetch url (read once per origin)."""
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        parser = self._robots.get(origin)
        if parser is None:
            parser = self._read_robots(origin)
            self._robots[origin] = parser
        return parser.can_fetch(self.options.user_agent, str(url))

    def _read_robots(self, origin: str) -> RobotFileParser:
        """Download and parse origin's robots.txt; a missing or unreadable one allows all."""
        robots_url = f"{origin}/robots.txt"
        parser = RobotFileParser(robots_url)
        host = httpx.URL(robots_url).host
        self._wait_politely(host)
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
            self._last_request[host] = time.monotonic()
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
    ) -> tuple[httpx.Response, bytes]:
        """GET url with retries and backoff; return the response and, for a 2xx, its body."""
        attempts = max(1, self.options.retries)
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(self.options.backoff * 2 ** (attempt - 2))
            self._wait_politely(url.host)
            try:
                return self._get_once(source, url, headers)
            except _RetryableStatus as exc:
                if attempt == attempts:
                    raise SourceError(
                        source, f"{_status_text(exc.response)} after {_attempts(attempts)}"
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
                self._last_request[url.host] = time.monotonic()
        raise AssertionError("unreachable")  # the loop returns or raises

    def _get_once(
        self, source: str, url: httpx.URL, headers: dict[str, str]
    ) -> tuple[httpx.Response, bytes]:
        """Make one GET; read an HTML 2xx body within the size cap and time limit."""
        max_bytes = self.options.max_bytes
        # httpx's timeout bounds each read; this deadline bounds the whole download.
        deadline = time.monotonic() + self.options.timeout
        with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise _RetryableStatus(response)
            if not response.is_success:
                return response, b""
            content_type = response.headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() not in HTML_TYPES:
                raise SourceError(
                    source, f"not an HTML page (content-type: {content_type or 'none'})"
                )
            too_big = f"page larger than {_size(max_bytes)} cap"
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise SourceError(source, too_big)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise SourceError(source, too_big)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("whole download too slow", request=response.request)
            return response, bytes(body)

    def _wait_politely(self, host: str) -> None:
        """Sleep until `delay` seconds have passed since the last request to host."""
        last = self._last_request.get(host)
        if last is not None:
            remaining = self.options.delay - (time.monotonic() - last)
            if remaining > 0:
                time.sleep(remaining)


def fetch_url(url: str, options: FetchOptions, *, allowed_hosts: set[str] | None = None) -> Page:
    """Download one HTML page with a throwaway Fetcher (use a Fetcher for many pages)."""
    with Fetcher(options, allowed_hosts=allowed_hosts) as fetcher:
        return fetcher.fetch(url)


def read_path(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Page]:
    """Read one saved HTML file, or every .html/.htm file under a folder in sorted order."""
    if not path.exists():
        raise SourceError(str(path), "no such file or folder")
    if path.is_dir():
        files = sorted(
            (p for p in path.rglob("*") if p.suffix.lower() in HTML_SUFFIXES and p.is_file()),
            key=lambda p: p.relative_to(path).as_posix(),
        )
        if not files:
            raise SourceError(str(path), "no .html files in folder")
        return [_read_file(p, max_bytes) for p in files]
    return [_read_file(path, max_bytes)]


def _read_file(path: Path, max_bytes: int) -> Page:
    """Read one file as a Page, checking its size and that it is HTML."""
    source = str(path)
    try:
        if path.stat().st_size > max_bytes:
            raise SourceError(source, f"file larger than {_size(max_bytes)} cap")
        body = path.read_bytes()
    except OSError as exc:
        raise SourceError(source, f"could not read file ({exc.strerror or exc})") from None
    if not body.strip():
        raise SourceError(source, "empty file")
    head = body[: 64 * 1024]
    # NUL bytes mean binary (a PDF saved as .html); without a .html name, tags must show.
    if b"\0" in head or (path.suffix.lower() not in HTML_SUFFIXES and not _HTML_TAG.search(head)):
        raise SourceError(source, "not an HTML file")
    return Page(
        source=source, url=path.resolve().as_uri(), html=_decode(body, None), fetched_at=_now()
    )


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


# --- on-disk cache ------------------------------------------------------------------------


def _cache_paths(cache_dir: Path, url: str) -> tuple[Path, Path]:
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()
    return cache_dir / f"{key}.html", cache_dir / f"{key}.json"


def _load_cache(cache_dir: Path | None, url: str) -> dict | None:
    """Return url's cached metadata with its body, or None if absent or unusable."""
    if cache_dir is None:
        return None
    body_path, meta_path = _cache_paths(cache_dir, url)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        body = body_path.read_bytes()
    except (OSError, ValueError):
        return None
    # The two files are replaced one after the other; a crash in between leaves a mismatch.
    if not isinstance(meta, dict) or meta.get("sha256") != hashlib.sha256(body).hexdigest():
        return None
    return {**meta, "body": body}


def _validators(cached: dict) -> dict[str, str]:
    headers = {}
    if cached.get("etag"):
        headers["If-None-Match"] = cached["etag"]
    if cached.get("last_modified"):
        headers["If-Modified-Since"] = cached["last_modified"]
    return headers


def _page_from_cache(
    cache_dir: Path | None, url: str, cached: dict, response: httpx.Response
) -> Page:
    """Return the cached page after a 304, recording the new fetch time."""
    assert cache_dir is not None  # only called when validators were sent
    body = cached.pop("body")
    cached["fetched_at"] = _now()
    # A 304 may carry fresher validators.
    cached["etag"] = response.headers.get("etag", cached.get("etag"))
    cached["last_modified"] = response.headers.get("last-modified", cached.get("last_modified"))
    _save_cache(cache_dir, url, cached, None)
    html = _decode(body, _charset_from_content_type(cached.get("content_type") or ""))
    return Page(source=url, url=cached["final_url"], html=html, fetched_at=cached["fetched_at"])


def _save_cache(cache_dir: Path, url: str, meta: dict, body: bytes | None) -> None:
    """Write the body (unless None: unchanged) and metadata; a failure only logs."""
    body_path, meta_path = _cache_paths(cache_dir, url)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        if body is not None:
            meta = {**meta, "sha256": hashlib.sha256(body).hexdigest()}
            _write_atomic(body_path, body)
        _write_atomic(meta_path, json.dumps(meta, indent=2).encode("utf-8"))
    except OSError as exc:
        log.warning("could not write the page cache for %s (%s)", url, exc)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write data to path via a temp file in the same folder, so readers never see half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
