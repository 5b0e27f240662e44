"""The plain records that flow between the stages: Page -> Section -> Chunk -> Hit -> Answer.

Every stage (ingest/fetch, ingest/parse, ingest/chunk, index/, assistant/retrieve,
assistant/answer) takes and returns these and nothing richer, so a stage can be read,
tested and swapped on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Seasons sort by recency: overview material sits below every bulletin.
SEASON_NAMES = ("Spring", "Summer", "Autumn", "Winter")
OVERVIEW = "overview"
# The month each season's bulletin is dated to: Winter is the December one.
SEASON_MONTHS = {"Spring": 3, "Summer": 6, "Autumn": 9, "Winter": 12}
# Month names and abbreviations, lower case, to their numbers.
MONTHS = {
    name: number
    for number, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")],
        start=1,
    )
    for name in names
}  # fmt: skip


def season_order(season: str) -> int:
    """Return a sortable recency number for a season label such as "Autumn 2021".

    "Winter 2021" (the Dec 2021 bulletin) sorts after "Autumn 2021" and before
    "Spring 2022": order = year * 10 + position in the year, e.g. Winter 2021 -> 20214.
    Anything that is not a bulletin season (the overview) gets 0.
    """
    parts = season.split()
    if len(parts) != 2 or parts[0] not in SEASON_NAMES or not parts[1].isdigit():
        return 0
    return int(parts[1]) * 10 + SEASON_NAMES.index(parts[0]) + 1


def season_month(season: str) -> int | None:
    """The month a bulletin season is dated to, as year * 12 + month: "Summer 2021" is June
    2021. None for anything that is not a bulletin season (the overview)."""
    name, _, year = season.partition(" ")
    month = SEASON_MONTHS.get(name)
    return int(year) * 12 + month if month and year.isdigit() else None


@dataclass(frozen=True)
class Page:
    """One fetched document (an HTML page or a PDF) and the public URL it is cited by."""

    source: str  # what the user named: a URL or a file path
    url: str  # the public page URL (canonical), used in citations
    html: str  # the decoded text of an HTML page; "" for binary kinds
    fetched_at: str  # ISO 8601 UTC
    kind: str = "html"  # which parser reads it: a name in ingest/formats.py ("html", "pdf")
    data: bytes = b""  # the raw bytes of a binary kind (a PDF); b"" for HTML
    # HTTP validators, for a conditional re-fetch (If-None-Match / If-Modified-Since).
    etag: str | None = None
    last_modified: str | None = None

    @property
    def content(self) -> bytes:
        """The document as bytes: the PDF itself, or the HTML as UTF-8."""
        return self.data if self.kind != "html" else self.html.encode("utf-8")


@dataclass(frozen=True)
class Block:
    """One unit of content that is never split: a paragraph, a list item, or a table row."""

    kind: str  # "p", "li" (bullet), "ol" (numbered item), "row" (table row)
    text: str
    number: int | None = None  # position for numbered items, so "3." survives chunking

    def render(self) -> str:
        """Return the block as plain text, with its bullet or number in front."""
        if self.kind == "li":
            return f"• {self.text}"
        if self.kind == "ol":
            return f"{self.number or 1}. {self.text}"
        return self.text


@dataclass(frozen=True)
class Section:
    """The content under one heading of a page, with where it sits in the heading tree."""

    id: str
    url: str  # page URL with the heading's #anchor
    page_url: str
    page_title: str
    season: str  # "Autumn 2021" or "overview"
    season_order: int
    heading_path: tuple[str, ...]  # (topic, sub-topic), without the page title or season
    blocks: tuple[Block, ...]

    @property
    def text(self) -> str:
        """The section's content as plain text, one block per line."""
        return "\n".join(block.render() for block in self.blocks)


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of one section: whole blocks that fit the embedding model."""

    id: str  # hash of source URL + heading path + text: unchanged content keeps its id
    section_id: str
    url: str
    page_url: str
    season: str
    season_order: int
    heading_path: tuple[str, ...]
    text: str

    @property
    def context(self) -> str:
        """The chunk's heading context, e.g. "Autumn 2021 > EPS and RTEC > EPS"."""
        return " > ".join((self.season, *self.heading_path))

    @property
    def embed_text(self) -> str:
        """What gets embedded and keyword-indexed: heading context, then the text."""
        return f"{self.context}\n{self.text}"


@dataclass(frozen=True)
class Hit:
    """A chunk returned by retrieval, with its score and rank (1 = best).

    The score is retrieval's fused score; in an answer's `retrieved`, once the reader has
    ordered the passages, it is the score they were ordered by (assistant.decide.order_passages).
    """

    chunk: Chunk
    score: float
    rank: int


@dataclass(frozen=True)
class Citation:
    """A source passage an answer cites as [n], with the sentences the answer took from it."""

    n: int
    season: str
    heading_path: tuple[str, ...]
    url: str
    text: str
    sentences: tuple[str, ...] = ()


# The three answer states: the passages answer the question; an on-topic passage exists
# but something asked for is not in it (the caveat says what); nothing relevant.
ANSWERED, HEDGED, NOT_COVERED = "answered", "hedged", "not_covered"
STATUSES = (ANSWERED, HEDGED, NOT_COVERED)


@dataclass
class Answer:
    """What the assistant says to one question, with its evidence and timings."""

    question: str
    answer: str
    status: str  # one of STATUSES
    as_of: str | None
    caveat: str = ""  # what the archive doesn't say (hedged answers only)
    key_spans: list[tuple[int, int]] = field(default_factory=list)  # [start, end) in answer
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[Hit] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    reason: str = ""  # why it answered, hedged or abstained, for the eval report (not in JSON)

    @property
    def abstained(self) -> bool:
        """True only when the archive has nothing relevant (a hedged answer still answers)."""
        return self.status == NOT_COVERED

    def to_json(self) -> dict:
        """Return the JSON answer exactly as the CLI, the app API and the eval use it."""
        return {
            "question": self.question,
            "answer": self.answer,
            "status": self.status,
            "caveat": self.caveat,
            "abstained": self.abstained,
            "as_of": self.as_of,
            "key_spans": [list(span) for span in self.key_spans],
            "citations": [
                {
                    "n": c.n,
                    "season": c.season,
                    "heading_path": list(c.heading_path),
                    "url": c.url,
                    "text": c.text,
                    "sentences": list(c.sentences),
                }
                for c in self.citations
            ],
            "retrieved": [
                {
                    "rank": h.rank,
                    "score": round(h.score, 6),
                    "season": h.chunk.season,
                    "heading_path": list(h.chunk.heading_path),
                    "url": h.chunk.url,
                    "text": h.chunk.text,
                }
                for h in self.retrieved[:10]
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


def chunk_to_dict(chunk: Chunk) -> dict:
    """Return a chunk as a JSON-ready dict (for the index's chunk table)."""
    data = asdict(chunk)
    data["heading_path"] = list(chunk.heading_path)
    return data


def chunk_from_dict(data: dict) -> Chunk:
    """Rebuild a chunk from chunk_to_dict's output."""
    return Chunk(**{**data, "heading_path": tuple(data["heading_path"])})
