"""The source registry: which sources an index is built from, and the last good copy of each.

Kept in the index folder:

    sources/registry.json       every registered source, its pages, their fetch state
    sources/content/<sha256>    the last good bytes of each page (content-addressed)
    sources/parsed/<key>.json   the sections parsed from them, so an unchanged PDF is not
                                parsed again (the key hashes the bytes, the URL, the
                                parser's code and the settings it reads)

The build that serves also records its sources in its manifest (what it was made from,
their status and pages). registry.json adds what changes without a build (when each
source was last checked, fresh HTTP validators); it names the build it was written
beside, and when that is not the build serving (an ingest killed between its switch and
writing the registry), the manifest's record is the one that holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from index.builds import current_name, read_index
from index.errors import CorruptIndexError, NoIndexError
from index.manifest import section_from_dict, section_to_dict
from records import Page, Section
from settings import REPO_ROOT, SNAPSHOT_DIR, Settings

REGISTRY_VERSION = 1
BUNDLED = "bundled"  # the location of the bundled snapshot
BUNDLED_ID = "snapshot"
# Names a person may use for the bundled snapshot in `remove` / `refresh`.
BUNDLED_NAMES = (BUNDLED_ID, BUNDLED, "bundled snapshot")
OK, STALE, ERROR = "ok", "stale", "error"
KINDS = ("html", "pdf", "crawl", "mixed")


@dataclass
class PageRecord:
    """One document a source provides: where it is, its last good copy, how the last try went."""

    url: str  # where it was fetched from (the final URL after redirects), or a file's URI
    kind: str  # "html" or "pdf"
    cited_as: str = ""  # the page URL its sections cite (an HTML page's rel=canonical)
    sha256: str = ""  # its last good content in sources/content/ ("" before any)
    source: str = ""  # what was asked for: the URL before redirects, or the file path
    fetched_at: str = ""  # when the last good content was fetched
    checked_at: str = ""  # when it was last tried
    status: str = OK
    error: str = ""
    sections: int = 0
    etag: str | None = None
    last_modified: str | None = None

    def to_page(self, content: bytes) -> Page:
        """The Page this record's stored content makes."""
        if self.kind == "html":
            html = content.decode("utf-8", errors="replace")
            return Page(self.source or self.url, self.url, html, self.fetched_at, self.kind,
                        b"", self.etag, self.last_modified)  # fmt: skip
        return Page(self.source or self.url, self.url, "", self.fetched_at, self.kind, content,
                    self.etag, self.last_modified)  # fmt: skip


@dataclass
class Source:
    """One registered source: the bundled snapshot, a file or folder, a URL, or a crawl."""

    id: str
    location: str  # "bundled", an absolute path, or a URL
    kind: str  # "html", "pdf", "crawl" (or "mixed": a folder of both)
    max_pages: int | None = None  # crawl only
    depth: int | None = None  # crawl only
    added_at: str = ""
    status: str = OK  # ok, stale (the last refresh failed: serving its last good content)
    error: str = ""  # why the last refresh failed
    fetched_at: str = ""  # the last successful fetch
    checked_at: str = ""  # the last try
    sections: int = 0
    note: str = ""  # e.g. "superseded by <source> for <page>"
    skipped: dict[str, int] = field(default_factory=dict)  # crawl: links not followed, by why
    pages: list[PageRecord] = field(default_factory=list)

    @property
    def is_bundled(self) -> bool:
        return self.location == BUNDLED

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    @property
    def name(self) -> str:
        """How messages name it: the URL or path, or "bundled snapshot"."""
        return "bundled snapshot" if self.is_bundled else self.location

    def to_dict(self) -> dict:
        """The source as JSON (the registry and the manifest store this)."""
        data = asdict(self)
        # Older readers of the manifest (the Review tab's status panel) read these three.
        data["source"] = str(SNAPSHOT_DIR.relative_to(REPO_ROOT)) if self.is_bundled else self.name
        data["url"] = self.public_url
        return data

    @property
    def public_url(self) -> str:
        """The web address people know it by: the URL, the snapshot's live page, or file://."""
        if self.is_url:
            return self.location
        if self.pages:
            return self.pages[0].url
        return Path(self.location).as_uri() if not self.is_bundled else ""

    def stable(self) -> tuple:
        """What a change to means a new manifest: not the check times or the validators."""
        pages = tuple((p.url, p.kind, p.cited_as, p.status, p.error) for p in self.pages)
        return (self.id, self.location, self.kind, self.max_pages, self.depth, self.status,
                self.error, self.note, pages)  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> Source:
        """Read a source back from to_dict's output."""
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "pages"}
        pages = [
            PageRecord(**{k: p[k] for k in PageRecord.__dataclass_fields__ if k in p})
            for p in data.get("pages", [])
        ]
        return cls(**fields, pages=pages)


def source_id(location: str) -> str:
    """A short stable id for a location: "snapshot" for the bundled one, else a hash."""
    if location == BUNDLED:
        return BUNDLED_ID
    return hashlib.sha1(location.encode("utf-8")).hexdigest()[:8]


def bundled_source() -> Source:
    """The bundled snapshot as a source (a new index starts with it registered)."""
    return Source(id=BUNDLED_ID, location=BUNDLED, kind="html")


# ---------------------------------------------------------------- the registry file


@dataclass
class Registry:
    """The registered sources of one index folder, in the order they were added."""

    index_dir: Path
    sources: list[Source]
    build_id: str | None  # the build these records describe
    exists: bool  # False for a folder without an index (the bundled snapshot is assumed)

    def find(self, name: str) -> Source | None:
        """The source a person names: its id, its URL or path, or "snapshot"."""
        wanted = name.strip()
        if wanted.lower() in BUNDLED_NAMES:
            wanted = BUNDLED
        for source in self.sources:
            if wanted in (source.id, source.location):
                return source
        as_location = normalise_location(wanted)
        for source in self.sources:
            if as_location == source.location:
                return source
            if source.kind == "crawl" and any(p.url == wanted for p in source.pages):
                return source  # a crawled page names its crawl
        return None

    @property
    def path(self) -> Path:
        return registry_path(self.index_dir)


def registry_path(index_dir: Path) -> Path:
    """Where an index folder keeps its registry file."""
    return Path(index_dir) / "sources" / "registry.json"


def load_registry(index_dir: Path) -> Registry:
    """The registry of an index folder, as it applies to the build serving now.

    No index yet: the bundled snapshot alone. An index built before registries (or whose
    registry.json was left behind by a killed ingest): its manifest's sources.
    """
    index_dir = Path(index_dir)
    try:
        stored = read_index(index_dir)
    except NoIndexError:
        return Registry(index_dir, [bundled_source()], None, exists=False)
    except CorruptIndexError:
        stored = None  # a broken build is rebuilt from what the registry file says
    build_id = current_name(index_dir, "") or None
    path = registry_path(index_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") == REGISTRY_VERSION and (
            stored is None or data.get("build_id") == build_id
        ):
            sources = [Source.from_dict(s) for s in data["sources"]]
            return Registry(index_dir, sources, build_id, exists=True)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing or unreadable: the manifest holds the same record
    if stored is None:
        return Registry(index_dir, [bundled_source()], build_id, exists=True)
    sources = [_from_manifest(entry) for entry in stored.manifest.get("sources", [])]
    return Registry(index_dir, sources or [bundled_source()], build_id, exists=True)


def _from_manifest(entry: dict) -> Source:
    """A manifest's source entry as a Source, including entries from before registries."""
    if "id" in entry and "location" in entry:
        return Source.from_dict(entry)
    # Before registries: {"source": what was read, "url": its page URL, "fetched_at", ...}.
    read_from = str(entry.get("source", ""))
    url, fetched_at = str(entry.get("url", "")), str(entry.get("fetched_at", ""))
    sections = int(entry.get("sections", 0) or 0)
    location = BUNDLED if _is_bundled_path(read_from) else normalise_location(read_from)
    kind = "pdf" if location.lower().endswith(".pdf") else "html"
    page = PageRecord(url=url, kind=kind, cited_as=url, source=read_from,
                      fetched_at=fetched_at, sections=sections)  # fmt: skip
    return Source(id=source_id(location), location=location, kind=kind, fetched_at=fetched_at,
                  sections=sections, pages=[page])  # fmt: skip


def _is_bundled_path(text: str) -> bool:
    try:
        return Path(text).resolve().is_relative_to(SNAPSHOT_DIR.resolve())
    except (OSError, ValueError):
        return False


def normalise_location(location: str) -> str:
    """How a location is registered: a URL without its fragment, or an absolute path."""
    text = location.strip()
    if text == BUNDLED:
        return text
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        return parts._replace(fragment="").geturl()
    return str(Path(text).expanduser().resolve())


def save_registry(registry: Registry, build_id: str | None) -> None:
    """Write registry.json atomically, naming the build it describes."""
    data = {
        "version": REGISTRY_VERSION,
        "build_id": build_id,
        "sources": [s.to_dict() for s in registry.sources],
    }
    write_atomic(registry.path, json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"))


# ---------------------------------------------------------------- stored content


def content_path(index_dir: Path, sha256: str) -> Path:
    return Path(index_dir) / "sources" / "content" / sha256


def store_content(index_dir: Path, data: bytes) -> str:
    """Keep bytes in the content store (once per content) and return their sha256."""
    digest = hashlib.sha256(data).hexdigest()
    path = content_path(index_dir, digest)
    if not path.exists():
        write_atomic(path, data)
    return digest


def read_content(index_dir: Path, sha256: str) -> bytes | None:
    """The stored bytes, or None when missing or damaged (their hash no longer matches)."""
    if not sha256:
        return None
    try:
        data = content_path(index_dir, sha256).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def prune_content(index_dir: Path, keep: set[str]) -> None:
    """Delete stored content and parses no registered page refers to (best effort)."""
    folder = Path(index_dir) / "sources"
    for path in (folder / "content").glob("*"):
        if path.name not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)
    for path in (folder / "parsed").glob("*.json"):
        if path.name.split("-", 1)[0] not in keep:
            path.unlink(missing_ok=True)


def cached_sections(
    index_dir: Path, page: Page, sha256: str, settings: Settings, parse, *, write: bool = True
):
    """The page's sections, from the parse cache when this content was parsed before.

    The cache key covers the bytes, the page URL (section ids and anchors come from it),
    the parser's source code and the settings, so any change parses again. write=False
    (a dry run) reads the cache but adds nothing to it.
    """
    key = f"{sha256}-{_parse_key(page, settings)}"
    path = Path(index_dir) / "sources" / "parsed" / f"{key}.json"
    try:
        return [section_from_dict(d) for d in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sections: list[Section] = parse(page, settings)
    if not write:
        return sections
    try:
        write_atomic(path, json.dumps([section_to_dict(s) for s in sections]).encode("utf-8"))
    except OSError:
        pass  # only a cache: the next run parses again
    return sections


def _parse_key(page: Page, settings: Settings) -> str:
    from ingest import formats

    fmt = formats.by_kind(page.kind)
    module = fmt.parser.partition(":")[0]
    code = b"".join(
        (Path(__file__).parent / name).read_bytes()
        for name in (f"{module.rsplit('.', 1)[-1]}.py", "sections.py")
    )
    digest = hashlib.sha256(code)
    digest.update(page.url.encode("utf-8"))
    digest.update(settings.model_dump_json(exclude={"index_dir", "chroma_url"}).encode("utf-8"))
    return digest.hexdigest()[:16]


def write_atomic(path: Path, data: bytes) -> None:
    """Write data to path via a temp file in the same folder, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- listing


def list_rows(registry: Registry) -> list[dict]:
    """One row per source, then one per page of a crawl or folder, as `list --json` prints.

    Each row has url (the URL, or the path of a file or folder), path (files only),
    kind (html, pdf, crawl), status (ok, stale, error), sections, fetched_at (the last
    good fetch), checked_at and error (the last failure, or null). A page's row names
    its source in parent (and its crawl's start URL in crawl).
    """
    rows: list[dict] = []
    for source in registry.sources:
        path = None
        if source.is_bundled:
            path = str(SNAPSHOT_DIR.relative_to(REPO_ROOT))
        elif not source.is_url:
            path = source.location
        row = {
            "id": source.id,
            "url": source.public_url if source.is_bundled else source.location,
            "path": path,
            "kind": source.kind,
            "status": source.status,
            "sections": source.sections,
            "fetched_at": source.fetched_at or None,
            "checked_at": source.checked_at or None,
            "error": source.error or None,
            "note": source.note or None,
            "pages": len(source.pages),
            "added_at": source.added_at or None,
        }
        if source.kind == "crawl":
            row.update(max_pages=source.max_pages, depth=source.depth, skipped=source.skipped)
        rows.append(row)
        if source.kind == "crawl" or len(source.pages) > 1:
            for record in source.pages:
                rows.append(
                    {
                        "id": f"{source.id}/{hashlib.sha1(record.url.encode()).hexdigest()[:6]}",
                        "url": record.url,
                        "path": None if record.url.startswith("http") else record.source,
                        "kind": record.kind,
                        "status": record.status,
                        "sections": record.sections,
                        "fetched_at": record.fetched_at or None,
                        "checked_at": record.checked_at or None,
                        "error": record.error or None,
                        "parent": source.id,
                        "crawl": source.location if source.kind == "crawl" else None,
                    }
                )
    return rows
