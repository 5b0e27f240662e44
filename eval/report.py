"""Write a run's report folder: report.md, a self-contained report.html, results.json, plots.

The report opens with the verdict against the floors and then every failed question
(what was asked, what was expected, what we answered, what we cited), because that is
what an evaluator reads first; the summary table with the baselines beside us, the
breakdowns by type and season, and the plots follow.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from eval.metrics import FLOORS, below_floors
from eval.run import LABELS, OURS, EvalResult, ItemResult

REPORTS_DIR = Path(__file__).resolve().parent / "reports"
PLOTS = {
    "hit_at_k.png": "Hit@k per system: share of answerable questions with the gold in the top k",
    "latency.png": "Latency of assistant.ask (end to end), per question",
    "abstention_tradeoff.png": "Abstention trade-off as a cosine threshold moves",
}
METRIC_NAMES = {
    "hit@1": "hit@1",
    "hit@5": "hit@5",
    "fact_recall": "answer fact recall",
    "abstention_recall": "abstention recall (unanswerable abstained)",
    "answerable_answered": "answerable answered (1 - refused; refused <= 0.05)",
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


def summary_table(result: EvalResult) -> Table:
    """Our system and every baseline side by side, on the same answerable questions."""
    headers = [
        "system", "hit@1", "hit@3", "hit@5", "MRR@10", "fact recall", "fact recall (top passage)",
        "citation support", "abstention P", "abstention R", "answerable refused",
        "retrieval p50 ms", "end-to-end p50 / p95 ms",
    ]  # fmt: skip
    rows = []
    for name in result.systems:
        s = result.summary[name]
        ours = name == OURS
        rows.append(
            [
                LABELS.get(name, name),
                fmt(s["hit@1"]),
                fmt(s["hit@3"]),
                fmt(s["hit@5"]),
                fmt(s["mrr@10"]),
                fmt(s.get("fact_recall")),
                fmt(s["top_passage_fact_recall"]),
                fmt(s.get("citation_support")),
                fmt(s.get("abstention_precision")),
                fmt(s.get("abstention_recall")) if ours else "— (never abstains)",
                fmt(s.get("answerable_refused")),
                fmt_ms(s["retrieval_p50_ms"]),
                f"{fmt_ms(s['latency_p50_ms'])} / {fmt_ms(s['latency_p95_ms'])}" if ours else "—",
            ]
        )
    return Table(headers, rows)


def group_table(groups: dict[str, dict[str, float | None]], label: str) -> Table:
    """Our system's metrics per question type or per season."""
    headers = [
        label, "n", "failed", "hit@1", "hit@5", "MRR@10", "fact recall", "citation support",
        "abstained", "p50 ms",
    ]  # fmt: skip
    rows = [
        [
            name,
            str(g["n"]),
            str(g["failed"]),
            fmt(g["hit@1"]),
            fmt(g["hit@5"]),
            fmt(g["mrr@10"]),
            fmt(g["fact_recall"]),
            fmt(g["citation_support"]),
            fmt(g["abstained"]),
            fmt_ms(g["latency_p50_ms"]),
        ]  # fmt: skip
        for name, g in groups.items()
    ]
    return Table(headers, rows)


def hit1_table(result: EvalResult) -> Table:
    """hit@1 per question type for every system."""
    types = [t for t in result.by_type if t != "unanswerable"]
    systems = result.systems
    rows = [
        [t, str(result.by_type[t]["n"]), *(fmt(result.hit1_by_type[s].get(t)) for s in systems)]
        for t in types
    ]
    return Table(["type", "n", *(LABELS.get(s, s) for s in result.systems)], rows)


def floors_table(result: EvalResult) -> Table:
    """Each floor of the quality gate beside our value."""
    ours = result.summary[OURS]
    missed = {metric for metric, _, _ in below_floors(ours)}
    rows = []
    for metric, floor in FLOORS.items():
        value = ours.get(metric)
        status = "n/a" if value is None else ("BELOW" if metric in missed else "ok")
        rows.append([METRIC_NAMES.get(metric, metric), f">= {floor:.2f}", fmt(value), status])
    return Table(["metric", "floor", "ours", "status"], rows)


def headline(result: EvalResult) -> str:
    """One line: how many items, how many failed, and the floors verdict."""
    missed = below_floors(result.summary[OURS])
    verdict = (
        "all floors met"
        if not missed
        else "below floor: " + ", ".join(f"{m} {v:.3f} < {f:.2f}" for m, v, f in missed)
    )
    return (
        f"{len(result.items)} questions, {len(result.failed)} failed; {verdict} "
        f"(run took {result.meta.get('duration_s', 0):.0f} s)"
    )


def console_summary(result: EvalResult, folder: Path | None = None) -> str:
    """The plain-text summary printed by `python -m eval`."""
    parts = [
        headline(result),
        "",
        summary_table(result).text(),
        "",
        "Our system by question type:",
        group_table(result.by_type, "type").text(),
        "",
        "Our system by season:",
        group_table(result.by_season, "season").text(),
        "",
        "Floors:",
        floors_table(result).text(),
    ]
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
    (folder / "report.md").write_text(render_markdown(result), encoding="utf-8")
    (folder / "report.html").write_text(render_html(result, images), encoding="utf-8")
    return folder


# ---------------------------------------------------------------- plots


def draw_plots(result: EvalResult, folder: Path) -> dict[str, bytes]:
    """Draw the three plots as PNG files in folder; return their bytes by file name."""
    import matplotlib

    matplotlib.use("Agg")  # no display on these machines; PNGs only
    import matplotlib.pyplot as plt

    images: dict[str, bytes] = {}

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, curve in result.hit_curves.items():
        if curve:
            ks = list(range(1, len(curve) + 1))
            ax.plot(ks, curve, marker="o", label=LABELS.get(name, name))
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("hit@k")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(range(1, 11))
    ax.axhline(FLOORS["hit@5"], color="grey", linestyle=":", linewidth=1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("hit@k (llama-index default returns 2 passages)")
    images["hit_at_k.png"] = _save(fig, folder / "hit_at_k.png", plt)

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    latencies = [r.latency_ms for r in result.items if r.latency_ms is not None]
    if latencies:
        ax.hist(latencies, bins=30, color="#4477aa")
        s = result.summary[OURS]
        for key, style in (("latency_p50_ms", "--"), ("latency_p95_ms", ":")):
            if s.get(key) is not None:
                label = f"{key[8:11]} {s[key]:.0f} ms"
                ax.axvline(s[key], color="black", linestyle=style, label=label)
        ax.legend()
    ax.set_xlabel("ms per question (assistant.ask, end to end)")
    ax.set_ylabel("questions")
    images["latency.png"] = _save(fig, folder / "latency.png", plt)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    trade = result.tradeoff
    if trade:
        for key in ("unanswerable_abstained", "answerable_refused"):
            left.plot(trade["thresholds"], trade[key], label=key.replace("_", " "))
        left.set_xlabel("abstain when best passage cosine < threshold")
        left.set_ylabel("share of questions")
        left.grid(alpha=0.3)
        left.legend()
        right.step(trade["answerable_refused"], trade["unanswerable_abstained"], where="post",
                   label="cosine threshold only")  # fmt: skip
        ours = trade["ours"]
        if ours["answerable_refused"] is not None:
            right.plot([ours["answerable_refused"]], [ours["abstention_recall"]], "r*",
                       markersize=14, label="our system")  # fmt: skip
        right.axvline(1 - FLOORS["answerable_answered"], color="grey", linestyle=":")
        right.axhline(FLOORS["abstention_recall"], color="grey", linestyle=":")
        right.set_xlabel("answerable refused")
        right.set_ylabel("unanswerable abstained")
        right.set_xlim(-0.02, 1.02)
        right.set_ylim(-0.02, 1.02)
        right.grid(alpha=0.3)
        right.legend(loc="lower right")
        right.set_title("target: top-left of the dotted lines")
    images["abstention_tradeoff.png"] = _save(fig, folder / "abstention_tradeoff.png", plt)
    return images


def _save(fig, path: Path, plt) -> bytes:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.read_bytes()


# ---------------------------------------------------------------- markdown


def render_markdown(result: EvalResult) -> str:
    """The report as Markdown (plots referenced as the PNG files beside it)."""
    out = [
        "# Evaluation report",
        "",
        headline(result),
        "",
        _run_line(result),
        "",
        "## Floors",
        "",
        floors_table(result).markdown(),
        "",
        f"## Failed questions ({len(result.failed)})",
        "",
    ]
    for item in result.failed:
        out += _failure_markdown(item, result)
    if not result.failed:
        out += ["None.", ""]
    out += [
        "## Summary: our system and the baselines, on the same questions",
        "",
        summary_table(result).markdown(),
        "",
        _baseline_note(result),
        "",
        "## hit@1 by question type, every system",
        "",
        hit1_table(result).markdown(),
        "",
        "## Our system by question type",
        "",
        group_table(result.by_type, "type").markdown(),
        "",
        "## Our system by season",
        "",
        group_table(result.by_season, "season").markdown(),
        "",
        "## Plots",
        "",
    ]
    for name, caption in PLOTS.items():
        out += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    out += [_tradeoff_note(result), "", "## Every question", ""]
    out += [_items_table(result).markdown(), ""]
    return "\n".join(out)


def _failure_markdown(item: ItemResult, result: EvalResult) -> list[str]:
    lines = [
        f"### {item.id} · {item.type} · {item.season or 'no season'}",
        "",
        "**Why it failed:** " + "; ".join(item.failures),
        "",
        f"- **Question:** {item.question}",
    ]
    if item.history:
        lines.append("- **After:** " + " / ".join(item.history))
    if item.answerable:
        lines.append("- **Expected facts:** " + "; ".join(item.answer_facts))
        for quote in item.gold_quotes:
            lines.append(f"- **Gold quote:** “{quote}”")
    else:
        lines.append("- **Expected:** an abstention (the archive does not cover this)")
    lines += ["", f"**We answered** ({_answer_state(item)}):", "", "~~~~", item.answer, "~~~~", ""]
    for c in item.citations:
        lines.append(f"- cited [{c['n']}] {_where(c)} — {c['url']}")
    lines += _ranks_lines(item, result)
    lines.append("")
    return lines


def _answer_state(item: ItemResult) -> str:
    state = "abstained" if item.abstained else "answered"
    parts = [state, f"reason: {item.reason}" if item.reason else ""]
    if item.as_of:
        parts.append(f"as of {item.as_of}")
    if item.fact_recall is not None:
        parts.append(f"fact recall {item.fact_recall:.2f}")
    return ", ".join(p for p in parts if p)


def _where(record: dict) -> str:
    return " > ".join((record["season"], *record["heading_path"]))


def _ranks_lines(item: ItemResult, result: EvalResult) -> list[str]:
    if not item.answerable:
        return [f"- top retrieved: {_where(r)}" for r in item.retrieved[:3]]
    ranks = ", ".join(
        f"{LABELS.get(name, name)}: {item.systems[name].rank or '—'}"
        for name in result.systems
        if name in item.systems
    )
    flags = item.systems[OURS].flags if OURS in item.systems else []
    top = [
        f"- retrieved #{r['rank']}{' (holds gold)' if i < len(flags) and flags[i] else ''}: "
        f"{_where(r)}"
        for i, r in enumerate(item.retrieved[:3])
    ]
    return [*top, f"- gold rank per system: {ranks}"]


def _items_table(result: EvalResult) -> Table:
    rows = [
        [
            item.id,
            item.type,
            item.season or "—",
            "pass" if item.passed else "FAIL",
            str(item.hit_rank or "—") if item.answerable else "",
            fmt(item.fact_recall, 2),
            "yes" if item.abstained else "no",
            fmt_ms(item.latency_ms),
        ]  # fmt: skip
        for item in result.items
    ]
    headers = ["id", "type", "season", "result", "gold rank", "fact recall", "abstained", "ms"]
    return Table(headers, rows)


def _run_line(result: EvalResult) -> str:
    meta = result.meta
    return (
        f"Run {meta.get('started_at', '')}; set {meta.get('set', '')}; index build "
        f"{meta.get('build_id', '')} ({meta.get('chunks', '?')} chunks); systems: "
        + ", ".join(LABELS.get(s, s) for s in result.systems)
    )


def _baseline_note(result: EvalResult) -> str:
    default = result.meta.get("default_pipeline")
    note = (
        "Retrieval metrics are over answerable questions; every system retrieves for the same "
        "query text (follow-ups resolved against their history). Baselines never abstain, so "
        "abstention and answer metrics are ours alone; their *fact recall (top passage)* takes "
        "the top passage as the answer. Retrieval latency includes embedding the question."
    )
    if default:
        note += (
            f" The llama-index default indexes the page as one Document split into "
            f"{default['nodes']} nodes of up to 1024 tokens (built in {default['build_s']} s) and "
            "returns 2 passages, so its hit@3 and hit@5 equal its hit@2."
        )
    return note


def _tradeoff_note(result: EvalResult) -> str:
    trade = result.tradeoff
    if not trade:
        return ""
    ours = trade["ours"]
    best = trade.get("threshold_only_best")
    text = (
        "Abstention trade-off: a threshold on the cosine between the question and its closest "
        "retrieved passage, alone, abstains on "
    )
    if best:
        text += (
            f"{best['abstention_recall']:.0%} of unanswerable questions at best while refusing "
            f"at most 5% of answerable ones (threshold {best['threshold']:.3f}); "
        )
    else:
        text += "no useful share of unanswerable questions within 5% refusals; "
    return text + (
        f"our system abstains on {_share(ours['abstention_recall'])} of unanswerable questions "
        f"and refuses {_share(ours['answerable_refused'])} of answerable ones."
    )


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


# ---------------------------------------------------------------- html

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;
padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
.headline{font-size:1.1em;font-weight:600}.fail{border-left:4px solid #c33;padding:.3em 1em;
margin:1em 0;background:#fff8f8}.fail h3{margin:.2em 0}.why{color:#a00}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em;border-radius:4px}
.quote{font-style:italic}.note{color:#555}img{max-width:100%;border:1px solid #eee}
"""


def render_html(result: EvalResult, images: dict[str, bytes]) -> str:
    """The report as one HTML file: inline CSS, plots inlined as base64 PNG, all text escaped."""
    e = html.escape
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Evaluation report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Evaluation report</h1>",
        f"<p class='headline'>{e(headline(result))}</p>",
        f"<p class='note'>{e(_run_line(result))}</p>",
        "<p><a href='#failed'>Failed questions</a> · <a href='#summary'>Summary</a> · "
        "<a href='#types'>By type</a> · <a href='#seasons'>By season</a> · "
        "<a href='#plots'>Plots</a> · <a href='#all'>Every question</a></p>",
        "<h2>Floors</h2>",
        floors_table(result).html(),
        f"<h2 id='failed'>Failed questions ({len(result.failed)})</h2>",
    ]
    out += [_failure_html(item, result) for item in result.failed] or ["<p>None.</p>"]
    out += [
        "<h2 id='summary'>Summary: our system and the baselines, on the same questions</h2>",
        summary_table(result).html(),
        f"<p class='note'>{e(_baseline_note(result))}</p>",
        "<h3>hit@1 by question type, every system</h3>",
        hit1_table(result).html(),
        "<h2 id='types'>Our system by question type</h2>",
        group_table(result.by_type, "type").html(),
        "<h2 id='seasons'>Our system by season</h2>",
        group_table(result.by_season, "season").html(),
        "<h2 id='plots'>Plots</h2>",
    ]
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
        f"<h3>{e(item.id)} · {e(item.type)} · {e(item.season or 'no season')}</h3>",
        f"<p class='why'>{e('; '.join(item.failures))}</p>",
        f"<p><b>Question:</b> {e(item.question)}</p>",
    ]
    if item.history:
        parts.append(f"<p><b>After:</b> {e(' / '.join(item.history))}</p>")
    if item.answerable:
        parts.append(f"<p><b>Expected facts:</b> {e('; '.join(item.answer_facts))}</p>")
        parts += [
            f"<p><b>Gold quote:</b> <span class='quote'>{e(q)}</span></p>" for q in item.gold_quotes
        ]
    else:
        parts.append("<p><b>Expected:</b> an abstention (the archive does not cover this)</p>")
    state = e(_answer_state(item))
    parts.append(f"<p><b>We answered</b> ({state}):</p><pre>{e(item.answer)}</pre>")
    lines = [f"cited [{c['n']}] {_where(c)} — {c['url']}" for c in item.citations]
    lines += [line[2:] for line in _ranks_lines(item, result)]
    parts.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in lines) + "</ul></div>")
    return "\n".join(parts)
