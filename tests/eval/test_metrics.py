"""Tests for the scorer: the matching rule, the three-state rates, the intervals, the floors.

Plain data in, numbers out: no index, no model.
"""

from __future__ import annotations

import pytest

from eval.dataset import Gold, Item
from eval.metrics import (
    ANSWERABLE,
    AT_LEAST,
    AT_MOST,
    FLOORS,
    HIGHER,
    LOWER,
    METRICS,
    PARTIAL,
    UNANSWERABLE,
    Estimate,
    Floor,
    Passage,
    SystemRun,
    below_floors,
    bootstrap_interval,
    citation_supported,
    estimate,
    estimates,
    fact_recall,
    first_hit,
    gold_flags,
    hit_curve,
    holds_quote,
    item_group,
    item_values,
    matches,
    normalise,
    percentile,
    quoted_on_gold,
    retrieval_scores,
    retrieval_summary,
    right_states,
    versus,
)
from records import ANSWERED, HEDGED, NOT_COVERED

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


# ---------------------------------------------------------------- per-question metrics


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


def test_quoted_sentences_are_on_the_gold_when_their_item_holds_it() -> None:
    item = _item([PKB_WINTER], ["late 2021"])
    other = "NHS Digital rolled out NHSmail Teams. It reached 1.3 million users."
    passage = Passage(text=f"{PKB_WINTER}\n{other}", season="Winter 2021")
    # The gold item alone: every sentence read is the answer.
    assert quoted_on_gold(f"• {PKB_WINTER} [1]", [passage], item) == [True]
    # Padded with an item on another subject, quoted first: one sentence of three.
    padded = f"• {other.replace('. ', '. [1] ')} [1]\n• {PKB_WINTER} [1]"
    assert quoted_on_gold(padded, [passage], item) == [False, False, True]
    # A caveat the answer wrote is not a quote and is not counted.
    hedged = f"The bulletins don't say when. The closest they say:\n{PKB_WINTER} [1]"
    assert quoted_on_gold(hedged, [passage], item) == [True]
    # The same sentence in a season the gold does not count is not the answer.
    summer = Passage(text=PKB_WINTER, season="Summer 2021")
    assert quoted_on_gold(PKB_WINTER, [summer], item) == [False]
    assert quoted_on_gold("Nothing quoted here.", [passage], item) == []


def test_quote_precision_is_scored_for_covered_answerable_answers() -> None:
    run = _answered(ANSWERED)
    run.quote_precision, run.opens_on_gold = 0.5, False
    values = item_values(ANSWERABLE, True, run)
    assert values["quote_precision"] == 0.5 and values["opens_on_gold"] == 0.0
    run.status = NOT_COVERED
    assert not {"quote_precision", "opens_on_gold"} & set(item_values(ANSWERABLE, True, run))


def test_groups_and_right_states() -> None:
    assert [item_group(t) for t in ("factoid", "compound", "partial", "unanswerable")] == [
        ANSWERABLE, ANSWERABLE, PARTIAL, UNANSWERABLE,
    ]  # fmt: skip
    assert right_states(ANSWERABLE) == (ANSWERED,)
    assert right_states(PARTIAL) == (HEDGED,)
    assert set(right_states(UNANSWERABLE, on_topic=True)) == {HEDGED, NOT_COVERED}
    assert right_states(UNANSWERABLE, on_topic=False) == (NOT_COVERED,)


# ---------------------------------------------------------------- the three-state rates


def _answered(status: str, recall: float = 1.0, cited: bool = True) -> SystemRun:
    return SystemRun(
        flags=[True], status=status, fact_recall=recall, citation_supported=cited, latency_ms=10.0
    )


def test_answerable_rates_count_each_state() -> None:
    runs = [
        _answered(ANSWERED, 1.0),
        _answered(ANSWERED, 0.5),
        _answered(HEDGED, 1.0),
        # Not covered scores no facts and no support, whatever the run recorded.
        _answered(NOT_COVERED, 1.0, cited=True),
    ]
    got = estimates(item_values(ANSWERABLE, True, run) for run in runs)
    assert got["answerable_answered"].value == pytest.approx(0.5)
    assert got["answerable_hedged"].value == pytest.approx(0.25)
    assert got["answerable_not_covered"].value == pytest.approx(0.25)
    assert got["fact_recall"].value == pytest.approx((1 + 0.5 + 1 + 0) / 4)
    assert got["citation_support"].value == pytest.approx(0.75)
    assert got["hit@1"].value == 1.0 and got["hit@1"].n == 4
    assert "unanswerable_flagged" not in got and "partial_hedged" not in got


def test_unanswerable_rates_flagged_answered_and_off_topic() -> None:
    cases = [
        (True, SystemRun(status=ANSWERED)),
        (True, SystemRun(status=HEDGED)),
        (True, SystemRun(status=NOT_COVERED)),
        (False, SystemRun(status=NOT_COVERED)),
        (False, SystemRun(status=HEDGED)),
    ]
    got = estimates(item_values(UNANSWERABLE, on_topic, run) for on_topic, run in cases)
    assert got["unanswerable_flagged"].value == pytest.approx(4 / 5)
    assert got["unanswerable_answered"].value == pytest.approx(1 / 5)
    assert got["unanswerable_not_covered"].value == pytest.approx(2 / 5)
    assert got["offtopic_not_covered"].value == pytest.approx(1 / 2)
    assert got["offtopic_not_covered"].n == 2
    assert "fact_recall" not in got and "hit@1" not in got  # no gold to score


def test_partial_rates_hedged_and_key_facts() -> None:
    runs = [
        SystemRun(status=HEDGED, fact_recall=1.0),
        SystemRun(status=ANSWERED, fact_recall=0.5),
        SystemRun(status=NOT_COVERED, fact_recall=1.0),
    ]
    got = estimates(item_values(PARTIAL, True, run) for run in runs)
    assert got["partial_hedged"].value == pytest.approx(1 / 3)
    assert got["partial_fact_recall"].value == pytest.approx((1 + 0.5 + 0) / 3)
    assert "answerable_answered" not in got  # partial questions are not answerable ones


def test_a_two_state_system_has_no_hedged_shares() -> None:
    two_states = (ANSWERED, NOT_COVERED)
    answerable = item_values(ANSWERABLE, True, _answered(ANSWERED), two_states)
    partial = item_values(PARTIAL, True, SystemRun(status=NOT_COVERED), two_states)
    assert "answerable_hedged" not in answerable and answerable["answerable_answered"] == 1.0
    assert "partial_hedged" not in partial and partial["partial_fact_recall"] == 0.0


def test_retrieval_only_system_gets_retrieval_metrics_only() -> None:
    run = SystemRun(flags=[False, True], retrieval_ms=4.0, top_fact_recall=0.5)
    values = item_values(ANSWERABLE, True, run)
    assert values["hit@1"] == 0.0 and values["mrr@10"] == 0.5
    assert values["top_passage_fact_recall"] == 0.5 and values["retrieval_p50_ms"] == 4.0
    assert not any(key.startswith("answerable_") or key == "fact_recall" for key in values)


def test_latency_percentiles() -> None:
    runs = [SystemRun(status=ANSWERED, latency_ms=ms) for ms in (10, 20, 30, 40)]
    got = estimates(item_values(UNANSWERABLE, True, run) for run in runs)
    assert got["latency_p50_ms"].value == pytest.approx(25)
    assert got["latency_p95_ms"].value == pytest.approx(percentile([10, 20, 30, 40], 95))
    assert percentile([], 95) is None


# ---------------------------------------------------------------- bootstrap intervals


def test_bootstrap_interval_contains_the_point_estimate() -> None:
    values = [1.0] * 37 + [0.0] * 13
    got = estimate(values)
    assert got.value == pytest.approx(37 / 50) and got.n == 50
    assert got.low < got.value < got.high
    assert 0.0 <= got.low and got.high <= 1.0
    # About the normal approximation's width: 1.96 * sqrt(p (1 - p) / n) = 0.12.
    assert 0.08 < got.value - got.low < 0.16 and 0.08 < got.high - got.value < 0.16


def test_bootstrap_is_deterministic_with_its_seed() -> None:
    values = [0.1 * (i % 7) for i in range(40)]
    assert bootstrap_interval(values) == bootstrap_interval(values)
    assert estimate(values, seed=3) == estimate(values, seed=3)
    assert bootstrap_interval(values, seed=1) != bootstrap_interval(values, seed=2)


def test_bootstrap_degenerate_cases() -> None:
    assert estimate([]) == Estimate(None, None, None, 0)
    assert bootstrap_interval([]) is None
    assert estimate([0.7]) == Estimate(0.7, 0.7, 0.7, 1)
    assert estimate([1.0] * 9) == Estimate(1.0, 1.0, 1.0, 9)  # nothing varies: no width
    assert estimate([0.0, 0.0, 0.0]).high == 0.0


def test_bootstrap_of_a_percentile() -> None:
    values = list(range(1, 101))
    got = estimate(values, "p50")
    assert got.value == pytest.approx(50.5)
    assert got.low < 50.5 < got.high and got.high - got.low < 25


def test_every_summary_metric_has_an_interval() -> None:
    runs = [_answered(ANSWERED, r) for r in (1.0, 0.0, 1.0)]
    for name, got in estimates(item_values(ANSWERABLE, True, run) for run in runs).items():
        assert name in METRICS
        assert got.low is not None and got.low <= got.value <= got.high, name


# ---------------------------------------------------------------- floors and the comparison


def test_floor_at_least_and_at_most() -> None:
    at_least, at_most = Floor(0.90, AT_LEAST), Floor(0.10, AT_MOST)
    assert at_least.met(0.90) and at_least.met(0.95) and not at_least.met(0.899)
    assert at_most.met(0.10) and at_most.met(0.0) and not at_most.met(0.101)
    assert at_least.met(0.1 + 0.2 + 0.6)  # 0.8999999999999999 is 0.9 summed in floats
    assert str(at_least) == ">= 0.90" and str(at_most) == "<= 0.10"


def test_below_floors_in_both_directions() -> None:
    passing = {metric: Estimate(f.bound, f.bound, f.bound, 10) for metric, f in FLOORS.items()}
    assert below_floors(passing) == []
    failing = {
        **passing,
        "hit@1": Estimate(0.5, 0.4, 0.6, 10),
        "answerable_hedged": Estimate(0.30, 0.2, 0.4, 10),
        "unanswerable_answered": Estimate(0.05, 0.0, 0.1, 10),  # at most 0.10: fine
    }
    missed = below_floors(failing)
    assert [(metric, value) for metric, value, _ in missed] == [
        ("hit@1", 0.5),
        ("answerable_hedged", 0.30),
    ]
    assert below_floors({"hit@1": Estimate(None, None, None, 0)}) == []  # not measured


def test_floor_directions_follow_the_metrics() -> None:
    for metric, floor in FLOORS.items():
        wanted = AT_LEAST if METRICS[metric].better == HIGHER else AT_MOST
        assert METRICS[metric].better in (HIGHER, LOWER), metric
        assert floor.direction == wanted, metric


def test_versus_knows_which_way_is_better() -> None:
    ours = {
        "hit@1": Estimate(0.9, 0.8, 1.0, 10),
        "answerable_not_covered": Estimate(0.02, 0.0, 0.05, 10),
        "unanswerable_flagged": Estimate(0.8, 0.7, 0.9, 10),
        "unanswerable_not_covered": Estimate(0.5, 0.4, 0.6, 10),
        "latency_p50_ms": Estimate(900.0, 800.0, 1000.0, 10),
    }
    theirs = {
        "hit@1": Estimate(0.8, 0.7, 0.9, 10),
        "answerable_not_covered": Estimate(0.10, 0.0, 0.2, 10),
        "unanswerable_flagged": Estimate(0.8, 0.7, 0.9, 10),
        "unanswerable_not_covered": Estimate(0.8, 0.7, 0.9, 10),
        "latency_p50_ms": Estimate(10.0, 8.0, 12.0, 10),
    }
    verdicts = {row.metric: row.verdict for row in versus(ours, theirs)}
    # Lower not-covered is better; a better-neither-way share and timings are no contest.
    assert verdicts == {
        "hit@1": "better",
        "answerable_not_covered": "better",
        "unanswerable_flagged": "same",
    }
    assert {r.metric: r.verdict for r in versus(theirs, ours)}["hit@1"] == "worse"
