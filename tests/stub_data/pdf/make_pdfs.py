"""Print the PDF fixtures: each src/*.html page to <name>.pdf with headless Chromium.

    python tests/stub_data/pdf/make_pdfs.py [NAME ...]

The pages are served from 127.0.0.1 and printed with Chromium's default header (date,
time and page title) and footer (URL and "page/pages") left in, as a secretariat member
printing a web page would get them: the PDF parser must remove them. Run it again after
editing a page under src/, and commit both.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def chromium() -> str:
    """The Chromium binary (Debian's chromium, or chromium-browser / google-chrome)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("error: Chromium not found (apt-get install chromium)")


def print_pdf(binary: str, url: str, out: Path) -> None:
    """Print url to out with Chromium's default page header and footer."""
    with tempfile.TemporaryDirectory(prefix="cpitg-chromium-") as profile:
        subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", f"--user-data-dir={profile}",
             f"--print-to-pdf={out}", url],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    if not out.exists() or out.stat().st_size == 0:
        sys.exit(f"error: Chromium wrote no PDF for {url}")


def main(names: list[str]) -> int:
    """Print the named pages (all of src/*.html by default)."""
    pages = sorted(SOURCES.glob("*.html"))
    if names:
        pages = [p for p in pages if p.stem in names]
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(SOURCES)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    binary = chromium()
    try:
        for page in pages:
            out = HERE / f"{page.stem}.pdf"
            print_pdf(binary, f"http://127.0.0.1:{server.server_address[1]}/{page.name}", out)
            print(f"wrote {out.relative_to(HERE.parents[2])} ({out.stat().st_size:,} bytes)")
    finally:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
