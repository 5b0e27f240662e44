"""What the UI needs from a build: the season and topic choices and the section names."""

from __future__ import annotations

from dataclasses import dataclass

from index.builds import StoredIndex


@dataclass(frozen=True)
class IndexFacts:
    """The filter choices and section names of one build."""

    build_id: str
    seasons: list[str]  # newest first
    topics: list[str]
    section_names: list[str]  # last heading of each section, as the eval set names them

    @classmethod
    def from_stored(cls, stored: StoredIndex) -> IndexFacts:
        """Read the facts from a build (a SearchIndex's .stored, or read_index())."""
        order = {c.season: c.season_order for c in stored.chunks.values()}
        seasons = sorted(order, key=lambda s: (-order[s], s))
        topics = sorted({c.heading_path[0] for c in stored.chunks.values() if c.heading_path})
        names = sorted({s.heading_path[-1] for s in stored.sections if s.heading_path})
        return cls(
            build_id=str(stored.manifest.get("build_id", "")),
            seasons=seasons,
            topics=topics,
            section_names=names,
        )

    def season_choices(self, everything: str | None = None) -> list:
        """Dropdown choices: the seasons newest first, after an "everything" entry if given."""
        head = [(everything, "")] if everything else []
        return [*head, *[(s, s) for s in self.seasons]]

    def topic_choices(self, everything: str = "All topics") -> list:
        """Dropdown choices: an "everything" entry, then the topics."""
        return [(everything, ""), *[(t, t) for t in self.topics]]
