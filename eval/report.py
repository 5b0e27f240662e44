"""Write a run's report folder: report.md, a self-contained report.html, results.json, plots.

The report opens with the split's table: every metric with its 95% interval, against
the floors, with the baselines beside ours, and how ours fares against each. Every failed
question follows (what was asked, what was expected, the state we answered in, the
caveat, the reason, what we cited), because that is what an evaluator reads first; then
the breakdowns by type, voice, gap and season, the plots, and every question.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from eval.metrics import (
    FLOORS,
    METRICS,
    PARTIAL,
    TARGETS,
    UNANSWERABLE,
    Estimate,
    below_floors,
)
from eval.run import LABELS, OURS, EvalResult, Group, ItemResult
from records import ANSWERED, HEDGED, NOT_COVERED, STATUSES

REPORTS_DIR = Path(__file__).resolve().parent / "reports"
PLOTS = {
    "hit_at_k.png": "Hit@k per system: share of answerable questions with the gold in the top k",
    "states.png": "Answer states per kind of question: ours and the answer baselines",
    "state_tradeoff.png": "Unanswerable flagged vs answerable not answered, as the naive "
    "cosine threshold moves; ours and the rule cascade as points",
    "latency.png": "Latency of assistant.ask (end to end), per question",
}
STATE_NAMES = {ANSWERED: "answered", HEDGED: "hedged", NOT_COVERED: "not covered"}
STATE_COLOURS = {ANSWERED: "#4477aa", HEDGED: "#ccbb44", NOT_COVERED: "#bbbbbb"}
BREAKDOWN_TITLES = {
    "type": "By question type",
    "voice": "By voice (writing pass)",
    "gap": "By gap (unanswerable and partial questions)",
    "season": "By season of the gold passage",
}


@dataclass
class Table:
    """A table rendered the same way as text, Markdown or HTML."""

    headers: list[str]
    rows: list[list[str]]

    def text(self) -> str:
        """Render as aligned plain text for the terminal."""
        columns = zip(self.headers, *self.rows, strict=True)
        widths = [max(len(str(c)) for c in column) for column in columns]
        lines = [self.headers, ["-" * w for w in widths], *self.rows]
        return "\n".join(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)
            ).rstrip()
            for line in lines
        )

    def markdown(self) -> str:
        """Render as a Markdown table (pipes and newlines in cells escaped)."""

        def cell(value: str) -> str:
            return str(value).replace("|", "\\|").replace("\n", " ")

        lines = ["| " + " | ".join(cell(h) for h in self.headers) + " |"]
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def html(self) -> str:
        """Render as an HTML table, every cell escaped."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fmt(value: float | None, digits: int = 3) -> str:
    """A metric for display: 3 decimals, or a dash when not measured."""
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ms(value: float | None) -> str:
    """A latency in whole milliseconds, or a dash."""
    return "—" if value is None else f"{value:.0f}"


def fmt_estimate(got: Estimate | None, metric: str = "", digits: int = 3) -> str:
    """A value with its 95% interval, e.g. "0.921 [0.873, 0.962]"; a dash if not measured."""
    if got is None or got.value is None:
        return "—"
    if metric.endswith("_ms"):
        return f"{got.value:.0f} [{got.low:.0f}, {got.high:.0f}]"
    return f"{got.value:.{digits}f} [{got.low:.{digits}f}, {got.high:.{digits}f}]"


def _label(name: str) -> str:
    return LABELS.get(name, name)


def _where_run(result: EvalResult) -> str:
    """What was evaluated: the split's name, or the file."""
    split = result.meta.get("split")
    return f"the {split} split" if split else str(result.meta.get("set", "the set"))


def summary_table(result: EvalResult, labels: bool = True) -> Table:
    """Every metric, ours with its floor and each baseline beside it, intervals in brackets.

    labels names each metric in words (reports); without, by its key (the terminal).
    """
    systems = result.systems
    headers = ["metric", "target", "floor", *(_label(s) for s in systems), "ours vs target"]
    missed = {metric for metric, _, _ in below_floors(result.summary[OURS])}
    short = {metric for metric, _, _ in below_floors(result.summary[OURS], TARGETS)}
    rows = []
    for metric, info in METRICS.items():
        cells = [result.summary[s].get(metric) for s in systems]
        if all(c is None or c.value is None for c in cells):
            continue
        floor, target = FLOORS.get(metric), TARGETS.get(metric)
        ours = result.summary[OURS].get(metric)
        if floor is None:
            status = ""
        elif ours is None or ours.value is None:
            status = "not measured"
        elif metric in missed:
            status = "FLOOR MISSED"
        elif target is None:
            status = "floor met"  # a floor of our own, no target in the issue
        else:
            status = "below target" if metric in short else "target met"
        rows.append(
            [
                f"{info.label if labels else metric} [n={ours.n if ours else 0}]",
                str(target) if target else "",
                str(floor) if floor else "",
                *(fmt_estimate(c, metric) for c in cells),
                status,
            ]
        )
    return Table(headers, rows)


def versus_table(result: EvalResult) -> Table:
    """How ours fares against each baseline on the quality metrics both measure."""
    rows = []
    for name, comparisons in result.versus.items():
        worse = [c for c in comparisons if c.verdict == "worse"]
        same = [c for c in comparisons if c.verdict == "same"]
        better = len(comparisons) - len(worse) - len(same)
        rows.append(
            [
                _label(name),
                str(len(comparisons)),
                str(better),
                ", ".join(c.metric for c in same) or "—",
                ", ".join(f"{c.metric} ({c.ours:.3f} vs {c.theirs:.3f})" for c in worse) or "—",
            ]
        )
    return Table(["baseline", "metrics shared", "ours better", "tied", "ours worse"], rows)


GROUP_COLUMNS = (
    ("right_state", "right state"),
    ("answered_share", "answered"),
    ("hedged_share", "hedged"),
    ("not_covered_share", "not covered"),
    ("hit@1", "hit@1"),
    ("hit@5", "hit@5"),
    ("fact_recall", "key facts"),
    ("citation_support", "citation support"),
    ("opens_on_gold", "opens on the answer"),
)


def group_table(groups: dict[str, Group], label: str) -> Table:
    """Our scores per group (type, voice, gap or season), each with its interval."""
    headers = [label, "n", "failed", *(name for _, name in GROUP_COLUMNS), "p50 ms"]
    rows = [
        [
            name,
            str(g.n),
            str(g.failed),
            *(fmt_estimate(g.scores.get(key), key, 2) for key, _ in GROUP_COLUMNS),
            fmt_ms(g.scores["latency_p50_ms"].value if "latency_p50_ms" in g.scores else None),
        ]
        for name, g in groups.items()
    ]
    return Table(headers, rows)


def hit1_table(result: EvalResult) -> Table:
    """hit@1 per question type for every system that ranks passages of its own."""
    systems = list(result.hit1_by_type)
    types = list(result.hit1_by_type.get(OURS, {}))
    counts = result.breakdowns.get("type", {})
    rows = [
        [
            t,
            str(counts[t].n if t in counts else ""),
            *(fmt(result.hit1_by_type[s].get(t)) for s in systems),
        ]
        for t in types
    ]
    return Table(["type", "n", *(_label(s) for s in systems)], rows)


def headline(result: EvalResult) -> str:
    """One line: what was run, how many failed, and the floors' and targets' verdicts."""
    missed = below_floors(result.summary[OURS])
    short = below_floors(result.summary[OURS], TARGETS)
    verdict = (
        "all floors met"
        if not missed
        else "floors missed: " + ", ".join(f"{m} {v:.3f} (floor {f})" for m, v, f in missed)
    )
    verdict += (
        "; all targets met"
        if not short
        else "; below target: " + ", ".join(f"{m} {v:.3f} (target {f})" for m, v, f in short)
    )
    return (
        f"{len(result.items)} questions from {_where_run(result)}, {len(result.failed)} failed; "
        f"{verdict} (run took {result.meta.get('duration_s', 0):.0f} s)"
    )


def console_summary(result: EvalResult, folder: Path | None = None) -> str:
    """The plain-text summary printed by `python -m eval`."""
    parts = [
        headline(result),
        "",
        f"Every metric on {_where_run(result)}, 95% bootstrap intervals in brackets:",
        summary_table(result, labels=False).text(),
    ]
    if result.versus:
        parts += ["", "Ours against each baseline:", versus_table(result).text()]
    parts += ["", "Ours by question type:", group_table(result.breakdowns["type"], "type").text()]
    if folder is not None:
        parts += ["", f"report: {folder}"]
    return "\n".join(parts)


def default_folder(now: datetime | None = None) -> Path:
    """A new folder under eval/reports/ named by the local time, e.g. 20260101-093000."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    folder = REPORTS_DIR / stamp
    n = 1
    while folder.exists():
        n += 1
        folder = REPORTS_DIR / f"{stamp}-{n}"
    return folder


def write_report(result: EvalResult, folder: Path) -> Path:
    """Write results.json, the plots, report.md and report.html into folder; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    data = result.to_json()
    (folder / "results.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))
    images = draw_plots(result, folder)
    (folder / "report.md").write_text(render_markdown(result, images), encoding="utf-8")
    (folder / "report.html").write_text(render_html(result, images), encoding="utf-8")
    return folder


# ---------------------------------------------------------------- plots

QUESTION_KINDS = {
    "answerable": "answerable\n(right: answered)",
    "partial": "partial\n(right: hedged)",
    "on_topic": "unanswerable, on topic\n(right: hedged / not covered)",
    "off_topic": "unanswerable, off topic\n(right: not covered)",
}


def _kind(item: ItemResult) -> str:
    if item.group == UNANSWERABLE:
        return "on_topic" if item.on_topic else "off_topic"
    return "partial" if item.group == PARTIAL else "answerable"


def state_shares(result: EvalResult) -> dict[str, dict[str, dict[str, float]]]:
    """Per kind of question, per answering system: the share of each answer state."""
    shares: dict[str, dict[str, dict[str, float]]] = {}
    for kind in QUESTION_KINDS:
        items = [i for i in result.items if not i.error and _kind(i) == kind]
        if not items:
            continue
        shares[kind] = {}
        for name in result.systems:
            statuses = [i.systems[name].status for i in items if name in i.systems]
            statuses = [s for s in statuses if s is not None]
            if statuses:
                shares[kind][name] = {s: statuses.count(s) / len(statuses) for s in STATUSES}
    return shares


def draw_plots(result: EvalResult, folder: Path) -> dict[str, bytes]:
    """Draw the plots as PNG files in folder; return their bytes by file name."""
    import matplotlib

    matplotlib.use("Agg")  # no display on these machines; PNGs only
    import matplotlib.pyplot as plt

    images: dict[str, bytes] = {}

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, curve in result.hit_curves.items():
        if curve:
            ax.plot(range(1, len(curve) + 1), curve, marker="o", label=_label(name))
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("hit@k")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(range(1, 11))
    ax.axhline(TARGETS["hit@5"].bound, color="grey", linestyle=":", linewidth=1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("hit@k (llama-index default returns 2 passages)")
    images["hit_at_k.png"] = _save(fig, folder / "hit_at_k.png", plt)

    shares = state_shares(result)
    panels = max(len(shares), 1)
    fig, axes = plt.subplots(1, panels, figsize=(2.4 * panels + 1.6, 3.4), sharey=True)
    axes = list(axes) if hasattr(axes, "__len__") else [axes]
    for ax, (kind, by_system) in zip(axes, shares.items(), strict=False):
        names = list(by_system)
        left = [0.0] * len(names)
        for state in STATUSES:
            widths = [by_system[n][state] for n in names]
            ax.barh(
                [_label(n) for n in names], widths, left=left, color=STATE_COLOURS[state],
                label=STATE_NAMES[state],
            )  # fmt: skip
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_xlim(0, 1)
        ax.set_title(QUESTION_KINDS[kind], fontsize=8)
    axes[0].invert_yaxis()  # shared: ours on top
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=8)
    # The top band holds the legend, clear of the panels' titles.
    images["states.png"] = _save(fig, folder / "states.png", plt, rect=(0, 0, 1, 0.9))

    fig, (left_ax, right_ax) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    trade = result.tradeoff
    if trade:
        for key in ("unanswerable_flagged", "answerable_not_answered"):
            left_ax.plot(trade["thresholds"], trade[key], label=key.replace("_", " "))
        threshold = result.meta.get("naive_threshold")
        if threshold is not None:
            left_ax.axvline(threshold, color="grey", linestyle="--", label="fitted on train")
        left_ax.set_xlabel("naive baseline: answer when top-1 sentence cosine >= threshold")
        left_ax.set_ylabel("share of questions")
        left_ax.grid(alpha=0.3)
        left_ax.legend()
        right_ax.step(
            trade["answerable_not_answered"], trade["unanswerable_flagged"], where="post",
            label="naive, as its threshold moves",
        )  # fmt: skip
        markers = {OURS: ("r*", 16), "rules": ("ks", 9), "naive": ("go", 9)}
        for name, point in trade["points"].items():
            style, size = markers[name]
            label = _label(name) + (" (fitted threshold)" if name == "naive" else "")
            right_ax.plot(
                [point["answerable_not_answered"]], [point["unanswerable_flagged"]], style,
                markersize=size, label=label,
            )  # fmt: skip
        not_answered = TARGETS["answerable_not_covered"].bound + TARGETS["answerable_hedged"].bound
        right_ax.axvline(not_answered, color="grey", linestyle=":")
        right_ax.axhline(TARGETS["unanswerable_flagged"].bound, color="grey", linestyle=":")
        right_ax.set_xlabel("answerable hedged or not covered")
        right_ax.set_ylabel("unanswerable flagged (hedged or not covered)")
        right_ax.set_xlim(-0.02, 1.02)
        right_ax.set_ylim(-0.02, 1.02)
        right_ax.grid(alpha=0.3)
        right_ax.legend(loc="lower right", fontsize=8)
        right_ax.set_title("target: top-left of the dotted lines")
    images["state_tradeoff.png"] = _save(fig, folder / "state_tradeoff.png", plt)

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    latencies = [i.ours.latency_ms for i in result.items if i.ours.latency_ms is not None]
    if latencies:
        ax.hist(latencies, bins=30, color="#4477aa")
        ours = result.summary[OURS]
        for key, style in (("latency_p50_ms", "--"), ("latency_p95_ms", ":")):
            got = ours.get(key)
            if got is not None and got.value is not None:
                ax.axvline(
                    got.value,
                    color="black",
                    linestyle=style,
                    label=f"{key[8:11]} {got.value:.0f} ms",
                )
        ax.legend()
    ax.set_xlabel("ms per question (assistant.ask, end to end)")
    ax.set_ylabel("questions")
    images["latency.png"] = _save(fig, folder / "latency.png", plt)
    return images


def _save(fig, path: Path, plt, rect: tuple[float, float, float, float] = (0, 0, 1, 1)) -> bytes:
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.read_bytes()


# ---------------------------------------------------------------- shared text


def _run_line(result: EvalResult) -> str:
    meta = result.meta
    model = meta.get("model") or {}
    sealed = meta.get("sealed")
    parts = [f"Run {meta.get('started_at', '')} on {meta.get('set', 'the given items')}"]
    if meta.get("sha256"):
        seal = {True: ", the sealed checksum", False: ", NOT the sealed checksum", None: ""}
        parts.append(f"sha256 {meta['sha256'][:12]}…{seal[sealed]}")
    parts += [
        f"index build {meta.get('build_id', '')} ({meta.get('chunks', '?')} chunks)",
        f"model fitted {model.get('fitted_at', '?')}, thresholds {model.get('thresholds', '?')}",
    ]
    if meta.get("naive_threshold") is not None:
        parts.append(f"naive cosine threshold {meta['naive_threshold']:.3f} (fitted on train)")
    if meta.get("types") not in (None, "all") or meta.get("limit"):
        parts.append(f"types {meta.get('types')}, limit {meta.get('limit')}")
    return "; ".join(parts)


def _table_note(result: EvalResult) -> str:
    note = (
        "Brackets: the 95% bootstrap interval (the questions resampled with replacement "
        "1,000 times, fixed seed; percentile interval); n is the number of questions the "
        "metric is measured over (ours). A dash: the system does not measure it. The rule "
        "cascade and the naive baseline answer from our reading and retrieval (so their "
        "retrieval figures are ours) and never hedge (so their hedged shares are not "
        "measured); the retrieval baselines are scored on their ranking and on their top "
        "passage taken as the answer. Latency of the answer baselines is their own answer "
        "path (reading and retrieval included); of the retrieval baselines, retrieval with "
        "the question's embedding."
    )
    default = result.meta.get("default_pipeline")
    if default:
        note += (
            f" The llama-index default indexes each page as one Document split into "
            f"{default['nodes']} nodes of up to 1024 tokens (built in {default['build_s']} s) "
            "and returns 2 passages, so its hit@3 and hit@5 equal its hit@2."
        )
    return note


def _versus_note() -> str:
    return (
        "Ours must beat each baseline on every quality metric both measure. Timings are not "
        "in this comparison (speed has its own targets in `make bench`), nor is the share of "
        "unanswerable questions not covered (on-topic gaps are right hedged or not covered)."
    )


def _tradeoff_note(result: EvalResult) -> str:
    points = result.tradeoff.get("points", {}) if result.tradeoff else {}
    if not points:
        return ""
    text = "State trade-off: "
    described = []
    for name, point in points.items():
        described.append(
            f"{_label(name)} flags {point['unanswerable_flagged']:.0%} of unanswerable questions "
            f"and does not answer {point['answerable_not_answered']:.0%} of answerable ones"
        )
    return (
        text
        + "; ".join(described)
        + (
            ". The curve shows the naive baseline at every threshold; its point is the threshold "
            "fitted on train."
        )
    )


def _answer_state(item: ItemResult) -> str:
    run = item.ours
    parts = [STATE_NAMES.get(run.status or "", "no answer")]
    if item.reason:
        parts.append(f"reason: {item.reason}")
    if item.as_of:
        parts.append(f"as of {item.as_of}")
    if run.fact_recall is not None:
        parts.append(f"key facts {run.fact_recall:.2f}")
    return ", ".join(parts)


def _expected(item: ItemResult) -> str:
    if item.group == UNANSWERABLE:
        if item.on_topic:
            return f"hedged or not covered: the archive lacks this ({item.gap})"
        return f"not covered: off the archive's topics ({item.gap})"
    if item.group == PARTIAL:
        return f"hedged: one ask is answered, one is not ({item.gap})"
    return "answered"


def _where(record: dict) -> str:
    return " > ".join((record["season"], *record["heading_path"]))


def _evidence_lines(item: ItemResult, result: EvalResult) -> list[str]:
    """What we cited and retrieved, and what the other systems did with the question."""
    lines = [f"cited [{c['n']}] {_where(c)} — {c['url']}" for c in item.citations]
    flags = item.ours.flags or []
    lines += [
        f"retrieved #{r['rank']}{' (holds gold)' if i < len(flags) and flags[i] else ''}: "
        f"{_where(r)}"
        for i, r in enumerate(item.retrieved[:3])
    ]
    others = []
    for name in result.systems:
        run = item.systems.get(name)
        if name == OURS or run is None:
            continue
        if run.status is not None:
            others.append(f"{_label(name)}: {STATE_NAMES[run.status]} ({run.reason})")
        elif run.flags is not None:
            others.append(f"{_label(name)}: gold rank {run.rank or '—'}")
    if item.ours.flags is not None:
        lines.append(f"our gold rank: {item.hit_rank or '—'}")
    if others:
        lines.append("other systems — " + "; ".join(others))
    return lines


def _items_table(result: EvalResult) -> Table:
    rows = [
        [
            item.id,
            item.type,
            item.voice,
            item.gap or item.season or "—",
            STATE_NAMES.get(item.status or "", "error"),
            "yes" if item.right else "no",
            str(item.hit_rank or "—") if item.answerable else "",
            fmt(item.ours.fact_recall, 2),
            "pass" if item.passed else "FAIL",
            fmt_ms(item.ours.latency_ms),
        ]  # fmt: skip
        for item in result.items
    ]
    headers = [
        "id", "type", "voice", "gap / season", "state", "right state", "gold rank", "key facts",
        "result", "ms",
    ]  # fmt: skip
    return Table(headers, rows)


# ---------------------------------------------------------------- markdown


def render_markdown(result: EvalResult, images: dict[str, bytes] | None = None) -> str:
    """The report as Markdown (plots referenced as the PNG files beside it)."""
    out = [
        f"# Evaluation report: {_where_run(result)}",
        "",
        headline(result),
        "",
        _run_line(result),
        "",
        f"## Every metric on {_where_run(result)}: ours against the floors, the baselines beside",
        "",
        summary_table(result).markdown(),
        "",
        _table_note(result),
        "",
    ]
    if result.versus:
        out += [
            "### Ours against each baseline",
            "",
            versus_table(result).markdown(),
            "",
            _versus_note(),
            "",
        ]
    out += [f"## Failed questions ({len(result.failed)})", ""]
    for item in result.failed:
        out += _failure_markdown(item, result)
    if not result.failed:
        out += ["None.", ""]
    for key, title in BREAKDOWN_TITLES.items():
        groups = result.breakdowns.get(key)
        if groups:
            out += [f"## {title}", "", group_table(groups, key).markdown(), ""]
    if result.hit1_by_type:
        out += [
            "## hit@1 by question type, every retrieving system",
            "",
            hit1_table(result).markdown(),
            "",
        ]
    out += ["## Plots", ""]
    for name, caption in PLOTS.items():
        if images is None or name in images:
            out += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    out += [
        _tradeoff_note(result),
        "",
        "## Every question",
        "",
        _items_table(result).markdown(),
        "",
    ]
    return "\n".join(out)


def _failure_markdown(item: ItemResult, result: EvalResult) -> list[str]:
    lines = [
        f"### {item.id} · {item.type} · {item.voice} · {item.season or item.gap or 'no season'}",
        "",
        "**Why it failed:** " + "; ".join(item.failures),
        "",
        f"- **Question:** {item.question}",
    ]
    if item.history:
        lines.append("- **After:** " + " / ".join(item.history))
    lines.append(f"- **Right state:** {_expected(item)}")
    if item.answer_facts:
        lines.append("- **Key facts:** " + "; ".join(item.answer_facts))
    for quote in item.gold_quotes:
        lines.append(f"- **Gold quote:** “{quote}”")
    lines += ["", f"**We said** ({_answer_state(item)}):", ""]
    if item.caveat:
        lines += [f"*Caveat:* {item.caveat}", ""]
    lines += ["~~~~", item.answer, "~~~~", ""]
    lines += [f"- {line}" for line in _evidence_lines(item, result)]
    lines.append("")
    return lines


# ---------------------------------------------------------------- html

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1280px;
padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
.headline{font-size:1.1em;font-weight:600}.fail{border-left:4px solid #c33;padding:.3em 1em;
margin:1em 0;background:#fff8f8}.fail h3{margin:.2em 0}.why{color:#a00}
.caveat{border-left:3px solid #cb4;padding-left:.6em;color:#654}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em;border-radius:4px}
.quote{font-style:italic}.note{color:#555}img{max-width:100%;border:1px solid #eee}
"""


def render_html(result: EvalResult, images: dict[str, bytes]) -> str:
    """The report as one HTML file: inline CSS, plots inlined as base64 PNG, all text escaped."""
    e = html.escape
    where = _where_run(result)
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evaluation report: {e(where)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Evaluation report: {e(where)}</h1>",
        f"<p class='headline'>{e(headline(result))}</p>",
        f"<p class='note'>{e(_run_line(result))}</p>",
        "<p><a href='#summary'>Summary</a> · <a href='#failed'>Failed questions</a> · "
        + " · ".join(f"<a href='#by-{k}'>{e(t)}</a>" for k, t in BREAKDOWN_TITLES.items())
        + " · <a href='#plots'>Plots</a> · <a href='#all'>Every question</a></p>",
        f"<h2 id='summary'>Every metric on {e(where)}: ours against the floors, the baselines "
        "beside</h2>",
        summary_table(result).html(),
        f"<p class='note'>{e(_table_note(result))}</p>",
    ]
    if result.versus:
        out += [
            "<h3>Ours against each baseline</h3>",
            versus_table(result).html(),
            f"<p class='note'>{e(_versus_note())}</p>",
        ]
    out.append(f"<h2 id='failed'>Failed questions ({len(result.failed)})</h2>")
    out += [_failure_html(item, result) for item in result.failed] or ["<p>None.</p>"]
    for key, title in BREAKDOWN_TITLES.items():
        groups = result.breakdowns.get(key)
        if groups:
            out += [f"<h2 id='by-{key}'>{e(title)}</h2>", group_table(groups, key).html()]
    if result.hit1_by_type:
        out += [
            "<h3>hit@1 by question type, every retrieving system</h3>",
            hit1_table(result).html(),
        ]
    out.append("<h2 id='plots'>Plots</h2>")
    for name, caption in PLOTS.items():
        if name in images:
            data = base64.b64encode(images[name]).decode("ascii")
            out.append(
                f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{e(caption)}</figcaption></figure>"
            )
    out += [
        f"<p class='note'>{e(_tradeoff_note(result))}</p>",
        "<h2 id='all'>Every question</h2>",
        _items_table(result).html(),
        "</body></html>",
    ]
    return "\n".join(out)


def _failure_html(item: ItemResult, result: EvalResult) -> str:
    e = html.escape
    parts = [
        f"<div class='fail' id='item-{e(item.id)}'>",
        f"<h3>{e(item.id)} · {e(item.type)} · {e(item.voice)} · "
        f"{e(item.season or item.gap or 'no season')}</h3>",
        f"<p class='why'>{e('; '.join(item.failures))}</p>",
        f"<p><b>Question:</b> {e(item.question)}</p>",
    ]
    if item.history:
        parts.append(f"<p><b>After:</b> {e(' / '.join(item.history))}</p>")
    parts.append(f"<p><b>Right state:</b> {e(_expected(item))}</p>")
    if item.answer_facts:
        parts.append(f"<p><b>Key facts:</b> {e('; '.join(item.answer_facts))}</p>")
    parts += [
        f"<p><b>Gold quote:</b> <span class='quote'>{e(q)}</span></p>" for q in item.gold_quotes
    ]
    parts.append(f"<p><b>We said</b> ({e(_answer_state(item))}):</p>")
    if item.caveat:
        parts.append(f"<p class='caveat'><b>Caveat:</b> {e(item.caveat)}</p>")
    parts.append(f"<pre>{e(item.answer)}</pre>")
    lines = _evidence_lines(item, result)
    parts.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in lines) + "</ul></div>")
    return "\n".join(parts)
