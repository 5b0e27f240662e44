"""Decide what the quoted passages do for the question: answer it, hedge, or not cover it.

Three states (records.STATUSES):
- answered: what would be quoted answers the question;
- hedged: an on-topic passage exists but something asked for is not in it; the caveat
  says what ("The bulletins don't name the suppliers."), then the closest passage is quoted;
- not_covered: nothing relevant; the answer lists related reading.

The decision reads named features of what would be quoted (below), each a number with
its evidence, beside a question prior (how answerable, and how on topic, the train
questions nearest this one were), and two logistic models fitted on the train split by
`make calibrate` combine them: the chance that the quote answers the question, and the
chance that the archive is on the question's topic at all. The thresholds between the
states were chosen on the dev split; the sealed test split reports how they hold up. No
single feature refuses on its own: a missing date, an unnamed nation or an unmatched
focus word only moves the chances, by weights learned from data. The model file
(assistant/model/decision.json) records the data and settings it was fitted with and the
held-out figures at the thresholds. A third model, fitted on train too, orders one
question's sentences against each other (order_readings): it chooses the item the answer
opens with and the order of the passages it shows (order_passages). The reader says how
likely a sentence is to answer at all, which the decision needs; the order model says which
of the question's sentences answers best, which is all the order needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np

from assistant.kinds import Span
from assistant.lexicon import DATA_DIR, nations
from assistant.match import WordMatch, coverage, match_words, word_vectors
from assistant.query import Query
from assistant.reader import (
    Reading,
    feature_matrix,
    order_matrix,
    term_weights,
    unnamed_feature,
)
from assistant.retrieve import build_tables, closer_elsewhere
from assistant.spans import asks_about_the_past, span_features, span_matrix
from index.search import SearchIndex
from records import ANSWERED, HEDGED, NOT_COVERED, Hit, season_month
from settings import AnswerSettings

DECISION_FEATURES = (
    "best_p",
    "second_p",
    "best_meaning",
    "max_meaning",
    "top_score",
    "terms_exact",
    "terms_soft",
    "focus",
    "heading",
    "precise_asked",
    "precise_found",
    "precise_in_best",
    "name_asked",
    "name_found",
    "name_in_best",
    "loose_asked",
    "loose_found",
    "span_best",
    "span_in_best",
    "ask_soft",
    "ask_rare_missing",
    "dangling",
    "thin",
    "nation_asked",
    "nation_found",
    "pinned_missing",
    "rare_missing",
    "season_missing",
    "season_elsewhere",
    "short_question",
    "question_prior",
    "topic_prior",
    "unmatched_prior",
    "unnamed",
)
# The on-topic model reads only how close the archive comes to the question at all, and
# how on topic the nearest train questions were: with few off-topic questions to learn
# from, the answer-detail features would only add noise.
TOPIC_FEATURES = (
    "best_meaning",
    "max_meaning",
    "top_score",
    "terms_exact",
    "terms_soft",
    "heading",
    "ask_soft",
    "rare_missing",
    "short_question",
    "topic_prior",
)


MODEL_KEYS = ("reader", "spans", "order", "prior", "answers", "on_topic")  # the fitted models


class ModelMissingError(RuntimeError):
    """The fitted model file is missing or unreadable: `make calibrate` writes it."""


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic regression over named features, standardised as it was fitted."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_json(cls, data: dict) -> Logistic:
        return cls(
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
        )

    def predict_one(self, features: dict[str, float]) -> float:
        """The modelled chance for one set of named features."""
        return float(self.predict(np.array([[features[n] for n in self.features]]))[0])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """The modelled chance for each row of features (in self.features order)."""
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        """How much each feature moved the log-odds for one row (for the reason shown)."""
        values = ((row - self.mean) / self.scale) * self.coef
        return dict(zip(self.features, (float(v) for v in values), strict=True))


@dataclass(frozen=True)
class PriorReading:
    """What the train questions nearest the asked one say about it."""

    answerable: float  # their weighted share answerable from the archive
    on_topic: float  # their weighted share on a topic the archive covers
    nearest: int  # the row of the nearest one (-1: no prior read)
    # the weighted share answerable of the train questions whose unmatched words are
    # nearest this one's (0.5 when not read)
    unmatched: float = 0.5


NO_PRIOR = PriorReading(0.5, 0.5, -1)  # before the prior is fitted (while calibrating)


@dataclass(frozen=True)
class QuestionPrior:
    """How answerable, and how on topic, the train questions nearest the asked one were.

    What the bulletins never give (a phone number, who chairs, how long a job takes, a
    recipe) is asked in alike ways whatever passage retrieval brings back, and topics the
    archive covers thinly draw unanswerable questions. The prior is the labelled share of
    the nearest train questions (by MiniLM cosine), each weighted by exp(sharpness x
    cosine); the decision models weigh it beside the passage features, so on its own it
    refuses nothing. The nearest one is shown in the reason, for the reviewer.

    A second reading compares what the question asks beyond the passage sharing most of
    its words (the words that passage does not use, embedded: Query.unmatched_vector)
    with the same of the train questions. It carries to topics no train question was on:
    "who's person heading up" or "step by step" is left over by unanswerable questions
    whatever their subject, a bare "what is" by answered ones.
    """

    vectors: np.ndarray  # the train questions' vectors (normalised), one row each
    answerable: np.ndarray  # 1 where that question is answerable from the archive
    on_topic: np.ndarray  # 1 where it is on a topic the archive covers
    questions: np.ndarray  # their text
    items: np.ndarray  # their item ids (a question's own item is left out while fitting)
    unmatched: np.ndarray | None = None  # their Query.unmatched_vector, one row each

    @classmethod
    def load(cls, path: Path) -> QuestionPrior:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                vectors=data["vectors"].astype(np.float32),
                answerable=data["answerable"].astype(np.float64),
                on_topic=data["on_topic"].astype(np.float64),
                questions=data["questions"],
                items=data["items"],
                unmatched=data["unmatched"].astype(np.float32) if "unmatched" in data else None,
            )

    def save(self, path: Path) -> None:
        half = {} if self.unmatched is None else {"unmatched": self.unmatched.astype(np.float16)}
        np.savez_compressed(
            path,
            vectors=self.vectors.astype(np.float16),  # half precision: a quarter of the size
            answerable=self.answerable.astype(np.uint8),
            on_topic=self.on_topic.astype(np.uint8),
            questions=self.questions,
            items=self.items,
            **half,
        )

    def read(
        self, vector: np.ndarray, neighbours: int, sharpness: float, leave_out: str = ""
    ) -> PriorReading:
        """The weighted shares of the nearest questions, and the nearest's row."""
        answerable, on_topic, nearest = self._nearest(
            self.vectors, vector, neighbours, sharpness, leave_out
        )
        return PriorReading(answerable, on_topic, nearest)

    def read_unmatched(
        self, vector: np.ndarray, neighbours: int, sharpness: float, leave_out: str = ""
    ) -> float:
        """The weighted share answerable of the questions whose unmatched words are nearest
        these (vector: a Query.unmatched_vector); 0.5 for a prior saved without them."""
        if self.unmatched is None:
            return 0.5
        return self._nearest(self.unmatched, vector, neighbours, sharpness, leave_out)[0]

    def _nearest(
        self, rows: np.ndarray, vector: np.ndarray, neighbours: int, sharpness: float,
        leave_out: str,
    ) -> tuple[float, float, int]:  # fmt: skip
        similarity = rows @ np.asarray(vector, dtype=np.float32)
        if leave_out:
            similarity = np.where(self.items == leave_out, -np.inf, similarity)
        count = min(neighbours, len(similarity))
        nearest = np.argpartition(-similarity, count - 1)[:count]
        weights = np.exp(sharpness * (similarity[nearest] - similarity[nearest].max()))
        weights /= weights.sum()
        return (
            float(weights @ self.answerable[nearest]),
            float(weights @ self.on_topic[nearest]),
            int(nearest[np.argmax(similarity[nearest])]),
        )


def read_prior(
    prior: QuestionPrior, query: Query, tuning: AnswerSettings, leave_out: str = ""
) -> PriorReading:
    """Both readings of the prior for a question: by the question, and by its words beyond
    the passage sharing most of them (query.unmatched_vector)."""
    reading = prior.read(query.vector, tuning.prior_neighbours, tuning.prior_sharpness, leave_out)
    if query.unmatched_vector is None:
        return reading
    share = prior.read_unmatched(
        query.unmatched_vector, tuning.prior_neighbours, tuning.prior_sharpness, leave_out
    )
    return replace(reading, unmatched=share)


@dataclass(frozen=True)
class DecisionModel:
    """The reader model, the question prior, the two decision models and the thresholds
    chosen on dev."""

    reader: Logistic
    spans: Logistic
    prior: QuestionPrior
    answers: Logistic
    on_topic: Logistic
    answered_at: float  # answered when the chance the quote answers is at least this
    on_topic_at: float  # else hedged when the chance the topic is covered is at least this
    keep_ratio: float  # quote further items scoring at least this share of the best one
    order: Logistic  # ranks one question's sentences against each other (order_readings)
    meta: dict = field(default_factory=dict)


@cache
def _load(path: str, mtime: float) -> DecisionModel:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return DecisionModel(
        reader=Logistic.from_json(data["reader"]),
        spans=Logistic.from_json(data["spans"]),
        prior=QuestionPrior.load(Path(path).parent / data["prior"]["file"]),
        answers=Logistic.from_json(data["answers"]),
        on_topic=Logistic.from_json(data["on_topic"]),
        answered_at=float(data["thresholds"]["answered"]),
        on_topic_at=float(data["thresholds"]["on_topic"]),
        keep_ratio=float(data["keep_ratio"]),
        order=Logistic.from_json(data["order"]),
        meta={k: v for k, v in data.items() if k not in MODEL_KEYS},
    )


def load_model(path: Path) -> DecisionModel:
    """Return the fitted models from their file (read once; again if the file changes)."""
    try:
        return _load(str(path), path.stat().st_mtime)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelMissingError(
            f"the decision model {path} is missing or unreadable ({error.__class__.__name__}): "
            "rebuild it with: make calibrate"
        ) from error


@dataclass
class Decision:
    """The state chosen for one question (or part), with the numbers and reasons behind it."""

    status: str
    chosen: list[Reading]
    caveat: str = ""
    p_answers: float = 0.0
    p_on_topic: float = 0.0
    features: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    spans: dict[str, list[Span]] = field(default_factory=dict)  # answering words per sentence
    passages: list[Hit] = field(default_factory=list)  # in the order the reader puts them

    @property
    def reason(self) -> str:
        """One line for the eval report: the state, the chances and the strongest evidence."""
        shown = "; ".join(f"{k}: {v}" for k, v in self.evidence.items() if v)
        return f"{self.status} (answers {self.p_answers:.2f}, on topic {self.p_on_topic:.2f})" + (
            f"; {shown}" if shown else ""
        )


def score_readings(
    readings: list[Reading],
    reader: Logistic,
    query: Query,
    tuning: AnswerSettings,
    spans: Logistic | None = None,
) -> list[Reading]:
    """Score each sentence (reader model) and its answer spans (span model); best first.

    Without a span model (while calibrating the reader) spans are described, not scored.
    """
    if readings:
        scores = reader.predict(feature_matrix(readings))
        for reading, score in zip(readings, scores, strict=True):
            reading.score = float(score)
    group = query.kind.group if query.kind is not None else "none"
    asked_words = len(query.ask_terms or query.terms)
    ahead = query.kind is not None and query.kind.kind == "date"
    ahead = ahead and not asks_about_the_past(query.asked or query.text)
    for reading in readings:
        published = season_month(reading.hit.chunk.season) if ahead else None
        reading.answer_spans = span_features(
            reading.sentence, reading.kind_spans, set(reading.shared), asked_words, group,
            reading.score, reading.features["meaning"], tuning.span_window_words,
            published, tuning.span_past_months, reading.counted_like,
        )  # fmt: skip
        if spans is not None and reading.answer_spans:
            for scored, p in zip(
                reading.answer_spans, spans.predict(span_matrix(reading.answer_spans)), strict=True
            ):
                scored.score = float(p)
    return sorted(readings, key=lambda r: -r.score)


def order_readings(readings: list[Reading], order: Logistic) -> list[Reading]:
    """The readings ranked against each other by the order model; best first.

    The reader is fitted on every sentence of every train question at once, so it learns
    how likely a sentence is to answer whatever the question: a sentence close in meaning
    to the question scores high even when it lacks the name asked for. The order model is
    fitted on pairs within one question (the gold sentence against each other one read),
    so it learns only what tells the answering sentence from its neighbours.
    """
    if readings:
        for reading, score in zip(readings, order.predict(order_matrix(readings)), strict=True):
            reading.order = float(score)
    return sorted(readings, key=lambda r: -r.order)  # stable: ties keep the reader's order


def choose_items(
    readings: list[Reading],
    keep_ratio: float,
    tuning: AnswerSettings,
    passages: list[Hit] | None = None,
) -> list[Reading]:
    """Pick the source items to quote: the first ranked, and up to two more, in the order
    ranked, whose reader chance comes within keep_ratio of the best chance.

    readings come best first (order_readings): the order model says which sentence
    answers best, the reader's chance whether another is worth quoting beside it. Each
    item is represented by its best sentence; a lead-in line ("... including:") brings
    the list items that follow it in the same passage. Passages come in the order given
    (retrieval order when none is). Within a passage, the item ranked first leads, with
    the list it introduces; the others follow in source order.
    """
    if not readings:
        return []
    best = readings[0]
    top = max(r.score for r in readings)
    chosen: list[Reading] = []
    for reading in readings:
        if len(chosen) >= tuning.max_items:
            break
        if reading is not best and reading.score < top * keep_ratio:
            continue
        if reading.key not in {c.key for c in chosen}:
            chosen.append(reading)
    if _is_lead_in(best):
        following = [
            r for r in readings if r.hit is best.hit and r.line > best.line and _is_item(r)
        ]
        for item in sorted(following, key=lambda r: r.line):
            if item.key not in {c.key for c in chosen} and len(chosen) < tuning.max_list_items:
                chosen.append(item)
    position = {hit.chunk.id: n for n, hit in enumerate(passages or [], start=1)}
    chosen.sort(key=lambda r: (position.get(r.hit.chunk.id, r.hit.rank), r.line))
    return _answer_first(chosen, _first_places(r.key for r in readings))


def _answer_first(chosen: list[Reading], ranks: dict) -> list[Reading]:
    """Put the best-ranked item of each passage first (with the list items its lead-in
    brings), the others after it in source order; ranks gives each item's place among
    the readings.

    In source order alone, a passage touching many subjects opened the answer with
    whichever item came first in the bulletin: for "Which team at DHSC is looking into
    patient digital authentication?" an item on Smartcard codes, the answering one third.
    """
    blocks: list[list[Reading]] = []
    for reading in chosen:  # in source order: a lead-in line, then the items it brings
        head = blocks[-1][0] if blocks else None
        if head is not None and head.hit is reading.hit and _is_lead_in(head) and _is_item(reading):
            blocks[-1].append(reading)
        else:
            blocks.append([reading])
    ordered: list[Reading] = []
    for chunk_id in dict.fromkeys(r.hit.chunk.id for r in chosen):
        own = [b for b in blocks if b[0].hit.chunk.id == chunk_id]
        lead = min(own, key=lambda b: min(ranks[r.key] for r in b))
        ordered += lead + [r for b in own if b is not lead for r in b]
    return ordered


def order_passages(hits: list[Hit], ranked: list[Reading]) -> list[Hit]:
    """The passages in the order the answer shows them, ranked anew by what was read.

    Retrieval ranks a passage by how close it is to the question as a whole; reading
    tells which sentence answers. Bulletins repeat a topic season after season, and a
    long passage touching many subjects draws many questions, so the passage holding
    the answering sentence is often second or third. ranked comes best first
    (order_readings); each passage goes where its best sentence is, scored by that
    sentence's order score, and the passages nothing was read of follow in retrieval order.
    """
    place = _first_places(r.hit.chunk.id for r in ranked)
    ordered = sorted(hits, key=lambda h: place.get(h.chunk.id, len(ranked)))  # stable

    def score(hit: Hit) -> float:
        return ranked[place[hit.chunk.id]].order if hit.chunk.id in place else 0.0

    return [Hit(h.chunk, score(h), n) for n, h in enumerate(ordered, start=1)]


def _first_places(keys: Iterable) -> dict:
    """Each key's first place in a ranked sequence (0 = first)."""
    places: dict = {}
    for n, key in enumerate(keys):
        places.setdefault(key, n)
    return places


def _is_lead_in(reading: Reading) -> bool:
    """A line that introduces the list items after it ("... including:")."""
    return reading.line_text.rstrip().endswith(":")


def _is_item(reading: Reading) -> bool:
    text = reading.line_text
    return text.startswith("• ") or (text[:1].isdigit() and ". " in text[:4])


def decide(
    query: Query,
    readings: list[Reading],
    index: SearchIndex,
    model: DecisionModel,
    tuning: AnswerSettings,
    hits: list[Hit] | None = None,
) -> Decision:
    """Choose what to quote and which state the answer is in, with the caveat when hedged.

    hits are the passages retrieved for the query (by default, those the readings come
    from); the decision returns them in the reader's order (order_passages).
    """
    scored = score_readings(readings, model.reader, query, tuning, model.spans)
    ranked = order_readings(scored, model.order)
    if hits is None:
        hits = sorted({r.hit.chunk.id: r.hit for r in readings}.values(), key=lambda h: h.rank)
    passages = order_passages(hits, ranked)
    chosen = choose_items(ranked, model.keep_ratio, tuning, passages)
    if not chosen:
        return Decision(
            NOT_COVERED, [], evidence={"retrieval": "nothing relevant retrieved"}, passages=passages
        )
    prior = read_prior(model.prior, query, tuning)
    # The decision reads the reader's best sentence: how likely it is to answer at all.
    features, evidence = question_features(query, scored, chosen, index, tuning, prior)
    evidence["question alone"] = _nearest_evidence(model.prior, prior)
    evidence["beyond the passage"] = f"{query.unmatched_text!r}, {prior.unmatched:.2f} answerable"
    if query.mended:
        evidence["spelling"] = ", ".join(f"{m.typed} as {m.word}" for m in query.mended)
    p_answers = model.answers.predict_one(features)
    p_on_topic = model.on_topic.predict_one(features)
    status = state_for(p_answers, p_on_topic, model.answered_at, model.on_topic_at)
    spans = key_spans(ranked, chosen, tuning.key_span_share)
    decision = Decision(
        status, chosen, "", p_answers, p_on_topic, features, evidence, spans, passages
    )
    if status == HEDGED:
        decision.caveat = caveat_for(query, features, evidence, tuning)
    return decision


def state_for(p_answers: float, p_on_topic: float, answered_at: float, on_topic_at: float) -> str:
    """The state the two chances put an answer in, at the thresholds calibration chose: the
    one rule both the decision and the calibration's threshold search use."""
    if p_answers >= answered_at:
        return ANSWERED
    return HEDGED if p_on_topic >= on_topic_at else NOT_COVERED


def question_features(
    query: Query,
    ranked: list[Reading],
    chosen: list[Reading],
    index: SearchIndex,
    tuning: AnswerSettings,
    prior: PriorReading,
) -> tuple[dict[str, float], dict[str, str]]:
    """The decision's features: what the quoted items hold of what the question asks, and
    the question prior (question_prior, topic_prior) beside them. ranked comes best first
    by the reader's chance (score_readings)."""
    _, idf = build_tables(index)
    vectors = word_vectors(index)
    best = ranked[0]
    chosen_keys = {c.key for c in chosen}
    quoted = [r for r in ranked if r.key in chosen_keys]
    text = " ".join(c.line_text for c in chosen) + " " + " ".join(best.hit.chunk.heading_path)
    terms = list(query.terms)
    weights = term_weights(terms, idf)
    term_matches = match_words(terms, text, vectors)
    focus_matches = match_words(list(query.focus), text, vectors)
    ask_terms = list(query.ask_terms) or terms
    ask_weights = term_weights(ask_terms, idf)
    ask_matches = match_words(ask_terms, text, vectors)
    missing_below = tuning.missing_below
    lowered = text.lower()
    nation_found = query.nation is not None and any(s in lowered for s in nations()[query.nation])
    missing_figures = [f for f in query.pinned if f.lower() not in lowered]
    group = query.kind.group if query.kind is not None else "none"
    found_any = any(r.kind_spans for r in quoted)
    found_best = any(r.kind_spans for r in quoted if r.key == best.key)
    elsewhere, elsewhere_season = closer_elsewhere(query, index)
    span_scores = [sp.score for r in quoted for sp in r.answer_spans]
    best_item_spans = [sp.score for r in quoted if r.key == best.key for sp in r.answer_spans]
    features = {
        "span_best": max(span_scores, default=0.0),
        "span_in_best": max(best_item_spans, default=0.0),
        "best_p": best.score,
        "second_p": ranked[1].score if len(ranked) > 1 else 0.0,
        "best_meaning": best.features["meaning"],
        "max_meaning": max(r.features["meaning"] for r in ranked),
        "top_score": best.hit.score,
        "terms_exact": max(r.features["terms_exact"] for r in quoted),
        "terms_soft": coverage(term_matches, weights),
        "focus": min((m.score for m in focus_matches), default=1.0),
        "heading": best.features["heading"],
        "ask_soft": coverage(ask_matches, ask_weights),
        "ask_rare_missing": rare_missing(ask_matches, ask_weights),
        "dangling": float(_dangling(best)),
        "thin": float(len(best.line_text.split()) < tuning.thin_item_words),
        "nation_asked": float(query.nation is not None),
        "nation_found": float(nation_found),
        "pinned_missing": len(missing_figures) / len(query.pinned) if query.pinned else 0.0,
        "rare_missing": rare_missing(term_matches, weights),
        "season_missing": float(bool(query.missing_seasons)),
        "season_elsewhere": elsewhere,
        "short_question": 1.0 / (1 + len(terms)),
        "question_prior": prior.answerable,
        "topic_prior": prior.on_topic,
        "unmatched_prior": prior.unmatched,
    }
    for name in ("precise", "name", "loose"):
        features[f"{name}_asked"] = float(group == name)
        features[f"{name}_found"] = float(group == name and found_any)
        if name != "loose":
            features[f"{name}_in_best"] = float(group == name and found_best)
    evidence = {
        "kind": next((r.evidence["kind"] for r in quoted if r.kind_spans), best.evidence["kind"]),
        "focus": ", ".join(
            f"{m.word} ?" if m.score < missing_below else f"{m.word} ~ {m.matched}"
            for m in focus_matches
        ),
        "missing": ", ".join(m.word for m in term_matches if m.score < missing_below),
        "unmentioned": ", ".join(unmentioned(query, ask_matches, focus_matches, index, tuning)),
        "figures": ", ".join(missing_figures),
        "nation": "" if query.nation is None else f"{query.nation}: {nation_found}",
        "season": ", ".join(query.missing_seasons),
        "closer in": elsewhere_season,  # "" unless another bulletin comes closer
    }
    # "which pharmacies?" and the best sentence says "eight pharmacies": some, not which
    unnamed_feature(query, best.sentence, vectors, tuning.shared_from, features, evidence)
    return features, evidence


def unmentioned(
    query: Query,
    ask_matches: list[WordMatch],
    focus_matches: list[WordMatch],
    index: SearchIndex,
    tuning: AnswerSettings,
) -> list[str]:
    """The asking words the quoted items lack that no bulletin mentions either: what a
    caveat may truly say the bulletins don't mention. Words of the chat around the ask
    ("we're in Kent") are not asked, and a contraction or possessive ("who's",
    "PSNC's") names no subject."""
    lacking = [
        m.word
        for m in (*focus_matches, *ask_matches)
        if m.score < tuning.missing_below and not _APOSTROPHE.search(m.word)
    ]
    lacking = list(dict.fromkeys(lacking))
    nearest = word_vectors(index).in_archive(lacking)
    return [m.word for m in nearest if m.score < tuning.unmentioned_below]


_APOSTROPHE = re.compile(r"['’]")


def _nearest_evidence(prior: QuestionPrior, reading: PriorReading) -> str:
    said = "answerable" if prior.answerable[reading.nearest] else "not answerable"
    asked = str(prior.questions[reading.nearest])[:60]
    return f"{reading.answerable:.2f} answerable, nearest asked: {asked!r} ({said})"


def key_spans(ranked: list[Reading], chosen: list[Reading], share: float) -> dict[str, list[Span]]:
    """The answering words of the quoted sentences: spans scoring at least `share` of the
    best span, per sentence."""
    chosen_keys = {c.key for c in chosen}
    quoted = [r for r in ranked if r.key in chosen_keys and r.answer_spans]
    best = max((sp.score for r in quoted for sp in r.answer_spans), default=0.0)
    found: dict[str, list[Span]] = {}
    for reading in quoted:
        kept = [sp.span for sp in reading.answer_spans if best and sp.score >= best * share]
        if kept:
            found.setdefault(reading.sentence, []).extend(kept)
    return found


def rare_missing(matches: list[WordMatch], weights: list[float]) -> float:
    """How rare the rarest question word the text lacks is (its IDF share times its miss)."""
    top = max(weights, default=1.0) or 1.0
    return max(
        ((w / top) * (1.0 - m.score) for m, w in zip(matches, weights, strict=True)), default=0.0
    )


def _dangling(reading: Reading) -> bool:
    """True when the item leads into a list the capture lost ("... steps such as:" then nothing)."""
    if not reading.line_text.rstrip().endswith(":"):
        return False
    lines = reading.hit.chunk.text.split("\n")
    following = lines[reading.line + 1 :]
    return not any(line.startswith("• ") or line[:1].isdigit() for line in following)


@cache
def caveat_templates() -> dict[str, str]:
    """The caveat sentences, from assistant/data/caveats.json."""
    data = json.loads((DATA_DIR / "caveats.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def caveat_for(
    query: Query, features: dict[str, float], evidence: dict[str, str], tuning: AnswerSettings
) -> str:
    """Say exactly what the archive doesn't give: the first missing thing, most specific first."""
    say = caveat_templates()
    focus = " ".join(query.focus)
    if features["season_missing"]:
        return say["season"].format(season=query.missing_seasons[0])
    if features["nation_asked"] and not features["nation_found"]:
        return say["nation"].format(nation=_title(query.nation or ""))
    if evidence.get("unnamed"):  # "which pharmacies?": "eight London community pharmacies"
        return say["unnamed"].format(mention=evidence["unnamed"])
    group = query.kind.group if query.kind is not None else "none"
    if group in ("precise", "name") and not features[f"{group}_found"] and query.kind:
        if query.kind.kind == "name" and focus:
            return say["name_focus"].format(focus=focus)
        if query.kind.kind == "expansion":
            if not query.kind.acronym:
                return say["expansion_letters"]
            return say["expansion"].format(acronym=query.kind.acronym)
        if focus:
            return say["kind_focus"].format(kind=query.kind.rule.label, focus=focus)
        return say["kind"].format(kind=query.kind.rule.label)
    if evidence.get("figures"):
        return say["figures"].format(figures=evidence["figures"])
    if features["season_elsewhere"] >= tuning.elsewhere_caveat_at:  # the topic is elsewhere
        named = " and ".join(query.seasons)
        return say["season_elsewhere"].format(season=named, elsewhere=evidence["closer in"])
    # Only what no bulletin mentions is named: the closest passage lacking a word is not
    # the bulletins lacking it.
    unmentioned = evidence.get("unmentioned", "").split(", ")
    unmatched_focus = [w for w in query.focus if w in unmentioned]
    if unmatched_focus:
        return say["focus"].format(focus=" ".join(unmatched_focus))
    if evidence.get("unmentioned"):
        return say["words"].format(words=_listed(unmentioned))
    return say["default"]


def _title(nation: str) -> str:
    return " ".join(w.capitalize() for w in nation.split())


def _listed(words: list[str]) -> str:
    words = [w for w in words if w][:3]
    if len(words) <= 1:
        return "".join(f"“{w}”" for w in words)
    return ", ".join(f"“{w}”" for w in words[:-1]) + f" or “{words[-1]}”"
