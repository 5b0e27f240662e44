"""Answer kinds: what kind of answer a question asks for, and where a sentence gives one.

"When does MYS become compulsory?" asks for a date; a sentence answers it only if it holds
a date the question does not already contain. The kinds, their question patterns and
their span patterns are data (assistant/data/answer_kinds.json); this module applies them,
and holds the two detectors a pattern cannot express: names (a capitalised name that is
neither a public body nor in the question) and acronym expansions (words whose initials
spell the letters, in any case), with the table of the acronyms the archive spells out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.lexicon import (
    KindRule,
    answer_kinds,
    letters_asked,
    month_pattern,
    public_names,
    stopwords,
)
from sentences import chunk_sentences

if TYPE_CHECKING:
    from index.search import SearchIndex

Span = tuple[int, int]

# Small words an expansion may hold between its initials: "Department for Work and Pensions".
_JOINERS = frozenset({"and", "of", "for", "the", "in", "&", "on", "to"})
_ACRONYM = re.compile(r"\b([A-Z][A-Za-z&]*[A-Z][A-Za-z0-9&]*|[a-z][A-Z]{1,6}[a-z]?)\b")
_WORD = re.compile(r"[A-Za-z][\w’'&-]*")
# "dms stand for?", "what is cis2 short for": one lower-case word asked about, no other
_TYPED_ACRONYM = re.compile(
    r"(?:^\W*|\bwhat (?:does|do|is|are) )"
    r"([a-z][a-z0-9&]{1,9})\s+(?:stands?|is short|short)\s+for\b",
    re.I,
)


@dataclass(frozen=True)
class Asked:
    """The kind of answer a question asks for, and the acronym when it asks for an expansion."""

    rule: KindRule
    acronym: str = ""

    @property
    def kind(self) -> str:
        return self.rule.kind

    @property
    def neutral(self) -> bool:
        return self.rule.neutral

    @property
    def group(self) -> str:
        return self.rule.group


def asked_kind(question: str) -> Asked | None:
    """Return the kind of answer the question asks for, or None (a plain "what is ...")."""
    for rule in answer_kinds():
        if any(p.search(question) for p in rule.asks):
            acronym = question_acronym(question) if rule.kind == "expansion" else ""
            return Asked(rule, acronym)
    acronym = _bare_acronym_question(question)
    if acronym:  # "What is the PRSB?" asks what the letters mean
        rule = next(r for r in answer_kinds() if r.kind == "expansion")
        return Asked(rule, acronym)
    return None


def question_acronym(question: str) -> str:
    """The acronym a question asks about, or in a question typed in lower case ("dms stand
    for?") the word just before "stand for".

    Of several capitalised tokens, the one just after "the abbreviation" or "meant by" is
    asked about, else the one just before "stand for" or "mean", else the last: "What does
    PODAC mean in NHSX's plan?" asks about PODAC, not NHSX.
    """
    found = [m for m in _ACRONYM.finditer(question) if len(m.group(1)) <= 10]
    if found:
        trails_letters, leads_letters = letters_asked()
        leading = leads_letters.search(question)
        after = [m for m in found if leading and m.start() >= leading.end()]
        if after:
            return after[0].group(1)
        trailing = trails_letters.search(question)
        before = [m for m in found if trailing and m.end() <= trailing.start()]
        if before:
            return before[-1].group(1)
        return found[-1].group(1)
    typed = _TYPED_ACRONYM.search(question)
    if not typed or typed.group(1).lower() in stopwords():  # "what does it stand for?"
        return ""
    return typed.group(1).upper()


def known_acronym(question: str, index: SearchIndex) -> str:
    """The first word of the question that the archive spells out somewhere, in any case:
    "fhir - what do the letters mean?" asks about FHIR, which no capital gives away."""
    table = spelled_out_table(index)
    for word in _WORD.findall(question):
        if word.lower() not in stopwords() and acronym_key(word) in table:
            return word.upper()
    return ""


def spelled_out_table(index: SearchIndex) -> dict[str, frozenset[str]]:
    """Each acronym the archive spells out (by acronym_key), and the passages that do: built
    once per index build."""
    return index.derived("spelled_out", _make_spelled_out_table)


def acronym_key(acronym: str) -> str:
    key = acronym.upper()
    return key[:-1] if len(key) > 2 and key.endswith("S") else key  # "CCGs" is "CCG"


def _make_spelled_out_table(index: SearchIndex) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for chunk_id, chunk in index.chunks.items():
        for sentence in chunk_sentences(chunk):
            for match in _ACRONYM.finditer(sentence):
                if expansion_spans(match.group(1), sentence):
                    table.setdefault(acronym_key(match.group(1)), set()).add(chunk_id)
    return {key: frozenset(ids) for key, ids in table.items()}


def _bare_acronym_question(question: str) -> str:
    match = re.fullmatch(
        r"\s*(?:(?i:what|wot|wat)(?i:'s| is| are| was)?\s+)?(?i:an?\s+|the\s+)?"
        r"([A-Z][A-Za-z0-9&]{1,9})\s*\??\s*",
        question,
    )
    if match and sum(ch.isupper() for ch in match.group(1)) >= 2:
        return match.group(1)
    return ""


def find_spans(
    asked: Asked, sentence: str, question: str, known: frozenset[str] = frozenset()
) -> list[Span]:
    """Return the spans of the sentence that give the kind of answer asked for.

    A span the question already contains does not count: "in 2021" in the question is not
    answered by "2021" in the sentence. known holds words that are the topic, not a name
    asked for (the passage's headings, the archive's everyday capitalised terms).
    """
    if asked.neutral:
        return []
    if asked.rule.detector == "names":
        spans = name_spans(sentence, question, known)
    elif asked.rule.detector == "expansion":
        spans = expansion_spans(asked.acronym, sentence)
    else:
        spans = [m.span() for p in asked.rule.spans for m in p.finditer(sentence)]
    asked_text = question.lower()
    return [
        (start, end)
        for start, end in merge_spans([(a, b) for a, b in spans if b > a])
        if sentence[start:end].lower().strip() not in asked_text
    ]


def merge_spans(spans: list[Span]) -> list[Span]:
    """Sort spans and join those that overlap or touch."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def name_spans(sentence: str, question: str, known: frozenset[str] = frozenset()) -> list[Span]:
    """Return runs of capitalised words that name something other than a public body.

    "Which firm ...?" is answered by "an Accenture project team", not by "NHS Digital";
    the first word of a sentence, words the question uses and known topic words are not
    names it asks for.
    """
    asked = {w.lower() for w in _WORD.findall(question)}
    public = public_names()
    months = month_pattern()
    # The spelled-out form of an acronym the question uses names the question's own
    # subject: "Department for Work and Pensions (DWP)" does not answer "which DWP benefits".
    acronyms = {a for a in re.findall(r"\b[A-Z][A-Z&]{1,7}\b", sentence) if a.lower() in asked}
    own = [span for acronym in acronyms for span in expansion_spans(acronym, sentence)]
    spans: list[Span] = []
    for match in _WORD.finditer(sentence):
        if any(a <= match.start() < b for a, b in own):
            continue
        word = match.group(0)
        lowered = re.sub(r"[’']s$", "", word.lower())
        if match.start() == 0 or not word[0].isupper() or len(word) < 2:
            continue
        if lowered in asked or lowered in public or lowered in known or lowered.startswith("nhs"):
            continue
        if months.fullmatch(word) or lowered in stopwords():
            continue
        spans.append(match.span())
    return spans


def expansion_spans(acronym: str, sentence: str) -> list[Span]:
    """Return the words of the sentence whose initials spell the acronym out.

    Case does not matter ("pharmacy, optometry, dentistry, ambulance and community
    services (PODAC)"), joining words are skipped, and digits in the acronym are read
    as themselves ("Care Identity Service 2" for CIS2). When the sentence writes the
    acronym in brackets, the phrase just before it counts if its initials hold at least
    two thirds of the letters, in order: "NHS England and Improvement (NHSE&I)".
    """
    letters = [ch.lower() for ch in acronym if ch.isalnum()]
    if len(letters) < 2:
        return []
    words = list(_WORD.finditer(sentence)) + list(re.finditer(r"\b\d+\b", sentence))
    words.sort(key=lambda m: m.start())
    best: Span | None = None
    for start in range(len(words)):
        matched, i = _spell(letters, words, start)
        if matched == len(letters) and i - start >= 2:  # the acronym alone spells nothing out
            span = (words[start].start(), words[i - 1].end())
            if best is None or span[1] - span[0] < best[1] - best[0]:
                best = span
    if best is not None:
        return [best]
    bracket = re.search(rf"\(\s*{re.escape(acronym)}\s*\)", sentence)
    if bracket:
        before = [w for w in words if w.end() <= bracket.start()][-(len(letters) + 3) :]
        for start in range(len(before)):
            matched, i = _spell(letters, before, start, loose=True)
            if i == len(before) and matched >= max(2, round(len(letters) * 2 / 3)):
                return [(before[start].start(), before[-1].end())]
    return []


def _spell(letters: list[str], words: list, start: int, loose: bool = False) -> tuple[int, int]:
    """Match letters against word initials from words[start]; return (letters matched, end).

    A word may also spell several letters with its own capitals ("NHSmail", "eRD").
    Loose matching lets a word's initial skip a letter (order kept), for brackets.
    """
    k, i = 0, start
    while i < len(words) and k < len(letters):
        word = words[i].group(0)
        lowered = word.lower()
        if lowered[0] == letters[k]:
            k += 1
            # extra capitals inside the word spell further letters: "NHSmail" -> n, h, s
            for ch in word[1:]:
                if k < len(letters) and ch.isupper() and ch.lower() == letters[k]:
                    k += 1
        elif lowered in _JOINERS and i > start:
            pass
        elif loose and i > start:
            if lowered[0] in letters[k:]:  # a letter skipped: "Data Security and Protection
                k = letters.index(lowered[0], k) + 1  # Toolkit" still spells most of DSPTK
        else:
            break
        i += 1
    return k, i
