"""The sources benchmark: crawl pages/s, refresh of unchanged pages, PDF pages/s vs raw.

- Crawl: a 50-page site section served by a real HTTP server on 127.0.0.1
  (bench/siteserver.py), crawled with the default politeness (settings.py), beside bare
  sequential GETs of the same URLs (what the network alone costs).
- Refresh: the same 50 pages, unchanged, through `python -m ingest refresh` (the CLI, as
  the secretariat runs it) and in process: wall time, and what was fetched, re-embedded
  and written (the target: no more than 5 s, nothing re-embedded).
- PDF: the parser (ingest/parse_pdf.py) over the Chromium-printed fixtures and a long
  print of the bundled archive page, beside the raw text extraction of the same files by
  pdfplumber (the engine the parser reads with) and by pypdf.
"""

from __future__ import annotations

import html
import io
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.appserver import REPO_ROOT
from bench.report import table
from bench.siteserver import SiteServer

SITE_PAGES = 50
PDF_FIXTURES = REPO_ROOT / "tests" / "stub_data" / "pdf"


def _site(root: Path, snapshot_sections) -> Path:
    """Write a 50-page section (/kit/): an index page linking 49 pages of bulletin text."""
    folder = root / "kit"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"page-{n:02d}.html" for n in range(1, SITE_PAGES)]
    for n, name in enumerate(names):
        chosen = snapshot_sections[n * 3 % len(snapshot_sections) :][:3]
        body = "".join(
            f"<h2>{html.escape(' '.join(s.heading_path))} ({n})</h2>"
            + "".join(f"<p>{html.escape(b.text)} (page {n})</p>" for b in s.blocks[:4])
            for s in chosen
        )
        (folder / name).write_text(
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Page {n}</title></head>"
            f"<body><main><article><h1>Kit page {n}</h1>{body}"
            f"<p><a href='index.html'>Back to the index</a>.</p></article></main></body></html>",
            encoding="utf-8",
        )
    links = "".join(f"<li><a href='{name}'>{name}</a></li>" for name in names)
    (folder / "index.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Kit</title></head><body>"
        "<main><article><h1>Kit section</h1><p>Every page of the section, for the "
        f"benchmark's crawl.</p><ul>{links}</ul></article></main></body></html>",
        encoding="utf-8",
    )
    return root


def bench_sources(ctx) -> None:
    """Crawl pages/s, refresh of 50 unchanged pages, and PDF pages/s beside raw extraction."""
    import httpx

    from bench.runs import _fmt, wall_time
    from index.builds import read_index
    from ingest.crawl import crawl
    from ingest.fetch import Fetcher, FetchOptions
    from ingest.update import AddRequest, update
    from settings import load_settings

    snapshot_index = ctx.index()
    stored = read_index(snapshot_index)
    root = _site(ctx.work / "site50", stored.sections)
    index_dir = ctx.work / "sources-index"
    if index_dir.exists():
        shutil.rmtree(index_dir)
    shutil.copytree(snapshot_index, index_dir)
    settings = load_settings(index_dir=index_dir)
    options = FetchOptions.from_settings(settings)

    with SiteServer(root) as site:
        start = f"{site.base}/kit/index.html"
        # The crawl alone, with the default politeness.
        with Fetcher(options) as fetcher:
            began = time.perf_counter()
            crawled = crawl(start, fetcher, max_pages=SITE_PAGES, depth=1)
            crawl_s = time.perf_counter() - began
        urls = [page.url for page in crawled.pages]
        with httpx.Client() as client:
            began = time.perf_counter()
            for url in urls:
                client.get(url)
            bare_s = time.perf_counter() - began

        # Add the section to a copy of the snapshot index: crawl, parse, embed, build.
        began = time.perf_counter()
        added = update(settings, add=[AddRequest(start, crawl=True, max_pages=SITE_PAGES,
                                                 depth=1)], progress=False)  # fmt: skip
        add_s = time.perf_counter() - began
        assert added.build is not None and added.build.written
        build_id = read_index(index_dir).build_dir.name

        # Refresh, nothing changed: the CLI end to end, then in process.
        site.not_modified.clear()
        cli_runs = [
            wall_time(["-m", "ingest", "refresh", start, "--quiet", "--index-dir", str(index_dir)])[
                0
            ]
            for _ in range(1 if ctx.quick else 3)
        ]
        cli_s = min(cli_runs)
        not_modified = sum(site.not_modified.values()) // len(cli_runs)
        began = time.perf_counter()
        refreshed = update(settings, refresh=[start], progress=False)
        refresh_s = time.perf_counter() - began
        assert refreshed.build is not None
        unchanged_build = read_index(index_dir).build_dir.name == build_id

    pages_per_s = len(urls) / crawl_s
    bare_per_s = len(urls) / bare_s
    gaps = options.delay * (len(urls) - 1)
    pdf_rows, pdf_headline = _pdf_rates(ctx.work)

    ctx.report.add(
        "Sources: crawl, refresh, PDF",
        "\n\n".join(
            [
                f"A {SITE_PAGES}-page section served from 127.0.0.1 (bench/siteserver.py: "
                "ETags, 304s), crawled with the default politeness: at least "
                f"{options.delay:g} s between requests to a host, and at least "
                f"{options.delay_factor:g}x its last response time.",
                table(
                    ("run", "pages", "wall time", "pages/s"),
                    [
                        (
                            "crawl (fetch only, polite)",
                            len(urls),
                            f"{_fmt(crawl_s, 2)} s",
                            _fmt(pages_per_s),
                        ),
                        (
                            "bare sequential GETs of the same URLs",
                            len(urls),
                            f"{_fmt(bare_s, 2)} s",
                            _fmt(bare_per_s),
                        ),
                        (
                            "add --crawl to the snapshot index (crawl, parse, embed, build)",
                            len(urls),
                            f"{_fmt(add_s, 1)} s",
                            _fmt(len(urls) / add_s),
                        ),
                    ],
                ),  # fmt: skip
                f"Of the crawl's time, {_fmt(gaps, 2)} s is the least polite gap "
                f"({len(urls) - 1} x {options.delay:g} s); the rest is requests and parsing "
                "links.",
                table(
                    (
                        "refresh, nothing changed",
                        "wall time",
                        "304s",
                        "texts re-embedded",
                        "new build",
                        "target",
                    ),
                    [
                        (
                            "`python -m ingest refresh URL` (CLI: start, imports, lock, 50 "
                            "conditional GETs, parse from cache, diff)",
                            f"{_fmt(cli_s, 2)} s",
                            not_modified,
                            "—",
                            "no" if unchanged_build else "yes",
                            "≤ 5 s",
                        ),
                        (
                            "in process (`ingest.update.update`)",
                            f"{_fmt(refresh_s, 2)} s",
                            "",
                            refreshed.build.embedded,
                            "yes" if refreshed.build.written else "no",
                            "",
                        ),
                    ],
                ),  # fmt: skip
                "PDF: the parser against raw text extraction of the same files (the raw "
                "figures only pull the text out; the parser also removes headers and "
                "footers and rebuilds headings, items and tables):",
                table(
                    (
                        "files",
                        "pages",
                        "parser pages/s",
                        "pdfplumber extract_text pages/s",
                        "pypdf extract_text pages/s",
                    ),
                    pdf_rows,
                ),  # fmt: skip
            ]
        ),
    )
    ctx.report.headline(
        f"Crawl, {len(urls)} pages on 127.0.0.1 (polite)",
        f"{_fmt(pages_per_s)} pages/s (bare GETs {_fmt(bare_per_s)} pages/s)",
    )
    ctx.report.headline(
        f"Refresh of {len(urls)} unchanged pages (`python -m ingest refresh`)",
        f"{_fmt(cli_s, 1)} s CLI, {_fmt(refresh_s, 1)} s in process; "
        f"{refreshed.build.embedded} texts re-embedded, "
        f"{'no new build' if unchanged_build and not refreshed.build.written else 'rebuilt'}",
        "≤ 5 s, nothing re-embedded",
        cli_s <= 5 and refreshed.build.embedded == 0 and unchanged_build,
    )
    ctx.report.headline("PDF parsing vs raw text extraction", pdf_headline)


def _pdf_rates(work: Path) -> tuple[list[tuple], str]:
    """Pages/s of the parser and of pdfplumber's and pypdf's plain extraction, per file set."""
    import pdfplumber
    import pypdf

    from ingest.errors import SourceError
    from ingest.fetch import read_path
    from ingest.parse import parse_page

    sets = {"the fixtures (tests/stub_data/pdf)": sorted(PDF_FIXTURES.glob("*.pdf"))}
    archive = _print_archive(work)
    if archive is not None:
        sets["the bundled archive page printed by Chromium"] = [archive]
    rows, headline = [], ""
    for label, files in sets.items():
        pages = [read_path(f)[0] for f in files]
        count = sum(len(pypdf.PdfReader(io.BytesIO(p.data)).pages) for p in pages)
        began = time.perf_counter()
        for page in pages:
            try:
                parse_page(page)
            except SourceError:
                pass  # the scanned fixture is refused after reading every page
        ours = count / (time.perf_counter() - began)
        began = time.perf_counter()
        for page in pages:
            with pdfplumber.open(io.BytesIO(page.data)) as pdf:
                [p.extract_text() for p in pdf.pages]
        plumber = count / (time.perf_counter() - began)
        began = time.perf_counter()
        for page in pages:
            [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(page.data)).pages]
        plain = count / (time.perf_counter() - began)
        rows.append((f"{label} ({len(files)})", count, f"{ours:.1f}", f"{plumber:.1f}",
                     f"{plain:.1f}"))  # fmt: skip
        headline = (
            f"{ours:.1f} pages/s vs {plumber:.1f} (pdfplumber) and {plain:.1f} (pypdf) raw, "
            f"on {count} pages ({label})"
        )
    return rows, headline


def _print_archive(work: Path) -> Path | None:
    """The bundled archive page printed to PDF by Chromium (None without Chromium)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        return None
    out = work / "archive.pdf"
    page = next((REPO_ROOT / "data" / "snapshot").glob("*.html"))
    with tempfile.TemporaryDirectory(prefix="cpitg-chromium-") as profile:
        done = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", f"--user-data-dir={profile}",
             f"--print-to-pdf={out}", page.as_uri()],
            capture_output=True, timeout=180,
        )  # fmt: skip
    return out if done.returncode == 0 and out.exists() else None
