"""Read the question against every sentence of the top passages: named features with evidence.

Each feature reads the question and the sentence together and returns a value with the
evidence for it, so a reviewer can see why an answer was chosen ("jabs ~ vaccinations",
"date: 1st October 2021"). The reader model (fitted on the train split by `make
calibrate`, a logistic regression) combines them into the chance that the sentence
answers the question; the answer quotes the items holding the best sentences, and the
decision (assistant/decide.py) reads the same features of what would be quoted.

Features of one sentence:
- meaning: cosine between the question and the sentence (MiniLM, both normalised);
- passage, rank: its passage's retrieval score (as a share of the best) and 1/rank;
- terms_exact: share of the question's IDF-weighted terms its item and headings hold;
- terms_soft: the same, matching paraphrases too (assistant/match.py);
- focus: how well the item covers the worst-covered focus word ("which *robotic* ...");
- heading: how well the passage's headings alone cover the question;
- <group>_found / <group>_missing: the question asks for a kind of answer and the sentence
  holds one that the question does not already contain, or not; kept apart by how exact the
  kind is: precise (a date, a count, a price, an expansion ...), name (a name, a place),
  loose (a reason, a procedure);
- nation_found / nation_missing: the question names a nation, and the item does or doesn't;
- pinned_missing: the share of figures the question pins down ("in August 2021") absent.
Beside them, for a question that names what it counts ("how many *referrals*"), how
closely the words after each number name it (counted_feature): the span model
(assistant/spans.py) weighs that, not the sentence model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.kinds import Span, find_spans
from assistant.lexicon import nations, unnamed_mentions
from assistant.match import WordMatch, coverage, match_words, word_vectors
from assistant.query import Query
from assistant.retrieve import build_tables
from assistant.spans import shared_words
from assistant.terms import weighted_coverage
from index.search import SearchIndex
from records import Hit
from sentences import line_sentences
from settings import AnswerSettings

SENTENCE_FEATURES = (
    "meaning",
    "passage",
    "rank",
    "terms_exact",
    "terms_soft",
    "focus",
    "heading",
    "precise_found",
    "precise_missing",
    "name_found",
    "name_missing",
    "loose_found",
    "loose_missing",
    "nation_found",
    "nation_missing",
    "pinned_missing",
    "latest_newest",
)


@dataclass
class Reading:
    """One sentence of a retrieved passage, read against the question."""

    sentence: str
    hit: Hit
    line: int  # which line (source item) of the passage it sits on
    features: dict[str, float]
    evidence: dict[str, str]
    kind_spans: list[Span] = field(default_factory=list)  # answer-kind spans in the sentence
    shared: frozenset[str] = frozenset()  # its item's words that the question's words match
    score: float = 0.0  # the reader model's chance that this sentence answers the question
    order: float = 0.0  # the order model's score: which of the question's sentences answers best
    answer_spans: list = field(default_factory=list)  # spans.ScoredSpan, once scored
    # For a question that names what it counts: how closely the words after each count span
    # name the same thing (1.0 for "five pharmacies" to "how many pharmacies").
    counted_like: dict[Span, float] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        """The source item: (chunk id, line number)."""
        return (self.hit.chunk.id, self.line)

    @property
    def line_text(self) -> str:
        return self.hit.chunk.text.split("\n")[self.line]


@dataclass(frozen=True)
class LineRead:
    """What is read once per source item: term matches over the item and its headings."""

    matches: list[WordMatch]
    focus: list[WordMatch]
    shared: frozenset[str]  # the item's words the asking words match closely
    exact: float
    soft: float
    heading: float


def read(
    query: Query, hits: list[Hit], index: SearchIndex, tuning: AnswerSettings
) -> list[Reading]:
    """Read every sentence of the top passages against the query, best-scored first."""
    if not hits:
        return []
    _, idf = build_tables(index)
    vectors = word_vectors(index)
    terms = list(query.terms)
    weights = term_weights(terms, idf)
    top_score = hits[0].score or 1.0
    readings: list[Reading] = []
    known_names = topic_names(index, tuning.topic_name_chunks)
    read_hits = hits[: tuning.passages_read]
    newest = newest_on_heading(read_hits) if query.wants_latest else set()
    for hit in read_hits:
        context = " ".join(hit.chunk.heading_path)
        heading_matches = match_words(terms, context, vectors)
        for line_no, line in enumerate(hit.chunk.text.split("\n")):
            sentences = line_sentences(line)
            if not sentences:
                continue
            item = read_line(
                query, line, context, weights, idf, vectors, heading_matches, tuning.shared_from
            )
            for sentence in sentences:
                readings.append(
                    read_sentence(
                        query,
                        sentence,
                        hit,
                        line_no,
                        line,
                        item,
                        top_score,
                        index,
                        known_names,
                        latest=hit.chunk.id in newest,
                    )
                )
    return readings


def newest_on_heading(hits: list[Hit]) -> set[str]:
    """The ids of the passages from the newest bulletin among those read on their heading:
    what a question asking for the latest position wants (the latest_newest feature)."""

    def heading(hit: Hit) -> str:
        return hit.chunk.heading_path[-1] if hit.chunk.heading_path else ""

    newest: dict[str, int] = {}
    for hit in hits:
        newest[heading(hit)] = max(newest.get(heading(hit), 0), hit.chunk.season_order)
    return {hit.chunk.id for hit in hits if hit.chunk.season_order == newest[heading(hit)]}


def term_weights(terms: list[str], idf: dict[str, float]) -> list[float]:
    """Each term's IDF: a rare word ("FP34C") matters more than a common one ("system")."""
    default = max(idf.values(), default=1.0)  # a word the index never saw is as rare as any
    return [idf.get(t, default) for t in terms]


def read_line(
    query: Query,
    line: str,
    context: str,
    weights: list[float],
    idf: dict[str, float],
    vectors,
    heading_matches: list[WordMatch],
    shared_from: float,
) -> LineRead:
    """Match the question's terms and focus words against one item and its headings."""
    text = f"{context} {line}"
    matches = match_words(list(query.terms), text, vectors)
    asking = match_words(list(query.ask_terms), line, vectors) if query.ask_terms else matches
    return LineRead(
        matches=matches,
        focus=match_words(list(query.focus), text, vectors),
        shared=frozenset(shared_words(asking, shared_from)),
        exact=weighted_coverage(list(query.terms), text, idf),
        soft=coverage(matches, weights),
        heading=coverage(heading_matches, weights),
    )


def read_sentence(
    query: Query,
    sentence: str,
    hit: Hit,
    line_no: int,
    line: str,
    item: LineRead,
    top_score: float,
    index: SearchIndex,
    topic_words: frozenset[str],
    latest: bool = False,
) -> Reading:
    """Compute the named features of one sentence, with the evidence for each; latest says
    the question asks for the latest position and the passage is the newest on its heading."""
    vector = index.sentence_vector(sentence)
    if vector is None:  # not stored (an older build): embed it now
        vector = index.embed_texts([sentence])[0]
    features: dict[str, float] = {
        "meaning": float(vector @ query.vector),
        "passage": float(hit.score / top_score) if top_score else 0.0,
        "rank": 1.0 / hit.rank,
        "terms_exact": item.exact,
        "terms_soft": item.soft,
        "focus": min((m.score for m in item.focus), default=1.0),
        "heading": item.heading,
        "latest_newest": float(latest),
    }
    evidence = {
        "terms_soft": matches_evidence(item.matches),
        "focus": matches_evidence(item.focus) or "no focus words",
    }
    known = topic_words | {w.lower() for h in hit.chunk.heading_path for w in h.split()}
    spans = kind_feature(query, sentence, known, features, evidence)
    nation_feature(query, line, hit, features, evidence)
    pinned_feature(query, f"{hit.chunk.context} {line}", features, evidence)
    counted = counted_feature(query, sentence, spans, word_vectors(index))
    return Reading(
        sentence, hit, line_no, features, evidence, spans, item.shared, counted_like=counted
    )


KIND_GROUPS = ("precise", "name", "loose")


def kind_feature(
    query: Query,
    sentence: str,
    known: frozenset[str],
    features: dict[str, float],
    evidence: dict[str, str],
) -> list[Span]:
    """Whether the sentence holds the kind of answer asked for; return the spans found."""
    asked = query.kind
    for group in KIND_GROUPS:
        features[f"{group}_found"] = features[f"{group}_missing"] = 0.0
    if asked is None or asked.neutral:
        evidence["kind"] = "no particular kind of answer asked"
        return []
    spans = find_spans(asked, sentence, query.asked or query.text, known)
    found = bool(spans)
    features[f"{asked.group}_found"] = float(found)
    features[f"{asked.group}_missing"] = float(not found)
    shown = "; ".join(sentence[a:b] for a, b in spans[:3])
    evidence["kind"] = f"{asked.kind}: {shown}" if found else f"{asked.kind}: none in sentence"
    return spans


# The words just after a number say what it counts ("eight London community pharmacies"),
# up to the first punctuation.
_COUNTED_AFTER = re.compile(r"^(?:\s*(?:of\s+)?[\w’'&+-]+){1,4}")


def counted_feature(query: Query, sentence: str, spans: list[Span], vectors) -> dict[Span, float]:
    """How closely the words after each span name what the question counts.

    "How many referrals came through the pilot?" is not answered by "eight London community
    pharmacies": the number counts pharmacies. Matching is by meaning too, so "16 million
    users" still counts what "how many people" asks about (0.0-1.0; assistant/match.py)."""
    if not query.counted:  # only a count or share question names what it counts
        return {}
    found = {}
    for span in spans:
        after = _COUNTED_AFTER.match(sentence[span[1] :])
        matches = match_words(list(query.counted), after.group(0), vectors) if after else []
        found[span] = max((m.score for m in matches), default=0.0)
    return found


# The few words after a mention's noun, where its names would be introduced.
_NEXT_WORDS = re.compile(r"(?:[^\w\s]*\s*[\w’'&+-]+){0,2}[^\w]{0,3}")


def unnamed_feature(
    query: Query,
    sentence: str,
    vectors,
    shared_from: float,
    features: dict[str, float],
    evidence: dict[str, str],
) -> None:
    """How closely the sentence speaks of what a name question asks to be named, without
    naming it.

    "Which pharmacies are in the London pilot?" is not answered by "The pilot relates to
    eight London community pharmacies with the Sonar system": it says how many, and names
    a system, not a pharmacy. A mention opened by a number or a word like "another"
    (assistant/data/unnamed_mentions.json) and not followed by the names ("four
    suppliers: ...") is unnamed; the feature is the best match (by meaning too) between
    the asked words and its words, counted from shared_from (AnswerSettings), else 0.0."""
    features["unnamed"] = 0.0
    if not query.named:
        return
    mentions = unnamed_mentions()
    asked = list(query.named)
    for found in mentions.mention.finditer(sentence):
        for word in re.finditer(r"\S+", found.group(1)):
            end = found.start(1) + word.end()
            if mentions.naming.search(_NEXT_WORDS.match(sentence, end).group(0)):
                break  # "four suppliers have been assured: A, B ...": named after all
            score = max((m.score for m in match_words(asked, word.group(0), vectors)), default=0.0)
            if score >= shared_from and score > features["unnamed"]:
                features["unnamed"] = score
                # The opening word is never a name: "The first system" reads "the first system".
                opening = sentence[found.start() : found.start(1)].lower()
                evidence["unnamed"] = opening + sentence[found.start(1) : end]


def topic_names(index: SearchIndex, min_chunks: int) -> frozenset[str]:
    """Capitalised words the archive uses everywhere (EPS, Smartcard): topics, not answers.

    A word capitalised in at least min_chunks passages is the archive's own vocabulary;
    "which system?" is answered by a name it uses rarely ("Sonar").
    """

    def make(index: SearchIndex) -> frozenset[str]:
        counts = index.derived("capitalised_words", _count_capitalised)
        return frozenset(w for w, n in counts.items() if n >= min_chunks)

    return index.derived(f"topic_names>={min_chunks}", make)


def _count_capitalised(index: SearchIndex) -> dict[str, int]:
    """In how many passages each capitalised word appears (lower-cased)."""
    counts: dict[str, int] = {}
    for chunk in index.chunks.values():
        for word in {w.lower() for w in re.findall(r"\b[A-Z][\w&’'-]*", chunk.text)}:
            counts[word] = counts.get(word, 0) + 1
    return counts


def nation_feature(
    query: Query, line: str, hit: Hit, features: dict[str, float], evidence: dict[str, str]
) -> None:
    """Whether the item speaks of the nation the question names."""
    if query.nation is None:
        features["nation_found"] = features["nation_missing"] = 0.0
        return
    text = f"{hit.chunk.context} {line}".lower()
    found = any(s in text for s in nations()[query.nation])
    features["nation_found"], features["nation_missing"] = float(found), float(not found)
    evidence["nation"] = f"{query.nation}: {'named' if found else 'not named'} in the item"


def pinned_feature(
    query: Query, text: str, features: dict[str, float], evidence: dict[str, str]
) -> None:
    """The share of figures the question pins down ("August 2021") that the item lacks."""
    if not query.pinned:
        features["pinned_missing"] = 0.0
        return
    missing = [f for f in query.pinned if f.lower() not in text.lower()]
    features["pinned_missing"] = len(missing) / len(query.pinned)
    if missing:
        evidence["pinned"] = "not in the item: " + ", ".join(missing)


def matches_evidence(matches: list[WordMatch]) -> str:
    """A short account of how the question's words were matched ("jabs ~ vaccinations 0.53")."""
    shown = []
    for m in matches:
        if m.score >= 1.0:
            shown.append(m.word if m.matched == m.word else f"{m.word} = {m.matched}")
        elif m.matched:
            shown.append(f"{m.word} ~ {m.matched} {m.score:.2f}")
        else:
            shown.append(f"{m.word} ?")
    return ", ".join(shown)


# The order model (assistant/decide.py order_readings) ranks one question's sentences
# against each other. It reads the sentence features and, beside them, the sentence's
# meaning times each feature of what it holds: a sentence close in meaning counts for
# more when it also holds the kind of answer asked ("Who speaks for the group on Welsh
# e-prescribing?": "Matt Armstrong is feeding into this project" over "The Welsh
# Government pledged full electronic prescribing"), which one weight per feature cannot say.
MEANING_TIMES = tuple(  # what the item holds: not the passage's scores, headings or focus
    name
    for name in SENTENCE_FEATURES
    if name not in ("meaning", "passage", "rank", "focus", "heading", "latest_newest")
)
ORDER_FEATURES = (*SENTENCE_FEATURES, *(f"meaning_x_{name}" for name in MEANING_TIMES))


def order_matrix(readings: list[Reading]) -> np.ndarray:
    """The readings' order features as rows, in ORDER_FEATURES order."""
    rows = feature_matrix(readings)
    meaning = rows[:, [SENTENCE_FEATURES.index("meaning")]]
    times = rows[:, [SENTENCE_FEATURES.index(name) for name in MEANING_TIMES]]
    return np.hstack([rows, meaning * times])


def feature_matrix(readings: list[Reading]) -> np.ndarray:
    """The readings' features as rows, in SENTENCE_FEATURES order (for the fitted models)."""
    return np.array(
        [[r.features[name] for name in SENTENCE_FEATURES] for r in readings], dtype=np.float64
    ).reshape(len(readings), len(SENTENCE_FEATURES))
