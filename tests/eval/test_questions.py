"""Tests for the evaluation question set and its validator."""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR_PATH = ROOT / "eval" / "validate.py"
QUESTIONS_PATH = ROOT / "eval" / "questions.jsonl"
ARCHIVE_PATH = ROOT / "data" / "corpus" / "cp-itg-workstream-updates-archive.txt"

MIN_ITEMS = 120
MIN_PER_TYPE = {
    "factoid": 40,
    "temporal": 15,
    "list": 10,
    "acronym": 10,
    "multi_passage": 6,
    "followup": 10,
    "unanswerable": 28,
}


def _load_validator() -> ModuleType:
    """Import eval/validate.py by path; "eval" is not a package and shadows a builtin name."""
    spec = importlib.util.spec_from_file_location("cp_itg_eval_validate", VALIDATOR_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


validator = _load_validator()


@pytest.fixture(scope="module")
def archive_text() -> str:
    """Return the archive text the questions are grounded in."""
    return ARCHIVE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def items() -> list[dict[str, Any]]:
    """Return the default question set."""
    return validator.load_items(QUESTIONS_PATH)


def _first(items: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Return a deep copy of the first item of a type, so mutations stay local."""
    return copy.deepcopy(next(item for item in items if item["type"] == kind))


def test_default_set_validates_clean(items: list[dict[str, Any]], archive_text: str) -> None:
    assert validator.validate(items, archive_text) == []


def test_main_exits_zero_on_default_set() -> None:
    assert validator.main([]) == 0


def test_size_and_type_minimums(items: list[dict[str, Any]]) -> None:
    assert len(items) >= MIN_ITEMS
    counts = Counter(item["type"] for item in items)
    for kind, minimum in MIN_PER_TYPE.items():
        assert counts[kind] >= minimum, f"{kind}: {counts[kind]} < {minimum}"


def test_every_season_appears(items: list[dict[str, Any]]) -> None:
    seasons = {item["season"] for item in items}
    for season in validator.ALLOWED_SEASONS:
        assert season in seasons


def test_ids_unique(items: list[dict[str, Any]]) -> None:
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("kind", ["factoid", "followup", "multi_passage", "unanswerable"])
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
