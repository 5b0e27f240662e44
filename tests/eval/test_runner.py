"""Tests for the eval runner: summaries of hand-made results, a real run, the report, the CLI.

The run tests use the session's real index of the bundled snapshot (tests/conftest.py) and
the dev split (never test: only the quality gate reads it); nothing of ours is mocked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.__main__ import chosen_set
from eval.baselines import (
    ANSWER_BASELINES,
    RETRIEVAL_BASELINES,
    BaselineUnavailableError,
    naive_threshold,
)
from eval.dataset import SPLIT_PATHS, DatasetError, load_set, load_split, select
from eval.metrics import FLOORS, SystemRun
from eval.report import render_html, render_markdown, write_report
from eval.run import OURS, SYSTEMS, ItemResult, failure_reasons, run_eval, summarise
from records import ANSWERED, HEDGED, NOT_COVERED, STATUSES

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
TRAIN = SPLIT_PATHS["train"]


# ---------------------------------------------------------------- hand-made results


def _result(
    item_id: str,
    kind: str,
    status: str,
    *,
    flags: list[bool] | None = None,
    recall: float = 1.0,
    gap: str | None = None,
    voice: str = "terse",
    latency: float = 10.0,
) -> ItemResult:
    unanswerable = kind == "unanswerable"
    result = ItemResult(
        id=item_id, type=kind, voice=voice, season=None if unanswerable else "Winter 2021",
        gap=gap, on_topic=gap not in ("off_topic", "off_topic_pharmacy"),
        question=f"Question <b>{item_id}</b> & more?", history=[],
        answer_facts=[] if unanswerable else ["fact"],
        gold_quotes=[] if unanswerable else ["gold <quote>"],
        answer="<script>alert(1)</script> answer", caveat="The bulletins don't say." if
        status == HEDGED else "", reason=f"{status} (test)",
    )  # fmt: skip
    ours = SystemRun(status=status, latency_ms=latency, retrieval_ms=5.0)
    if not unanswerable:
        ours.flags = flags if flags is not None else [True]
        ours.top_fact_recall = recall
        covered = status != NOT_COVERED
        ours.fact_recall = recall if covered else 0.0
        ours.facts_missing = [] if recall == 1.0 and covered else ["fact"]
        ours.citation_supported = covered
        if kind != "partial":
            result.systems["bm25"] = SystemRun(flags=[False, True], retrieval_ms=1.0)
    result.systems[OURS] = ours
    result.systems["rules"] = SystemRun(
        status=NOT_COVERED if unanswerable else ANSWERED,
        fact_recall=None if unanswerable else 1.0,
        citation_supported=None if unanswerable else True,
    )
    result.failures = failure_reasons(result)
    return result


@pytest.fixture()
def hand_made():
    """Ten results of every group and state, summarised for ours, the rules and BM25."""
    results = [
        _result("a", "factoid", ANSWERED, latency=10),
        _result("b", "factoid", ANSWERED, flags=[False, True], recall=0.5, latency=20),
        _result("c", "temporal", HEDGED, latency=30),
        _result("d", "list", NOT_COVERED, latency=40),
        _result("e", "unanswerable", HEDGED, gap="detail"),
        _result("f", "unanswerable", NOT_COVERED, gap="name", voice="chatty"),
        _result("g", "unanswerable", ANSWERED, gap="detail"),
        _result("h", "unanswerable", HEDGED, gap="off_topic"),
        _result("i", "partial", HEDGED, gap="detail"),
        _result("j", "partial", ANSWERED, gap="date"),
    ]
    return results, summarise(results, [OURS, "rules", "bm25"], {"duration_s": 1})


def test_summary_scores_the_three_states(hand_made) -> None:
    _, run = hand_made
    ours = {name: got.value for name, got in run.summary[OURS].items()}
    assert ours["hit@1"] == pytest.approx(3 / 4)
    assert ours["answerable_answered"] == pytest.approx(2 / 4)
    assert ours["answerable_hedged"] == pytest.approx(1 / 4)
    assert ours["answerable_not_covered"] == pytest.approx(1 / 4)
    assert ours["fact_recall"] == pytest.approx((1 + 0.5 + 1 + 0) / 4)
    assert ours["citation_support"] == pytest.approx(3 / 4)
    assert ours["unanswerable_flagged"] == pytest.approx(3 / 4)
    assert ours["unanswerable_answered"] == pytest.approx(1 / 4)
    assert ours["offtopic_not_covered"] == 0.0
    assert ours["partial_hedged"] == pytest.approx(1 / 2)
    assert ours["latency_p50_ms"] == pytest.approx(10.0)  # six of the ten take 10 ms
    for got in run.summary[OURS].values():
        assert got.low is not None and got.low <= got.value <= got.high
    rules = run.summary["rules"]
    assert "answerable_hedged" not in rules and "hit@1" not in rules  # it never hedges
    assert rules["unanswerable_flagged"].value == 1.0
    assert set(run.summary["bm25"]) == {"hit@1", "hit@3", "hit@5", "mrr@10", "retrieval_p50_ms"}
    assert run.summary["bm25"]["mrr@10"].value == 0.5


def test_failures_follow_the_right_state(hand_made) -> None:
    results, run = hand_made
    reasons = {r.id: r.failures for r in results}
    assert reasons["a"] == [] and reasons["e"] == [] and reasons["f"] == [] and reasons["i"] == []
    assert reasons["b"] == ["gold passage at rank 2", "answer lacks: fact"]
    assert reasons["c"] == ["hedged an answerable question (The bulletins don't say.)"]
    assert reasons["d"] == ["not covered, though answerable (not_covered (test))"]
    assert reasons["g"] == ["answered a question the archive does not answer"]
    assert reasons["h"] == ["hedged an off-topic question (not covered is right)"]
    assert reasons["j"] == ["answered a partial question (hedged is right)"]
    assert [r.id for r in run.failed] == ["b", "c", "d", "g", "h", "j"]
    assert [r.right for r in results] == [
        True,
        True,
        False,
        False,
        True,
        True,
        False,
        False,
        True,
        False,
    ]


def test_breakdowns_per_type_voice_season_and_gap(hand_made) -> None:
    _, run = hand_made
    by_type = run.breakdowns["type"]
    assert by_type["factoid"].n == 2 and by_type["factoid"].failed == 1
    assert by_type["unanswerable"].scores["hedged_share"].value == pytest.approx(2 / 4)
    assert by_type["unanswerable"].scores["right_state"].value == pytest.approx(2 / 4)
    assert "hit@1" not in by_type["unanswerable"].scores
    assert "opens_on_gold" not in by_type["unanswerable"].scores  # it quotes no answer
    assert set(run.breakdowns["voice"]) == {"terse", "chatty"}
    assert set(run.breakdowns["gap"]) == {
        "detail",
        "name",
        "off_topic",
        "detail (partial)",
        "date (partial)",
    }
    assert list(run.breakdowns["season"]) == ["Winter 2021", "none (unanswerable)"]
    assert run.versus["rules"] and run.versus["bm25"]


def test_report_escapes_and_puts_the_table_then_failures_first(hand_made) -> None:
    _, run = hand_made
    page = render_html(run, {})
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "Question <b>" not in page and "&lt;b&gt;" in page
    markdown = render_markdown(run)
    assert markdown.index("## Every metric") < markdown.index("## Failed questions")
    assert markdown.index("## Failed questions") < markdown.index("## By question type")
    assert "*Caveat:* The bulletins don't say." in markdown  # the hedged failure's caveat
    assert "[0." in markdown  # intervals are shown


# ---------------------------------------------------------------- the set and the CLI's choice


def test_splits_load_with_gold_seasons() -> None:
    items = load_split("train")
    lines = TRAIN.read_text(encoding="utf-8").splitlines()
    assert len(items) == sum(1 for line in lines if line.strip())
    multi = next(i for i in items if i.id == "mp-004")
    # The second quote declares no season: it counts where the archive has it.
    assert {frozenset({"Summer 2021"}), frozenset({"Winter 2021"})} == {
        g.seasons for g in multi.golds
    }
    assert {i.voice for i in items} >= {"team", "terse", "chatty", "followup"}
    assert any(i.type == "partial" and i.gap and not i.answerable for i in items)


def test_select_limit_covers_every_type() -> None:
    items = load_split("dev")
    picked = select(items, limit=12)
    assert len(picked) == 12
    assert {i.type for i in picked} == {i.type for i in items}
    assert [i.id for i in picked] == [i.id for i in items if i in picked]  # file order
    assert {i.type for i in select(items, ["followup", "list"], 5)} == {"followup", "list"}
    with pytest.raises(DatasetError):
        select(items, ["trivia"])


def test_cli_reports_on_the_test_split_unless_told() -> None:
    assert chosen_set(None, None) == ("test", SPLIT_PATHS["test"])
    assert chosen_set("dev", None) == ("dev", SPLIT_PATHS["dev"])
    assert chosen_set(None, Path("mine.jsonl")) == (None, Path("mine.jsonl"))


def test_invalid_set_is_refused_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good = json.loads(TRAIN.read_text(encoding="utf-8").splitlines()[0])
    bad.write_text(json.dumps({**good, "gold_quote": "Not in the archive at all."}) + "\n")
    with pytest.raises(DatasetError) as caught:
        load_set(bad)
    message = str(caught.value)
    assert "\n" not in message and "not verbatim in archive" in message
    with pytest.raises(DatasetError, match="no such file"):
        load_set(tmp_path / "missing.jsonl")
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(DatasetError, match="invalid JSON"):
        load_set(tmp_path / "broken.jsonl")


def test_naive_threshold_missing_is_one_clear_error(tmp_path: Path) -> None:
    model = tmp_path / "decision.json"
    model.write_text(json.dumps({"baselines": {"naive_cosine_threshold": 0.41}}))
    assert naive_threshold(model) == 0.41
    model.write_text(json.dumps({"thresholds": {}}))
    with pytest.raises(BaselineUnavailableError, match="make calibrate"):
        naive_threshold(model)
    with pytest.raises(BaselineUnavailableError, match="make calibrate"):
        naive_threshold(tmp_path / "none.json")


# ---------------------------------------------------------------- a real run and its report


@pytest.fixture(scope="module")
def limited_run(snapshot_settings, tmp_path_factory: pytest.TempPathFactory):
    """Twelve dev questions of every type, through ours and every baseline, with a report."""
    items = select(load_split("dev"), limit=12)
    result = run_eval(items, snapshot_settings, SYSTEMS, progress=False)
    result.meta.update(split="dev", set=str(SPLIT_PATHS["dev"]))
    folder = write_report(result, tmp_path_factory.mktemp("report"))
    return result, folder


def test_run_scores_every_item_and_system(limited_run) -> None:
    result, _ = limited_run
    assert len(result.items) == 12
    assert result.systems == list(SYSTEMS)
    assert {r.group for r in result.items} == {"answerable", "partial", "unanswerable"}
    for item in result.items:
        assert item.error is None, item.error
        assert item.status in STATUSES
        assert item.ours.latency_ms is not None and item.ours.latency_ms > 0
        assert (item.caveat != "") == (item.status == HEDGED), item.id
        for name in ANSWER_BASELINES:
            assert item.systems[name].status in (ANSWERED, NOT_COVERED)
        if item.answerable:
            assert set(item.systems) == set(SYSTEMS)
            assert len(item.systems["llamaindex-default"].flags) <= 2  # the default top-2
        else:
            assert not set(item.systems) & set(RETRIEVAL_BASELINES)
    ours = result.summary[OURS]
    for metric in FLOORS:
        assert ours[metric].value is not None and ours[metric].low <= ours[metric].high, metric
    for name in RETRIEVAL_BASELINES:
        summary = result.summary[name]
        assert 0 <= summary["hit@1"].value <= summary["hit@3"].value <= summary["hit@5"].value <= 1
    assert result.hit_curves[OURS] == sorted(result.hit_curves[OURS])
    assert set(result.versus) == set(SYSTEMS) - {OURS}
    assert result.tradeoff["thresholds"] and set(result.tradeoff["points"]) == {
        OURS,
        "rules",
        "naive",
    }
    assert result.meta["naive_threshold"] is not None


def test_report_files_and_sections(limited_run) -> None:
    result, folder = limited_run
    markdown = (folder / "report.md").read_text()
    for heading in (
        "## Every metric on the dev split", "### Ours against each baseline",
        "## Failed questions", "## By question type", "## By voice", "## By gap",
        "## By season", "## hit@1 by question type", "## Plots", "## Every question",
    ):  # fmt: skip
        assert heading in markdown, heading
    for label in ("ours", "rule cascade (old)", "naive top-1 + cosine", "BM25 only", "dense only"):
        assert label in markdown
    for failed in result.failed:
        assert f"### {failed.id} " in markdown
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4
    assert "<script" not in page and "src='http" not in page and 'src="http' not in page
    assert page.index("id='summary'") < page.index("id='failed'") < page.index("id='by-type'")
    data = json.loads((folder / "results.json").read_text())
    assert [i["id"] for i in data["items"]] == [r.id for r in result.items]
    assert set(data["summary"]) == set(SYSTEMS)
    hit1 = data["summary"][OURS]["hit@1"]
    assert (
        set(hit1) == {"value", "low", "high", "n"} and hit1["low"] <= hit1["value"] <= hit1["high"]
    )
    assert all(i["status"] in STATUSES for i in data["items"])
    for png in ("hit_at_k.png", "states.png", "state_tradeoff.png", "latency.png"):
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- the CLI


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("ASSISTANT_INDEX_DIR", None)
    return subprocess.run(
        [PYTHON, "-m", "eval", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def _one_error_line(process: subprocess.CompletedProcess) -> str:
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), process.stderr
    assert "Traceback" not in process.stderr
    return lines[0]


def test_compare_shows_flipped_items_and_metric_changes(limited_run, tmp_path: Path) -> None:
    _, folder = limited_run
    old = json.loads((folder / "results.json").read_text())
    new = json.loads(json.dumps(old))
    flipped = next(i for i in new["items"] if i["passed"])
    flipped["passed"], flipped["failures"] = False, ["gold passage at rank 4"]
    new["summary"][OURS]["hit@1"]["value"] = old["summary"][OURS]["hit@1"]["value"] - 0.25
    # Fewer answerable questions not covered is better: the metric's direction says so.
    new["summary"][OURS]["answerable_not_covered"]["value"] = -0.5
    (tmp_path / "new.json").write_text(json.dumps(new))
    process = _cli("--compare", str(folder), str(tmp_path / "new.json"))
    assert process.returncode == 0, process.stderr
    worse = process.stdout.split("Worse")[1].split("Unchanged")[0]
    assert "hit@1" in worse and "-0.250" in worse
    better = process.stdout.split("Better")[1].split("Worse")[0]
    assert "answerable_not_covered" in better
    failing = process.stdout.split("Now failing")[1].split("Now passing")[0]
    assert f"{flipped['id']}: gold passage at rank 4" in failing
    back = _cli("--compare", str(tmp_path / "new.json"), str(folder), "--json")
    as_json = json.loads(back.stdout)
    assert as_json["now_passing"] == [flipped["id"]]


def test_cli_bad_inputs_exit_2(tmp_path: Path) -> None:
    assert "no such file" in _one_error_line(_cli("--set", str(tmp_path / "none.jsonl")))
    assert _cli("--set", str(tmp_path / "none.jsonl")).returncode == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "q?", "type": "factoid"}\n')
    process = _cli("--set", str(bad))
    assert process.returncode == 2 and "missing field" in _one_error_line(process)
    for args in (
        ["--limit", "0"],
        ["--type", "trivia"],
        ["--split", "holdout"],
        ["--split", "dev", "--set", str(bad)],
        ["--compare", str(bad), str(bad)],
        ["--compare", str(bad), str(bad), "--split", "dev"],
    ):
        process = _cli(*args)
        assert process.returncode == 2, (args, process.stderr)
        _one_error_line(process)


def test_cli_without_index_exits_3_with_the_build_command(tmp_path: Path) -> None:
    process = _cli("--index-dir", str(tmp_path / "empty"), "--limit", "1", "--quiet")
    assert process.returncode == 3, process.stderr
    assert f"python -m ingest --index-dir {tmp_path / 'empty'}" in _one_error_line(process)


def test_cli_run_prints_json_and_writes_the_report(snapshot_index_dir, tmp_path: Path) -> None:
    out = tmp_path / "report"
    process = _cli(
        "--index-dir", str(snapshot_index_dir), "--split", "dev", "--limit", "3", "--type",
        "factoid", "unanswerable", "--no-baselines", "--json", "--quiet", "--out", str(out),
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    data = json.loads(process.stdout)
    assert data["report"] == str(out) and list(data["summary"]) == [OURS]
    assert data["meta"]["items"] == 3 and data["meta"]["split"] == "dev"
    assert data["meta"]["sealed"] is None  # only the test split is checked against SEALED
    assert set(data["breakdowns"]["type"]) == {"factoid", "unanswerable"}
    assert set(data["floors"]) == set(FLOORS)
    assert {"bound", "direction", "value", "met", "target", "target_met"} == set(
        data["floors"]["hit@1"]
    )
    assert (out / "report.html").exists() and (out / "results.json").exists()
