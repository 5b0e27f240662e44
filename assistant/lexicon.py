"""The word lists and pattern tables the assistant reads questions with, loaded from data files.

Heuristics are data: what counts as a stop word, a generic word, a public body, a nation or
a kind of answer lives in assistant/data/, where a reviewer can read and change it without
reading code. Each loader reads its file once per process.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

# A season name, with an optional year: "autumn 2021", "winter '21", "the spring update".
SEASON_RE = re.compile(
    r"\b(spring|summer|autumn|fall|winter)(?:\s*(?:of\s*)?('?\d{2}|\d{4}))?\b", re.IGNORECASE
)


def _words(name: str) -> frozenset[str]:
    """A word-list file: words separated by whitespace; lines starting with # are comments."""
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.lstrip().startswith("#") for w in line.split())


@cache
def word_endings() -> frozenset[str]:
    """Endings a known word takes and stays a word ("wording" is "word" with "ing")."""
    return _words("word_endings.txt")


@cache
def stopwords() -> frozenset[str]:
    """Words that carry no subject ("the", "please", "bulletin")."""
    return _words("stopwords.txt")


@cache
def generic_focus() -> frozenset[str]:
    """Words that name the kind of answer rather than its subject ("firm", "date")."""
    return _words("generic_focus.txt")


@cache
def focus_stops() -> frozenset[str]:
    """Function words and common verbs that end a focus phrase ("which company *provides*")."""
    return _words("focus_stops.txt")


@cache
def public_names() -> frozenset[str]:
    """Public bodies and institutional words: capitalised, but never the name asked for."""
    return _words("public_names.txt")


@cache
def spellings() -> dict[str, str]:
    """Other spellings of a term that the bulletins use ("wales" -> "welsh")."""
    data = json.loads((DATA_DIR / "spellings.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


@cache
def nations() -> dict[str, tuple[str, ...]]:
    """Each nation a question may name, with the spellings that show a passage covers it."""
    data = json.loads((DATA_DIR / "nations.json").read_text(encoding="utf-8"))
    return {k: tuple(v) for k, v in data.items() if not k.startswith("_")}


@dataclass(frozen=True)
class KindRule:
    """One kind of answer: how a question asks for it and how a sentence gives it."""

    kind: str
    label: str  # for the caveat: "The bulletins don't give <label> for this."
    asks: tuple[re.Pattern, ...]
    spans: tuple[re.Pattern, ...] = ()
    detector: str | None = None  # a function in assistant/kinds.py, when patterns can't tell
    neutral: bool = False  # nothing to look for (a yes/no question)
    group: str = "precise"  # "precise" (a date, a count), "name", "loose" (a reason), "none"
    counted: re.Pattern | None = None  # group 1: what the question counts ("how many *X*")
    named: re.Pattern | None = None  # group 1: what the question asks to be named ("which *X*")


@cache
def _answer_kinds_data() -> dict:
    """assistant/data/answer_kinds.json, read once: the kinds, the months, the letters' words."""
    return json.loads((DATA_DIR / "answer_kinds.json").read_text(encoding="utf-8"))


@cache
def answer_kinds() -> tuple[KindRule, ...]:
    """The kinds of answer, in the order they are tried against a question."""
    data = _answer_kinds_data()
    months = data["months"]
    rules = []
    for entry in data["kinds"]:
        rules.append(
            KindRule(
                kind=entry["kind"],
                label=entry["label"],
                asks=tuple(re.compile(p, re.I) for p in entry["asks"]),
                spans=tuple(
                    re.compile(p.replace("{months}", months), re.I) for p in entry.get("spans", ())
                ),
                detector=entry.get("detector"),
                neutral=bool(entry.get("neutral", False)),
                group=entry.get("group", "precise"),
                counted=re.compile(entry["counted"], re.I) if "counted" in entry else None,
                named=re.compile(entry["named"], re.I) if "named" in entry else None,
            )
        )
    return tuple(rules)


@dataclass(frozen=True)
class UnnamedMentions:
    """How a sentence speaks of things without naming them (unnamed_mentions.json)."""

    mention: re.Pattern  # a determiner, then up to four words (group 1): "*eight* pharmacies"
    naming: re.Pattern  # what introduces the names after all: "four suppliers*:* ..."
    openers: frozenset[str]  # the one-word determiners: "eight", "another"

    def opens(self, word: str) -> bool:
        """True for a word that opens a mention ("five", "12"): it counts, it names nothing."""
        return word.isdigit() or word.lower() in self.openers


@cache
def unnamed_mentions() -> UnnamedMentions:
    """The patterns of unnamed_mentions.json, compiled once."""
    data = json.loads((DATA_DIR / "unnamed_mentions.json").read_text(encoding="utf-8"))
    # Longest first, so "one of the" is tried before "one"; "\\d+" stands for any number.
    determiners = sorted(data["determiners"], key=len, reverse=True)
    number = r"(?<![-\w])(?!(?:19|20)\d\d\b)\d[\d,.]*"  # not "2021 onwards", "COVID-19"
    opening = "|".join(number if d == r"\d+" else re.escape(d) for d in determiners)
    edge = r"\b"
    naming = "|".join(
        edge * f[0].isalnum() + re.escape(f) + edge * f[-1].isalnum()
        for f in data["naming_follows"]
    )
    return UnnamedMentions(
        mention=re.compile(rf"\b(?:{opening})\s+((?:[\w’'&+-]+\s*){{1,4}})", re.I),
        naming=re.compile(naming, re.I),
        openers=frozenset(d for d in determiners if " " not in d and d.isalpha()),
    )


@cache
def letters_asked() -> tuple[re.Pattern, re.Pattern]:
    """The words an acronym question puts just after the letters it asks about ("stand
    for") and those it puts just before them ("the abbreviation"), in that order."""
    data = _answer_kinds_data()
    where = data["letters_asked"]
    return re.compile(where["before"], re.I), re.compile(where["after"], re.I)


@cache
def latest_pattern() -> re.Pattern:
    """Words that ask for the latest position ("newest", "by now", "the later bulletins")."""
    lines = (DATA_DIR / "latest.txt").read_text(encoding="utf-8").splitlines()
    phrases = [p.strip() for p in lines if p.strip() and not p.lstrip().startswith("#")]
    return re.compile(rf"\b(?:{'|'.join(phrases)})(?!\w)", re.I)


@dataclass(frozen=True)
class TenseWords:
    """How a date question's tense and a worded date are read (assistant/data/tense.json)."""

    asks_past: re.Pattern
    parts_of_year: dict[str, int]


@cache
def tense_words() -> TenseWords:
    """The words that make a date question ask about the past, and the months that a
    worded date ("late 2021") stands for."""
    data = json.loads((DATA_DIR / "tense.json").read_text(encoding="utf-8"))
    return TenseWords(
        asks_past=re.compile("|".join(data["asks_past"]), re.I),
        parts_of_year=dict(data["parts_of_year"]),
    )


@cache
def month_pattern() -> re.Pattern:
    """A month name or abbreviation ("May" only capitalised: "may be" is not a date)."""
    data = _answer_kinds_data()
    return re.compile(rf"\b{data['months']}\b", re.I)
