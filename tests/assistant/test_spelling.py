"""Typos mended to the archive's words: which words are taken for typos, and what for."""

import pytest

from assistant.spelling import SpellingWords, mend_spelling, mended_word, one_edit
from settings import SpellingSettings

ARCHIVE = {
    "service": 40, "finder": 9, "results": 5, "internet": 2, "interest": 6, "rollout": 4,
    "pharmacist": 3, "pharmacies": 30, "working": 8, "nhsmail": 12, "looked": 2,
}  # fmt: skip
KNOWN = frozenset({"locked", "leeds", "word", "the", "when", "did"})  # the model's whole words
WORDS = SpellingWords(ARCHIVE, KNOWN)


def test_a_typo_is_read_as_the_archive_word_and_reported():
    text, mended = mend_spelling("When did the Servcie finder reslts come?", WORDS)
    assert text == "When did the Service finder results come?"
    assert [(m.typed, m.word) for m in mended] == [("Servcie", "service"), ("reslts", "results")]


@pytest.mark.parametrize(
    "word",
    [
        "locked",  # the model knows it whole: a word, not a typo of "looked"
        "wording",  # a word the model knows, with an ending: not "working"
        "rollouts",  # another form of an archive word: the reader's stems handle it
        "nhsmai",  # too short at min_letters 7
        "qervice",  # the first letter is kept: typos rarely start wrong
        "zzzzzzz",  # nothing one edit away
    ],
)
def test_words_not_taken_for_typos(word):
    assert mended_word(word, WORDS, min_letters=7 if word == "nhsmai" else 6) is None


def test_the_likeliest_typo_wins_over_the_commoner_word():
    # "interest" is commoner, but "internet" is two letters swapped, not one mistyped
    assert mended_word("interent", WORDS, 6) == "internet"
    # a letter left out beats a letter mistyped, however common the other word
    assert mended_word("pharmacits", WORDS, 6) == "pharmacist"


def test_one_edit_ranks_swaps_then_missing_letters_then_mistyped_ones():
    edits = one_edit("form")
    assert edits["from"] == 0 and edits["forms"] == 1 and edits["farm"] == 2
    assert "form" not in edits


def test_min_letters_comes_from_the_settings():
    assert mend_spelling("nhsmial", WORDS, SpellingSettings(min_letters=8))[1] == []
    assert mend_spelling("nhsmial", WORDS, SpellingSettings(min_letters=6))[0] == "nhsmail"
