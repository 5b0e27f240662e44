"""A real HTTP server on 127.0.0.1 serving a folder as a web site, for crawl tests and benchmarks.

It answers like a typical static host: an ETag and Last-Modified on every file, 304 Not
Modified to a matching If-None-Match / If-Modified-Since, "/dir" redirected to "/dir/",
"/dir/" served from "/dir/index.html", and 404 for the rest. "{BASE}" inside .html, .txt
and .xml files becomes the server's own address (for robots.txt's Sitemap: line and
rel=canonical links). Scripted routes add what no file can be: redirects, loops, errors,
downloads of other types. It counts every request per path, and the 304s, so a test can
check what was fetched and how often.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

TYPES = {".html": "text/html; charset=utf-8", ".pdf": "application/pdf",
         ".txt": "text/plain; charset=utf-8", ".xml": "application/xml"}  # fmt: skip
TEMPLATED = (".html", ".txt", ".xml")
LAST_MODIFIED = formatdate(1_680_000_000, usegmt=True)  # one fixed date for every file


@dataclass
class Route:
    """A scripted answer: a status, headers and a body."""

    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Site:
    """The running site: its address, what it serves, and what it was asked."""

    root: Path
    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)  # path -> scripted answer
    files: dict[str, Path] = field(default_factory=dict)  # path -> a file from elsewhere
    hits: Counter = field(default_factory=Counter)  # path (with query) -> requests
    not_modified: Counter = field(default_factory=Counter)  # path -> 304 answers
    order: list[str] = field(default_factory=list)  # every request path, in order

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        """Make path redirect to another path or URL."""
        self.routes[path] = Route(status, headers={"Location": to})

    def fetched(self) -> set[str]:
        """The paths that were asked for at least once (robots.txt and sitemaps included)."""
        return {urlsplit(p).path for p in self.hits}


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test and bench output quiet
            pass

        def do_GET(self) -> None:
            site.hits[self.path] += 1
            site.order.append(self.path)
            try:
                self._answer(urlsplit(self.path).path)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _answer(self, path: str) -> None:
            route = site.routes.get(path)
            if route is not None:
                self._send(route.status, route.body, route.content_type, route.headers)
                return
            file = site.files.get(path) or self._file(path)
            if file is None:
                if (site.root / path.lstrip("/")).is_dir() and not path.endswith("/"):
                    self._send(301, b"", "text/html", {"Location": path + "/"})
                else:
                    self._send(404, b"<h1>Not found</h1>", "text/html", {})
                return
            body = file.read_bytes()
            if file.suffix in TEMPLATED:
                body = body.replace(b"{BASE}", site.base.encode())
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag or (
                not self.headers.get("If-None-Match")
                and self.headers.get("If-Modified-Since") == LAST_MODIFIED
            ):
                site.not_modified[path] += 1
                self._send(304, b"", None, {"ETag": etag})
                return
            ctype = TYPES.get(file.suffix, "application/octet-stream")
            self._send(200, body, ctype, {"ETag": etag, "Last-Modified": LAST_MODIFIED})

        def _file(self, path: str) -> Path | None:
            target = (site.root / path.lstrip("/")).resolve()
            if not target.is_relative_to(site.root.resolve()):
                return None
            if path.endswith("/"):
                target = target / "index.html"
            return target if target.is_file() else None

        def _send(self, status: int, body: bytes, ctype: str | None, headers: dict) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler


class SiteServer:
    """Serve a folder on a free port of 127.0.0.1 until stopped (or as a context manager)."""

    def __init__(self, root: Path) -> None:
        self.site = Site(root=Path(root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.site))
        self._httpd.daemon_threads = True
        self.site.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)  # fmt: skip

    def __enter__(self) -> Site:
        self._thread.start()
        return self.site

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
