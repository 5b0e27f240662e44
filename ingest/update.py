"""Keep an index in step with its registered sources: build, add, refresh and remove.

update() is the one entry function behind `python -m ingest` and its commands, and
behind the Review desk's Refresh button. Under the index folder's ingest lock it:

1. reads the registry (ingest/sources.py) and applies the change asked for;
2. fetches what it must (the sources added or refreshed; the rest come from their last
   good copy), conditionally where a copy is known, keeping a failed source's last good
   content and marking it stale;
3. parses every page (parses of unchanged bytes come from a cache), lets a later source
   replace an earlier one's copy of the same page, and drops PDF items an HTML source
   already has (ingest/dedupe.py);
4. chunks the sections and builds (index/store.py), which embeds only what is new and
   writes nothing when nothing changed;
5. saves the registry beside the build.

Nothing is dropped silently: every failure, stale source, replaced page and duplicate
comes back in the Outcome, and the CLI prints them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from index.builds import ingest_lock, read_index
from index.errors import CorruptIndexError, NoIndexError, failure_reason, write_error
from index.store import BuildResult, build
from ingest.chunk import chunk_sections
from ingest.crawl import canonical_url, crawl
from ingest.dedupe import drop_duplicates
from ingest.errors import SourceError
from ingest.fetch import Fetcher, FetchOptions, read_path
from ingest.parse import parse_page
from ingest.snapshot import snapshot_pages
from ingest.sources import (
    ERROR,
    OK,
    STALE,
    PageRecord,
    Registry,
    Source,
    cached_sections,
    content_path,
    load_registry,
    normalise_location,
    prune_content,
    read_content,
    save_registry,
    source_id,
    store_content,
)
from records import Page, Section
from settings import Settings

TokenCounter = Callable[[str], int]


class BadRequest(Exception):
    """A command that cannot be carried out as asked (unknown source, last one removed)."""


@dataclass(frozen=True)
class AddRequest:
    """A source to register: a URL or path, crawled or not, with its crawl limits."""

    location: str
    crawl: bool = False
    max_pages: int | None = None
    depth: int | None = None


@dataclass
class Outcome:
    """What an update did: the build, the registry after it, and everything worth saying."""

    build: BuildResult | None
    registry: Registry
    errors: list[SourceError] = field(default_factory=list)  # sources that failed outright
    warnings: list[str] = field(default_factory=list)  # stale sources, failed pages, ...
    added: list[Source] = field(default_factory=list)
    removed: list[Source] = field(default_factory=list)
    refreshed: list[Source] = field(default_factory=list)


def update(
    settings: Settings,
    *,
    add: tuple[AddRequest, ...] | list[AddRequest] = (),
    remove: tuple[str, ...] | list[str] = (),
    refresh: list[str] | None = None,
    dry_run: bool = False,
    progress: bool = True,
    count_tokens: TokenCounter | None = None,
    fetch_options: FetchOptions | None = None,
    fetcher: Fetcher | None = None,
) -> Outcome:
    """Apply one change to the registry and rebuild from every registered source.

    refresh names the sources to fetch again (None: all of them; []: none, as for an add,
    whose new sources are always fetched). Raises BadRequest for a source that is not
    registered or a remove that would leave none, IngestLockedError when another ingest
    runs, IndexWriteError when the index folder cannot be written. A dry run takes no
    lock and writes nothing.
    """
    run = _Run(
        settings=settings,
        index_dir=Path(settings.index_dir),
        dry_run=dry_run,
        progress=progress,
        options=fetch_options or FetchOptions.from_settings(settings),
        fetcher=fetcher,
    )
    if dry_run:
        return run.go(list(add), list(remove), refresh, count_tokens)
    try:
        with ingest_lock(run.index_dir):
            return run.go(list(add), list(remove), refresh, count_tokens)
    except OSError as error:  # e.g. the lock file on a read-only or full index folder
        raise write_error(run.index_dir, failure_reason(run.index_dir, error)) from error


@dataclass
class _Run:
    """One update's state: where, how, and the content fetched so far."""

    settings: Settings
    index_dir: Path
    dry_run: bool
    progress: bool
    options: FetchOptions
    fetcher: Fetcher | None
    fresh: dict[str, bytes] = field(default_factory=dict)  # digest -> content fetched now
    previous: dict = field(default_factory=dict)  # the serving build's manifest

    def go(
        self,
        add: list[AddRequest],
        remove: list[str],
        refresh: list[str] | None,
        count_tokens: TokenCounter | None,
    ) -> Outcome:
        registry = load_registry(self.index_dir)
        self.previous = _previous_manifest(self.index_dir)
        outcome = Outcome(build=None, registry=registry)
        _apply_removals(registry, remove, outcome)
        to_fetch, new_ids = _apply_additions(registry, add, outcome, self.settings)
        to_fetch |= _refreshed(registry, refresh, new_ids, outcome)
        # A source with no stored copy is fetched now: the bundled snapshot of a new index,
        # or a source recorded before registries kept copies.
        to_fetch |= {s.id for s in registry.sources if not self._has_copies(s)}

        own = self.fetcher is None and any(s.is_url for s in registry.sources if s.id in to_fetch)
        if own:
            self.fetcher = Fetcher(self.options)
        try:
            sections_by_source = self._collect(registry, to_fetch, new_ids, outcome)
        finally:
            if own and self.fetcher is not None:
                self.fetcher.close()
                self.fetcher = None
        if add and not remove and not outcome.added and not outcome.refreshed:
            return outcome  # every new source failed: nothing to do, nothing written

        sections = _merge(registry, sections_by_source, outcome)
        pdf_pages = {
            p.cited_as or p.url for s in registry.sources for p in s.pages if p.kind == "pdf"
        }
        sections, notes = drop_duplicates(sections, pdf_pages, self.settings)
        _count_sections(registry, sections)
        if not sections:
            outcome.errors.append(SourceError(str(self.index_dir), "nothing to index"))
            return outcome

        if count_tokens is None:
            from index.embed import token_counter

            count_tokens = token_counter(self.settings.embed_model)
        chunks = chunk_sections(sections, count_tokens, self.settings.max_chunk_tokens)
        old = [Source.from_dict(e).stable() for e in self.previous.get("sources", []) if "id" in e]
        outcome.build = build(
            sections, chunks, [s.to_dict() for s in registry.sources], self.settings,
            dry_run=self.dry_run, progress=self.progress, lock=False,
            sources_changed=old != [s.stable() for s in registry.sources], notes=notes,
        )  # fmt: skip
        if not self.dry_run:
            try:
                save_registry(registry, outcome.build.build_id or registry.build_id)
                prune_content(self.index_dir, {p.sha256 for s in registry.sources for p in s.pages})
            except OSError as error:
                outcome.warnings.append(
                    "could not save the source registry "
                    f"({failure_reason(self.index_dir, error)}); the build's manifest records "
                    "the sources"
                )
        return outcome

    def _collect(
        self, registry: Registry, to_fetch: set[str], new_ids: set[str], outcome: Outcome
    ) -> dict[str, list[Section]]:
        """Each source's sections: fetched and parsed anew, or from its last good copy."""
        from tqdm import tqdm

        by_source: dict[str, list[Section]] = {}
        fetching = [s for s in registry.sources if s.id in to_fetch]
        bar = tqdm(total=len(fetching), desc="fetch", unit="source",
                   disable=not self.progress or not fetching)  # fmt: skip
        with bar:
            for source in list(registry.sources):
                if source.id not in to_fetch:
                    by_source[source.id] = self._sections(source, outcome, stored=True)
                    continue
                kept = (list(source.pages), source.kind, dict(source.skipped))
                try:
                    self._fetch(source, outcome)
                    by_source[source.id] = self._sections(source, outcome, stored=False)
                except SourceError as error:
                    source.pages, source.kind, source.skipped = kept
                    if source.id in new_ids:
                        registry.sources.remove(source)  # a new source that fails stays out
                        outcome.added.remove(source)
                        outcome.errors.append(error)
                    else:
                        source.status, source.error = STALE, error.reason
                        source.checked_at = _now()
                        outcome.warnings.append(_stale_warning(source))
                        by_source[source.id] = self._sections(source, outcome, stored=True)
                bar.update(1)
        return by_source

    def _fetch(self, source: Source, outcome: Outcome) -> None:
        """Fetch a source again and record its pages; raise SourceError when it fails whole."""
        checked = _now()
        known = {canonical_url(p.url): p for p in source.pages if p.url.startswith("http")}
        failed: list[SourceError] = []
        if source.is_bundled:
            pages = snapshot_pages()
        elif source.is_url and source.kind == "crawl":
            assert self.fetcher is not None
            result = crawl(
                source.location,
                self.fetcher,
                max_pages=source.max_pages or self.settings.crawl_max_pages,
                depth=source.depth if source.depth is not None else self.settings.crawl_depth,
                known=self._known_pages(known),
            )
            pages, failed, source.skipped = result.pages, result.failed, dict(result.skipped)
        elif source.is_url:
            assert self.fetcher is not None
            record = known.get(canonical_url(source.location))
            pages = [self.fetcher.fetch(source.location, self._known_page(record))]
        else:
            pages = read_path(
                Path(source.location),
                max_bytes=self.options.max_bytes,
                max_document_bytes=self.options.max_document_bytes,
            )

        records: list[PageRecord] = []
        for page in pages:
            content = page.content
            records.append(
                PageRecord(
                    url=page.url,
                    kind=page.kind,
                    sha256=self._keep(content),
                    source=page.source,
                    fetched_at=page.fetched_at,
                    checked_at=checked,
                    etag=page.etag,
                    last_modified=page.last_modified,
                )
            )
        for error in failed:
            old = known.get(canonical_url(error.source))
            if old is not None and old.status == ERROR:
                old = None  # it never had content: still a broken link, as before
            if old is not None and error.gone:
                outcome.warnings.append(f"{error.source}: gone ({error.reason}); its content goes")
            elif old is not None:
                records.append(replace(old, status=STALE, error=error.reason, checked_at=checked))
                outcome.warnings.append(
                    f"{error.source}: stale, keeping its content ({error.reason})"
                )
            else:
                kind = "pdf" if error.source.lower().endswith(".pdf") else "html"
                records.append(
                    PageRecord(error.source, kind, source=error.source, checked_at=checked,
                               status=ERROR, error=error.reason)
                )  # fmt: skip
                outcome.warnings.append(f"{error.source}: {error.reason}")
        source.pages = records
        if source.kind != "crawl":
            kinds = {r.kind for r in records}
            source.kind = kinds.pop() if len(kinds) == 1 else "mixed"
        source.status, source.error, source.checked_at = OK, "", checked
        source.fetched_at = max((r.fetched_at for r in records if r.status == OK), default=checked)

    def _has_copies(self, source: Source) -> bool:
        """True when every page of the source that had content has its copy stored."""
        return bool(source.pages) and all(
            p.status == ERROR or (p.sha256 and content_path(self.index_dir, p.sha256).exists())
            for p in source.pages
        )

    def _keep(self, content: bytes) -> str:
        """Store fetched content (only remember it, in a dry run) and return its digest."""
        if self.dry_run:
            digest = hashlib.sha256(content).hexdigest()
        else:
            try:
                digest = store_content(self.index_dir, content)
            except OSError as error:
                raise write_error(self.index_dir, failure_reason(self.index_dir, error)) from error
        self.fresh[digest] = content
        return digest

    def _content(self, digest: str) -> bytes | None:
        return self.fresh.get(digest) or read_content(self.index_dir, digest)

    def _known_page(self, record: PageRecord | None) -> Page | None:
        """The last good copy of a page, for a conditional request (None without one)."""
        if record is None or record.status == ERROR:
            return None
        content = self._content(record.sha256)
        return None if content is None else record.to_page(content)

    def _known_pages(self, known: dict[str, PageRecord]) -> dict[str, Page]:
        pages = {key: self._known_page(record) for key, record in known.items()}
        return {key: page for key, page in pages.items() if page is not None}

    def _sections(self, source: Source, outcome: Outcome, stored: bool) -> list[Section]:
        """The sections of a source's pages, from their content.

        A page whose content is missing (an index from before registries, a damaged
        store) keeps the sections the serving build has for it, with a warning. A page
        that no longer parses (stored, so the parser changed) does the same; a freshly
        fetched one that does not parse fails its source when it is its only page.
        """
        sections: list[Section] = []
        for record in source.pages:
            if record.status == ERROR:
                continue
            content = self._content(record.sha256)
            if content is None:
                # No copy was ever stored (an index built before registries, or in
                # process): the build's sections stand in. A lost copy is worth a word.
                why = "its stored copy is missing" if record.sha256 else ""
                sections.extend(self._carried(record, outcome, why))
                continue
            page = record.to_page(content)
            try:
                found = cached_sections(self.index_dir, page, record.sha256, self.settings,
                                        parse_page, write=not self.dry_run)  # fmt: skip
            except SourceError as error:
                if stored:
                    sections.extend(self._carried(record, outcome, error.reason))
                    continue
                if len(source.pages) == 1:
                    raise  # a source of one document that cannot be parsed fails whole
                record.status, record.error = ERROR, error.reason
                outcome.warnings.append(f"{error.source}: {error.reason}")
                continue
            record.cited_as = found[0].page_url if found else record.url
            sections.extend(found)
        return sections

    def _carried(self, record: PageRecord, outcome: Outcome, why: str) -> list[Section]:
        """The serving build's sections of a page that cannot be read now."""
        try:
            stored = read_index(self.index_dir)
        except (NoIndexError, CorruptIndexError):
            return []
        page = record.cited_as or record.url
        carried = [s for s in stored.sections if s.page_url == page]
        if why:
            outcome.warnings.append(
                f"{record.source or record.url}: {why}; keeping the {len(carried)} sections "
                "the index has"
            )
        return carried


def _apply_removals(registry: Registry, remove: list[str], outcome: Outcome) -> None:
    for name in remove:
        source = registry.find(name)
        if source is None:
            raise BadRequest(
                f"no source {name!r} in {registry.index_dir} (see: python -m ingest list)"
            )
        if len(registry.sources) == 1:
            raise BadRequest(
                f"{source.name} is the only source of {registry.index_dir}; add another "
                "before removing it"
            )
        registry.sources.remove(source)
        outcome.removed.append(source)


def _apply_additions(
    registry: Registry, add: list[AddRequest], outcome: Outcome, settings: Settings
) -> tuple[set[str], set[str]]:
    """Register the new sources (an already registered one is refreshed); return the ids
    to fetch and the ids that are new."""
    to_fetch: set[str] = set()
    new_ids: set[str] = set()
    for request in add:
        location = normalise_location(request.location)
        existing = registry.find(location)
        if existing is not None:
            if request.crawl:
                existing.kind = "crawl"
                existing.max_pages = request.max_pages or existing.max_pages
                if request.depth is not None:
                    existing.depth = request.depth
            to_fetch.add(existing.id)
            if existing not in outcome.refreshed:
                outcome.refreshed.append(existing)
            continue
        crawled = request.crawl
        source = Source(
            id=source_id(location),
            location=location,
            kind="crawl" if crawled else "html",
            max_pages=(request.max_pages or settings.crawl_max_pages) if crawled else None,
            depth=(settings.crawl_depth if request.depth is None else request.depth)
            if crawled
            else None,
            added_at=_now(),
        )
        registry.sources.append(source)
        to_fetch.add(source.id)
        new_ids.add(source.id)
        outcome.added.append(source)
    return to_fetch, new_ids


def _refreshed(
    registry: Registry, refresh: list[str] | None, new_ids: set[str], outcome: Outcome
) -> set[str]:
    if refresh is None:
        outcome.refreshed = [s for s in registry.sources if s.id not in new_ids]
        return {s.id for s in registry.sources}
    ids = set()
    for name in refresh:
        source = registry.find(name)
        if source is None:
            raise BadRequest(
                f"no source {name!r} in {registry.index_dir} (see: python -m ingest list)"
            )
        ids.add(source.id)
        if source not in outcome.refreshed:
            outcome.refreshed.append(source)
    return ids


def _previous_manifest(index_dir: Path) -> dict:
    try:
        return read_index(index_dir).manifest
    except (NoIndexError, CorruptIndexError):
        return {}


def _merge(
    registry: Registry, by_source: dict[str, list[Section]], outcome: Outcome
) -> list[Section]:
    """All sections in registry order; when two sources carry the same page, the later
    one's copy replaces the earlier one's (a live page replaces the bundled snapshot)."""
    owner: dict[str, str] = {}  # page URL -> id of the source whose copy is used
    for source in registry.sources:
        for section in by_source.get(source.id, []):
            owner[section.page_url] = source.id
    names = {s.id: s.name for s in registry.sources}
    merged: list[Section] = []
    for source in registry.sources:
        replaced_by: Counter[str] = Counter()
        for section in by_source.get(source.id, []):
            if owner[section.page_url] == source.id:
                merged.append(section)
            else:
                replaced_by[owner[section.page_url]] += 1
        source.note = ""
        if replaced_by:
            by = ", ".join(names[i] for i in replaced_by)
            source.note = f"replaced by {by} (the same page)"
            outcome.warnings.append(f"{source.name}: its pages are replaced by {by}'s copy")
    return merged


def _count_sections(registry: Registry, sections: list[Section]) -> None:
    """Record how many indexed sections each page and source contributes.

    A page replaced by a later source's copy of it contributes none.
    """
    per_page = Counter(s.page_url for s in sections)
    owner: dict[str, str] = {}
    for source in registry.sources:
        for record in source.pages:
            if record.status != ERROR:
                owner[record.cited_as or record.url] = source.id
    for source in registry.sources:
        for record in source.pages:
            cited = record.cited_as or record.url
            mine = record.status != ERROR and owner.get(cited) == source.id
            record.sections = per_page.get(cited, 0) if mine else 0
        source.sections = sum(r.sections for r in source.pages)


def _stale_warning(source: Source) -> str:
    since = f" from {source.fetched_at}" if source.fetched_at else ""
    return f"{source.name}: stale, keeping its content{since} ({source.error})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = ["AddRequest", "BadRequest", "Outcome", "update"]
