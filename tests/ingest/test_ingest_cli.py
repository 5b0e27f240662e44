"""Tests for `python -m ingest` on small real pages: builds, re-runs, dry runs and bad input.

`--path` and `--url` are shorthand for `add`: the pages join the sources already
registered. Each index here starts as a copy of the session's snapshot index (the bundled
snapshot registered), so only the stub pages are embedded. Most runs call
ingest.__main__.main in-process (the embedding model loads once per test session); two
run the real `python -m ingest` in a subprocess, side by side.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from index.builds import read_index
from ingest import snapshot_pages
from ingest.__main__ import main
from ingest.fetch import read_path
from ingest.parse import parse_page

REPO = Path(__file__).resolve().parents[2]
STUB = REPO / "tests" / "stub_data"
SITE_PAGES = ("wordpress_bulletin.html", "plain_main.html")
# Sections per season of the two site pages, as tests/ingest/test_parse.py pins them.
SITE_SEASONS = {
    "overview": 1,
    "Autumn 2022": 1,
    "Winter 2022": 2,
    "Spring 2023": 3,
    "Summer 2023": 2,
}


@dataclass
class Run:
    code: int
    out: str
    err: str


def run(*argv: str | Path) -> Run:
    """Run the ingest CLI in-process, capturing what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return Run(code, out.getvalue(), err.getvalue())


def state(index_dir: Path) -> tuple[str, bytes, list[str]]:
    """What a failed or dry run must leave alone: CURRENT, its manifest, the builds."""
    current = (index_dir / "CURRENT").read_text()
    manifest = (index_dir / "builds" / current.strip() / "manifest.json").read_bytes()
    return current, manifest, sorted(p.name for p in (index_dir / "builds").iterdir())


@dataclass
class Built:
    site: Path
    index_dir: Path
    first: Run


def seeded(snapshot_index_dir: Path, target: Path) -> Path:
    """A copy of the session's snapshot index, for a test to add to."""
    shutil.copytree(snapshot_index_dir, target)
    return target


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory, snapshot_index_dir: Path) -> Iterator[dict]:
    """Start the real `python -m ingest` twice, side by side: an add, and a missing path.

    They start before the in-process build, so the subprocess's model load overlaps it.
    The missing path goes to a folder without an index: nothing is built there.
    """
    fresh = seeded(snapshot_index_dir, tmp_path_factory.mktemp("ingest-subprocess") / "index")
    nothing = tmp_path_factory.mktemp("nothing")
    missing = nothing / "bulletin.html"
    commands = {
        "build": ["--path", str(STUB / "no_seasons.html"), "--index-dir", str(fresh)],
        "missing": ["--path", str(missing), "--index-dir", str(nothing / "index")],
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "ingest", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    yield {"procs": procs, "fresh": fresh, "missing": missing, "nothing": nothing}
    for proc in procs.values():  # not collected (e.g. those tests deselected): stop them
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.fixture(scope="module")
def subprocess_runs(launched: dict) -> dict:
    """The subprocesses' exit codes and output, once they finish."""
    runs = {}
    for name, proc in launched["procs"].items():
        out, err = proc.communicate(timeout=180)
        runs[name] = Run(proc.returncode, out, err)
    return {**launched, "runs": runs}


@pytest.fixture(scope="module")
def snapshot_state(snapshot_index_dir: Path) -> tuple[int, int]:
    """The snapshot index's section and chunk counts."""
    counts = read_index(snapshot_index_dir).manifest["counts"]
    return counts["sections"], counts["chunks"]


@pytest.fixture(scope="module")
def built(
    launched: dict, tmp_path_factory: pytest.TempPathFactory, snapshot_index_dir: Path
) -> Built:
    """The snapshot index with a folder of two stub pages added in-process."""
    site = tmp_path_factory.mktemp("site")
    for name in SITE_PAGES:
        shutil.copy(STUB / name, site / name)
    index_dir = seeded(snapshot_index_dir, tmp_path_factory.mktemp("ingest-cli") / "index")
    first = run("--path", site, "--index-dir", index_dir)
    return Built(site, index_dir, first)


# ---------------------------------------------------------------- a build and re-runs


def test_build_prints_the_change_summary_and_per_season_counts(
    built: Built, snapshot_state: tuple[int, int]
) -> None:
    first = built.first
    assert first.code == 0, first.err
    stored = read_index(built.index_dir)
    snapshot_sections, snapshot_chunks = snapshot_state
    added_chunks = stored.manifest["counts"]["chunks"] - snapshot_chunks
    sections = sum(SITE_SEASONS.values())
    lines = first.out.splitlines()
    assert lines[0] == (
        f"changed: sections: {sections} added, 0 changed, 0 removed, "
        f"{snapshot_sections} unchanged; "
        f"chunks: {added_chunks} added, 0 removed, {snapshot_chunks} unchanged"
    )
    assert "  added: Spring 2023 > Prescribing and dispensing > EPS tracker changes" in lines
    assert "  added: Winter 2022 > Summary Care Record" in lines
    assert f"source added: {built.site} (html, {sections} sections)" in lines
    build_id = (built.index_dir / "CURRENT").read_text().strip()
    built_line = next(line for line in lines if line.startswith("built "))
    total = stored.manifest["counts"]
    assert re.fullmatch(
        rf"built {re.escape(build_id)}: {total['sections']} sections, {total['chunks']} "
        r"chunks \(\d+ texts embedded\) in \d+\.\d s",
        built_line,
    )
    season_lines = lines[lines.index(built_line) + 1 :]
    per_season = stored.manifest["counts"]["per_season"]
    assert season_lines == [
        f"  {season}: {count['sections']} sections, {count['chunks']} chunks"
        for season, count in per_season.items()
    ]
    for season, count in SITE_SEASONS.items():  # the pages' seasons, beside the snapshot's
        assert per_season[season]["sections"] >= count
    assert list(per_season)[0] == "overview"  # oldest first, overview before all
    assert "Traceback" not in first.err


def test_build_indexes_the_snapshot_and_exactly_the_parsed_pages(
    built: Built, snapshot_index_dir: Path
) -> None:
    stored = read_index(built.index_dir)
    names = sorted(SITE_PAGES)  # a folder is read in sorted order
    expected = [s for name in names for s in parse_page(read_path(built.site / name)[0])]
    assert stored.sections == read_index(snapshot_index_dir).sections + expected
    sources = stored.manifest["sources"]
    assert [(src["id"], src["location"], src["kind"]) for src in sources] == [
        ("snapshot", "bundled", "html"),
        (sources[1]["id"], str(built.site), "html"),
    ]
    assert [p["source"] for p in sources[1]["pages"]] == [str(built.site / n) for n in names]
    assert [p["sections"] for p in sources[1]["pages"]] == [3, 6]


def test_rerun_unchanged_says_up_to_date_and_keeps_the_build(built: Built) -> None:
    before = state(built.index_dir)
    again = run("--path", built.site, "--index-dir", built.index_dir)
    assert again.code == 0, again.err
    counts = read_index(built.index_dir).manifest["counts"]
    assert again.out.splitlines() == [
        f"changed: sections: 0 added, 0 changed, 0 removed, {counts['sections']} unchanged; "
        f"chunks: 0 added, 0 removed, {counts['chunks']} unchanged",
        f"index in {built.index_dir} is up to date (nothing changed)",
    ]
    assert state(built.index_dir) == before


def test_dry_run_after_an_edit_lists_changes_and_writes_nothing(built: Built) -> None:
    page = built.site / "plain_main.html"
    original = page.read_text(encoding="utf-8")
    edited = original.replace(
        "order repeat prescriptions from a nominated pharmacy.",
        "order repeat prescriptions and book vaccinations.",
    ).replace(
        "  <h3>Summary Care Record</h3>\n"
        "  <p>SCR access is available to all registered pharmacy technicians.</p>\n",
        "  <h3>Pharmacy First</h3>\n  <p>Pharmacy First referrals now arrive by GP Connect.</p>\n",
    )
    assert edited.count("Pharmacy First") == 2 and "Summary Care Record" not in edited
    before = state(built.index_dir)
    page.write_text(edited, encoding="utf-8")
    try:
        dry = run("--path", built.site, "--index-dir", built.index_dir, "--dry-run")
    finally:
        page.write_text(original, encoding="utf-8")
    assert dry.code == 0, dry.err
    counts = read_index(built.index_dir).manifest["counts"]
    unchanged, chunks = counts["sections"] - 2, counts["chunks"]
    assert dry.out.splitlines() == [
        f"would change: sections: 1 added, 1 changed, 1 removed, {unchanged} unchanged; "
        f"chunks: 2 added, 2 removed, {chunks - 2} unchanged",
        "  added: Winter 2022 > Pharmacy First",
        "  changed: Winter 2022 > NHS App",
        "  removed: Winter 2022 > Summary Care Record",
    ]
    assert state(built.index_dir) == before


def test_if_missing_on_an_existing_index_does_nothing(built: Built) -> None:
    before = state(built.index_dir)
    skipped = run(
        "--path", STUB / "no_seasons.html", "--index-dir", built.index_dir, "--if-missing"
    )
    assert skipped.code == 0
    assert skipped.out == f"index exists in {built.index_dir}; skipping ingest\n"
    assert skipped.err == ""
    assert state(built.index_dir) == before


# ---------------------------------------------------------------- bad input


def _pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"stream\nx\x9c\x00\x01\x02\x03\xff\xfe\x00\x00\nendstream\n%%EOF\n"
    )


def _make_bad(kind: str, where: Path) -> Path:
    """Create one kind of bad source under `where` and return its path."""
    if kind == "missing path":
        return where / "no-such-bulletin.html"
    if kind == "pdf file":
        path = where / "bulletin.pdf"
        path.write_bytes(_pdf_bytes())
        return path
    if kind == "pdf saved as .html":
        path = where / "bulletin.html"
        path.write_bytes(_pdf_bytes())
        return path
    if kind == "empty file":
        path = where / "empty.html"
        path.write_bytes(b"")
        return path
    if kind == "folder without html":
        folder = where / "notes"
        folder.mkdir()
        (folder / "readme.txt").write_text("Bulletin notes, not a web page.\n")
        (folder / "bulletin.docx").write_bytes(b"PK\x03\x04 a Word file")
        return folder
    if kind == "text file":
        path = where / "notes.txt"
        path.write_text("Bulletin notes, not a web page.\n")
        return path
    if kind == "scanned pdf":
        return STUB / "pdf" / "scanned-bulletin.pdf"
    return STUB / kind  # a stub page


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing path", "no such file or folder"),
        ("pdf file", "not a readable PDF (PdfminerException: No /Root object! - Is this …"),
        ("empty file", "empty file"),
        ("text file", "not an HTML page or PDF file"),
        ("folder without html", "no .html or .pdf files in folder"),
        ("chrome_only.html", "no recognisable content (no headed text found)"),
        ("headings_only.html", "no recognisable content (no headed text found)"),
        ("title_only.html", "no recognisable content (the page has no body text)"),
        # A PDF's bytes make it a PDF, whatever the file is called.
        ("pdf saved as .html", "not a readable PDF (PdfminerException: No /Root object! - …"),
        ("scanned pdf", "no text layer (a scanned PDF?): run it through OCR first"),
    ],
)
def test_bad_source_fails_clearly_and_keeps_the_index(
    built: Built, tmp_path: Path, kind: str, reason: str
) -> None:
    source = _make_bad(kind, tmp_path)
    before = state(built.index_dir)
    bad = run("--path", source, "--index-dir", built.index_dir, "--quiet")
    assert bad.code == 1
    assert bad.out == ""
    assert "Traceback" not in bad.err
    lines = bad.err.splitlines()
    assert all(line.startswith("error: ") for line in lines), lines
    naming = [line for line in lines if str(source) in line]
    assert len(naming) == 1, lines
    if reason.endswith("…"):  # the library's own words follow
        assert naming[0].startswith(f"error: {source}: {reason[:-1]}")
    else:
        assert naming == [f"error: {source}: {reason}"]
    assert state(built.index_dir) == before
    assert read_index(built.index_dir).manifest["sources"] == before_sources(built)


def before_sources(built: Built) -> list[dict]:
    """The sources the built index was made from (the snapshot and the site folder)."""
    return json.loads(state(built.index_dir)[1])["sources"]


def test_mixed_run_warns_and_indexes_the_good_page(
    tmp_path: Path, snapshot_index_dir: Path
) -> None:
    """One good page and one missing path: the good one is added, the missing one is not."""
    index_dir = seeded(snapshot_index_dir, tmp_path / "index")
    good = STUB / "no_seasons.html"
    missing = tmp_path / "missing.html"
    mixed = run("--path", good, "--path", missing, "--index-dir", index_dir, "--quiet")
    assert mixed.code == 0, mixed.err
    assert mixed.err.splitlines() == [
        f"error: {missing}: no such file or folder",
        "warning: 1 source(s) skipped; indexing the rest",
    ]
    stored = read_index(index_dir)
    mine = [s for s in stored.sections if s.page_url == read_path(good)[0].url]
    assert mine == parse_page(read_path(good)[0])
    assert [s["location"] for s in stored.manifest["sources"]] == ["bundled", str(good)]


def test_if_missing_builds_a_new_index_from_the_snapshot_and_the_pages(tmp_path: Path) -> None:
    """A new index starts with the bundled snapshot registered (the one full build here)."""
    index_dir = tmp_path / "index"
    good = STUB / "no_seasons.html"
    done = run("--path", good, "--index-dir", index_dir, "--if-missing", "--quiet")
    assert done.code == 0, done.err
    stored = read_index(index_dir)
    assert [s["location"] for s in stored.manifest["sources"]] == ["bundled", str(good)]
    assert {s.page_url for s in stored.sections} == {
        snapshot_pages()[0].url,
        read_path(good)[0].url,
    }


# ---------------------------------------------------------------- a live URL


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_url_ingest_cites_the_served_url(tmp_path: Path, snapshot_index_dir: Path) -> None:
    root = tmp_path / "www"
    (root / "it").mkdir(parents=True)
    shutil.copy(STUB / "plain_main.html", root / "it" / "updates.html")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    index_dir = seeded(snapshot_index_dir, tmp_path / "index")
    with serve(root) as base:
        page_url = f"{base}/it/updates.html"
        done = run(
            "--url", page_url, "--url", f"{base}/it/gone.html", "--index-dir", index_dir, "--quiet"
        )
    assert done.code == 0, done.err
    assert "Traceback" not in done.err
    assert done.err.splitlines() == [
        f"error: {base}/it/gone.html: HTTP 404 File not found",
        "warning: 1 source(s) skipped; indexing the rest",
    ]
    stored = read_index(index_dir)
    assert [(s.season, s.url) for s in stored.sections if s.page_url == page_url] == [
        ("Winter 2022", f"{page_url}#nhs-app"),
        ("Winter 2022", f"{page_url}#summary-care-record"),
        ("Autumn 2022", f"{page_url}#nhs-app-2"),  # generated anchors are unique on a page
    ]
    assert {c.page_url for c in stored.chunks.values()} == {page_url, snapshot_pages()[0].url}
    _, source = stored.manifest["sources"]
    assert (source["location"], source["url"], source["kind"], source["sections"]) == (
        page_url,
        page_url,
        "html",
        3,
    )
    assert source["pages"][0]["last_modified"]  # kept, for the next conditional refresh


# ---------------------------------------------------------------- the real command


def test_python_m_ingest_builds(subprocess_runs: dict, snapshot_index_dir: Path) -> None:
    build = subprocess_runs["runs"]["build"]
    assert build.code == 0, build.err
    assert "Traceback" not in build.err
    fresh = subprocess_runs["fresh"]
    build_id = (fresh / "CURRENT").read_text().strip()
    before = read_index(snapshot_index_dir).manifest["counts"]
    after = json.loads((fresh / "builds" / build_id / "manifest.json").read_text())["counts"]
    assert (after["sections"], after["chunks"]) == (before["sections"] + 4, before["chunks"] + 4)
    assert f"built {build_id}: {after['sections']} sections, {after['chunks']} chunks" in build.out
    overview = before["per_season"]["overview"]
    assert after["per_season"]["overview"] == {
        "sections": overview["sections"] + 4,
        "chunks": overview["chunks"] + 4,
    }
    assert f"source added: {STUB / 'no_seasons.html'} (html, 4 sections)" in build.out


def test_python_m_ingest_bad_path_is_a_clear_error(subprocess_runs: dict) -> None:
    missing = subprocess_runs["runs"]["missing"]
    source = subprocess_runs["missing"]
    assert missing.code == 1
    assert "Traceback" not in missing.err
    assert f"error: {source}: no such file or folder" in missing.err.splitlines()
    assert not (subprocess_runs["nothing"] / "index" / "CURRENT").exists()
