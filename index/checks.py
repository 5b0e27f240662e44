"""Checks and probes: is a build whole, does its vector store answer, can it be reused as it is.

A build is checked before it is opened for search (a half-deleted build would otherwise
make embedded Chroma create an empty store in its place), and before an unchanged
re-ingest keeps it (so "rebuild it with: python -m ingest" really rebuilds a damaged one).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from index.bm25 import bm25_problems
from index.builds import StoredIndex
from index.chroma import chroma_client
from index.errors import CorruptIndexError, IndexUnavailableError, rebuild_command
from index.vectors import load_vectors
from sentences import distinct_sentences
from settings import Settings


def check_build(stored: StoredIndex, settings: Settings) -> None:
    """Raise a clear error when a build's files are missing or it needs another store mode.

    Catches a half-deleted build before Chroma sees it: an embedded Chroma opened on a
    missing folder silently creates an empty one there.
    """
    index_dir = Path(settings.index_dir)
    built_url = stored.manifest.get("chroma_url")
    if built_url and not settings.chroma_url:
        raise IndexUnavailableError(
            f"the index in {index_dir} keeps its vectors in the Chroma server at {built_url}: "
            f"set ASSISTANT_CHROMA_URL={built_url} (or rebuild it embedded with: "
            f"{rebuild_command(index_dir)})"
        )
    if settings.chroma_url and not built_url:
        raise IndexUnavailableError(
            f"the index in {index_dir} was built without a Chroma server: unset "
            f"ASSISTANT_CHROMA_URL, or rebuild it into the server with: "
            f"ASSISTANT_CHROMA_URL={settings.chroma_url} {rebuild_command(index_dir)}"
        )
    missing = missing_files(stored.build_dir, embedded=not built_url)
    if missing:
        raise CorruptIndexError(
            f"index in {index_dir} is incomplete (builds/{stored.build_dir.name}: "
            f"{', '.join(missing)}): rebuild it with: {rebuild_command(index_dir)}"
        )


def missing_files(build_dir: Path, embedded: bool, deep: bool = False) -> list[str]:
    """What a build lacks: "bm25 missing", "chroma/chroma.sqlite3 is not SQLite", ...

    deep=True also reads the BM25 files and the sentence and word vectors (~50 ms for
    the snapshot), so an unchanged re-ingest notices a damaged file and rebuilds. A build
    from before words.npz still serves (the reader embeds the words on first use), but
    is not reused: the next ingest writes the file.
    """
    problems = [
        f"{name} missing"
        for name in ("chunks.jsonl", "sections.jsonl", "sentences.npz", "bm25")
        if not (build_dir / name).exists()
    ]
    if embedded:
        sqlite = build_dir / "chroma" / "chroma.sqlite3"
        try:
            with open(sqlite, "rb") as handle:
                if handle.read(16) != b"SQLite format 3\x00":
                    problems.append("chroma/chroma.sqlite3 is not SQLite")
        except OSError:
            problems.append("chroma/ missing")
    if deep and not problems:
        for name in ("sentences.npz", "words.npz"):
            if load_vectors(build_dir / name) is None:
                problems.append(f"{name} missing or unreadable")
        problems.extend(bm25_problems(build_dir / "bm25"))
    return problems


def reusable(previous: dict, model_name: str, settings: Settings) -> bool:
    """True when the serving build can stay as it is: same model, same store, all there."""
    manifest = previous["manifest"]
    if manifest.get("model") != model_name:
        return False
    if manifest.get("chroma_url") != (settings.chroma_url or None):
        return False
    if missing_files(previous["build_dir"], embedded=not settings.chroma_url, deep=True):
        return False  # "rebuild it with: python -m ingest" must then actually rebuild
    if not holds_every_sentence(previous["build_dir"], list(previous["chunks"].values())):
        return False  # a build from before a sentence form it now stores: add the vectors
    try:
        if settings.chroma_url:
            # The server may have been restarted on another --path: the collection must be there.
            client = chroma_client(settings)
            try:
                probe_collection(client.get_collection(manifest["collection"]), manifest)
            finally:
                client.close()
        else:
            probe_embedded(previous["build_dir"], manifest)
    except IndexUnavailableError:
        raise
    except Exception:  # noqa: BLE001 - a damaged or missing store: rebuild it
        return False
    return True


def holds_every_sentence(build_dir: Path, chunks: list) -> bool:
    """True when the build stores a vector for every sentence text the chunks make (bare
    and under its heading, sentences.distinct_sentences). A build from before the
    in-context sentences still serves (retrieval embeds them on first use), but is not
    reused: the next ingest adds them, embedding only those."""
    stored = load_vectors(build_dir / "sentences.npz") or {}
    return all(text in stored for text in distinct_sentences(chunks))


def probe_collection(collection, manifest: dict) -> None:
    """Raise unless a build's collection holds its chunks and answers a query.

    A SQLite file with garbage in its middle opens fine and fails only when queried
    ("Failed to pull logs from the log store"); one top-1 query costs ~2 ms.
    """
    count = collection.count()
    expected = manifest.get("counts", {}).get("chunks", count)
    if count != expected:
        raise ValueError(f"the vector store holds {count} chunks, the manifest {expected}")
    if count:
        dimension = int(manifest.get("dimension", 384))
        collection.query(query_embeddings=[[1.0] + [0.0] * (dimension - 1)], n_results=1)


def probe_embedded(build_dir: Path, manifest: dict) -> None:
    """Probe an embedded build's Chroma on a scratch copy, never on the serving files.

    Embedded Chroma writes to its folder when it opens it, and the app may have the same
    folder open; the copy costs ~20 ms for the snapshot's 2.5 MB.
    """
    import tempfile

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    with tempfile.TemporaryDirectory(prefix="cpitg-probe-") as scratch:
        copy = Path(scratch) / "chroma"
        shutil.copytree(build_dir / "chroma", copy)
        client = chromadb.PersistentClient(
            path=str(copy), settings=ChromaSettings(anonymized_telemetry=False)
        )
        try:
            probe_collection(client.get_collection(manifest["collection"]), manifest)
        finally:
            client.close()
