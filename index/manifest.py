"""The manifest of a build and the change report: what a build holds, and what an ingest changed.

The manifest (builds/<id>/manifest.json) names the build's model, collection and counts
per season, the sources it was made from, and a history of the last ingests' change
reports. The diff compares new sections and chunks with the serving build's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from records import Block, Chunk, Section
from settings import Settings

HISTORY_LENGTH = 50  # ingests remembered in the manifest
HISTORY_LABELS = 200  # section labels kept per list in a history entry (a 50x corpus has 2,350)


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
    notes: list[str] = field(default_factory=list)  # what ingest dropped or skipped, one line each

    @property
    def changed(self) -> bool:
        """True when any section or chunk differs from the serving build."""
        return bool(
            self.chunks_added
            or self.chunks_removed
            or self.sections_changed
            or self.sections_added
            or self.sections_removed
        )

    def summary(self) -> str:
        """One line for the terminal: "sections: 3 added, 1 changed, 0 removed, ..."."""
        return (
            f"sections: {len(self.sections_added)} added, {len(self.sections_changed)} changed, "
            f"{len(self.sections_removed)} removed, {self.sections_unchanged} unchanged; "
            f"chunks: {self.chunks_added} added, {self.chunks_removed} removed, "
            f"{self.chunks_unchanged} unchanged"
        )


def make_manifest(
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
    """Return a build's manifest: model, store, counts per season, sources, and history."""
    section_counts = Counter(s.season for s in sections)
    chunk_counts = Counter(c.season for c in chunks)
    history = list(previous["manifest"].get("history", [])) if previous else []
    history.append(
        {
            "build_id": build_id,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "summary": changes.summary(),
            "changes": history_changes(changes),
        }
    )
    order = {s.season: s.season_order for s in sections}
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
                for season in sorted(section_counts, key=lambda s: order[s])
            },
        },
        "sources": sources,
        "history": history[-HISTORY_LENGTH:],
    }


def history_changes(changes: ChangeReport) -> dict:
    """The change report for the history, its section lists capped at HISTORY_LABELS."""
    data = asdict(changes)
    for key in ("sections_added", "sections_changed", "sections_removed", "notes"):
        labels = data[key]
        if len(labels) > HISTORY_LABELS:
            data[key] = labels[:HISTORY_LABELS] + [f"... and {len(labels) - HISTORY_LABELS} more"]
    return data


def diff(previous: dict | None, sections: list[Section], chunks: list[Chunk]) -> ChangeReport:
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
    """Return how a person names a section: "Autumn 2021 > EPS and RTEC > EPS"."""
    return " > ".join((section.season, *section.heading_path))


def section_to_dict(section: Section) -> dict:
    """Return a section as a JSON-ready dict (for the index's section table)."""
    data = asdict(section)
    data["heading_path"] = list(section.heading_path)
    return data


def section_from_dict(data: dict) -> Section:
    """Rebuild a section from section_to_dict's output."""
    blocks = tuple(Block(**b) for b in data["blocks"])
    return Section(**{**data, "heading_path": tuple(data["heading_path"]), "blocks": blocks})
