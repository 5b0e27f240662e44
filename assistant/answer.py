"""Compose a short extractive answer with [n] citations, or abstain when the archive lacks one.

No generative model: the answer is made of source sentences. Every sentence of the top
passages is scored against the question (meaning, shared key terms, and its passage's
retrieval rank); the best one to three are kept, lists stay lists, and each sentence is
followed by the marker of the passage it came from. Before returning, every marker is
checked mechanically against its passage.

Abstention is the product's guard against a confident wrong answer. Similarity alone
cannot tell "Smartcards" from "Smartcard fees", so the composer also checks that the
question's constraints (a nation, a named system or body) and the kind of answer asked
for (a date, a number, a price, a phone number) are present in what it would say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from assistant.retrieve import Query
from index.search import SearchIndex
from records import Answer, Citation, Hit

NOT_COVERED = "The CP ITG bulletin archive doesn't cover this."

# How many retrieved passages the composer reads, and how many sentences it may keep.
PASSAGES_READ = 6
MAX_SENTENCES = 3
MAX_LIST_ITEMS = 8
# Sentence score = meaning + key terms + passage rank (weights sum to 1).
W_DENSE, W_TERMS, W_PASSAGE = 0.5, 0.3, 0.2
# A second or third sentence must score this close to the best to be kept.
KEEP_RATIO = 0.85
# Abstain below these (calibrated on eval/questions.jsonl: see tests/eval floors).
MIN_DENSE = 0.35
MIN_SCORE = 0.40
MIN_TERM_COVERAGE = 0.34

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing done down during each either few for from
    further get gets got had has have having he her here hers how i if in into is it its itself
    just know let like me more most my no nor not now of off on once only or other our out over
    own please same she should so some such tell than that the their them then there these they
    this those through to too under until up us very was we were what when where which while who
    whom why will with would you your yours any anything something thing things there's what's
    whats is it's its did does say said says mention mentioned mentions update updates
    bulletin bulletins archive cp itg group pharmacy pharmacies community contractor
    contractors ve re ll d s t m""".split()
)
# Words naming a constraint the answer must honour (a nation the archive may not cover).
NATIONS = {
    "scotland": ("scotland", "scottish"),
    "scottish": ("scotland", "scottish"),
    "wales": ("wales", "welsh"),
    "welsh": ("wales", "welsh"),
    "northern ireland": ("northern ireland",),
    "ireland": ("ireland",),
}
# Capitalised words that are not distinctive names: they never force an abstention.
GENERIC_NAMES = frozenset(
    """NHS CP ITG IT I UK PSNC England English CPCF CPE LPC LPCs GP GPs What When Which Who
    Where Why How Is Are Does Do Did Can Could Should Will Would Has Have Was Were Any The
    And Or In On For Of To A An Summer Autumn Winter Spring January February March April May
    June July August September October November December Tell Give List Please My Our We""".split()
)

_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)"
)
# (what the question asks for, how to spot it in a question, how to spot it in an answer)
ANSWER_KINDS: tuple[tuple[str, re.Pattern, re.Pattern], ...] = (
    (
        "a price",
        re.compile(
            r"\b(how much (does|do|will|would|is)|cost|price|fee|fees|charge|pay for|£)\b", re.I
        ),
        re.compile(
            r"£\s?\d|\b\d+(\.\d+)? ?(pounds|p)\b|\bfree of charge\b|\bfunded\b|\bcost", re.I
        ),
    ),
    (
        "a phone number",
        re.compile(r"\b(phone|telephone|helpline number|call them|ring|number to call)\b", re.I),
        re.compile(r"\b0\d{3,4}[\s-]?\d{3}[\s-]?\d{3,4}\b|\b\d{3} ?\d{3} ?\d{4}\b"),
    ),
    (
        "an email address",
        re.compile(r"\b(e-?mail address|email)\b", re.I),
        re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    ),
    (
        "a date",
        re.compile(
            r"\b(when (will|does|did|is|was|do|are|were|must|should|can)|what date|which date|"
            r"deadline|by when|what month|what year|how long until|start date|end date|"
            r"go live|go-live)\b",
            re.I,
        ),
        re.compile(
            rf"\b{_MONTH}\b|\b(19|20)\d\d\b|\b\d{{1,2}}(st|nd|rd|th)\b|\b(spring|summer|autumn|"
            r"winter)\b|\b(from|since|until|by|during|within) (now|then|the end)\b"
            r"|\b(week|month|year)s?\b",
            re.I,
        ),
    ),
    (
        "a number",
        re.compile(r"\b(how many|number of|what percentage|what proportion|how much of)\b", re.I),
        re.compile(
            r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundred|"
            r"thousand|million|billion|half|quarter|all|none|several|many)\b",
            re.I,
        ),
    ),
)


class Composer(Protocol):
    """Turns retrieved passages into an Answer; a generative composer could slot in here."""

    def compose(self, question: str, query: Query, hits: list[Hit], index: SearchIndex) -> Answer:
        """Return the answer to question from hits (or an abstention)."""
        ...


@dataclass
class _Candidate:
    sentence: str
    hit: Hit
    line: int  # which line (block) of the passage it sits on
    is_item: bool  # a list item in the source
    dense: float
    terms: float
    score: float = 0.0


@dataclass
class Decision:
    """Why the composer answered or abstained: the numbers behind the choice."""

    abstain: bool
    reason: str
    best_dense: float = 0.0
    best_score: float = 0.0
    coverage: float = 0.0
    missing: list[str] = field(default_factory=list)


class ExtractiveComposer:
    """Answers from source sentences only, with mechanical citation checks."""

    def compose(self, question: str, query: Query, hits: list[Hit], index: SearchIndex) -> Answer:
        """Return the answer to question from hits, or an abstention with related reading."""
        if not hits:
            return _abstention(question, hits, "nothing relevant retrieved")
        candidates = score_sentences(query, hits[:PASSAGES_READ], index)
        chosen = _choose(candidates, query.text)
        decision = decide(query.text, candidates, chosen)
        if decision.abstain:
            return _abstention(question, hits, decision.reason)
        return _render(question, chosen, hits)


def question_terms(text: str) -> list[str]:
    """Return the question's content words, lower-cased, without stop words."""
    words = re.findall(r"[a-z0-9£][a-z0-9&+/'’.-]*[a-z0-9]|[a-z0-9]", text.lower())
    return [w for w in (w.strip(".'’") for w in words) if w and w not in STOPWORDS]


def _term_in(term: str, haystack_words: set[str], haystack: str) -> bool:
    """True when a term (or its stem, e.g. "suppliers"/"supplier") occurs in the text."""
    if term in haystack_words or (len(term) > 3 and term in haystack):
        return True
    stem = re.sub(r"(ing|ed|es|s)$", "", term) if len(term) > 4 else term
    return len(stem) >= 3 and any(w.startswith(stem) for w in haystack_words)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9£]+", text.lower()))


def score_sentences(query: Query, hits: list[Hit], index: SearchIndex) -> list[_Candidate]:
    """Score every sentence of the passages against the question, best first."""
    terms = question_terms(query.text)
    top_score = hits[0].score or 1.0
    candidates: list[_Candidate] = []
    missing_vectors: list[int] = []
    for hit in hits:
        context = hit.chunk.context.lower()
        for line_no, line in enumerate(hit.chunk.text.split("\n")):
            is_item = line.startswith("• ") or bool(re.match(r"\d+\. ", line))
            for sentence in chunk_sentences_of_line(line):
                haystack = sentence.lower() + " " + context
                words = _words(haystack)
                covered = sum(_term_in(t, words, haystack) for t in terms)
                vector = index.sentence_vector(sentence)
                dense = float(vector @ query.vector) if vector is not None else np.nan
                if vector is None:
                    missing_vectors.append(len(candidates))
                candidates.append(
                    _Candidate(
                        sentence=sentence,
                        hit=hit,
                        line=line_no,
                        is_item=is_item,
                        dense=dense,
                        terms=covered / len(terms) if terms else 0.0,
                    )
                )
    if missing_vectors:  # sentences from an index built before sentence vectors existed
        vectors = index.embed_texts([candidates[i].sentence for i in missing_vectors])
        for i, vector in zip(missing_vectors, vectors, strict=True):
            candidates[i].dense = float(vector @ query.vector)
    for c in candidates:
        c.score = W_DENSE * c.dense + W_TERMS * c.terms + W_PASSAGE * (c.hit.score / top_score)
    candidates.sort(key=lambda c: -c.score)
    return candidates


def chunk_sentences_of_line(line: str) -> list[str]:
    """The sentences of one passage line, list marker removed (as the index stored them)."""
    from index.store import strip_marker
    from ingest.chunk import split_sentences

    return split_sentences(strip_marker(line))


def _choose(candidates: list[_Candidate], question: str) -> list[_Candidate]:
    """Pick the best sentence and up to two more that add to it; expand lists."""
    if not candidates:
        return []
    best = candidates[0]
    chosen = [best]
    # An intro line ("... including:") or a list question: bring the list items along.
    lines = best.hit.chunk.text.split("\n")
    if best.sentence.endswith(":") and best.line + 1 < len(lines):
        items = [c for c in candidates if c.hit is best.hit and c.line > best.line and c.is_item]
        items.sort(key=lambda c: (c.line, 0))
        return chosen + _first_per_line(items)[:MAX_LIST_ITEMS]
    if _is_list_question(question) and best.is_item:
        siblings = [c for c in candidates if c.hit is best.hit and c.is_item and c is not best]
        strong = [c for c in siblings if c.score >= best.score * 0.8]
        if len(strong) >= 1:
            items = sorted([best, *siblings], key=lambda c: c.line)
            return _first_per_line(items)[:MAX_LIST_ITEMS]
    for candidate in candidates[1:]:
        if len(chosen) >= MAX_SENTENCES:
            break
        if candidate.score < best.score * KEEP_RATIO:
            break
        same_passage_next = candidate.hit is best.hit and candidate.line == best.line
        if candidate.sentence in {c.sentence for c in chosen}:
            continue
        if same_passage_next or candidate.terms > best.terms:
            chosen.append(candidate)
    # Keep the source's order within a passage so the answer reads naturally.
    chosen.sort(key=lambda c: (c.hit.rank, c.line))
    return chosen


def _first_per_line(items: list[_Candidate]) -> list[_Candidate]:
    """One entry per list line (the item's first sentence stands for the whole item)."""
    seen: set[tuple[str, int]] = set()
    kept = []
    for item in items:
        key = (item.hit.chunk.id, item.line)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def _is_list_question(question: str) -> bool:
    return bool(
        re.search(
            r"\b(which|what are|list|name the|what were|what kinds|what types|who are|steps|"
            r"ways|priorities|areas|features|suppliers|systems)\b",
            question,
            re.I,
        )
    )


def decide(question: str, candidates: list[_Candidate], chosen: list[_Candidate]) -> Decision:
    """Decide whether the chosen sentences answer the question, or the archive lacks it."""
    if not chosen:
        return Decision(True, "no sentence to answer from")
    best = chosen[0] if chosen[0] is candidates[0] else candidates[0]
    passage_text = best.hit.chunk.text + " " + best.hit.chunk.context
    terms = question_terms(question)
    words = _words(passage_text)
    covered = [t for t in terms if _term_in(t, words, passage_text.lower())]
    coverage = len(covered) / len(terms) if terms else 1.0
    decision = Decision(
        False, "answered", best.dense, best.score, coverage, [t for t in terms if t not in covered]
    )

    lowered = question.lower()
    for nation, spellings in NATIONS.items():
        if re.search(rf"\b{nation}\b", lowered) and not any(
            s in passage_text.lower() for s in spellings
        ):
            return _abstained(decision, f"the archive's passage does not cover {nation.title()}")
    for name in _distinctive_names(question):
        if name.lower() not in passage_text.lower():
            return _abstained(decision, f"nothing about {name} in the closest passage")
    answer_text = " ".join(c.sentence for c in chosen)
    for kind, asks, has in ANSWER_KINDS:
        if asks.search(question) and not has.search(answer_text):
            return _abstained(decision, f"the question asks for {kind} and the source gives none")
    if best.dense < MIN_DENSE:
        return _abstained(decision, f"closest sentence too far in meaning ({best.dense:.2f})")
    if best.score < MIN_SCORE:
        return _abstained(decision, f"weak match overall ({best.score:.2f})")
    if coverage < MIN_TERM_COVERAGE:
        return _abstained(decision, f"key terms missing: {', '.join(decision.missing[:5])}")
    return decision


def _abstained(decision: Decision, reason: str) -> Decision:
    decision.abstain = True
    decision.reason = reason
    return decision


def _distinctive_names(question: str) -> list[str]:
    """Capitalised names and acronyms in the question that are not generic words.

    "Does EMIS support ...?" -> ["EMIS"]: if no retrieved passage names EMIS, any answer
    would be about something else.
    """
    names = []
    for match in re.finditer(r"\b([A-Z][A-Za-z0-9&+-]*[A-Za-z0-9]|[A-Z]{2,})\b", question):
        word = match.group(1)
        at_start = match.start() == 0 or question[: match.start()].rstrip()[-1:] in ".?!\"'"
        if word in GENERIC_NAMES or (at_start and not word.isupper()):
            continue
        if word.isupper() or any(ch.isdigit() for ch in word) or not at_start:
            names.append(word)
    return names


def _render(question: str, chosen: list[_Candidate], hits: list[Hit]) -> Answer:
    """Write the answer with [n] markers and the citations they point at, checked."""
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    used: dict[int, list[str]] = {}
    lines: list[str] = []
    for candidate in chosen:
        chunk = candidate.hit.chunk
        if chunk.id not in numbers:
            numbers[chunk.id] = len(numbers) + 1
        n = numbers[chunk.id]
        used.setdefault(n, []).append(candidate.sentence)
        text = f"{candidate.sentence} [{n}]"
        lines.append(f"• {text}" if candidate.is_item and len(chosen) > 1 else text)
    for chunk_id, n in numbers.items():
        hit = next(h for h in hits if h.chunk.id == chunk_id)
        citations.append(
            Citation(
                n=n,
                season=hit.chunk.season,
                heading_path=hit.chunk.heading_path,
                url=hit.chunk.url,
                text=hit.chunk.text,
                sentences=tuple(used[n]),
            )
        )
    is_list = any(line.startswith("• ") for line in lines)
    answer_text = "\n".join(lines) if is_list else " ".join(lines)
    verify_citations(answer_text, citations)
    as_of = max(citations, key=lambda c: _season_rank(c.season, hits)).season
    return Answer(
        question=question, answer=answer_text, abstained=False, as_of=as_of, citations=citations,
        retrieved=hits, reason="answered",
    )  # fmt: skip


def _season_rank(season: str, hits: list[Hit]) -> int:
    return next(h.chunk.season_order for h in hits if h.chunk.season == season)


class CitationError(AssertionError):
    """A [n] marker that does not point at a passage containing its sentence."""


def verify_citations(answer_text: str, citations: list[Citation]) -> None:
    """Check every [n] follows a sentence found in passage n, and every citation is used."""
    by_n = {c.n: c for c in citations}
    used = set()
    for match in re.finditer(r"(?:^|\n|(?<=\] ))(?:• )?(.+?) \[(\d+)\]", answer_text):
        sentence, n = match.group(1), int(match.group(2))
        citation = by_n.get(n)
        if citation is None or sentence not in citation.text:
            raise CitationError(f"[{n}] does not support: {sentence[:80]}")
        used.add(n)
    if used != set(by_n):
        raise CitationError(f"citations listed but not used: {sorted(set(by_n) - used)}")


def _abstention(question: str, hits: list[Hit], reason: str) -> Answer:
    """Say plainly that the archive has no answer, and offer the closest sections."""
    related = []
    seen = set()
    for hit in hits:
        label = " > ".join((hit.chunk.season, *hit.chunk.heading_path))
        if label not in seen:
            seen.add(label)
            related.append(f"• {label}")
        if len(related) == 3:
            break
    text = NOT_COVERED
    if related:
        text += " The closest sections, as related reading:\n" + "\n".join(related)
    return Answer(
        question=question, answer=text, abstained=True, as_of=None, retrieved=hits, reason=reason
    )
