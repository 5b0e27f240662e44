"""Question terms: the words a question turns on, as the reader and the follow-up check see them."""

import pytest

from assistant.terms import question_terms, weighted_coverage


def test_stop_words_and_chat_are_not_terms():
    assert question_terms("Hi, what is the RTEC project please?") == ["rtec", "project"]


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        ("Who's leading it?", ["leading"]),
        ("When's the go-live?", ["go-live"]),
        ("I'm told we've missed it", ["told", "missed"]),
        ("didn't the summer one say?", ["summer", "one"]),
        ("won't they fund it?", ["fund"]),
    ],
)
def test_a_stop_word_with_a_clitic_is_a_stop_word(question, terms):
    assert question_terms(question) == terms


@pytest.mark.parametrize("apostrophe", ["'", "’"])
def test_a_possessive_is_its_word(apostrophe):
    assert question_terms(f"the NHS{apostrophe}s plan and PSNC{apostrophe}s view") == [
        "nhs",
        "plan",
        "psnc",
        "view",
    ]


def test_a_possessive_is_found_in_a_passage_naming_the_word():
    # Kept whole, "nhsbsa's" would be a word the index never saw: unmatched, and as heavy
    # as the rarest name.
    idf = {"nhsbsa": 2.0, "lead": 1.0}
    terms = question_terms("Who is NHSBSA's lead?")
    assert weighted_coverage(terms, "NHSBSA has led the project; its lead is Jo.", idf) == 1.0
