"""Tests for assistant.ask against the real index of the bundled snapshot (built once)."""

from __future__ import annotations

import re

import pytest

from assistant import BadQuestionError, ask, clean_question
from assistant.citations import verify_citations
from assistant.compose import NOT_COVERED_TEXT, related_reading
from records import Answer, Chunk, Hit

LIVE_URL = (
    "https://archive.psnc.org.uk/contract-it/pharmacy-it/policy-the-nhs-and-it/"
    "community-pharmacy-it-group-cpitg/community-pharmacy-it-group-cp-itg-workstream-updates-archive/"
)
SEASONS = ["Winter 2021", "Autumn 2021", "Summer 2021", "overview"]
MYS_SENTENCE = (
    "This FP34C version will continue to be issued until March 2022 (for prescriptions "
    "dispensed in February 2022), after which FP34C submissions through the Manage Your "
    "Service (MYS) portal will become compulsory."
)
VARIED_QUESTIONS = [
    "When does MYS become compulsory for FP34C?",
    "How many users did the NHS App reach?",
    "How many workstream areas does CP ITG have?",
    "Which CPCS IT suppliers are expected to be ready for 1st October 2021?",
    "What is CIS2?",
    "When is the DSPTK submission deadline?",
    "How many pharmacy sites are providing COVID vaccines?",
    "What is the NHS Service Finder?",
    "How can I contact the CP ITG organisers?",
    "What is happening with the Shielded Patient List?",
    "What are the ShCR work packages?",
]


@pytest.fixture(scope="module")
def answers(snapshot_settings) -> dict[str, Answer]:
    return {q: ask(q, settings=snapshot_settings) for q in VARIED_QUESTIONS}


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_known_question_is_answered_with_a_citation(answers: dict[str, Answer]) -> None:
    answer = answers["When does MYS become compulsory for FP34C?"]
    assert not answer.abstained
    assert f"{MYS_SENTENCE} [1]" in answer.answer
    first = answer.citations[0]
    assert first.n == 1
    assert MYS_SENTENCE in first.text
    assert MYS_SENTENCE in first.sentences
    assert first.season == "Winter 2021"
    assert first.heading_path == ("Reducing burden",)
    assert first.url == LIVE_URL + "#winter-2021-reducing-burden"
    assert answer.as_of == "Winter 2021"


def test_every_marker_verifies_and_every_citation_is_used(answers: dict[str, Answer]) -> None:
    for question, answer in answers.items():
        assert not answer.abstained, (question, answer.reason)
        verify_citations(answer.answer, answer.citations)
        assert markers(answer.answer) == {c.n for c in answer.citations}, question
        assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
        for citation in answer.citations:
            assert citation.url.startswith(LIVE_URL + "#"), citation.url
            for sentence in citation.sentences:
                assert sentence in citation.text
        assert answer.as_of == max(
            (c.season for c in answer.citations), key=lambda s: SEASONS[::-1].index(s)
        )


def test_the_passages_come_in_reader_order(snapshot_settings, answers) -> None:
    """One ask: the retrieved passages, re-ranked by what the reader found in them."""
    from assistant import get_index
    from assistant.query import make_query
    from assistant.retrieve import retrieve

    index = get_index(snapshot_settings)
    for question, answer in answers.items():
        shown = answer.retrieved
        assert [h.rank for h in shown] == list(range(1, len(shown) + 1)), question
        scores = [h.score for h in shown]
        assert scores == sorted(scores, reverse=True), question
        retrieved = retrieve(make_query(question, question, index), index)
        assert {h.chunk.id for h in shown} == {h.chunk.id for h in retrieved}, question
        # the first passage quoted is the first one shown
        assert answer.citations[0].heading_path == shown[0].chunk.heading_path, question


def test_json_has_exactly_the_contract_fields(answers: dict[str, Answer]) -> None:
    for answer in answers.values():
        data = answer.to_json()
        assert set(data) == {
            "question",
            "answer",
            "status",
            "caveat",
            "abstained",
            "as_of",
            "key_spans",
            "citations",
            "retrieved",
            "timings_ms",
        }
        assert isinstance(data["question"], str) and isinstance(data["answer"], str)
        assert isinstance(data["abstained"], bool)
        assert data["status"] in ("answered", "hedged", "not_covered")
        assert data["abstained"] == (data["status"] == "not_covered")
        assert isinstance(data["caveat"], str) and (
            data["status"] == "hedged" or not data["caveat"]
        )
        for start, end in data["key_spans"]:
            assert 0 <= start < end <= len(data["answer"])
        assert data["as_of"] is None or data["as_of"] in SEASONS
        for citation in data["citations"]:
            assert {"n", "season", "heading_path", "url", "text"} <= set(citation)
            assert isinstance(citation["n"], int)
            assert isinstance(citation["season"], str)
            assert isinstance(citation["heading_path"], list)
            assert all(isinstance(h, str) for h in citation["heading_path"])
            assert "#" in citation["url"] and isinstance(citation["text"], str)
        assert 1 <= len(data["retrieved"]) <= 10
        assert [r["rank"] for r in data["retrieved"]] == list(range(1, len(data["retrieved"]) + 1))
        for item in data["retrieved"]:
            assert set(item) == {"rank", "score", "season", "heading_path", "url", "text"}
            assert isinstance(item["score"], float)
            assert isinstance(item["heading_path"], list)
            assert item["season"] in SEASONS
        assert set(data["timings_ms"]) == {"retrieve", "answer", "total"}
        assert all(isinstance(v, float) and v >= 0 for v in data["timings_ms"].values())
        assert data["timings_ms"]["total"] >= data["timings_ms"]["retrieve"]


def test_season_filter_keeps_to_that_season(snapshot_settings) -> None:
    answer = ask("What is EPS?", season="Autumn 2021", settings=snapshot_settings)
    assert not answer.abstained
    assert {c.season for c in answer.citations} == {"Autumn 2021"}
    assert {h.chunk.season for h in answer.retrieved} == {"Autumn 2021"}
    assert answer.as_of == "Autumn 2021"


def test_question_naming_a_season_answers_from_it(snapshot_settings) -> None:
    answer = ask(
        "What did the autumn 2021 update say about the NHS App?", settings=snapshot_settings
    )
    assert not answer.abstained
    assert {c.season for c in answer.citations} == {"Autumn 2021"}
    assert "NHS App has reached more than 10 million users" in answer.answer
    assert answer.as_of == "Autumn 2021"


@pytest.mark.parametrize(
    "question",
    ["What is the latest number of NHS App users?", "How many people use the NHS App now?"],
)
def test_latest_prefers_the_newest_season(snapshot_settings, question: str) -> None:
    answer = ask(question, settings=snapshot_settings)
    assert not answer.abstained
    assert answer.citations[0].season == "Winter 2021"
    assert "NHS App reached more than 16 million users by October 2021" in answer.answer
    assert answer.as_of == "Winter 2021"


def test_a_detail_the_archive_lacks_is_hedged_with_what_is_missing(snapshot_settings) -> None:
    answer = ask("How much does a replacement Smartcard cost?", settings=snapshot_settings)
    assert answer.status == "hedged", answer.reason
    assert not answer.abstained
    assert answer.caveat == "The bulletins don't give a cost for this."
    assert answer.answer.startswith(answer.caveat + " The closest they say:\n")
    assert answer.citations and "Smartcard" in answer.answer
    verify_citations(answer.answer, answer.citations)
    data = answer.to_json()
    assert (data["status"], data["caveat"], data["abstained"]) == ("hedged", answer.caveat, False)


def test_an_off_topic_question_is_not_covered_with_related_reading(snapshot_settings) -> None:
    answer = ask("Who won the FA Cup final in 2021?", settings=snapshot_settings)
    assert answer.status == "not_covered", answer.reason
    assert answer.abstained and answer.caveat == ""
    assert answer.answer.startswith(NOT_COVERED_TEXT)
    assert (answer.as_of, answer.citations, answer.key_spans) == (None, [], [])
    data = answer.to_json()
    assert (data["abstained"], data["as_of"], data["citations"]) == (True, None, [])


def test_missing_bulletin_is_flagged(snapshot_settings) -> None:
    answer = ask("What did the spring 2022 bulletin say about EPS?", settings=snapshot_settings)
    assert answer.status in ("hedged", "not_covered")
    if answer.status == "hedged":
        assert answer.caveat == "The archive has no Spring 2022 bulletin content."
    assert "Spring 2022" in answer.reason


def chunk(season: str, order: int, heading: tuple[str, ...], text: str = "x") -> Chunk:
    return Chunk(id=f"{season}{heading}", section_id="s", url="u#a", page_url="u",
                 season=season, season_order=order, heading_path=heading, text=text)  # fmt: skip


def test_related_reading_lists_distinct_sections_newest_first() -> None:
    hits = [
        Hit(chunk("Summer 2021", 20212, ("NHS App",)), 0.9, 1),
        Hit(chunk("Autumn 2021", 20213, ("NHS App",)), 0.8, 2),
        Hit(chunk("Summer 2021", 20212, ("EPS", "RTEC")), 0.7, 3),
        Hit(chunk("Winter 2021", 20214, ("NHS App",)), 0.6, 4),
        Hit(chunk("Summer 2021", 20212, ("NHSmail",)), 0.5, 5),
        Hit(chunk("Winter 2021", 20214, ("Smartcards",)), 0.4, 6),
    ]
    assert related_reading(hits) == [
        "Winter 2021 > NHS App",
        "Summer 2021 > EPS > RTEC",
        "Summer 2021 > NHSmail",
    ]


def test_the_answering_words_are_key_spans(answers: dict[str, Answer]) -> None:
    answer = answers["When does MYS become compulsory for FP34C?"]
    shown = [answer.answer[a:b] for a, b in answer.key_spans]
    assert any("March 2022" in s for s in shown), shown
    assert all(answer.answer[a:b].strip() for a, b in answer.key_spans)


def test_a_compound_question_is_answered_part_by_part(snapshot_settings) -> None:
    answer = ask(
        "How many pharmacies were in the GP CPCS pilot, and which system were they on?",
        settings=snapshot_settings,
    )
    assert answer.status == "answered", answer.reason
    assert "eight London community pharmacies" in answer.answer and "Sonar" in answer.answer
    verify_citations(answer.answer, answer.citations)


def test_a_compound_question_says_which_part_is_not_covered(snapshot_settings) -> None:
    answer = ask(
        "When does MYS become compulsory for FP34C, and who won the FA Cup in 2021?",
        settings=snapshot_settings,
    )
    assert answer.status == "hedged", answer.reason
    assert "who won the FA Cup in 2021" in answer.caveat
    assert "Manage Your Service (MYS) portal will become compulsory" in answer.answer
    verify_citations(answer.answer, answer.citations)


def test_the_topic_carries_through_a_chain_of_follow_ups(snapshot_settings) -> None:
    chain = ["How many people use the NHS App?", "and in the autumn update?"]
    answer = ask("and in winter?", history=chain, settings=snapshot_settings)
    assert answer.status == "answered", answer.reason
    assert "16 million users" in answer.answer
    assert answer.as_of == "Winter 2021"


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "the question is empty"),
        ("   \n\t ", "the question is empty"),
        ("\x00\x01\x1b", "the question is empty"),
        ("<b></b>", "the question is empty"),
        ("x" * 2001, "the question is 2,001 characters; the limit is 2,000"),
        (None, "the question must be text"),
    ],
)
def test_bad_questions_raise(snapshot_settings, question, message: str) -> None:
    with pytest.raises(BadQuestionError) as caught:
        ask(question, settings=snapshot_settings)
    assert str(caught.value) == message


def test_unknown_season_raises(snapshot_settings) -> None:
    with pytest.raises(BadQuestionError) as caught:
        ask("What is EPS?", season="Spring 2030", settings=snapshot_settings)
    assert str(caught.value).startswith("unknown season 'Spring 2030'; the index has: ")
    for season in ("Winter 2021", "Autumn 2021", "Summer 2021"):
        assert season in str(caught.value)


def test_longest_allowed_question_is_accepted() -> None:
    assert clean_question("x" * 2000) == "x" * 2000


def test_control_characters_are_sanitised(snapshot_settings) -> None:
    answer = ask("EPS\x00next\x07generation\x1b plans?", settings=snapshot_settings)
    assert answer.question == "EPS next generation plans?"
    assert not answer.abstained
    assert "EPS" in answer.answer


def test_html_is_asked_as_text(snapshot_settings) -> None:
    assert clean_question("<b>EPS</b> dates?") == "EPS dates?"
    answer = ask("<b>EPS</b> dates?", settings=snapshot_settings)
    assert answer.question == "EPS dates?"
    assert "<b>" not in answer.answer
    verify_citations(answer.answer, answer.citations)


def test_follow_up_resolves_to_the_named_season(snapshot_settings) -> None:
    first_question = "What did the NHS App reach in users?"
    first = ask(first_question, settings=snapshot_settings)
    assert not first.abstained
    for history in (
        [first_question],
        [
            {"role": "user", "content": first_question},
            {"role": "assistant", "content": first.answer},
        ],
    ):
        follow = ask(
            "and what about in the autumn update?", history=history, settings=snapshot_settings
        )
        assert not follow.abstained
        assert {c.season for c in follow.citations} == {"Autumn 2021"}
        assert "NHS App has reached more than 10 million users" in follow.answer
        assert follow.as_of == "Autumn 2021"


@pytest.mark.parametrize(
    ("earlier", "question", "heading"),
    [
        (
            "When is the DSPTK submission deadline?",
            "What is RTEC?",
            "Real Time Exemption Checking (RTEC)",
        ),
        ("What is CIS2?", "Tell me about NHSmail.", "NHSmail"),
    ],
)
def test_a_new_topic_after_another_is_answered_on_its_own(
    snapshot_settings, earlier: str, question: str, heading: str
) -> None:
    """A short question naming its own subject is not a follow-up of the previous one."""
    alone = ask(question, settings=snapshot_settings)
    after = ask(question, history=[earlier], settings=snapshot_settings)
    assert alone.citations[0].heading_path[-1] == heading
    assert after.citations[0].heading_path[-1] == heading
