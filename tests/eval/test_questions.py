"""Tests for the question set: the pool and its sealed split, the fitting loader, the validator.

The pool is the three splits together. These tests read the test split only as data to
count, checksum and re-deal (never to tune anything); the validator's own tests mutate
items taken from the train split.
"""

from __future__ import annotations

import copy
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eval import split as splitter
from eval import validate as validator
from eval.dataset import (
    SPLIT_PATHS,
    SPLITS,
    SealedSplitError,
    load_for_fitting,
    sealed_checksum,
)

ROOT = Path(__file__).resolve().parents[2]
TRAIN_PATH = SPLIT_PATHS["train"]
ARCHIVE_PATH = ROOT / "data" / "corpus" / "cp-itg-workstream-updates-archive.txt"

MIN_ITEMS = 600
MIN_UNANSWERABLE = 150
MIN_PER_TYPE = {
    "factoid": 40,
    "temporal": 15,
    "list": 10,
    "acronym": 10,
    "multi_passage": 6,
    "followup": 10,
    "compound": 20,
    "partial": 10,
    "unanswerable": MIN_UNANSWERABLE,
}
SHARES = {"train": 0.6, "dev": 0.2, "test": 0.2}
SHARE_TOLERANCE = 0.03  # each split within 3 points of its share
MIN_PARAPHRASE_SHARE = 0.8  # answerable items sharing <= 3 consecutive words with their gold


@pytest.fixture(scope="module")
def archive_text() -> str:
    """Return the archive text the questions are grounded in."""
    return ARCHIVE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict[str, Any]]]:
    """Each split's raw items, by split name."""
    return {name: validator.load_items(SPLIT_PATHS[name]) for name in SPLITS}


@pytest.fixture(scope="module")
def pool(splits: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The whole question set: the three splits together."""
    return [item for name in SPLITS for item in splits[name]]


@pytest.fixture(scope="module")
def items(splits: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The train split: the validator tests take their items from it."""
    return splits["train"]


def _first(items: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Return a deep copy of the first item of a type, so mutations stay local."""
    return copy.deepcopy(next(item for item in items if item["type"] == kind))


# ---------------------------------------------------------------- the pool and its splits


def test_pool_validates_clean(pool: list[dict[str, Any]], archive_text: str) -> None:
    problems = validator.validate(pool, archive_text)
    assert problems == [], f"{len(problems)} problem(s), first: {problems[:3]}"


def test_validator_main_exits_zero_on_train_and_dev() -> None:
    assert validator.main([str(SPLIT_PATHS["train"])]) == 0
    assert validator.main([str(SPLIT_PATHS["dev"])]) == 0


def test_pool_size_and_type_minimums(pool: list[dict[str, Any]]) -> None:
    assert len(pool) >= MIN_ITEMS
    counts = Counter(item["type"] for item in pool)
    for kind, minimum in MIN_PER_TYPE.items():
        assert counts[kind] >= minimum, f"{kind}: {counts[kind]} < {minimum}"


def test_every_voice_gap_and_season_appears(pool: list[dict[str, Any]]) -> None:
    assert {item["voice"] for item in pool} == validator.VOICES
    assert {item["gap"] for item in pool if item.get("gap")} == validator.GAPS
    seasons = {item.get("season") for item in pool}
    assert set(validator.ALLOWED_SEASONS) <= seasons


def test_ids_unique_across_splits(splits: dict[str, list[dict[str, Any]]]) -> None:
    ids = Counter(item["id"] for name in SPLITS for item in splits[name])
    repeated = sorted(i for i, n in ids.items() if n > 1)
    assert not repeated, f"ids in more than one place: {repeated[:10]}"


def test_splits_are_60_20_20(splits: dict[str, list[dict[str, Any]]]) -> None:
    total = sum(len(items) for items in splits.values())
    for name, share in SHARES.items():
        got = len(splits[name]) / total
        assert abs(got - share) <= SHARE_TOLERANCE, f"{name}: {got:.3f} of the pool, not {share}"


def test_every_type_appears_in_every_split(splits: dict[str, list[dict[str, Any]]]) -> None:
    for name, items in splits.items():
        missing = validator.ALLOWED_TYPES - {item["type"] for item in items}
        assert not missing, f"{name} lacks {sorted(missing)}"


def test_split_is_deterministic(pool: list[dict[str, Any]], tmp_path: Path) -> None:
    # Re-dealing the pool writes the same files byte for byte, and the same seal.
    paths = splitter.write(splitter.split(pool), tmp_path)
    for name in SPLITS:
        assert paths[name].read_bytes() == SPLIT_PATHS[name].read_bytes(), name
    assert (tmp_path / "SEALED").read_text().split()[0] == sealed_checksum()


def test_most_questions_are_paraphrased(pool: list[dict[str, Any]]) -> None:
    assert validator.paraphrase_share(pool) >= MIN_PARAPHRASE_SHARE


# ---------------------------------------------------------------- fitting never reads test


def test_fitting_refuses_the_test_split(tmp_path: Path) -> None:
    with pytest.raises(SealedSplitError):
        load_for_fitting("test")
    with pytest.raises(SealedSplitError):
        load_for_fitting(SPLIT_PATHS["test"])
    with pytest.raises(SealedSplitError):
        load_for_fitting(str(SPLIT_PATHS["test"]))
    copy_of_test = tmp_path / "more_training_data.jsonl"
    shutil.copyfile(SPLIT_PATHS["test"], copy_of_test)
    with pytest.raises(SealedSplitError, match="sealed test split"):
        load_for_fitting(copy_of_test)


def test_fitting_accepts_train_and_dev() -> None:
    assert len(load_for_fitting("train")) == len(validator.load_items(SPLIT_PATHS["train"]))
    assert len(load_for_fitting(SPLIT_PATHS["dev"])) == len(
        validator.load_items(SPLIT_PATHS["dev"])
    )


# ---------------------------------------------------------------- the validator


@pytest.mark.parametrize("kind", sorted(validator.ALLOWED_TYPES))
def test_unmutated_baseline_is_clean(
    items: list[dict[str, Any]], archive_text: str, kind: str
) -> None:
    # The negative tests below rely on each baseline item being valid on its own.
    assert validator.validate([_first(items, kind)], archive_text) == []


def test_non_verbatim_quote_is_flagged(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "factoid")
    item["gold_quote"] = item["gold_quote"].replace(" ", "  ", 1)
    problems = validator.validate([item], archive_text)
    assert any("not verbatim in archive" in p for p in problems), problems


def test_curly_quote_swapped_for_straight_is_flagged(
    items: list[dict[str, Any]], archive_text: str
) -> None:
    item = next(copy.deepcopy(i) for i in items if i.get("gold_quote") and "’" in i["gold_quote"])
    item["gold_quote"] = item["gold_quote"].replace("’", "'")
    item["answer_facts"] = [f.replace("’", "'") for f in item["answer_facts"]]
    assert validator.validate([item], archive_text)


def test_fact_not_in_quote_is_flagged(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "factoid")
    item["answer_facts"] = ["Scotland"]
    problems = validator.validate([item], archive_text)
    assert any("not verbatim in gold_quote" in p for p in problems), problems


def test_fact_case_must_match(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "factoid")
    item["answer_facts"] = [item["answer_facts"][0].swapcase()]
    assert validator.validate([item], archive_text)


def test_duplicate_id_is_flagged(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "factoid")
    problems = validator.validate([item, copy.deepcopy(item)], archive_text)
    assert any("duplicate id" in p for p in problems), problems


def test_question_copying_six_archive_words_is_flagged(
    items: list[dict[str, Any]], archive_text: str
) -> None:
    item = _first(items, "factoid")
    words = validator.tokenize(item["gold_quote"])[:6]
    item["question"] = "Tell me: " + " ".join(words) + "?"
    problems = validator.validate([item], archive_text)
    assert any("copies archive words" in p for p in problems), problems


def test_five_shared_words_are_allowed(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "factoid")
    words = validator.tokenize(item["gold_quote"])[:5]
    item["question"] = " ".join(words) + " zzzq?"
    assert not any("copies archive words" in p for p in validator.validate([item], archive_text))


def test_history_copying_archive_is_flagged(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "followup")
    item["history"] = ["NHS Digital has now rolled out NHSmail MS Teams to everyone?"]
    problems = validator.validate([item], archive_text)
    assert any("copies archive words" in p for p in problems), problems


def test_followup_without_history_is_flagged(
    items: list[dict[str, Any]], archive_text: str
) -> None:
    item = _first(items, "followup")
    del item["history"]
    problems = validator.validate([item], archive_text)
    assert any("history" in p for p in problems), problems
    item["history"] = []
    assert validator.validate([item], archive_text)


def test_unanswerable_with_facts_is_flagged(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "unanswerable")
    item["answer_facts"] = ["April 2021"]
    assert validator.validate([item], archive_text)


def test_bad_type_and_season_are_flagged(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "factoid")
    item["type"] = "trivia"
    item["season"] = "Summer 2022"
    problems = validator.validate([item], archive_text)
    assert any("type" in p for p in problems)
    assert any("season" in p for p in problems)


def test_missing_required_field_is_flagged(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "factoid")
    del item["question"]
    assert any("missing field 'question'" in p for p in validator.validate([item], archive_text))


def test_multi_passage_fact_outside_quotes_is_flagged(
    items: list[dict[str, Any]], archive_text: str
) -> None:
    item = _first(items, "multi_passage")
    item["answer_facts"] = item["answer_facts"][:1] + ["Scotland"]
    assert validator.validate([item], archive_text)


def test_wrong_section_or_season_is_flagged(items: list[dict[str, Any]], archive_text: str) -> None:
    item = _first(items, "factoid")
    item["section"] = "NHS App"
    assert any("section" in p for p in validator.validate([item], archive_text))
    item = _first(items, "factoid")
    item["season"] = "Spring 2022" if item["season"] != "Spring 2022" else "Summer 2021"
    assert any("seasons" in p for p in validator.validate([item], archive_text))
