"""Validate the evaluation question set against the CP ITG bulletin archive.

Each item in ``eval/questions/*.jsonl`` is one evaluation question (see the field
description in ``validate``).  The checks here make sure the gold data is
grounded in the archive text exactly as shipped, so that a scorer can rely on
verbatim string matching and on the season/section labels.

Run as a script to validate the default set::

    python3 eval/validate.py

Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = ROOT / "eval" / "questions" / "test.jsonl"
DEFAULT_ARCHIVE = ROOT / "data" / "corpus" / "cp-itg-workstream-updates-archive.txt"

ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "factoid",
        "temporal",
        "list",
        "acronym",
        "multi_passage",
        "followup",
        "compound",  # two or three asks in one question, every one answerable
        "partial",  # a compound question whose asks the archive answers only in part
        "unanswerable",
    }
)
# The passes the set was written in, one voice each ("team" is the original 199 items;
# "second", "third" and "fourth" are later passes in mixed voices by writers who saw none
# of the earlier items).
VOICES: frozenset[str] = frozenset(
    {"team", "terse", "chatty", "compound", "paraphrase", "followup", "second", "third", "fourth"}
)
# What an unanswerable question (or a partial one's uncovered ask) lacks in the archive.
# The first five are on a topic the archive covers (the right answer is hedged: say what
# is missing, quote the closest passage); the last two are off it (not covered).
ON_TOPIC_GAPS: frozenset[str] = frozenset({"detail", "nation", "name", "date", "season"})
OFF_TOPIC_GAPS: frozenset[str] = frozenset({"off_topic_pharmacy", "off_topic"})
GAPS: frozenset[str] = ON_TOPIC_GAPS | OFF_TOPIC_GAPS
MAX_HISTORY = 3  # earlier user turns a follow-up may carry (chains of up to four turns)
ALLOWED_SEASONS: tuple[str, ...] = (
    "Summer 2021",
    "Autumn 2021",
    "Winter 2021",
    "Spring 2022",
    "overview",
)

# Heading lines in the archive that open a bulletin season block; anything above
# the first of them belongs to the page-level "overview".
SEASON_HEADINGS: dict[str, str] = {
    "Summer 2021 updates": "Summer 2021",
    "Autumn 2021 updates": "Autumn 2021",
    "Winter 2021 updates": "Winter 2021",
    "Spring 2022 updates": "Spring 2022",
}

# The page ends with site navigation that is not bulletin content; quotes taken
# from there would reward an assistant for answering from chrome.
CHROME_START = "Return to the Pharmacy IT hub"

REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "question": str,
    "answer_facts": list,
    "type": str,
    "voice": str,
}
OPTIONAL_FIELDS: frozenset[str] = frozenset(
    {
        "gold_quote",
        "season",
        "section",
        "history",
        "gold_quotes",
        "near",
        "note",
        "also_seasons",
        "gap",  # unanswerable and partial: what the archive lacks (GAPS)
        "uncovered",  # partial: the ask the archive does not answer, in the item's words
        "typos",  # true when the question is written with typos on purpose
    }
)

NGRAM_SIZE = 6
MAX_FACTS = 3
MAX_COMPOUND_FACTS = 4
MAX_COMPOUND_QUOTES = 3

_TOKEN_RE = re.compile(r"[a-z0-9]+")
_NUMBERED_RE = re.compile(r"^\d+\.")


def tokenize(text: str) -> list[str]:
    """Split text into lower-case word tokens as the overlap rule defines them."""
    return _TOKEN_RE.findall(text.lower())


def ngrams(tokens: list[str], n: int = NGRAM_SIZE) -> set[tuple[str, ...]]:
    """Return the set of all n-token windows of a token list."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def shared_run(text: str, quotes: Iterable[str]) -> int:
    """Return the longest run of consecutive word tokens the text shares with any quote.

    The paraphrase measure: a question written in a contractor's own words shares at most
    three consecutive words with the passage that answers it ("the NHS App" is three).
    """
    tokens = tokenize(text)
    longest = 0
    for quote in quotes:
        for n in range(longest + 1, len(tokens) + 1):
            if not ngrams(tokens, n) & ngrams(tokenize(quote), n):
                break
            longest = n
    return longest


def is_marker_line(stripped: str) -> bool:
    """Tell whether a stripped line is a bulleted or numbered list item."""
    return stripped.startswith("•") or bool(_NUMBERED_RE.match(stripped))


def is_heading(line: str) -> bool:
    """Tell whether an archive line is a heading rather than list item or paragraph.

    Headings carry no bullet or number, are short, and do not end like a
    sentence; lead-in lines such as "... such as:" are prose, not headings.
    """
    stripped = line.strip()
    if not stripped or is_marker_line(stripped):
        return False
    return len(stripped) <= 100 and not stripped.endswith((".", ":"))


class Archive:
    """The archive split into lines, with each line's season and nearest heading."""

    def __init__(self, text: str) -> None:
        """Index the archive text line by line."""
        self.text = text
        self.lines: list[str] = text.split("\n")
        self.line_season: list[str] = []
        self.line_heading: list[str | None] = []
        self.chrome_from = len(self.lines)
        season = "overview"
        heading: str | None = None
        for index, line in enumerate(self.lines):
            stripped = line.strip()
            if stripped in SEASON_HEADINGS:
                season = SEASON_HEADINGS[stripped]
            if stripped.startswith(CHROME_START) and self.chrome_from == len(self.lines):
                self.chrome_from = index
            self.line_season.append(season)
            # A heading line's own "nearest heading above" is the previous one,
            # so record before updating.
            self.line_heading.append(heading)
            if is_heading(line):
                heading = stripped
        self.grams = ngrams(tokenize(text))

    def occurrences(self, quote: str) -> list[int]:
        """Return indexes of content lines (not site chrome) that contain the quote."""
        return [i for i, line in enumerate(self.lines[: self.chrome_from]) if quote in line]

    def seasons_of(self, quote: str) -> set[str]:
        """Return the seasons whose blocks contain the quote."""
        return {self.line_season[i] for i in self.occurrences(quote)}

    def copied_ngram(self, text: str) -> tuple[str, ...] | None:
        """Return the first 6-token window of text that also occurs in the archive."""
        tokens = tokenize(text)
        for i in range(len(tokens) - NGRAM_SIZE + 1):
            gram = tuple(tokens[i : i + NGRAM_SIZE])
            if gram in self.grams:
                return gram
        return None


def load_items(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON Lines file of question items, skipping blank lines."""
    items: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                items.append(json.loads(raw))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: invalid JSON: {exc}") from exc
    return items


def _is_str_list(value: Any) -> bool:
    """Tell whether value is a list whose members are all strings."""
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_quote(label: str, quote: Any, archive: Archive) -> list[str]:
    """Check that one gold quote is a non-empty verbatim passage from a content line."""
    if not isinstance(quote, str) or not quote.strip():
        return [f"{label}: gold quote must be a non-empty string"]
    problems: list[str] = []
    if "\n" in quote:
        problems.append(f"{label}: gold quote spans lines")
    if is_marker_line(quote.strip()):
        problems.append(f"{label}: gold quote must not include the list marker")
    if quote not in archive.text:
        problems.append(f"{label}: gold quote not verbatim in archive: {quote[:80]!r}")
    elif not archive.occurrences(quote):
        problems.append(f"{label}: gold quote only found in site chrome or across lines")
    return problems


def _check_placement(label: str, item: dict[str, Any], archive: Archive) -> list[str]:
    """Check season, also_seasons and section against where the primary quote sits."""
    problems: list[str] = []
    quote = item.get("gold_quote")
    season = item.get("season")
    also = item.get("also_seasons", [])
    if season not in ALLOWED_SEASONS:
        problems.append(f"{label}: season {season!r} not one of {ALLOWED_SEASONS}")
    if not _is_str_list(also):
        problems.append(f"{label}: also_seasons must be a list of strings")
        also = []
    for extra in also:
        if extra not in ALLOWED_SEASONS:
            problems.append(f"{label}: also_seasons value {extra!r} not allowed")
    if season in also:
        problems.append(f"{label}: also_seasons repeats the main season")
    section = item.get("section")
    if not isinstance(section, str) or not section.strip():
        problems.append(f"{label}: section must be a non-empty string")
    if not isinstance(quote, str) or not archive.occurrences(quote):
        return problems  # quote problems are reported elsewhere
    found = archive.seasons_of(quote)
    declared = {season, *also}
    if found != declared:
        declared_list = sorted(s for s in declared if s)
        problems.append(
            f"{label}: quote occurs in seasons {sorted(found)} but item declares {declared_list}"
        )
    if isinstance(section, str) and season in found:
        headings = {
            archive.line_heading[i]
            for i in archive.occurrences(quote)
            if archive.line_season[i] == season
        }
        if section not in headings:
            problems.append(
                f"{label}: section {section!r} is not the nearest heading above the quote "
                f"in {season} (found {sorted(h for h in headings if h)})"
            )
    return problems


def _check_overlap(label: str, texts: Iterable[str], archive: Archive) -> list[str]:
    """Flag question text that copies 6+ consecutive word tokens from the archive."""
    problems: list[str] = []
    for text in texts:
        gram = archive.copied_ngram(text)
        if gram is not None:
            problems.append(f"{label}: text copies archive words {' '.join(gram)!r}: {text!r}")
    return problems


def _validate_item(item: Any, position: int, archive: Archive) -> list[str]:
    """Return problems with a single item; duplicate ids are checked by the caller."""
    if not isinstance(item, dict):
        return [f"item #{position}: not a JSON object"]
    label = f"item {item.get('id', f'#{position}')!s}"
    problems: list[str] = []
    for field, kind in REQUIRED_FIELDS.items():
        if field not in item:
            problems.append(f"{label}: missing field {field!r}")
        elif not isinstance(item[field], kind):
            problems.append(f"{label}: field {field!r} has wrong type {type(item[field]).__name__}")
    unknown = set(item) - set(REQUIRED_FIELDS) - OPTIONAL_FIELDS
    if unknown:
        problems.append(f"{label}: unknown fields {sorted(unknown)}")
    if problems:
        return problems

    if not item["id"].strip():
        problems.append(f"{label}: empty id")
    if not item["question"].strip():
        problems.append(f"{label}: empty question")
    kind = item["type"]
    if kind not in ALLOWED_TYPES:
        problems.append(f"{label}: type {kind!r} not one of {sorted(ALLOWED_TYPES)}")
    facts = item["answer_facts"]
    if not _is_str_list(facts):
        problems.append(f"{label}: answer_facts must be a list of strings")
        facts = []
    if "note" in item and not isinstance(item["note"], str):
        problems.append(f"{label}: note must be a string")
    if item["voice"] not in VOICES:
        problems.append(f"{label}: voice {item['voice']!r} not one of {sorted(VOICES)}")
    if "typos" in item and not isinstance(item["typos"], bool):
        problems.append(f"{label}: typos must be true or false")
    gap = item.get("gap")
    if kind in ("unanswerable", "partial"):
        allowed = GAPS if kind == "unanswerable" else ON_TOPIC_GAPS
        if gap not in allowed:
            problems.append(f"{label}: {kind} item needs a gap, one of {sorted(allowed)}")
    elif gap is not None:
        problems.append(f"{label}: only unanswerable and partial items may carry a gap")
    uncovered = item.get("uncovered")
    if kind == "partial":
        if not isinstance(uncovered, str) or not uncovered.strip():
            problems.append(f"{label}: partial item needs the 'uncovered' ask")
    elif uncovered is not None:
        problems.append(f"{label}: only partial items may carry 'uncovered'")

    history = item.get("history")
    if kind == "followup":
        if not _is_str_list(history) or not history or not all(h.strip() for h in history):
            problems.append(f"{label}: followup needs a non-empty history of question strings")
            history = []
        elif len(history) > MAX_HISTORY:
            problems.append(f"{label}: history holds {len(history)} turns; at most {MAX_HISTORY}")
    elif history is not None and kind not in ("unanswerable", "compound", "partial"):
        problems.append(
            f"{label}: only followup, compound, partial and unanswerable items carry history"
        )
        history = []
    elif history is not None and (
        not _is_str_list(history) or not history or len(history) > MAX_HISTORY
    ):
        problems.append(f"{label}: history must be 1-{MAX_HISTORY} question strings")
        history = []
    texts = [item["question"], *(history if _is_str_list(history) else [])]
    problems += _check_overlap(label, texts, archive)

    if kind == "unanswerable":
        if facts:
            problems.append(f"{label}: unanswerable item must have no answer_facts")
        for field in ("gold_quote", "season", "section"):
            if item.get(field) is not None:
                problems.append(f"{label}: unanswerable item must have {field} null")
        for field in ("gold_quotes", "also_seasons"):
            if field in item:
                problems.append(f"{label}: unanswerable item must not have {field}")
        near = item.get("near")
        if not isinstance(near, str) or not near.strip():
            problems.append(f"{label}: unanswerable item needs a 'near' topic")
        return problems

    low, high = (2, MAX_COMPOUND_FACTS) if kind == "compound" else (1, MAX_FACTS)
    if not low <= len(facts) <= high:
        problems.append(f"{label}: needs {low}-{high} answer_facts, has {len(facts)}")
    if any(not f.strip() for f in facts):
        problems.append(f"{label}: empty answer fact")
    problems += _check_quote(label, item.get("gold_quote"), archive)
    problems += _check_placement(label, item, archive)

    if kind == "multi_passage" or (kind == "compound" and "gold_quotes" in item):
        quotes = item.get("gold_quotes")
        sizes = (2,) if kind == "multi_passage" else range(2, MAX_COMPOUND_QUOTES + 1)
        if not _is_str_list(quotes) or len(quotes) not in sizes or len(set(quotes)) < len(quotes):
            problems.append(
                f"{label}: {kind} needs gold_quotes with {sizes[-1]} distinct passages"
                if kind == "multi_passage"
                else f"{label}: compound gold_quotes must hold 2-{MAX_COMPOUND_QUOTES} "
                "distinct passages"
            )
            return problems
        for n, quote in enumerate(quotes):
            problems += _check_quote(f"{label} gold_quotes[{n}]", quote, archive)
        if item.get("gold_quote") not in quotes:
            problems.append(f"{label}: gold_quote must be one of gold_quotes")
        for fact in facts:
            if not any(fact in q for q in quotes):
                problems.append(f"{label}: fact {fact!r} not verbatim in any of gold_quotes")
        # The point of the type is needing both passages, so each must carry a fact.
        for n, quote in enumerate(quotes):
            if not any(fact in quote for fact in facts):
                problems.append(f"{label}: gold_quotes[{n}] holds none of the answer_facts")
    else:
        if "gold_quotes" in item:
            problems.append(f"{label}: only multi_passage and compound items carry gold_quotes")
        quote = item.get("gold_quote")
        if isinstance(quote, str):
            for fact in facts:
                if fact not in quote:
                    problems.append(f"{label}: fact {fact!r} not verbatim in gold_quote")
    return problems


def validate(items: list[dict[str, Any]], archive_text: str) -> list[str]:
    """Return human-readable problems with the question items (empty list means valid).

    Checks: required fields and their types; allowed ``type`` and ``season``
    values; unique ids; every gold quote (and each of ``gold_quotes``) verbatim
    inside one content line of the archive; every answer fact verbatim in its
    gold quote (or in one of ``gold_quotes`` for multi_passage items); season,
    ``also_seasons`` and ``section`` matching where the quote sits; followups
    carrying a non-empty history; unanswerable items having no facts or quote;
    and no question or history turn sharing 6+ consecutive word tokens with the
    archive.
    """
    archive = Archive(archive_text)
    problems: list[str] = []
    if not isinstance(items, list):
        return ["items must be a list"]
    ids = Counter(item.get("id") for item in items if isinstance(item, dict))
    for item_id, count in sorted(ids.items(), key=lambda kv: str(kv[0])):
        if count > 1:
            problems.append(f"duplicate id {item_id!r} used {count} times")
    for position, item in enumerate(items, start=1):
        problems += _validate_item(item, position, archive)
    return problems


def gold_texts(item: dict[str, Any]) -> list[str]:
    """Return an item's gold quotes (none for unanswerable items)."""
    return list(item.get("gold_quotes") or ([item["gold_quote"]] if item.get("gold_quote") else []))


def paraphrase_share(items: list[dict[str, Any]], most: int = 3) -> float:
    """Return the share of answerable items sharing at most `most` consecutive words with gold."""
    answerable = [item for item in items if gold_texts(item)]
    if not answerable:
        return 1.0
    kept = sum(shared_run(item["question"], gold_texts(item)) <= most for item in answerable)
    return kept / len(answerable)


def summarize(items: list[dict[str, Any]]) -> str:
    """Describe how many items there are per type, voice, gap and season."""

    def counts(field: str) -> str:
        found = Counter(str(item.get(field)) for item in items if item.get(field) is not None)
        return ", ".join(f"{k}={v}" for k, v in sorted(found.items()))

    return (
        f"{len(items)} items; types: {counts('type')}; voices: {counts('voice')}; "
        f"gaps: {counts('gap')}; seasons: {counts('season')}; "
        f"answerable items sharing <= 3 consecutive words with their gold: "
        f"{paraphrase_share(items):.0%}"
    )


def main(argv: list[str] | None = None) -> int:
    """Validate the default question set, print problems and return an exit code."""
    args = sys.argv[1:] if argv is None else argv
    questions = Path(args[0]) if args else DEFAULT_QUESTIONS
    archive_path = Path(args[1]) if len(args) > 1 else DEFAULT_ARCHIVE
    items = load_items(questions)
    problems = validate(items, archive_path.read_text(encoding="utf-8"))
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s) in {questions}", file=sys.stderr)
        return 1
    print(f"OK: {summarize(items)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
