"""Compose a short extractive answer with [n] citations, or abstain when the archive lacks one.

No generative model: the answer is made of source text. Every sentence of the top
passages is scored against the question (meaning, the question's rarer terms, the kind of
answer asked for, and its passage's retrieval rank). The answer quotes the source items
(list items or paragraphs) holding the best sentences: the best one, and up to two more
scoring within 10% of it; a lead-in line ("... including:") brings its list. Each sentence
is followed by the marker [n] of its passage, and every marker is checked mechanically
against its passage before the answer is returned.

Whether to answer at all is decided by assistant/abstain.py; when it says no, the answer
says plainly that the archive doesn't cover the question and lists the closest sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from assistant.abstain import answer_kinds, decide
from assistant.retrieve import Query, build_tables
from assistant.terms import question_terms, weighted_coverage
from index.search import SearchIndex
from records import ANSWERED, NOT_COVERED, Answer, Citation, Hit
from sentences import line_sentences, strip_marker

NOT_COVERED_TEXT = "The CP ITG bulletin archive doesn't cover this."

# How many retrieved passages the composer reads.
PASSAGES_READ = 6
# Source items quoted: the best, plus those scoring within KEEP_RATIO of it (tuned on
# eval/questions.jsonl: 0.9 keeps 1.7 items on average and finds 92% of the key facts;
# the best item alone finds 81%).
MAX_ITEMS = 3
KEEP_RATIO = 0.9
MAX_LIST_ITEMS = 10
# Sentence score weights: meaning, rare-term coverage, answer kind, passage rank.
W_DENSE, W_TERMS, W_KIND, W_PASSAGE = 0.4, 0.3, 0.2, 0.3


class Composer(Protocol):
    """Turns retrieved passages into an Answer; a generative composer could slot in here."""

    def compose(self, question: str, query: Query, hits: list[Hit], index: SearchIndex) -> Answer:
        """Return the answer to question from hits (or an abstention)."""
        ...


@dataclass
class Candidate:
    """One sentence of a retrieved passage, with the numbers it was scored on."""

    sentence: str
    hit: Hit
    line: int  # which line (source item) of the passage it sits on
    dense: float  # cosine to the question
    terms: float  # share of the question's IDF-weighted terms in the sentence
    kind: float  # 1 if it holds the kind of answer asked for, 0 if not, 0.5 if none asked
    score: float = 0.0

    @property
    def key(self) -> tuple[str, int]:
        return (self.hit.chunk.id, self.line)

    @property
    def line_text(self) -> str:
        return self.hit.chunk.text.split("\n")[self.line]


class ExtractiveComposer:
    """Answers from source text only, with mechanical citation checks."""

    def compose(self, question: str, query: Query, hits: list[Hit], index: SearchIndex) -> Answer:
        """Return the answer to question from hits, or an abstention with related reading."""
        if query.missing_seasons:
            season = query.missing_seasons[0]
            return _abstention(question, hits, f"the archive has no {season} bulletin content")
        if not hits:
            return _abstention(question, hits, "nothing relevant retrieved")
        candidates = score_sentences(query, hits[:PASSAGES_READ], index)
        chosen = choose_items(candidates)
        decision = decide(query.text, candidates, chosen, index, asked=question)
        if decision.abstain:
            return _abstention(question, hits, decision.reason)
        return _render(question, chosen, hits, decision.reason)


def score_sentences(query: Query, hits: list[Hit], index: SearchIndex) -> list[Candidate]:
    """Score every sentence of the passages against the question, best first."""
    _, idf = build_tables(index)
    terms = question_terms(query.text)
    kinds = answer_kinds(query.text)
    top_score = hits[0].score or 1.0
    candidates: list[Candidate] = []
    for hit in hits:
        for line_no, line in enumerate(hit.chunk.text.split("\n")):
            for sentence in line_sentences(line):
                vector = index.sentence_vector(sentence)
                if vector is None:  # not stored (an older build): embed it now
                    vector = index.embed_texts([sentence])[0]
                kind = float(all(has.search(sentence) for _, has in kinds)) if kinds else 0.5
                candidate = Candidate(
                    sentence=sentence,
                    hit=hit,
                    line=line_no,
                    dense=float(vector @ query.vector),
                    terms=weighted_coverage(terms, sentence, idf),
                    kind=kind,
                )
                candidate.score = (
                    W_DENSE * candidate.dense
                    + W_TERMS * candidate.terms
                    + W_KIND * candidate.kind
                    + W_PASSAGE * (hit.score / top_score)
                )
                candidates.append(candidate)
    candidates.sort(key=lambda c: -c.score)
    return candidates


def choose_items(candidates: list[Candidate]) -> list[Candidate]:
    """Pick the source items to quote: the best, and up to two more scoring close to it.

    Each item is represented by its best sentence; a lead-in line ("... including:")
    brings the list items that follow it in the same passage.
    """
    if not candidates:
        return []
    best = candidates[0]
    chosen: list[Candidate] = []
    for candidate in candidates:
        if len(chosen) >= MAX_ITEMS or candidate.score < best.score * KEEP_RATIO:
            break
        if candidate.key not in {c.key for c in chosen}:
            chosen.append(candidate)
    if best.line_text.rstrip().endswith(":"):
        following = [
            c for c in candidates if c.hit is best.hit and c.line > best.line and _is_item(c)
        ]
        for item in sorted(following, key=lambda c: c.line):
            if item.key not in {c.key for c in chosen} and len(chosen) < MAX_LIST_ITEMS:
                chosen.append(item)
    # Source order within a passage, passages by rank: the answer reads like the bulletin.
    chosen.sort(key=lambda c: (c.hit.rank, c.line))
    return chosen


def _is_item(candidate: Candidate) -> bool:
    return candidate.line_text.startswith("• ") or bool(re.match(r"\d+\. ", candidate.line_text))


def _render(question: str, chosen: list[Candidate], hits: list[Hit], reason: str) -> Answer:
    """Write the answer, each sentence followed by [n], with the citations it points at."""
    numbers: dict[str, int] = {}
    used: dict[int, list[str]] = {}
    lines: list[str] = []
    for candidate in chosen:
        chunk_id = candidate.hit.chunk.id
        n = numbers.setdefault(chunk_id, len(numbers) + 1)
        sentences = line_sentences(candidate.line_text)
        used.setdefault(n, []).extend(sentences)
        cited = " ".join(f"{sentence} [{n}]" for sentence in sentences)
        marker = candidate.line_text[
            : len(candidate.line_text) - len(strip_marker(candidate.line_text))
        ]
        lines.append(f"{marker}{cited}" if len(chosen) > 1 else cited)
    citations = []
    for chunk_id, n in numbers.items():
        chunk = next(h.chunk for h in hits if h.chunk.id == chunk_id)
        citations.append(
            Citation(
                n=n,
                season=chunk.season,
                heading_path=chunk.heading_path,
                url=chunk.url,
                text=chunk.text,
                sentences=tuple(used[n]),
            )
        )
    answer_text = "\n".join(lines)
    verify_citations(answer_text, citations)
    newest = max((h.chunk for h in hits if h.chunk.id in numbers), key=lambda c: c.season_order)
    return Answer(
        question=question,
        answer=answer_text,
        status=ANSWERED,
        as_of=newest.season,
        citations=citations,
        retrieved=hits,
        reason=reason,
    )


class CitationError(AssertionError):
    """A [n] marker that does not point at a passage containing its sentence."""


def verify_citations(answer_text: str, citations: list[Citation]) -> None:
    """Check every sentence's [n] points at a passage containing it, and every citation is used."""
    by_n = {c.n: c for c in citations}
    used = set()
    for line in answer_text.split("\n"):
        for match in re.finditer(r"\s*(.+?) \[(\d+)\]", strip_marker(line)):
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
    text = NOT_COVERED_TEXT
    if related:
        text += " The closest sections, as related reading:\n" + "\n".join(related)
    return Answer(
        question=question,
        answer=text,
        status=NOT_COVERED,
        as_of=None,
        retrieved=hits,
        reason=reason,
    )
