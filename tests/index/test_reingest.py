"""Re-ingest is safe to repeat: only changes are applied, reported, and recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from index_support import (
    ADDED,
    BASE_SECTIONS,
    CHANGED,
    REMOVED,
    answer_json,
    build_in_process,
    collection_count,
    manifest,
)

from index.builds import current_build_dir, read_index
from ingest.__main__ import main as ingest_main


def label(key: tuple[str, str]) -> str:
    """How the change report names a test section: "Autumn 2021 > NHSmail"."""
    return " > ".join(key)


def build_names(index_dir: Path) -> list[str]:
    return sorted(p.name for p in (index_dir / "builds").iterdir())


def test_first_ingest_reports_every_section_added(base_index: Path) -> None:
    history = manifest(base_index)["history"]
    assert len(history) == 1
    assert history[0]["changes"]["sections_added"] == [
        "overview > CP ITG test archive",
        *(label(key) for key in BASE_SECTIONS),
    ]
    assert history[0]["changes"]["sections_removed"] == []


def test_dry_run_prints_the_changes_and_writes_nothing(
    index_copy: Path, edited_pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in index_copy.rglob("*") if p.is_file()}

    code = ingest_main(["--path", str(edited_pages), "--index-dir", str(index_copy), "--dry-run"])

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == (
        "would change: sections: 1 added, 1 changed, 1 removed, 2 unchanged; "
        "chunks: 2 added, 2 removed, 2 unchanged"
    )
    assert out[1:] == [
        f"  added: {label(ADDED)}",
        f"  changed: {label(CHANGED)}",
        f"  removed: {label(REMOVED)}",
        # The edited page replaces the base one: both are the same page (rel=canonical).
        f"source would add: {edited_pages} (html, 4 sections)",
    ]
    after = {p.name: p.stat().st_mtime_ns for p in index_copy.rglob("*") if p.is_file()}
    assert after == before


def test_reingest_applies_exactly_the_changes(
    index_copy: Path, edited_pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_build = current_build_dir(index_copy).name
    old_ids = set(read_index(index_copy).chunks)

    code = ingest_main(["--path", str(edited_pages), "--index-dir", str(index_copy)])

    out = capsys.readouterr().out
    assert code == 0
    assert f"  added: {label(ADDED)}\n  changed: {label(CHANGED)}\n" in out
    assert f"  removed: {label(REMOVED)}\n" in out
    stored = read_index(index_copy)
    assert stored.build_dir.name != old_build
    # The manifest's history records this ingest's report after the first one.
    history = stored.manifest["history"]
    assert [h["build_id"] for h in history] == [old_build, stored.build_dir.name]
    assert history[-1]["changes"]["sections_added"] == [label(ADDED)]
    assert history[-1]["changes"]["sections_changed"] == [label(CHANGED)]
    assert history[-1]["changes"]["sections_removed"] == [label(REMOVED)]
    # No duplicates and nothing left over: Chroma, chunks.jsonl and the manifest agree.
    rows = [
        json.loads(line) for line in (stored.build_dir / "chunks.jsonl").read_text().splitlines()
    ]
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)) == stored.manifest["counts"]["chunks"]
    assert collection_count(index_copy) == len(ids)
    assert not any(row["heading_path"] == [REMOVED[1]] for row in rows)
    assert len(set(ids) - old_ids) == 2  # the added and the changed section's chunks
    # And the answers follow the new text.
    assert "365 days" in answer_json(index_copy)["answer"]


def test_only_new_chunks_are_embedded(index_copy: Path, edited_pages: Path) -> None:
    outcome = build_in_process(edited_pages, index_copy)

    assert outcome.written
    assert outcome.chunks_embedded == outcome.changes.chunks_added == 2


def test_unchanged_reingest_writes_nothing(
    index_copy: Path, base_pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = build_names(index_copy)

    code = ingest_main(["--path", str(base_pages), "--index-dir", str(index_copy)])

    assert code == 0
    assert "is up to date (nothing changed)" in capsys.readouterr().out
    assert build_names(index_copy) == before
    assert len(manifest(index_copy)["history"]) == 1


def test_old_builds_are_pruned(index_copy: Path, base_pages: Path, edited_pages: Path) -> None:
    first = current_build_dir(index_copy).name
    second = build_in_process(edited_pages, index_copy).build_id
    third = build_in_process(base_pages, index_copy).build_id

    # CURRENT and the build it replaced stay (for a roll back); older ones go.
    assert build_names(index_copy) == sorted([second, third])
    assert first not in build_names(index_copy)
    assert [h["build_id"] for h in manifest(index_copy)["history"]] == [first, second, third]


def test_repeated_chunks_are_stored_once(tmp_path: Path, base_pages: Path) -> None:
    from index.embed import token_counter
    from index.store import build
    from ingest import ingest
    from settings import load_settings

    result = ingest(paths=[base_pages], count_tokens=token_counter(None), progress=False)
    settings = load_settings(index_dir=tmp_path / "index")

    outcome = build(result.sections, result.chunks * 2, result.sources(), settings, progress=False)

    assert outcome.manifest["counts"]["chunks"] == len(result.chunks)
    assert collection_count(tmp_path / "index") == len(result.chunks)
