"""Unit tests for assistant.spans: what describes a candidate answer span, before the model."""

from __future__ import annotations

import pytest

from assistant.spans import (
    asks_about_the_past,
    date_month,
    span_features,
)
from records import season_month


def spans_of(sentence: str, *texts: str) -> list[tuple[int, int]]:
    return [(sentence.index(t), sentence.index(t) + len(t)) for t in texts]


def describe(sentence: str, texts: tuple[str, ...], shared: set[str], **dated) -> list[dict]:
    scored = span_features(
        sentence, spans_of(sentence, *texts), shared, asked_words=3, group="precise",
        sentence_p=0.5, meaning=0.4, window_words=8, **dated,
    )  # fmt: skip
    return [s.features for s in scored]


def test_a_span_beside_the_words_the_question_shares_is_near_them() -> None:
    sentence = (
        "In March 2021 the pilot began at five sites across the north, and the national "
        "roll-out follows in late 2022."
    )
    began, rollout = describe(sentence, ("March 2021", "late 2022"), {"national", "roll-out"})
    assert rollout["near"] > began["near"] > 0
    assert rollout["window"] > began["window"] == 0


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("January 2020", 2020 * 12 + 1),
        ("1st October 2021", 2021 * 12 + 10),
        ("late 2021", 2021 * 12 + 10),
        ("early 2022", 2022 * 12 + 2),
        ("2021", 2021 * 12 + 6),
        ("November", None),  # no year: no month to compare
    ],
)
def test_a_date_span_stands_for_a_month(text: str, month: int | None) -> None:
    assert date_month(text) == month


def test_a_bulletin_is_dated_to_its_season() -> None:
    assert season_month("Winter 2021") == 2021 * 12 + 12
    assert season_month("Summer 2021") == 2021 * 12 + 6
    assert season_month("overview") is None


@pytest.mark.parametrize(
    ("question", "past"),
    [
        ("When did PSNC endorse the standard?", True),
        ("Since when has NHSBSA led the project?", True),
        ("when does it go nationwide", False),
        ("When will the toolkit be final?", False),
    ],
)
def test_a_date_question_asks_about_the_past_or_not(question: str, past: bool) -> None:
    assert asks_about_the_past(question) is past


def test_a_date_long_past_at_publication_does_not_answer_when_something_will_happen() -> None:
    sentence = "NHSBSA has led the project since January 2020 and plans roll-out in early 2022."
    winter = season_month("Winter 2021")
    since, plan = describe(sentence, ("January 2020", "early 2022"), set(), published=winter,
                           past_months=3)  # fmt: skip
    assert since["past_for_future"] == 1.0 and plan["past_for_future"] == 0.0
    # Asked about the past (no publication month given), no date is held against the span.
    since, plan = describe(sentence, ("January 2020", "early 2022"), set())
    assert since["past_for_future"] == plan["past_for_future"] == 0.0


def test_a_count_of_something_other_than_what_is_asked_is_unlike_it() -> None:
    sentence = "The pilot relates to eight London pharmacies and four GP practices."
    spans = spans_of(sentence, "eight", "four")
    counted = {spans[0]: 0.2, spans[1]: 1.0}  # the reader's counted_feature, as given
    eight, four = describe(sentence, ("eight", "four"), set(), counted_like=counted)
    assert eight["counted_unlike"] == pytest.approx(0.8) and four["counted_unlike"] == 0.0
    # A question naming nothing it counts holds nothing against any span.
    assert all(f["counted_unlike"] == 0.0 for f in describe(sentence, ("eight", "four"), set()))
