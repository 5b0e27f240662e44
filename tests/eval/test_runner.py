"""Tests for the eval runner: the matching rule, the metrics, a real run, the report, the CLI.

The run tests use the session's real index of the bundled snapshot (tests/conftest.py);
nothing of ours is mocked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.dataset import DatasetError, Gold, Item, load_set, select
from eval.metrics import (
    FLOORS,
    Passage,
    abstention_summary,
    below_floors,
    citation_supported,
    fact_recall,
    first_hit,
    gold_flags,
    hit_curve,
    holds_quote,
    matches,
    normalise,
    percentile,
    retrieval_scores,
    retrieval_summary,
)
from eval.report import render_html, render_markdown, write_report
from eval.run import OURS, SYSTEMS, ItemResult, SystemRun, failure_reasons, run_eval, summarise

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# A real archive paragraph (Summer 2021 > CPCF/CPCS IT > General) of three sentences.
LONG_QUOTE = (
    "CPCS IT systems are currently funded centrally by NHSE&I. This arrangement was "
    "originally due to end in April 2021 but was extended up until the end of September 2021. "
    "CPCS contractors will be responsible for purchasing their own solutions from October 2021 "
    "onwards."
)
PKB_WINTER = (
    "The first supplier, Patients Know Best, was made available in the NHS App from April 2020 "
    "and more are expected to go live in late 2021."
)
PKB_SUMMER = PKB_WINTER.replace("late 2021", "spring 2021")
WINTER = frozenset({"Winter 2021"})


def _item(
    quotes: list[str], facts: list[str], seasons: frozenset[str] = WINTER, kind: str = "factoid"
) -> Item:
    return Item(
        id="t-1",
        type=kind,
        question="q?",
        history=(),
        answer_facts=tuple(facts),
        golds=tuple(Gold(q, seasons) for q in quotes),
        season=sorted(seasons)[0] if seasons else None,
        section="s",
    )


# ---------------------------------------------------------------- the matching rule


def test_normalise_drops_markers_quotes_and_whitespace() -> None:
    text = "• The group’s  view\n3. Second   item\n  • third"
    assert normalise(text) == "The group's view Second item third"


def test_quote_inside_a_list_item_passage_holds() -> None:
    passage = "NHSE&I has been working on it:\n• " + LONG_QUOTE + "\n• Another item."
    assert holds_quote(passage, LONG_QUOTE)


def test_quote_with_curly_apostrophe_matches_straight_passage() -> None:
    assert holds_quote("six to twelve months' notice should be given", "twelve months’ notice")


def test_chunk_boundary_cut_keeping_most_of_the_quote_holds() -> None:
    # The chunker cut the paragraph after its second sentence: 75% of the quote is here.
    first_two = LONG_QUOTE.split(" CPCS contractors")[0]
    passage = "Earlier text in the chunk. " + first_two
    assert holds_quote(passage, LONG_QUOTE, facts=["end of September 2021"])


def test_chunk_boundary_tail_without_the_facts_does_not_hold() -> None:
    tail = "CPCS contractors will be responsible for purchasing their own solutions from October"
    assert not holds_quote(tail + " 2021 onwards. Next paragraph.", LONG_QUOTE, ["April 2021"])


def test_sentence_holding_the_facts_is_enough_across_a_boundary() -> None:
    # A real three-sentence item (Summer 2021 > GP CPCS IT pilot); the middle sentence is
    # 20% of it, but it is the one that carries the answer.
    quote = (
        "CPCS connects patients who have a minor illness or need an urgent supply of a medicine "
        "with a community pharmacy. CPCS was extended to include referrals from GP practices "
        "from 1st November 2020. Pharmacies which are already registered to provide CPCS do "
        "not need to re-register to receive referrals from GPs, as this is an extension to the "
        "existing Advanced service (previously referrals came only from NHS 111)."
    )
    sentence = "CPCS was extended to include referrals from GP practices from 1st November 2020."
    assert len(sentence) < 0.6 * len(quote)
    assert holds_quote("Other text. " + sentence, quote, ["1st November 2020"])
    assert not holds_quote("Other text. " + sentence, quote, ["NHS 111"])


def test_short_shared_phrase_is_not_a_hit() -> None:
    assert not holds_quote("The NHS App is available on the Google Play store.", PKB_WINTER)
    assert not holds_quote("CPCS IT systems are currently", LONG_QUOTE, ["NHSE&I"])


def test_older_wording_of_the_quote_is_not_a_hit() -> None:
    # 90% shared, but the older sentence does not hold the answer fact "late 2021".
    assert not holds_quote(PKB_SUMMER, PKB_WINTER, facts=["late 2021"])


def test_season_rule_other_bulletin_counts_only_when_listed() -> None:
    gold = Gold(PKB_WINTER, WINTER)
    winter = Passage(text=PKB_WINTER, season="Winter 2021")
    autumn = Passage(text=PKB_WINTER, season="Autumn 2021")
    assert matches(winter, gold)
    assert not matches(autumn, gold)
    assert matches(autumn, Gold(PKB_WINTER, frozenset({"Winter 2021", "Autumn 2021"})))


def test_season_rule_overview_passage_is_neutral() -> None:
    quote = "You can be involved as much or as little as you like with CPDG."
    gold = Gold(quote, frozenset({"Spring 2022"}))
    assert matches(Passage(text=quote, season="overview"), gold)
    assert not matches(Passage(text=quote, season="Summer 2021"), gold)


def test_season_rule_applies_per_segment_of_a_multi_season_passage() -> None:
    node = Passage(
        text=PKB_SUMMER + "\n" + "Winter 2021 updates\nUnrelated text.",
        season=None,
        segments=(("Summer 2021", PKB_SUMMER), ("Winter 2021", "Unrelated text.")),
    )
    wanted = Gold(PKB_SUMMER, frozenset({"Summer 2021"}))
    assert matches(node, wanted)
    assert not matches(node, Gold(PKB_SUMMER, WINTER))


def test_multi_passage_hit_on_either_quote() -> None:
    item = _item(["First quote about NHSmail accounts.", PKB_WINTER], ["NHSmail", "late 2021"])
    passages = [
        Passage(text="Nothing relevant here at all.", season="Winter 2021"),
        Passage(text=PKB_WINTER, season="Winter 2021"),
    ]
    assert gold_flags(passages, item) == [False, True]
    assert first_hit(gold_flags(passages, item)) == 2


# ---------------------------------------------------------------- metrics


def test_retrieval_scores_use_first_gold_rank() -> None:
    scores = retrieval_scores([False, True, False, True])
    assert scores == {"hit@1": 0.0, "hit@3": 1.0, "hit@5": 1.0, "mrr@10": 0.5}
    assert retrieval_scores([]) == {"hit@1": 0.0, "hit@3": 0.0, "hit@5": 0.0, "mrr@10": 0.0}
    assert retrieval_scores([False] * 10)["mrr@10"] == 0.0


def test_retrieval_summary_and_hit_curve() -> None:
    flag_lists = [[True], [False, False, True], [False] * 10, [False, True]]
    summary = retrieval_summary(flag_lists)
    assert summary["hit@1"] == pytest.approx(0.25)
    assert summary["hit@3"] == pytest.approx(0.75)
    assert summary["mrr@10"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert hit_curve(flag_lists, 3) == pytest.approx([0.25, 0.5, 0.75])


def test_fact_recall_ignores_case_markers_and_citations() -> None:
    answer = "• The pilot covers EIGHT London community [1] pharmacies.\n• Sonar [2]"
    recall, missing = fact_recall(answer, ["eight London community pharmacies", "Sonar", "GP"])
    assert missing == ["GP"]
    assert recall == pytest.approx(2 / 3)
    assert fact_recall("anything", []) == (1.0, [])


def test_citation_support_needs_the_gold_in_a_cited_passage() -> None:
    item = _item([PKB_WINTER], ["late 2021"])
    assert citation_supported([Passage(text="x " + PKB_WINTER, season="Winter 2021")], item)
    assert not citation_supported([Passage(text=PKB_SUMMER, season="Summer 2021")], item)
    assert not citation_supported([], item)


def test_abstention_precision_recall_and_refusals() -> None:
    abstained = [True, True, False, True, False, False]
    should = [True, True, True, False, False, False]
    s = abstention_summary(abstained, should)
    assert s["abstention_precision"] == pytest.approx(2 / 3)
    assert s["abstention_recall"] == pytest.approx(2 / 3)
    assert s["answerable_refused"] == pytest.approx(1 / 3)
    assert s["answerable_answered"] == pytest.approx(2 / 3)
    assert abstention_summary([False], [False])["abstention_precision"] is None


def test_percentile_and_floors() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([], 95) is None
    assert below_floors({**{m: 1.0 for m in FLOORS}, "hit@1": 0.5}) == [
        ("hit@1", 0.5, FLOORS["hit@1"])
    ]
    assert below_floors({"hit@1": None}) == []  # not measured is not a miss


def _result(
    item_id: str,
    kind: str,
    *,
    flags: list[bool] | None = None,
    abstained: bool = False,
    recall: float | None = None,
    latency: float = 10.0,
) -> ItemResult:
    answerable = kind != "unanswerable"
    result = ItemResult(
        id=item_id, type=kind, season="Winter 2021" if answerable else None,
        question=f"Question <b>{item_id}</b> & more?", history=[], answer_facts=["fact"],
        gold_quotes=["gold <quote>"], answerable=answerable,
        answer="<script>alert(1)</script> answer", abstained=abstained,
        reason="answered" if not abstained else "weak match", latency_ms=latency, cosine=0.5,
        fact_recall=recall if answerable else None,
        citation_supported=bool(recall) if answerable else None,
        facts_missing=[] if recall == 1.0 or not answerable else ["fact"],
    )  # fmt: skip
    if answerable:
        result.systems[OURS] = SystemRun(flags or [], 5.0, recall)
        result.systems["bm25"] = SystemRun([False, True], 1.0, 0.0)
        result.hit_rank = first_hit(flags or [])
    else:
        result.systems[OURS] = SystemRun([], 5.0, None)
    result.failures = failure_reasons(result)
    return result


def test_summary_of_hand_made_results() -> None:
    results = [
        _result("a", "factoid", flags=[True], recall=1.0, latency=10),
        _result("b", "factoid", flags=[False, True], recall=0.5, latency=20),
        _result("c", "temporal", flags=[True], abstained=True, recall=0.0, latency=30),
        _result("d", "unanswerable", abstained=True, latency=40),
        _result("e", "unanswerable", abstained=False, latency=50),
    ]
    run = summarise(results, [OURS, "bm25"], {"duration_s": 1})
    ours = run.summary[OURS]
    assert ours["n_answerable"] == 3 and ours["n_unanswerable"] == 2
    assert ours["hit@1"] == pytest.approx(2 / 3)
    assert ours["fact_recall"] == pytest.approx(0.5)  # (1 + 0.5 + 0) / 3, abstained = 0
    assert ours["abstention_recall"] == pytest.approx(0.5)
    assert ours["abstention_precision"] == pytest.approx(0.5)
    assert ours["answerable_refused"] == pytest.approx(1 / 3)
    assert ours["latency_p50_ms"] == 30
    assert run.summary["bm25"]["hit@1"] == 0.0 and run.summary["bm25"]["mrr@10"] == 0.5
    assert [r.id for r in run.failed] == ["b", "c", "e"]
    assert "gold passage at rank 2" in results[1].failures
    assert any("refused an answerable" in f for f in results[2].failures)
    assert run.by_type["unanswerable"]["abstained"] == 0.5
    assert set(run.by_season) == {"Winter 2021", "none (unanswerable)"}
    # Everything shown in the report is escaped.
    page = render_html(run, {})
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "Question <b>" not in page and "&lt;b&gt;" in page
    assert render_markdown(run).index("## Failed questions") < render_markdown(run).index(
        "## Summary"
    )


# ---------------------------------------------------------------- the set


def test_default_set_loads_with_gold_seasons() -> None:
    items = load_set()
    lines = (ROOT / "eval/questions.jsonl").read_text().splitlines()
    assert len(items) == sum(1 for line in lines if line.strip())
    multi = next(i for i in items if i.type == "multi_passage" and i.id == "mp-001")
    seasons = {gold.quote[:20]: gold.seasons for gold in multi.golds}
    assert frozenset({"Autumn 2021"}) in seasons.values()  # the second quote's own season
    assert frozenset({"Winter 2021"}) in seasons.values()


def test_select_limit_covers_every_type() -> None:
    items = load_set()
    picked = select(items, limit=12)
    assert len(picked) == 12
    assert {i.type for i in picked} == {i.type for i in items}
    assert [i.id for i in picked] == [i.id for i in items if i in picked]  # file order
    assert {i.type for i in select(items, ["followup", "list"], 5)} == {"followup", "list"}
    with pytest.raises(DatasetError):
        select(items, ["trivia"])


def test_invalid_set_is_refused_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good = json.loads((ROOT / "eval/questions.jsonl").read_text().splitlines()[0])
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


# ---------------------------------------------------------------- a real run and its report


@pytest.fixture(scope="module")
def limited_run(snapshot_settings, tmp_path_factory: pytest.TempPathFactory):
    """Twelve questions of every type, through ours and every baseline, with a report."""
    items = select(load_set(), limit=12)
    result = run_eval(items, snapshot_settings, SYSTEMS, progress=False)
    folder = write_report(result, tmp_path_factory.mktemp("report"))
    return result, folder


def test_run_scores_every_item_and_system(limited_run) -> None:
    result, _ = limited_run
    assert len(result.items) == 12
    assert result.systems == list(SYSTEMS)
    assert {r.type for r in result.items} >= {"factoid", "followup", "unanswerable"}
    for name in SYSTEMS:
        summary = result.summary[name]
        assert 0 <= summary["hit@1"] <= summary["hit@3"] <= summary["hit@5"] <= 1
    ours = result.summary[OURS]
    for key in ("fact_recall", "citation_support", "abstention_recall", "latency_p95_ms"):
        assert ours[key] is not None
    for item in result.items:
        assert item.latency_ms is not None and item.latency_ms > 0
        if item.answerable:
            assert set(item.systems) == set(SYSTEMS)
            assert len(item.systems["llamaindex-default"].flags) <= 2  # the default top-2
    assert result.hit_curves[OURS] == sorted(result.hit_curves[OURS])
    assert result.tradeoff["thresholds"]


def test_report_files_and_sections(limited_run) -> None:
    result, folder = limited_run
    markdown = (folder / "report.md").read_text()
    for heading in (
        "## Floors", "## Failed questions", "## Summary: our system and the baselines",
        "## hit@1 by question type", "## Our system by question type",
        "## Our system by season", "## Plots", "## Every question",
    ):  # fmt: skip
        assert heading in markdown, heading
    for label in ("hybrid (ours)", "BM25 only", "dense only", "llama-index default"):
        assert label in markdown
    for failed in result.failed:
        assert f"### {failed.id} " in markdown
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "<script" not in page and "src='http" not in page and 'src="http' not in page
    assert page.index("id='failed'") < page.index("id='summary'")
    data = json.loads((folder / "results.json").read_text())
    assert [i["id"] for i in data["items"]] == [r.id for r in result.items]
    assert set(data["summary"]) == set(SYSTEMS)
    for png in ("hit_at_k.png", "latency.png", "abstention_tradeoff.png"):
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
    new["summary"][OURS]["hit@1"] = old["summary"][OURS]["hit@1"] - 0.25
    (tmp_path / "new.json").write_text(json.dumps(new))
    process = _cli("--compare", str(folder), str(tmp_path / "new.json"))
    assert process.returncode == 0, process.stderr
    worse = process.stdout.split("Worse")[1].split("Unchanged")[0]
    assert "hit@1" in worse and "-0.250" in worse
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
    for args in (["--limit", "0"], ["--type", "trivia"], ["--compare", str(bad), str(bad)]):
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
        "--index-dir", str(snapshot_index_dir), "--limit", "3", "--type", "factoid",
        "unanswerable", "--no-baselines", "--json", "--quiet", "--out", str(out),
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    data = json.loads(process.stdout)
    assert data["report"] == str(out) and list(data["summary"]) == [OURS]
    assert data["meta"]["items"] == 3 and set(data["by_type"]) == {"factoid", "unanswerable"}
    assert set(data["floors"]) == set(FLOORS)
    assert (out / "report.html").exists() and (out / "results.json").exists()
