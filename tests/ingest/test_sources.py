"""Tests for the source commands: add, list, refresh and remove, on real pages, PDFs and a site.

Each index starts as a copy of the session's snapshot index (the bundled snapshot
registered), so only what a test adds is embedded. The CLIs run in-process through their
main() functions (one model load per session); the site is a real HTTP server on
127.0.0.1 (bench/siteserver.py over tests/stub_data/site).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.__main__ import main as assistant_main
from bench.siteserver import Route, Site, SiteServer
from index.builds import ingest_lock, read_index
from index.search import forget_index
from ingest import snapshot_pages
from ingest.__main__ import main
from ingest.sources import load_registry
from ingest.update import update
from records import ANSWERED
from settings import load_settings

REPO = Path(__file__).resolve().parents[2]
STUB = REPO / "tests" / "stub_data"
PDFS = STUB / "pdf"
ARCHIVE_URL = snapshot_pages()[0].url


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


def ask(index_dir: Path, question: str) -> dict:
    """`python -m assistant ask QUESTION --json`, in-process: the JSON answer."""
    forget_index()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = assistant_main(["ask", question, "--json", "--index-dir", str(index_dir)])
    assert code == 0
    return json.loads(out.getvalue())


def listing(index_dir: Path) -> list[dict]:
    done = run("list", "--json", "--index-dir", index_dir)
    assert done.code == 0, done.err
    return json.loads(done.out)


def state(index_dir: Path) -> tuple[str, bytes, list[str], list[str]]:
    """What a failed, refused or dry run must leave alone: CURRENT, its manifest, the
    builds, and the source registry's files."""
    current = (index_dir / "CURRENT").read_text()
    manifest = (index_dir / "builds" / current.strip() / "manifest.json").read_bytes()
    sources = sorted(str(p.relative_to(index_dir)) for p in (index_dir / "sources").rglob("*"))
    return current, manifest, sorted(p.name for p in (index_dir / "builds").iterdir()), sources


def copy(index_dir: Path, target: Path) -> Path:
    shutil.copytree(index_dir, target)
    return target


@pytest.fixture(scope="module")
def with_pdfs(tmp_path_factory: pytest.TempPathFactory, snapshot_index_dir: Path) -> dict:
    """The snapshot index with two PDF bulletins added: Spring 2023, and a Winter 2021
    edition that repeats two of the archive's items."""
    folder = tmp_path_factory.mktemp("pdfs")
    spring = Path(shutil.copy(PDFS / "bulletin-spring-2023.pdf", folder))
    winter = Path(shutil.copy(PDFS / "cp-itg-bulletin-winter-2021.pdf", folder))
    index_dir = copy(snapshot_index_dir, tmp_path_factory.mktemp("with-pdfs") / "index")
    done = run("add", spring, winter, "--index-dir", index_dir)
    return {"index": index_dir, "spring": spring, "winter": winter, "run": done}


# ---------------------------------------------------------------- PDF bulletins


def test_adding_pdfs_keeps_the_snapshot_and_reports_them(with_pdfs: dict) -> None:
    done, spring, winter = with_pdfs["run"], with_pdfs["spring"], with_pdfs["winter"]
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0].startswith("changed: sections: 9 added, 0 changed, 0 removed, ")
    assert f"source added: {spring} (pdf, 7 sections)" in lines
    assert f"source added: {winter} (pdf, 2 sections)" in lines
    stored = read_index(with_pdfs["index"])
    assert [s["location"] for s in stored.manifest["sources"]] == [
        "bundled",
        str(spring),
        str(winter),
    ]
    assert any(s.page_url == ARCHIVE_URL for s in stored.sections)  # the archive stays


def test_a_pdf_bulletins_facts_are_answered_with_its_season_and_page(with_pdfs: dict) -> None:
    answer = ask(
        with_pdfs["index"],
        "What is the HSCN migration deadline for pharmacies still on legacy N3 links?",
    )
    assert answer["status"] == "answered"
    assert "30 September 2023" in answer["answer"]
    first = answer["citations"][0]
    assert first["url"] == f"{with_pdfs['spring'].as_uri()}#page=2"
    assert (first["season"], answer["as_of"]) == ("Spring 2023", "Spring 2023")
    assert first["heading_path"] == ["Connectivity", "HSCN migration"]


def test_an_item_in_both_the_archive_and_a_pdf_is_cited_once_by_its_anchor(
    with_pdfs: dict,
) -> None:
    note = next(line for line in with_pdfs["run"].out.splitlines() if "duplicate:" in line)
    assert note == (
        "  duplicate: Winter 2021 > Interoperability and records > NHS Profile Manager "
        f"({with_pdfs['winter'].as_uri()}#page=1): 2 of 3 items already in "
        f"{ARCHIVE_URL}#winter-2021-nhs-profile-manager"
    )
    stored = read_index(with_pdfs["index"])
    assert stored.manifest["history"][-1]["changes"]["notes"] == [note.strip()]
    repeated = ask(with_pdfs["index"], "When is NHS profile manager replacing the DoS Updater?")
    urls = [c["url"] for c in repeated["citations"]]
    assert urls[0] == f"{ARCHIVE_URL}#winter-2021-nhs-profile-manager"
    assert not [u for u in urls if u.startswith(with_pdfs["winter"].as_uri())]
    # The PDF's own item is still there, cited by its page.
    own = ask(with_pdfs["index"], "When do the profile manager training webinars run?")
    assert own["citations"][0]["url"] == f"{with_pdfs['winter'].as_uri()}#page=1"
    assert own["citations"][0]["season"] == "Winter 2021"


# ---------------------------------------------------------------- list


def test_list_json_has_one_object_per_source(with_pdfs: dict) -> None:
    rows = listing(with_pdfs["index"])
    assert [(r["id"], r["kind"], r["status"]) for r in rows] == [
        ("snapshot", "html", "ok"),
        (rows[1]["id"], "pdf", "ok"),
        (rows[2]["id"], "pdf", "ok"),
    ]
    assert [r["url"] for r in rows] == [
        ARCHIVE_URL,
        str(with_pdfs["spring"]),
        str(with_pdfs["winter"]),
    ]
    for row in rows:
        assert {"url", "kind", "status", "sections", "fetched_at", "error"} <= set(row)
        assert row["error"] is None and row["fetched_at"]
    stored = read_index(with_pdfs["index"])
    assert sum(r["sections"] for r in rows) == stored.manifest["counts"]["sections"]
    assert rows[0]["fetched_at"] == "2022-03-31"  # the snapshot's capture date


def test_list_prints_a_table(with_pdfs: dict) -> None:
    done = run("list", "--index-dir", with_pdfs["index"])
    lines = done.out.splitlines()
    assert lines[0].split() == ["ID", "KIND", "STATUS", "SECTIONS", "FETCHED", "SOURCE"]
    assert lines[1].split()[:5] == ["snapshot", "html", "ok", "47", "2022-03-31"]
    assert lines[2].split()[1:4] == ["pdf", "ok", "7"]
    assert lines[2].endswith(str(with_pdfs["spring"]))


def test_list_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    done = run("list", "--index-dir", tmp_path / "none")
    assert done.code == 3
    assert done.err == (
        f"error: no index in {tmp_path / 'none'}: build one with: python -m ingest "
        f"--index-dir {tmp_path / 'none'}\n"
    )


# ---------------------------------------------------------------- refresh


def test_refresh_of_unchanged_sources_reembeds_nothing(with_pdfs: dict, tmp_path: Path) -> None:
    index_dir = copy(with_pdfs["index"], tmp_path / "index")
    before = state(index_dir)
    checked = {r["id"]: r["checked_at"] for r in listing(index_dir)}

    outcome = update(load_settings(index_dir=index_dir), refresh=None, progress=False)

    assert outcome.build is not None
    assert not outcome.build.written and outcome.build.embedded == 0
    assert not outcome.build.changes.changed
    assert state(index_dir)[:3] == before[:3]  # CURRENT, its manifest and the builds
    assert {s.id for s in outcome.refreshed} == set(checked)
    assert all(r["checked_at"] >= (checked[r["id"]] or "") for r in listing(index_dir))
    again = run("refresh", "--index-dir", index_dir)
    assert again.code == 0, again.err
    assert again.out.splitlines()[-1] == f"index in {index_dir} is up to date (nothing changed)"


def test_a_source_that_fails_keeps_its_content_and_is_marked_stale(
    with_pdfs: dict, tmp_path: Path
) -> None:
    index_dir = copy(with_pdfs["index"], tmp_path / "index")
    moved = tmp_path / "away.pdf"
    shutil.copy(with_pdfs["spring"], moved)
    added = run("add", moved, "--index-dir", index_dir, "--quiet")
    assert added.code == 0, added.err
    sections = read_index(index_dir).manifest["counts"]["sections"]
    moved.unlink()

    failed = run("refresh", "--index-dir", index_dir, "--quiet")

    assert failed.code == 0, failed.err  # the other sources refreshed
    [warning] = failed.err.splitlines()
    assert warning.startswith(f"warning: {moved}: stale, keeping its content from ")
    assert warning.endswith("(no such file or folder)")
    row = next(r for r in listing(index_dir) if r["url"] == str(moved))
    assert (row["status"], row["error"], row["sections"]) == (
        "stale",
        "no such file or folder",
        7,  # its last good content, still indexed
    )
    stored = read_index(index_dir)
    entry = next(s for s in stored.manifest["sources"] if s["location"] == str(moved))
    assert (entry["status"], entry["error"]) == ("stale", "no such file or folder")
    assert stored.manifest["counts"]["sections"] == sections  # nothing dropped

    only = run("refresh", str(moved), "--index-dir", index_dir, "--quiet")
    assert only.code == 1  # every source asked for failed; each kept its content
    shutil.copy(with_pdfs["spring"], moved)
    back = run("refresh", str(moved), "--index-dir", index_dir, "--quiet")
    assert back.code == 0, back.err
    row = next(r for r in listing(index_dir) if r["url"] == str(moved))
    assert (row["status"], row["error"]) == ("ok", None)


def test_a_stale_pdf_still_answers(tmp_path: Path, snapshot_index_dir: Path) -> None:
    index_dir = copy(snapshot_index_dir, tmp_path / "index")
    pdf = Path(shutil.copy(PDFS / "bulletin-spring-2023.pdf", tmp_path))
    assert run("add", pdf, "--index-dir", index_dir, "--quiet").code == 0
    pdf.write_bytes(b"%PDF-1.4 now broken")
    assert run("refresh", "--index-dir", index_dir, "--quiet").code == 0
    assert next(r for r in listing(index_dir) if r["url"] == str(pdf))["status"] == "stale"
    answer = ask(index_dir, "What is the HSCN migration deadline for legacy N3 links?")
    assert answer["citations"][0]["url"] == f"{pdf.as_uri()}#page=2"


def test_refresh_picks_up_an_edited_page(tmp_path: Path, snapshot_index_dir: Path) -> None:
    index_dir = copy(snapshot_index_dir, tmp_path / "index")
    page = Path(shutil.copy(STUB / "plain_main.html", tmp_path / "updates.html"))
    assert run("add", page, "--index-dir", index_dir, "--quiet").code == 0
    page.write_text(
        page.read_text().replace("SCR access is available", "SCR access is now available")
    )
    done = run("refresh", page, "--index-dir", index_dir)
    assert done.code == 0, done.err
    assert done.out.splitlines()[:2] == [
        done.out.splitlines()[0],
        "  changed: Winter 2022 > Summary Care Record",
    ]
    assert done.out.startswith("changed: sections: 0 added, 1 changed, 0 removed, ")


# ---------------------------------------------------------------- remove and add again


def test_remove_rebuilds_without_the_source(with_pdfs: dict, tmp_path: Path) -> None:
    index_dir = copy(with_pdfs["index"], tmp_path / "index")
    spring_id = next(r["id"] for r in listing(index_dir) if r["url"] == str(with_pdfs["spring"]))
    done = run("remove", spring_id, "--index-dir", index_dir)
    assert done.code == 0, done.err
    assert done.out.startswith("changed: sections: 0 added, 0 changed, 7 removed, ")
    assert f"source removed: {with_pdfs['spring']}" in done.out.splitlines()
    assert [r["kind"] for r in listing(index_dir)] == ["html", "pdf"]

    # The bundled snapshot can go too; the PDF's repeated items then come back.
    gone = run("remove", "snapshot", "--index-dir", index_dir)
    assert gone.code == 0, gone.err
    stored = read_index(index_dir)
    assert [s["location"] for s in stored.manifest["sources"]] == [str(with_pdfs["winter"])]
    manager = next(s for s in stored.sections if s.heading_path[-1] == "NHS Profile Manager")
    assert len(manager.blocks) == 3
    assert stored.manifest["history"][-1]["changes"]["notes"] == []


NO_SUCH = "error: no source 'nosuch' in {index} (see: python -m ingest list)"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["remove", "nosuch"], NO_SUCH),
        (["refresh", "nosuch"], NO_SUCH),
        (["add", "ftp://example.org/b.pdf"],
         "error: ftp://example.org/b.pdf: not an http:// or https:// URL, nor a file or "
         "folder"),
        (["add", "x.pdf", "--max-pages", "5"], "error: --max-pages and --depth go with --crawl"),
        (["add", "x.pdf", "--crawl"], "error: x.pdf: --crawl needs an http:// or https:// URL"),
        (["add", "http://h/a/", "--crawl", "--max-pages", "0"],
         "error: --max-pages must be 1 or more"),
        (["add", "http://h/a/", "--crawl", "--depth", "-1"], "error: --depth must be 0 or more"),
        (["add"], "error: the following arguments are required: URL_OR_PATH "
                  "(see: python -m ingest add --help)"),
    ],
)  # fmt: skip
def test_bad_commands_are_one_line_and_change_nothing(
    with_pdfs: dict, argv: list[str], message: str
) -> None:
    index_dir = with_pdfs["index"]
    before = state(index_dir)
    done = run(*argv, "--index-dir", index_dir)
    assert done.code == 2
    assert done.err == message.format(index=index_dir) + "\n"
    assert state(index_dir) == before


def test_removing_the_only_source_is_refused(tmp_path: Path, snapshot_index_dir: Path) -> None:
    index_dir = copy(snapshot_index_dir, tmp_path / "index")
    before = state(index_dir) if (index_dir / "sources").exists() else None
    done = run("remove", "snapshot", "--index-dir", index_dir)
    assert done.code == 2
    assert done.err == (
        f"error: bundled snapshot is the only source of {index_dir}; add another before "
        "removing it\n"
    )
    if before is not None:
        assert state(index_dir) == before
    assert read_index(index_dir).manifest == read_index(snapshot_index_dir).manifest


def test_adding_a_registered_source_again_refreshes_it(with_pdfs: dict, tmp_path: Path) -> None:
    index_dir = copy(with_pdfs["index"], tmp_path / "index")
    done = run("add", with_pdfs["spring"], "--index-dir", index_dir)
    assert done.code == 0, done.err
    assert done.out.splitlines()[-1] == f"index in {index_dir} is up to date (nothing changed)"
    assert len(listing(index_dir)) == 3


def test_dry_run_add_writes_nothing(with_pdfs: dict, tmp_path: Path) -> None:
    index_dir = copy(with_pdfs["index"], tmp_path / "index")
    before = state(index_dir)
    page = STUB / "no_seasons.html"
    done = run("add", page, "--dry-run", "--index-dir", index_dir)
    assert done.code == 0, done.err
    assert done.out.startswith("would change: sections: 4 added, ")
    assert f"source would add: {page} (html, 4 sections)" in done.out.splitlines()
    assert state(index_dir) == before
    assert len(listing(index_dir)) == 3


def test_a_later_copy_of_the_same_page_replaces_the_snapshots(
    tmp_path: Path, snapshot_index_dir: Path
) -> None:
    """A saved copy of the live archive page (same rel=canonical) stands in for the
    bundled one while it is registered; removing it brings the snapshot's back."""
    index_dir = copy(snapshot_index_dir, tmp_path / "index")
    snapshot = next((REPO / "data" / "snapshot").glob("*.html")).read_text(encoding="utf-8")
    old = "A new tool, NHS profile manager is scheduled to replace"
    assert old in snapshot
    newer = tmp_path / "archive-saved.html"
    newer.write_text(snapshot.replace(old, "A new tool, NHS profile manager has replaced"))
    done = run("add", newer, "--index-dir", index_dir)
    assert done.code == 0, done.err
    assert done.out.startswith("changed: sections: 0 added, 1 changed, 0 removed, ")
    assert f"warning: bundled snapshot: its pages are replaced by {newer}'s copy" in done.err
    rows = listing(index_dir)
    assert (rows[0]["sections"], rows[0]["note"]) == (0, f"replaced by {newer} (the same page)")
    back = run("remove", newer, "--index-dir", index_dir)
    assert back.code == 0, back.err
    assert back.out.startswith("changed: sections: 0 added, 1 changed, 0 removed, ")
    assert listing(index_dir)[0]["note"] is None


@pytest.mark.parametrize("argv", [["add", "{pdf}"], ["refresh"], ["remove", "snapshot"], []])
def test_every_command_refuses_while_another_ingest_runs(with_pdfs: dict, argv: list[str]) -> None:
    index_dir = with_pdfs["index"]
    before = state(index_dir)
    with ingest_lock(index_dir):
        done = run(*[a.format(pdf=with_pdfs["spring"]) for a in argv], "--index-dir", index_dir)
    assert done.code == 4
    assert done.err.startswith("error: another ingest (pid ")
    assert state(index_dir) == before


def test_a_registry_left_behind_by_a_killed_ingest_gives_way_to_the_manifest(
    with_pdfs: dict, tmp_path: Path
) -> None:
    index_dir = copy(with_pdfs["index"], tmp_path / "index")
    registry_file = index_dir / "sources" / "registry.json"
    old = registry_file.read_bytes()
    page = STUB / "no_seasons.html"
    assert run("add", page, "--index-dir", index_dir, "--quiet").code == 0
    registry_file.write_bytes(old)  # killed after the switch, before the registry was saved
    assert [r["url"] for r in listing(index_dir)][-1] == str(page)  # the manifest's record
    again = run("refresh", "--index-dir", index_dir)
    assert again.code == 0, again.err
    assert again.out.splitlines()[-1] == f"index in {index_dir} is up to date (nothing changed)"
    assert json.loads(registry_file.read_text())["build_id"] == read_index(index_dir).build_dir.name


def test_lost_copies_are_fetched_again(with_pdfs: dict, tmp_path: Path) -> None:
    index_dir = copy(with_pdfs["index"], tmp_path / "index")
    shutil.rmtree(index_dir / "sources" / "content")
    done = run("remove", with_pdfs["winter"], "--index-dir", index_dir)
    assert done.code == 0, done.err
    assert done.out.startswith("changed: sections: 0 added, 0 changed, 2 removed, ")
    assert "warning" not in done.err
    assert len(list((index_dir / "sources" / "content").iterdir())) == 2  # snapshot, spring


def test_an_index_from_before_registries_keeps_its_sources(
    tmp_path: Path, snapshot_index_dir: Path
) -> None:
    """An index_store built before this change recorded {source, url, fetched_at,
    sections} per page and had no registry: its sources are read from that."""
    index_dir = copy(snapshot_index_dir, tmp_path / "index")
    shutil.rmtree(index_dir / "sources", ignore_errors=True)
    build = read_index(index_dir).build_dir
    manifest = json.loads((build / "manifest.json").read_text())
    snapshot_file = next((REPO / "data" / "snapshot").glob("*.html"))
    manifest["sources"] = [
        {"source": str(snapshot_file), "url": ARCHIVE_URL, "fetched_at": "2022-03-31",
         "sections": 47}
    ]  # fmt: skip
    (build / "manifest.json").write_text(json.dumps(manifest))
    assert [(r["id"], r["kind"], r["url"]) for r in listing(index_dir)] == [
        ("snapshot", "html", ARCHIVE_URL)
    ]
    done = run("refresh", "--index-dir", index_dir, "--quiet")
    assert done.code == 0, done.err
    stored = read_index(index_dir)
    assert stored.sections == read_index(snapshot_index_dir).sections  # nothing lost
    assert stored.manifest["sources"][0]["location"] == "bundled"  # now the new record


# ---------------------------------------------------------------- a crawled site section


def scripted(site: Site) -> None:
    site.files["/kit/guide.pdf"] = (PDFS / "kit-guide.pdf").resolve()
    site.redirect("/kit/old-printers.html", "/kit/printers.html")
    site.redirect("/kit/loop.html", "/kit/loop.html", 302)
    site.routes["/kit/download"] = Route(200, b"PK\x03\x04 driver", "application/zip")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with SiteServer(STUB / "site") as running:
        scripted(running)
        yield running


@pytest.fixture(scope="module")
def crawled(site: Site, tmp_path_factory: pytest.TempPathFactory, snapshot_index_dir: Path) -> dict:
    """The snapshot index with the site's /kit/ section crawled in."""
    index_dir = copy(snapshot_index_dir, tmp_path_factory.mktemp("crawled") / "index")
    start = f"{site.base}/kit/index.html"
    done = run("add", start, "--crawl", "--max-pages", "20", "--depth", "3",
               "--index-dir", index_dir)  # fmt: skip
    return {"index": index_dir, "start": start, "run": done}


def test_a_crawl_is_listed_with_its_pages(crawled: dict, site: Site) -> None:
    assert crawled["run"].code == 0, crawled["run"].err
    rows = listing(crawled["index"])
    crawl_row = rows[1]
    assert (crawl_row["url"], crawl_row["kind"], crawl_row["status"]) == (
        crawled["start"],
        "crawl",
        "ok",
    )
    assert (crawl_row["max_pages"], crawl_row["depth"]) == (20, 3)
    assert crawl_row["skipped"]["blocked by robots.txt"] == 1
    pages = {
        r["url"].removeprefix(site.base): r for r in rows if r.get("parent") == crawl_row["id"]
    }
    assert {p for p, r in pages.items() if r["status"] == "ok"} == {
        "/kit/index.html", "/kit/wifi.html", "/kit/sitemap-only.html", "/kit/printers.html",
        "/kit/scanners/", "/kit/backups.html", "/kit/guide.pdf", "/kit/backups/offsite.html",
        "/kit/backups/offsite/deep.html",
    }  # fmt: skip
    assert pages["/kit/guide.pdf"]["kind"] == "pdf"
    assert (pages["/kit/missing.html"]["status"], pages["/kit/missing.html"]["error"]) == (
        "error",
        "HTTP 404 Not Found",
    )
    assert pages["/kit/loop.html"]["error"] == "too many redirects (more than 5)"
    assert all(r["crawl"] == crawled["start"] for r in pages.values())
    assert crawl_row["sections"] == sum(r["sections"] for r in pages.values())
    warnings = crawled["run"].err.splitlines()
    assert f"warning: {site.base}/kit/missing.html: HTTP 404 Not Found" in warnings


def test_refreshing_an_unchanged_crawl_asks_conditionally_and_changes_nothing(
    crawled: dict, site: Site, tmp_path: Path
) -> None:
    index_dir = copy(crawled["index"], tmp_path / "index")
    site.not_modified.clear()
    before = state(index_dir)
    done = run("refresh", crawled["start"], "--index-dir", index_dir)
    assert done.code == 0, done.err
    assert done.out.splitlines()[-1] == f"index in {index_dir} is up to date (nothing changed)"
    assert state(index_dir)[:3] == before[:3]
    assert sum(site.not_modified.values()) == 9  # every page answered 304 Not Modified


def test_a_crawl_refresh_follows_the_sites_changes(
    crawled: dict, site: Site, tmp_path: Path
) -> None:
    index_dir = copy(crawled["index"], tmp_path / "index")
    wifi = (STUB / "site" / "kit" / "wifi.html").read_text()
    site.routes["/kit/wifi.html"] = Route(
        200, wifi.replace("its own network", "its own network and router").encode()
    )
    site.routes["/kit/printers.html"] = Route(404, b"gone")
    try:
        done = run("refresh", "--index-dir", index_dir)
    finally:
        del site.routes["/kit/wifi.html"], site.routes["/kit/printers.html"]
    assert done.code == 0, done.err
    assert done.out.startswith("changed: sections: 0 added, 1 changed, 1 removed, ")
    assert "  changed: overview > Keeping the guest network apart" in done.out.splitlines()
    assert "  removed: overview > Choosing a label printer" in done.out.splitlines()
    assert (
        f"warning: {site.base}/kit/printers.html: gone (HTTP 404 Not Found); its content goes"
        in done.err.splitlines()
    )


def test_a_crawl_whose_site_is_down_goes_stale(crawled: dict, site: Site, tmp_path: Path) -> None:
    index_dir = copy(crawled["index"], tmp_path / "index")
    sections = read_index(index_dir).manifest["counts"]["sections"]
    site.routes["/kit/index.html"] = Route(503, b"down for maintenance")
    try:
        done = run("refresh", crawled["start"], "--index-dir", index_dir, "--quiet")
    finally:
        del site.routes["/kit/index.html"]
    assert done.code == 1  # the one source asked for failed (it keeps its content)
    assert "stale, keeping its content" in done.err
    assert "HTTP 503 Service Unavailable after 3 attempts" in done.err
    row = listing(index_dir)[1]
    assert (row["status"], row["error"]) == (
        "stale",
        "HTTP 503 Service Unavailable after 3 attempts",
    )
    assert read_index(index_dir).manifest["counts"]["sections"] == sections


# Adding a non-overlapping source may not touch the archive. The answers can still move
# a little: the answer layer weighs words by IDF over the whole index (assistant/terms.py),
# so any new chunks shift every weight, and with it each question's modelled chance that
# its quote answers; and the question prior reads what a question asks beyond the passage
# sharing most of its words, which a new page can become. The dev questions are asked as
# the eval asks them, follow-ups with their earlier turns: asked alone, "if we email the
# group's secretariat instead, who do they pass us on to?" has no subject, and its chance
# swung 0.57 -> 0.46 at a threshold of 0.47 when the kit section's "Other links" came to
# share most of its words. Measured on the kit section with dev's 251 questions
# (2026-12-03): with history none changed sides, 250/251 kept their status and 245/251
# answers were identical; with the models refit once the archive's own acronyms were
# looked up, one question changes sides at a near tie (0.47 -> 0.51 at a threshold of
# 0.48), 248/251 keep their status and 241/251 answers are identical (the rest quote other
# sentences of the same sections). The bounds below keep that: only a
# question near the threshold may change sides, and few. Chances are compared as the
# reason prints them, to two decimals.
NEAR_TIE = 0.07  # a chance this close to the answered threshold may land on either side
MAX_CROSSED = 0.01  # the share of questions that may change sides, at most
MIN_IDENTICAL_ANSWERS = 0.94
MIN_SAME_STATUS = 0.98
_CHANCE = re.compile(r"answers (\d\.\d+)")


def _answers_chance(reason: str) -> float:
    """The lowest modelled chance of the parts' quotes answering (the reason line's)."""
    return min((float(p) for p in _CHANCE.findall(reason)), default=0.0)


def test_adding_a_crawled_section_keeps_the_bundled_answers(
    crawled: dict, snapshot_index_dir: Path
) -> None:
    from assistant import ask as ask_in_process
    from assistant.decide import load_model

    before_index, after_index = read_index(snapshot_index_dir), read_index(crawled["index"])
    kept = [s for s in after_index.sections if s.page_url == ARCHIVE_URL]
    assert kept == before_index.sections  # every bundled section, as it was
    assert {i: c for i, c in after_index.chunks.items() if c.page_url == ARCHIVE_URL} == (
        before_index.chunks
    )
    history = after_index.manifest["history"][-1]["changes"]
    assert history["sections_changed"] == history["sections_removed"] == []

    lines = (REPO / "eval" / "questions" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    # Asked as the eval and the chat ask them: a follow-up with its earlier turns.
    items = [json.loads(line) for line in lines if line.strip()]
    questions = [item["question"] for item in items]

    def answers(index_dir: Path) -> list[tuple[dict, float]]:
        forget_index()
        settings = load_settings(index_dir=index_dir)
        fields = ("status", "answer", "as_of", "citations")
        rows = []
        for item in items:
            answer = ask_in_process(item["question"], item.get("history"), settings=settings)
            row = {k: v for k, v in answer.to_json().items() if k in fields}
            rows.append((row, _answers_chance(answer.reason)))
        return rows

    before, after = answers(snapshot_index_dir), answers(crawled["index"])
    threshold = load_model(load_settings().answer.model_path).answered_at
    crossed = [
        (question, chance, moved)
        for question, (a, moved), (b, chance) in zip(questions, after, before, strict=True)
        if (a["status"] == ANSWERED) != (b["status"] == ANSWERED)
    ]
    assert len(crossed) <= MAX_CROSSED * len(questions), crossed
    near = [round(abs(chance - threshold), 2) <= NEAR_TIE for _, chance, _ in crossed]
    assert all(near), crossed
    # A question the archive does not answer may move between hedged and not_covered (its
    # on-topic chance is near the cut-off), and few may.
    same_status = sum(
        a["status"] == b["status"] for (a, _), (b, _) in zip(after, before, strict=True)
    )
    assert same_status >= MIN_SAME_STATUS * len(questions), same_status
    cited = {c["url"].split("#")[0] for a, _ in after for c in a["citations"]}
    assert cited == {ARCHIVE_URL}  # no archive question is answered from the new pages
    identical = sum(a == b for (a, _), (b, _) in zip(after, before, strict=True))
    assert identical >= MIN_IDENTICAL_ANSWERS * len(questions), identical
    registry = load_registry(crawled["index"])
    assert registry.sources[0].id == "snapshot" and registry.sources[0].status == "ok"
