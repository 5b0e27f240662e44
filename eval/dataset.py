"""Load an evaluation set: read the JSONL, validate it against the archive, return typed items.

The project's own set is split three ways (eval/split.py): train (models are fitted on
it), dev (thresholds are chosen on it) and test (sealed: only reported on). Fitting code
loads its data through load_for_fitting(), which refuses the test split by name and by
checksum, so no tuning can read it by accident. Any other set of the same shape (a
secretariat's own, say) goes through the same full validation, so every gold quote is
verbatim in the archive and every season label can be trusted by the scorer.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from eval.validate import ALLOWED_TYPES, DEFAULT_ARCHIVE, OFF_TOPIC_GAPS, ROOT, Archive
from eval.validate import load_items as _load_items
from eval.validate import validate as _validate

SPLITS_DIR = ROOT / "eval" / "questions"
SPLITS = ("train", "dev", "test")
SPLIT_PATHS = {name: SPLITS_DIR / f"{name}.jsonl" for name in SPLITS}
SEALED_FILE = SPLITS_DIR / "SEALED"
DEFAULT_SET = SPLIT_PATHS["test"]  # what `python -m eval` reports on
TYPES: tuple[str, ...] = tuple(sorted(ALLOWED_TYPES))
PROBLEMS_SHOWN = 3  # the error line lists this many problems, then "and N more"


class DatasetError(ValueError):
    """The set cannot be evaluated as given (unreadable, empty, or failing validation)."""


class SealedSplitError(DatasetError):
    """Fitting code asked for the sealed test split."""


@dataclass(frozen=True)
class Gold:
    """A passage the answer must come from, and the seasons whose copy of it counts."""

    quote: str
    seasons: frozenset[str]


@dataclass(frozen=True)
class Item:
    """One evaluation question with its expected answer, as the scorer needs it."""

    id: str
    type: str
    question: str
    history: tuple[str, ...]
    answer_facts: tuple[str, ...]
    golds: tuple[Gold, ...]  # one; two for multi_passage (either counts as a hit)
    season: str | None
    section: str | None
    note: str = ""
    voice: str = ""
    gap: str | None = None  # unanswerable and partial: what the archive lacks

    @property
    def answerable(self) -> bool:
        """True when the archive answers every ask (partial items answer only some)."""
        return self.type not in ("unanswerable", "partial")

    @property
    def on_topic(self) -> bool:
        """True unless the question is off the archive's topics (then not_covered is right)."""
        return self.gap not in OFF_TOPIC_GAPS


def load_set(path: str | Path = DEFAULT_SET, archive: str | Path = DEFAULT_ARCHIVE) -> list[Item]:
    """Read and fully validate a question set; raise DatasetError with one line if it fails."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"cannot read {path}: no such file")
    try:
        raw = _load_items(path)
    except ValueError as error:  # invalid JSON; its message already names file and line
        raise DatasetError(str(error).splitlines()[0]) from error
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path} is not UTF-8 text") from error
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error.strerror or error}") from error
    if not raw:
        raise DatasetError(f"{path} holds no questions")
    try:
        archive_text = Path(archive).read_text(encoding="utf-8")
    except OSError as error:
        raise DatasetError(f"cannot read the archive {archive}: {error.strerror}") from error
    problems = _validate(raw, archive_text)
    if problems:
        shown = "; ".join(problems[:PROBLEMS_SHOWN])
        hidden = len(problems) - PROBLEMS_SHOWN
        more = f"; and {hidden} more" if hidden > 0 else ""
        raise DatasetError(
            f"{path} is not a valid question set ({len(problems)} problem(s)): {shown}{more}"
        )
    located = Archive(archive_text)
    return [_to_item(entry, located) for entry in raw]


def _to_item(entry: dict, archive: Archive) -> Item:
    """Turn one validated JSON item into an Item with its gold passages and their seasons."""
    declared = frozenset(s for s in (entry.get("season"), *entry.get("also_seasons", ())) if s)
    quotes = entry.get("gold_quotes") or ([entry["gold_quote"]] if entry.get("gold_quote") else [])
    golds = tuple(
        # The primary quote's seasons are the item's own declaration; the second quote of
        # a multi_passage item declares none, so its seasons are where the archive has it.
        Gold(quote, declared if quote == entry.get("gold_quote") else _seasons(quote, archive))
        for quote in quotes
    )
    return Item(
        id=entry["id"],
        type=entry["type"],
        question=entry["question"],
        history=tuple(entry.get("history") or ()),
        answer_facts=tuple(entry["answer_facts"]),
        golds=golds,
        season=entry.get("season"),
        section=entry.get("section"),
        note=entry.get("note", ""),
        voice=entry.get("voice", ""),
        gap=entry.get("gap"),
    )


def sealed_checksum() -> str:
    """The pinned SHA-256 of the test split (eval/questions/SEALED)."""
    return SEALED_FILE.read_text(encoding="utf-8").split()[0]


def checksum(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_split(name: str) -> list[Item]:
    """Read one split of the project's set ("train", "dev" or "test")."""
    if name not in SPLIT_PATHS:
        raise DatasetError(f"unknown split {name!r}; the splits are: {', '.join(SPLITS)}")
    return load_set(SPLIT_PATHS[name])


def load_for_fitting(name_or_path: str | Path) -> list[Item]:
    """Read a split or file to fit or tune on; refuse the sealed test split.

    The test split is refused by name, by path and by content: a copy of it under another
    name has the same checksum.
    """
    path = SPLIT_PATHS.get(str(name_or_path), Path(name_or_path))
    if str(name_or_path) == "test" or path.resolve() == SPLIT_PATHS["test"].resolve():
        raise SealedSplitError("the test split is sealed: fit on train, choose on dev")
    if path.is_file() and checksum(path) == sealed_checksum():
        raise SealedSplitError(f"{path} is the sealed test split: fit on train, choose on dev")
    return load_set(path)


def _seasons(quote: str, archive: Archive) -> frozenset[str]:
    return frozenset(archive.seasons_of(quote))


def select(
    items: list[Item], types: list[str] | None = None, limit: int | None = None
) -> list[Item]:
    """Keep the items of the given types, then at most limit of them, taken type by type.

    The limit takes items round-robin across types (in file order within a type), so a
    quick `--limit 12` run still covers every type rather than the first 12 factoids.
    """
    unknown = sorted(set(types or ()) - ALLOWED_TYPES)
    if unknown:
        raise DatasetError(f"unknown type {unknown[0]!r}; the types are: {', '.join(TYPES)}")
    chosen = [item for item in items if not types or item.type in types]
    if limit is None or limit >= len(chosen):
        return chosen
    queues: dict[str, list[Item]] = defaultdict(list)
    for item in chosen:
        queues[item.type].append(item)
    picked: set[str] = set()
    while len(picked) < limit:
        for queue in queues.values():
            if queue and len(picked) < limit:
                picked.add(queue.pop(0).id)
    return [item for item in chosen if item.id in picked]
