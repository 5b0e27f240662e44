"""Unit tests for the reader's named features and the paraphrase matching they rest on.

Each feature returns a value and its evidence; each is checked here on small cases of its
own, with the real embedding model and the real snapshot index (built once per session).
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant import get_index
from assistant.match import _spelled_runs, coverage, match_words, word_vectors
from assistant.query import make_query
from assistant.reader import (
    SENTENCE_FEATURES,
    counted_feature,
    feature_matrix,
    kind_feature,
    matches_evidence,
    nation_feature,
    newest_on_heading,
    pinned_feature,
    read,
    unnamed_feature,
)
from assistant.retrieve import retrieve
from records import Chunk, Hit
from settings import AnswerSettings


@pytest.fixture(scope="module")
def index(snapshot_settings):
    return get_index(snapshot_settings)


def query(index, text: str):
    return make_query(text, text, index)


def test_paraphrases_match_by_meaning_and_unrelated_words_do_not(index) -> None:
    vectors = word_vectors(index)
    text = "Pharmacy teams involved with vaccinations are encouraged to register interest."
    jabs, fixture = match_words(["jabs", "smartcard"], text, vectors)
    assert jabs.matched.startswith("vaccin") and jabs.score > 0.4
    assert fixture.score < jabs.score - 0.2


def test_exact_words_stems_and_initials_match_fully(index) -> None:
    vectors = word_vectors(index)
    text = "The CSU fed back to suppliers about the Commissioning Support Unit work."
    found = match_words(["suppliers", "supplier", "commissioning", "support", "unit", "csu"],
                        "Suppliers spoke to the CSU.", vectors)  # fmt: skip
    assert [m.score for m in found] == [1.0] * 6
    assert {m.word: m.matched for m in found}["commissioning"] == "CSU"
    assert match_words(["csu"], text, vectors)[0].score == 1.0


def test_the_archive_vocabulary_holds_a_word_its_stem_or_its_near_meaning(index) -> None:
    vectors = word_vectors(index)
    smartcard, webinars, lasagne, ring = vectors.in_archive(
        ["smartcard", "webinars", "lasagne", "ring"]
    )
    assert smartcard.score == 1.0  # its own word
    assert webinars.score == 1.0  # the archive says "webinar"
    assert lasagne.score < 0.6 and lasagne.matched  # the nearest by meaning is far
    # Whole words only: "ring" inside "during" or "monitoring" is no mention of it.
    assert ring.score < 1.0


def test_initials_are_spelled_by_the_first_run_of_words_joining_words_skipped() -> None:
    words = tuple("the commissioning support unit of nhs england and nhs digital csu".split())
    spelled = _spelled_runs(words)
    assert spelled["csu"] == "commissioning support unit"  # "the" starts no run
    assert spelled["nen"] == "nhs england nhs"  # "and" skipped inside the run
    assert spelled["ne"] == "nhs england" and spelled["nd"] == "nhs digital"
    assert "tcs" not in spelled and "uon" not in spelled


def test_coverage_weights_rare_words_more() -> None:
    from assistant.match import WordMatch

    matches = [WordMatch("fp34c", "fp34c", 1.0), WordMatch("system", "", 0.0)]
    assert coverage(matches, [3.0, 1.0]) == pytest.approx(0.75)
    assert coverage([], []) == 0.0
    assert "system ?" in matches_evidence(matches)


def test_kind_feature_finds_the_date_asked_for(index) -> None:
    q = query(index, "When does MYS become compulsory for FP34C?")
    features: dict[str, float] = {}
    evidence: dict[str, str] = {}
    spans = kind_feature(
        q, "From March 2022 MYS becomes compulsory.", frozenset(), features, evidence
    )
    assert features["precise_found"] == 1.0 and features["precise_missing"] == 0.0
    assert features["name_found"] == features["name_missing"] == 0.0
    assert spans and "March 2022" in evidence["kind"]
    spans = kind_feature(q, "MYS is in the pipeline.", frozenset(), features, evidence)
    assert spans == [] and features["precise_missing"] == 1.0
    assert evidence["kind"] == "date: none in sentence"


def test_kind_feature_is_neutral_when_nothing_particular_is_asked(index) -> None:
    q = query(index, "Does RTEC work in Wales?")
    features: dict[str, float] = {}
    evidence: dict[str, str] = {}
    assert kind_feature(q, "RTEC is live.", frozenset(), features, evidence) == []
    assert all(features[f"{g}_{s}"] == 0.0 for g in ("precise", "name", "loose")
               for s in ("found", "missing"))  # fmt: skip


def test_nation_feature(index) -> None:
    q = query(index, "Does RTEC work in Wales?")
    retrieved = retrieve(q, index)
    features: dict[str, float] = {}
    evidence: dict[str, str] = {}
    nation_feature(
        q, "The Welsh Government pledged e-prescribing.", retrieved[0], features, evidence
    )
    assert (features["nation_found"], features["nation_missing"]) == (1.0, 0.0)
    nation_feature(q, "RTEC is live in England.", retrieved[0], features, evidence)
    assert (features["nation_found"], features["nation_missing"]) == (0.0, 1.0)
    assert "not named" in evidence["nation"]


def test_pinned_feature(index) -> None:
    q = query(index, "What share were Phase 4 ready in August 2021?")
    features: dict[str, float] = {}
    evidence: dict[str, str] = {}
    pinned_feature(q, "95.6% were Phase 4 ready in March 2020.", features, evidence)
    assert features["pinned_missing"] == pytest.approx(0.5)  # "4" is there, "August 2021" not
    assert "August 2021" in evidence["pinned"]


def test_counted_feature_compares_what_each_number_counts_with_what_is_asked(index) -> None:
    vectors = word_vectors(index)
    sentence = "The pilot relates to eight London community pharmacies and four GP practices."
    spans = kind_feature(query(index, "How many GP practices are in the pilot?"), sentence,
                         frozenset(), {}, {})  # fmt: skip
    pharmacies, practices = spans
    asked = query(index, "How many GP practices are in the pilot?")
    like = counted_feature(asked, sentence, spans, vectors)
    assert like[practices] == 1.0 and like[pharmacies] < 0.9
    referrals = counted_feature(query(index, "how many referrals came in?"), sentence, spans,
                                vectors)  # fmt: skip
    assert max(referrals.values()) < 0.6  # it counts pharmacies and practices, not referrals
    users = "NHS App reached more than 16 million users by October 2021."
    span = [(users.index("16 million"), users.index("16 million") + len("16 million"))]
    people = counted_feature(query(index, "How many people use the NHS App?"), users, span,
                             vectors)[span[0]]  # fmt: skip
    assert people > max(referrals.values())  # "users" counts people, by meaning
    # A question that names nothing it counts, or asks no count, has nothing to compare.
    assert counted_feature(query(index, "How big is each ICS?"), sentence, spans, vectors) == {}
    assert counted_feature(query(index, "When does it end?"), sentence, spans, vectors) == {}


def test_unnamed_feature_finds_a_sentence_that_counts_what_it_should_name(index) -> None:
    vectors = word_vectors(index)
    pilot = "The pilot relates to eight London community pharmacies with the Sonar system."

    def unnamed(question: str, sentence: str) -> tuple[float, str]:
        features, evidence = {}, {}
        unnamed_feature(query(index, question), sentence, vectors, 0.5, features, evidence)
        return features["unnamed"], evidence.get("unnamed", "")

    score, said = unnamed("Which pharmacies are in the London pilot?", pilot)
    assert score == 1.0 and said == "eight London community pharmacies"
    # The system it does name: "the Sonar system" is no unnamed mention.
    assert unnamed("Which system do the pilot pharmacies use?", pilot) == (0.0, "")
    # By meaning: "another supplier" is an unnamed company.
    other = "Another secondary care system supplier is developing against the API."
    score, said = unnamed("Which hospital software company is the second one?", other)
    assert score > 0.5 and said == "another secondary care system supplier"  # said mid-sentence
    # Names that follow the mention name it after all.
    assured = "Four suppliers are assured: Foo, Bar, Baz and Qux."
    assert unnamed("Which suppliers are assured?", assured) == (0.0, "")
    # A question that asks no name, or names nothing to be named, reads nothing.
    assert unnamed("How many pharmacies are in the pilot?", pilot) == (0.0, "")
    assert unnamed("Who chairs the pilot board?", pilot) == (0.0, "")


def test_read_gives_every_sentence_every_feature(index) -> None:
    q = query(index, "Which CPCS IT suppliers are expected to be ready for 1st October 2021?")
    readings = read(q, retrieve(q, index), index, AnswerSettings(passages_read=3))
    assert readings
    assert all(set(r.features) == set(SENTENCE_FEATURES) for r in readings)
    matrix = feature_matrix(readings)
    assert matrix.shape == (len(readings), len(SENTENCE_FEATURES)) and np.isfinite(matrix).all()
    best = max(readings, key=lambda r: r.features["meaning"] + r.features["terms_soft"])
    assert "Cegedim" in best.line_text


def test_a_question_is_embedded_in_one_encode(index, monkeypatch) -> None:
    from assistant.query import make_queries

    vectors = word_vectors(index)  # the archive's vocabulary is embedded once, beforehand
    calls = []
    embed_together = index.embed_together
    embed_with_spans = index.embed_with_spans
    monkeypatch.setattr(index, "embed_query", lambda text: calls.append(text))
    monkeypatch.setattr(index, "embed_texts", lambda texts: calls.append(texts))
    monkeypatch.setattr(index, "embed_together", lambda q, t: calls.append((q, t)))
    monkeypatch.setattr(
        index,
        "embed_with_spans",
        lambda q, s, t: calls.append((q, t)) or embed_with_spans(q, s, t),
    )
    question = "How many zorblatt jabs were given, and which quuxified system ran them?"
    whole, parts = make_queries(question, None, index)
    # The whole, both parts, their unmatched words and the new words: one call.
    assert len(parts) == 2 and len(calls) == 1
    assert all(q.unmatched_vector is not None for q in (whole, *parts))
    texts, words = calls[0]
    assert texts == [question, *(p.text for p in parts)]
    assert {"zorblatt", "quuxified"} <= set(words)
    single = embed_together([parts[0].text], [])[0][0]
    assert np.allclose(parts[0].vector, single, atol=1e-5)
    assert not vectors.unseen(["zorblatt", "quuxified"])  # remembered for the reader
    assert np.allclose(
        vectors.of(["zorblatt"])[0], embed_together([], ["zorblatt"])[1][0], atol=1e-5
    )


def test_remembered_words_are_bounded_and_a_dropped_one_comes_back(index, monkeypatch) -> None:
    import assistant.match as match

    monkeypatch.setattr(match, "ASKED_WORDS_KEPT", 4)
    vectors = match.WordVectors(index)
    words = ["zorblatt", "quuxified", "flimflam", "snorkwise", "blimpish"]
    first = vectors.of(words[:1])[0]
    vectors.of(words[1:])  # the fifth word passes the bound: the older half goes
    assert vectors.unseen(words) == words[:3]
    again = vectors.of(words[:1])[0]  # embedded anew, the same vector
    assert np.allclose(first, again, atol=1e-5)


def _passage(name: str, heading: str, season: str, order: int) -> Hit:
    chunk = Chunk(id=name, section_id=name, url="u#a", page_url="u", season=season,
                  season_order=order, heading_path=("EPS", heading), text=name)  # fmt: skip
    return Hit(chunk, 1.0, 1)


def test_newest_on_heading_is_the_newest_bulletin_of_each_heading_read() -> None:
    hits = [
        _passage("app-summer", "NHS App", "Summer 2021", 20212),
        _passage("app-winter", "NHS App", "Winter 2021", 20214),
        _passage("rtec-autumn", "RTEC", "Autumn 2021", 20213),
        _passage("app-autumn", "NHS App", "Autumn 2021", 20213),
    ]
    assert newest_on_heading(hits) == {"app-winter", "rtec-autumn"}
    assert newest_on_heading([]) == set()


def test_latest_newest_marks_the_newest_passage_only_when_the_latest_is_asked(index) -> None:
    def marked(text: str) -> set[tuple[str, str]]:
        q = query(index, text)
        return {
            (r.hit.chunk.season, r.hit.chunk.heading_path[-1])
            for r in read(q, retrieve(q, index), index, AnswerSettings())
            if r.features["latest_newest"]
        }

    latest = marked("What is the latest number of NHS App users?")
    assert ("Winter 2021", "NHS App") in latest
    assert ("Autumn 2021", "NHS App") not in latest and ("Summer 2021", "NHS App") not in latest
    assert marked("How many NHS App users were there in the autumn?") == set()
