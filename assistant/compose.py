"""Write the answer from the decision: quoted source text with [n] citations, and its key spans.

No generative model: the answer is made of source text. An answered question quotes the
chosen source items, each sentence followed by the [n] of its passage; a hedged one first
says what the archive doesn't give, then quotes the closest passage; a question the archive
doesn't cover says so and lists related reading (distinct sections, newest first). The
words that answer (the date, the count, the names the reader found) are returned as
key_spans, offsets into the answer text. A compound question's parts are written in turn,
each cited on its own, and the answer says which parts the archive does not cover.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.citations import Numbering, verify_citations
from assistant.decide import Decision, caveat_templates
from assistant.kinds import Span, merge_spans
from assistant.query import Query
from records import ANSWERED, HEDGED, NOT_COVERED, Answer, Hit
from sentences import line_sentences, strip_marker

NOT_COVERED_TEXT = "The CP ITG bulletin archive doesn't cover this."
RELATED_SHOWN = 3


@dataclass
class Part:
    """One ask of the question, with what was retrieved for it and what was decided."""

    query: Query
    hits: list[Hit]
    decision: Decision


class _Writer:
    """Accumulates answer lines, tracking each line's offset so key spans can be placed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.spans: list[Span] = []
        self.quoted: set[tuple[str, int]] = set()
        self.numbering = Numbering()

    @property
    def offset(self) -> int:
        return sum(len(line) + 1 for line in self.lines)

    def say(self, text: str) -> None:
        self.lines.append(text)

    def quote(self, decision: Decision, listed: bool) -> None:
        """Quote the decision's chosen items, each sentence followed by its [n]."""
        for reading in decision.chosen:
            if reading.key in self.quoted:
                continue  # another part already quoted this item
            self.quoted.add(reading.key)
            line = reading.line_text
            sentences = line_sentences(line)
            n = self.numbering.number(reading.hit.chunk, sentences)
            marker = line[: len(line) - len(strip_marker(line))] if listed else ""
            start = self.offset + len(marker)
            pieces = []
            for sentence in sentences:
                for a, b in decision.spans.get(sentence, []):
                    self.spans.append((start + a, start + b))
                pieces.append(f"{sentence} [{n}]")
                start += len(pieces[-1]) + 1
            self.lines.append(marker + " ".join(pieces))

    def text(self) -> str:
        return "\n".join(self.lines)


def compose(question: str, parts: list[Part], whole_hits: list[Hit]) -> Answer:
    """Return the Answer for the question from its decided parts."""
    say = caveat_templates()
    statuses = [p.decision.status for p in parts]
    if all(s == NOT_COVERED for s in statuses):
        first = parts[0].decision
        return not_covered(question, whole_hits, first.reason)
    writer = _Writer()
    caveats = []
    for part in parts:
        decision = part.decision
        listed = sum(1 for _ in decision.chosen) > 1 or len(parts) > 1
        if decision.status == NOT_COVERED:
            caveat = say["part"].format(part=part.query.asked.strip())
            caveats.append(caveat)
            writer.say(caveat)
            continue
        if decision.status == HEDGED and decision.caveat not in caveats:
            caveats.append(decision.caveat)
            writer.say(f"{decision.caveat} {say['closest']}")
        writer.quote(decision, listed)
    answer_text = writer.text()
    citations = writer.numbering.citations()
    verify_citations(answer_text, citations)
    status = ANSWERED if all(s == ANSWERED for s in statuses) else HEDGED
    newest = max(writer.numbering.chunks(), key=lambda c: c.season_order)
    return Answer(
        question=question,
        answer=answer_text,
        status=status,
        as_of=newest.season,
        caveat=" ".join(caveats) if status == HEDGED else "",
        key_spans=merge_spans(writer.spans),
        citations=citations,
        retrieved=whole_hits,
        reason=" | ".join(p.decision.reason for p in parts),
    )


def not_covered(question: str, hits: list[Hit], reason: str) -> Answer:
    """Say plainly that the archive has no answer, and offer distinct related sections."""
    related = related_reading(hits)
    text = NOT_COVERED_TEXT
    if related:
        text += " The closest sections, as related reading:\n" + "\n".join(
            f"• {label}" for label in related
        )
    return Answer(
        question=question,
        answer=text,
        status=NOT_COVERED,
        as_of=None,
        retrieved=hits,
        reason=reason,
    )


def related_reading(hits: list[Hit], shown: int = RELATED_SHOWN) -> list[str]:
    """The closest distinct sections, newest first: one entry per heading, its newest copy.

    Bulletins repeat standing items, so the same heading from three seasons would otherwise
    fill the list.
    """
    newest: dict[tuple[str, ...], Hit] = {}
    order: list[tuple[str, ...]] = []
    for hit in hits:
        key = hit.chunk.heading_path
        if key not in newest:
            if len(order) == shown:
                continue
            order.append(key)
            newest[key] = hit
        elif hit.chunk.season_order > newest[key].chunk.season_order:
            newest[key] = hit
    picked = sorted((newest[k] for k in order), key=lambda h: -h.chunk.season_order)
    return [" > ".join((h.chunk.season, *h.chunk.heading_path)) for h in picked]
