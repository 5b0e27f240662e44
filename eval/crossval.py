"""Judge a change on four times the questions dev holds: cross-validation over train + dev.

    python -m eval.crossval [--folds 5] [--out FILE] [--against FILE [--same-folds]] [--by-topic]

Dev holds 86 unanswerable questions, so its 95% interval on "unanswerable flagged" is
about +-0.10: wider than most changes move it, and a dev gain of seven questions did not
carry to test. This runs the whole calibration (eval.calibrate.fit) once per fold over
train and dev pooled. Each fold in turn is held out; the next one plays dev and the rest
play train, and calibration runs on them as make calibrate runs on the real splits
(models fitted on the train folds, choices made on the dev fold's answers). Every
question is then answered once, by models that neither fitted nor chose on it, and the
answer states, hit@1 (passages in reader order) and what the answers quote (key facts,
quote precision, opening on the answering item) are pooled over all of them, with 95%
bootstrap intervals. Beside them, answers_auc: how well the answer chance ranks answerable above
unanswerable questions whatever the thresholds, which tells a better decision from one
that only moved its operating point (fewer answers: more flagged, and more hedged).

--against compares with an earlier run's file question by question: the pooled figures
of both, the questions whose state or first passage changed, and a paired bootstrap
interval of each difference (the same questions resampled for both runs), so that a
change is judged by what it does to the same questions. With --same-folds each question
keeps the fold the earlier run held it in: by topic, a change to retrieval would otherwise
move questions between topics and reshuffle every fold.

The test split is never read: items load through eval.dataset.load_for_fitting, which
refuses it. Folds are dealt type by type in a seeded order, so each holds every type.
Reading the questions takes about a minute on 2 cores, and each fold's calibration about
30 s (about two minutes with --train-folds 5, which fits the models six times per fold).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from eval.calibrate import (
    SEED,
    Traced,
    add_train_folds,
    deal_folds,
    facts_found,
    first_passage_hits,
    fit,
    fitting_settings,
    item_state,
    ranked_readings,
    reader_rankings,
    score_parts,
    trace,
)

FOLDS = 5
RESULT_FILE = Path("eval/reports/crossval.json")


def held_out_answers(
    traced: list[Traced],
    index,
    settings,
    folds: int = FOLDS,
    train_folds: int = 0,
    by_topic: bool = False,
    earlier: dict[str, int] | None = None,
) -> dict:
    """Answer every item with models fitted and chosen without it; item id -> record.
    train_folds is calibrate's: choose on the train folds' out-of-fold answers too;
    by_topic holds each topic's questions out together (deal_by_topic); earlier (item id
    -> fold) deals the questions an earlier run held as it did (deal_as_before)."""
    if earlier:
        dealt = deal_as_before(traced, folds, earlier, by_topic)
    else:
        dealt = (deal_by_topic if by_topic else deal_folds)(traced, folds)
    records: dict[str, dict] = {}
    for k, held in enumerate(dealt):
        choose = dealt[(k + 1) % folds]
        fitting = [t for j, fold in enumerate(dealt) if j not in (k, (k + 1) % folds) for t in fold]
        fitted = fit(fitting, choose, index, settings, train_folds)
        scored = score_parts(held, fitted.models, fitted.keep_ratio, index, settings.answer)
        for item, probs in scored:
            records[item.id] = {
                "type": item.type,
                "answerable": bool(item.answerable),
                "on_topic": bool(item.on_topic),
                "state": item_state(probs, fitted.answered_at, fitted.on_topic_at),
                # an answer needs every part answered: the weakest part's chance
                "p_answers": min((p[0] if p else 0.0) for p in probs) if probs else 0.0,
                "fold": k,
            }
        reading = fitted.models.reading()
        for item_id, quote in quote_figures(held, reading, fitted.keep_ratio, settings):
            if records[item_id]["state"] != "not_covered":
                records[item_id].update(quote)
        ranked = reader_rankings(held, reading, settings.answer)
        for item_id, hit in first_passage_hits(ranked).items():
            records[item_id]["hit1"] = bool(hit)
        print(
            f"fold {k + 1}/{folds}: {len(held)} held out, thresholds "
            f"{fitted.answered_at} / {fitted.on_topic_at}",
            file=sys.stderr,
        )
    return records


def topic_of(traced: Traced) -> str:
    """A question's topic: the heading of the passage it retrieves first, whatever the
    season ("NHS App", "Real Time Exemption Checking (RTEC)"); "" when nothing is found."""
    hits = traced.whole_hits
    return hits[0].chunk.heading_path[-1] if hits and hits[0].chunk.heading_path else ""


def deal_by_topic(traced: list[Traced], folds: int, seed: int = SEED) -> list[list[Traced]]:
    """Deal whole topics into folds, largest first, each to the fold holding fewest items.

    The question set asks about each topic many times, in several voices, and the question
    prior reads the nearest train questions: held out one by one, a question still has its
    paraphrases among the fitting ones. Held out by topic, it has none, as a question on a
    subject nobody asked about before, or from someone outside the team, would not.
    """
    rng = np.random.default_rng(seed)
    groups: dict[str, list[Traced]] = defaultdict(list)
    for t in traced:
        groups[topic_of(t)].append(t)
    names = sorted(groups)
    tiebreak = dict(zip(names, rng.permutation(len(names)), strict=True))
    dealt: list[list[Traced]] = [[] for _ in range(folds)]
    for name in sorted(names, key=lambda n: (-len(groups[n]), tiebreak[n])):
        min(dealt, key=len).extend(groups[name])
    return dealt


def deal_as_before(
    traced: list[Traced], folds: int, earlier: dict[str, int], by_topic: bool = False
) -> list[list[Traced]]:
    """Deal each question to the fold an earlier run held it in; the others as usual.

    A topic is the heading a question retrieves first, so a change to retrieval moves
    questions between topics, and every fold with them: compared with a run on the old
    folds, the difference is mostly the reshuffle. Keeping the earlier folds pairs each
    question with its own earlier answer, fitted without the same questions. Questions
    the earlier run did not hold (a new writing pass) are dealt among themselves; by
    topic, one joins the fold holding most of its topic's questions instead, so that no
    new paraphrase of a held-out question sits among the fitting ones.
    """
    dealt: list[list[Traced]] = [[] for _ in range(folds)]
    others = []
    for t in traced:
        fold = earlier.get(t.item.id, -1)
        (dealt[fold] if 0 <= fold < folds else others).append(t)
    if by_topic:
        homes: dict[str, Counter] = defaultdict(Counter)  # topic -> its questions per fold
        for k, fold in enumerate(dealt):
            for t in fold:
                homes[topic_of(t)][k] += 1
        unplaced = []
        for t in others:
            home = homes.get(topic_of(t))
            if home:
                dealt[home.most_common(1)[0][0]].append(t)
            else:
                unplaced.append(t)
        others = unplaced
    deal = deal_by_topic if by_topic else deal_folds
    for k, fold in enumerate(deal(others, folds) if others else []):
        dealt[k].extend(fold)
    return dealt


def quote_figures(held: list[Traced], reading, keep_ratio: float, settings):
    """For each answerable held-out item, what its answer would quote: the share of its key
    facts found there ("facts"), how much of it comes from an item holding the gold
    ("quote_precision") and whether it opens with one ("opens_on_gold"), as the eval
    scores them (eval.metrics.quoted_on_gold) on the text the parts quote, in order: the
    items chosen and ordered as assistant.decide.decide does, passages in reader order;
    reading is (reader, spans, order)."""
    from assistant.decide import choose_items, order_passages
    from eval.metrics import Passage, quote_scores, quoted_on_gold

    def chosen(query, hits, readings):
        _, ranked = ranked_readings(query, readings, reading, settings.answer)
        passages = order_passages(hits, ranked)
        return choose_items(ranked, keep_ratio, settings.answer, passages)

    for t in held:
        if not (t.item.answerable and t.item.golds):
            continue
        chosen_per_part = [chosen(*part) for part in t.parts]
        quoted = [r for chosen in chosen_per_part for r in chosen]
        cited = {r.hit.chunk.id: r.hit.chunk for r in quoted}.values()
        flags = quoted_on_gold(
            "\n".join(r.line_text for r in quoted),
            [Passage(text=c.text, season=c.season) for c in cited],
            t.item,
        )
        figures = {"facts": facts_found(chosen_per_part, t.item)}
        if flags:
            figures["quote_precision"], figures["opens_on_gold"] = quote_scores(flags)
        yield t.item.id, figures


# Each figure: which questions it is measured over, and the value one of them scores.
FIGURES = {
    "unanswerable_flagged": (
        lambda r: r["type"] == "unanswerable",
        lambda r: r["state"] != "answered",
    ),
    "unanswerable_answered": (
        lambda r: r["type"] == "unanswerable",
        lambda r: r["state"] == "answered",
    ),
    "answerable_hedged": (lambda r: r["answerable"], lambda r: r["state"] == "hedged"),
    "answerable_not_covered": (lambda r: r["answerable"], lambda r: r["state"] == "not_covered"),
    "hit@1": (lambda r: "hit1" in r, lambda r: r["hit1"]),
    # what the answer quotes, over the answerable questions (key facts 0 when not covered)
    "fact_recall": (
        lambda r: r["answerable"] and ("facts" in r or r["state"] == "not_covered"),
        lambda r: r.get("facts", 0.0),
    ),
    "quote_precision": (lambda r: "quote_precision" in r, lambda r: r["quote_precision"]),
    "opens_on_gold": (lambda r: "opens_on_gold" in r, lambda r: r["opens_on_gold"]),
}


def figures(records: dict[str, dict]) -> dict[str, dict]:
    """Each pooled figure with its 95% bootstrap interval and the number of questions."""
    from eval.metrics import estimate

    out = {}
    for name, (measured, value) in FIGURES.items():
        values = [float(value(r)) for r in records.values() if measured(r)]
        got = estimate(values)
        out[name] = {"value": got.value, "low": got.low, "high": got.high, "n": got.n}
    out["answers_auc"] = auc_estimate([records], sorted(records))
    return out


def answers_auc(records: dict[str, dict], ids: list[str]) -> float | None:
    """How well the answer chance ranks answerable above unanswerable questions, whatever
    the thresholds: the ROC AUC over the given ids (None without both kinds)."""
    from sklearn.metrics import roc_auc_score

    kept = [
        records[i] for i in ids if records[i]["answerable"] or records[i]["type"] == "unanswerable"
    ]
    labels = [r["answerable"] for r in kept]
    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score(labels, [r["p_answers"] for r in kept]))


def auc_estimate(runs: list[dict[str, dict]], ids: list[str]) -> dict:
    """The AUC of the last run (or, given two, the change from the first to the second) on
    the ids, with a 95% bootstrap interval resampling the same ids for both runs."""
    from eval.metrics import LEVEL, RESAMPLES

    def value(chosen: list[str]) -> float | None:
        aucs = [answers_auc(run, chosen) for run in runs]
        if any(a is None for a in aucs):
            return None
        return aucs[-1] - aucs[0] if len(aucs) == 2 else aucs[0]

    rng = np.random.default_rng(SEED)
    samples = [
        value([ids[j] for j in rng.integers(0, len(ids), len(ids))]) for _ in range(RESAMPLES)
    ]
    samples = [v for v in samples if v is not None]
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return {"value": value(ids), "low": float(low), "high": float(high), "n": len(ids)}


def paired(old: dict[str, dict], new: dict[str, dict]) -> dict[str, dict]:
    """Each figure's change on the questions both runs answered, with a paired interval,
    and the questions that got better or worse."""
    from eval.metrics import HIGHER, METRICS, bootstrap_interval

    shared = sorted(set(old) & set(new))
    out = {}
    for name, (measured, value) in FIGURES.items():
        ids = [i for i in shared if measured(old[i]) and measured(new[i])]
        if not ids:
            continue
        diffs = [float(value(new[i])) - float(value(old[i])) for i in ids]
        low, high = bootstrap_interval(diffs)  # ids is not empty: an interval exists
        up = METRICS[name].better == HIGHER  # each figure is one of the eval's metrics
        better = [i for i, d in zip(ids, diffs, strict=True) if (d > 0) == up and d != 0]
        worse = [i for i, d in zip(ids, diffs, strict=True) if (d < 0) == up and d != 0]
        out[name] = {
            "change": float(np.mean(diffs)),
            "low": low,
            "high": high,
            "n": len(ids),
            "better": better,
            "worse": worse,
        }
    return out


def summary_lines(result: dict, against: dict | None) -> list[str]:
    """The console summary: pooled figures, and the paired change when compared."""
    lines = [f"cross-validation, {result['folds']} folds over {result['questions']} questions:"]
    for name, got in result["figures"].items():
        if got["value"] is None:  # an older run's file: not measured then
            lines.append(f"  {name:24} not measured")
            continue
        lines.append(
            f"  {name:24} {got['value']:.3f} [{got['low']:.3f}, {got['high']:.3f}] n={got['n']}"
        )
    if against is not None:
        lines.append("against the earlier run (same questions, paired):")
        old, new = against["records"], result["records"]
        shared = sorted(set(old) & set(new))
        auc = auc_estimate([old, new], shared)
        lines.append(
            f"  {'answers_auc':24} {auc['value']:+.3f} [{auc['low']:+.3f}, {auc['high']:+.3f}]"
        )
        for name, got in paired(old, new).items():
            lines.append(
                f"  {name:24} {got['change']:+.3f} [{got['low']:+.3f}, {got['high']:+.3f}]"
                f"  better {len(got['better'])}, worse {len(got['worse'])}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    from assistant import get_index
    from eval.dataset import load_for_fitting

    parser = argparse.ArgumentParser(prog="python -m eval.crossval", description=__doc__)
    parser.add_argument("--folds", type=int, default=FOLDS, help="folds (default 5)")
    parser.add_argument("--index-dir", type=Path, help="use this index instead of a fresh one")
    parser.add_argument("--out", type=Path, default=RESULT_FILE, help="result file to write")
    parser.add_argument("--against", type=Path, help="an earlier result file to compare with")
    add_train_folds(parser, "calibrate as `python -m eval.calibrate --train-folds N` does")
    parser.add_argument(
        "--by-topic",
        action="store_true",
        help="hold out each topic's questions together (a topic: the heading a question "
        "retrieves first), so no held-out question has a paraphrase among the fitting ones",
    )
    parser.add_argument(
        "--same-folds",
        action="store_true",
        help="deal each question to the fold the --against run held it in (by topic, a "
        "change to retrieval would otherwise move questions between topics and folds)",
    )
    args = parser.parse_args(argv)
    if args.folds < 3:
        parser.error("--folds must be at least 3 (one to hold out, one to choose, one to fit)")
    against = json.loads(args.against.read_text(encoding="utf-8")) if args.against else None
    if args.same_folds and against is None:
        parser.error("--same-folds needs --against (the run whose folds to keep)")
    earlier = (
        {item_id: int(r["fold"]) for item_id, r in against["records"].items()}
        if args.same_folds
        else None
    )
    with tempfile.TemporaryDirectory(prefix="cpitg-crossval-") as scratch:
        settings = fitting_settings(args.index_dir, Path(scratch))
        index = get_index(settings)
        items = load_for_fitting("train") + load_for_fitting("dev")
        traced = trace(items, index, settings)
        records = held_out_answers(
            traced, index, settings, args.folds, args.train_folds, args.by_topic, earlier
        )
    result = {
        "folds": args.folds,
        "train_folds": args.train_folds,
        "by_topic": args.by_topic,
        "questions": len(records),
        "figures": figures(records),
        "records": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print("\n".join(summary_lines(result, against)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
