"""Tests for the bundled snapshot: it is current with its capture, and its manifest is true."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from ingest import snapshot_pages

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
SNAPSHOT = DATA / "snapshot"


def run_check(script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), "--check"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_committed_snapshot_is_current(tmp_path: Path) -> None:
    # From another working directory: the script finds its files relative to itself.
    done = run_check(DATA / "build_snapshot.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_check_notices_a_stale_snapshot(tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy, ignore=shutil.ignore_patterns("__pycache__"))
    html = copy / "snapshot" / "cp-itg-workstream-updates-archive.html"
    html.write_text(html.read_text(encoding="utf-8") + "<!-- edited -->\n", encoding="utf-8")
    before = (html.read_bytes(), (copy / "snapshot" / "manifest.json").read_bytes())
    done = run_check(copy / "build_snapshot.py", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    # --check writes nothing.
    assert (html.read_bytes(), (copy / "snapshot" / "manifest.json").read_bytes()) == before


def test_manifest_matches_the_html() -> None:
    manifest = json.loads((SNAPSHOT / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = manifest["pages"]
    html_path = SNAPSHOT / entry["file"]
    assert hashlib.sha256(html_path.read_bytes()).hexdigest() == entry["sha256"]
    assert entry["url"].startswith("https://archive.psnc.org.uk/")
    assert (REPO / entry["source_capture"]).is_file()
    assert entry["captured"] == "2022-03-31"


def test_snapshot_pages_cite_the_live_url() -> None:
    manifest = json.loads((SNAPSHOT / "manifest.json").read_text(encoding="utf-8"))
    (page,) = snapshot_pages()
    (entry,) = manifest["pages"]
    assert page.url == entry["url"]
    assert page.fetched_at == entry["captured"]
    assert page.html == (SNAPSHOT / entry["file"]).read_text(encoding="utf-8")
    assert f'<link rel="canonical" href="{entry["url"]}"' in page.html
