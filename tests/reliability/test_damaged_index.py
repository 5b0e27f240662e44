"""A corrupted or half-deleted index gives one clear line naming the rebuild command, and
that command repairs it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from index_support import (
    QUESTION,
    answer_json,
    build_in_process,
    cli_env,
    comparable,
    run_cli,
)

from assistant.__main__ import main as assistant_main
from index.builds import current_build_dir
from index.search import forget_index


def _garbage_middle(path: Path) -> None:
    """Overwrite 64 KB in the middle of a file, keeping its header and size."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 3)
        handle.write(b"\xa5" * min(65536, size // 3))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "chunks.jsonl deleted": lambda build: (build / "chunks.jsonl").unlink(),
    "manifest.json garbage": lambda build: (build / "manifest.json").write_text("{garbage"),
    "chroma folder deleted": lambda build: shutil.rmtree(build / "chroma"),
    "chroma.sqlite3 garbage inside": lambda build: _garbage_middle(
        build / "chroma" / "chroma.sqlite3"
    ),
    "sentences.npz truncated": lambda build: (build / "sentences.npz").write_bytes(b"PK\x03"),
    "bm25 file garbage": lambda build: (build / "bm25" / "params.index.json").write_text("]"),
    "build folder deleted": lambda build: shutil.rmtree(build),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_index_says_how_to_rebuild_and_the_rebuild_works(
    damage: str, index_copy: Path, base_pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = comparable(answer_json(index_copy))
    forget_index()
    DAMAGE[damage](current_build_dir(index_copy))

    code = assistant_main(["ask", QUESTION, "--index-dir", str(index_copy)])

    err = capsys.readouterr().err
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: index in {index_copy}") or err.startswith(
        "error: vector store in"
    )
    assert f"rebuild it with: python -m ingest --index-dir {index_copy}" in err

    # The command it names repairs the index, and the answers come back.
    outcome = build_in_process(base_pages, index_copy)
    assert outcome.written
    forget_index()
    assert comparable(answer_json(index_copy)) == before


def test_the_cli_reports_a_damaged_index_without_a_traceback(index_copy: Path) -> None:
    (current_build_dir(index_copy) / "chunks.jsonl").unlink()

    done = run_cli("assistant", "ask", QUESTION, "--index-dir", str(index_copy), env=cli_env())

    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "is unreadable" in lines[0]
    assert lines[0].endswith(f"rebuild it with: python -m ingest --index-dir {index_copy}")
