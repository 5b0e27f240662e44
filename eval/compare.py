"""Compare two eval runs: which metrics got better or worse, and which questions flipped.

Reads the results.json of two report folders (or the files themselves); the questions are
matched by id, so two runs of different sets compare on the ids they share. Which way is
better comes from each metric's direction (eval.metrics.METRICS); a metric better neither
way is listed as changed. A change the old run's 95% interval already spans is marked, as
it may be the luck of the questions rather than a real change.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval.metrics import LOWER, METRICS
from eval.run import LABELS, OURS

# Smaller changes than these are noise, not "better" or "worse".
EPSILON = 1e-9
LATENCY_NOISE = 0.10  # latency must move by 10% to count (a busy 2-core machine varies)
# Systems renamed since older results files were written.
RENAMED = {"hybrid": OURS}


class CompareError(ValueError):
    """A path given to --compare is not a readable eval result."""


@dataclass(frozen=True)
class Delta:
    """One metric of one system in both runs."""

    system: str
    metric: str
    old: float
    new: float
    old_interval: tuple[float, float] | None = None  # the old run's 95% interval

    @property
    def change(self) -> float:
        """new - old."""
        return self.new - self.old

    @property
    def verdict(self) -> str:
        """ "better", "worse", "same", or "changed" for a metric better neither way."""
        noise = abs(self.old) * LATENCY_NOISE if self.metric.endswith("_ms") else EPSILON
        if abs(self.change) <= noise:
            return "same"
        info = METRICS.get(self.metric)
        if info is None or info.better is None:
            return "changed"
        improved = self.change < 0 if info.better == LOWER else self.change > 0
        return "better" if improved else "worse"

    @property
    def within_old_interval(self) -> bool:
        """True when the new value lies inside the old run's 95% interval."""
        if self.old_interval is None:
            return False
        low, high = self.old_interval
        return low <= self.new <= high


@dataclass
class Comparison:
    """What changed between two runs."""

    old: str
    new: str
    deltas: list[Delta] = field(default_factory=list)
    now_failing: list[dict] = field(default_factory=list)  # pass -> fail, with new reasons
    now_passing: list[str] = field(default_factory=list)  # fail -> pass
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """Return the comparison as JSON-ready data (for --json)."""
        data = asdict(self)
        data["deltas"] = [
            {
                **asdict(d),
                "change": d.change,
                "verdict": d.verdict,
                "within_old_interval": d.within_old_interval,
            }
            for d in self.deltas
        ]
        return data


def load_results(path: str | Path) -> dict:
    """Read a run's results.json from its report folder or the file; raise CompareError."""
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise CompareError(f"no eval results at {path} (expected a report folder or results.json)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CompareError(f"cannot read {file}: {error}") from error
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("summary"), dict)
        or not isinstance(data.get("items"), list)
        or not all(isinstance(i, dict) and "id" in i and "passed" in i for i in data["items"])
    ):
        raise CompareError(f"{file} is not an eval results file (no summary or items)")
    return data


def compare(old: dict, new: dict, old_name: str = "old", new_name: str = "new") -> Comparison:
    """Compare two loaded results: metric deltas per system and the questions that flipped."""
    result = Comparison(old=old_name, new=new_name)
    old_summary, new_summary = _systems(old["summary"]), _systems(new["summary"])
    for system, old_metrics in old_summary.items():
        new_metrics = new_summary.get(system)
        if not isinstance(old_metrics, dict) or not isinstance(new_metrics, dict):
            continue
        for metric, old_entry in old_metrics.items():
            old_value, interval = _value(old_entry)
            new_value, _ = _value(new_metrics.get(metric))
            if metric.startswith("n_") or old_value is None or new_value is None:
                continue
            result.deltas.append(Delta(system, metric, old_value, new_value, interval))
    old_items = {i["id"]: i for i in old["items"]}
    new_items = {i["id"]: i for i in new["items"]}
    for item_id, item in new_items.items():
        before = old_items.get(item_id)
        if before is None:
            result.only_new.append(item_id)
        elif before["passed"] and not item["passed"]:
            result.now_failing.append({"id": item_id, "failures": item.get("failures", [])})
        elif not before["passed"] and item["passed"]:
            result.now_passing.append(item_id)
    result.only_old = [i for i in old_items if i not in new_items]
    return result


def _systems(summary: dict) -> dict:
    """The summary keyed by today's system names."""
    return {RENAMED.get(name, name): metrics for name, metrics in summary.items()}


def _value(entry: object) -> tuple[float | None, tuple[float, float] | None]:
    """A metric's value and interval, from an Estimate record or an older plain number."""
    if isinstance(entry, dict):
        value, low, high = entry.get("value"), entry.get("low"), entry.get("high")
        interval = (float(low), float(high)) if _number(low) and _number(high) else None
        return (float(value), interval) if _number(value) else (None, None)
    return (float(entry), None) if _number(entry) else (None, None)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def render(comparison: Comparison) -> str:
    """The comparison as text: better, worse, then the flipped questions."""
    lines = [f"compare {comparison.old} -> {comparison.new}", ""]
    for verdict in ("better", "worse", "changed"):
        changed = [d for d in comparison.deltas if d.verdict == verdict]
        if verdict == "changed" and not changed:
            continue
        lines.append(f"{verdict.capitalize()} ({len(changed)}):")
        for d in changed:
            inside = "  (inside the old 95% interval)" if d.within_old_interval else ""
            lines.append(
                f"  {LABELS.get(d.system, d.system):22} {d.metric:26} "
                f"{_show(d.old, d.metric)} -> {_show(d.new, d.metric)} ({d.change:+.3f}){inside}"
            )
        if not changed:
            lines.append("  none")
        lines.append("")
    same = sum(d.verdict == "same" for d in comparison.deltas)
    lines += [f"Unchanged metrics: {same}", ""]
    lines.append(f"Now failing, passed before ({len(comparison.now_failing)}):")
    lines += [f"  {f['id']}: {'; '.join(f['failures'])}" for f in comparison.now_failing] or [
        "  none"
    ]
    lines.append(f"Now passing, failed before ({len(comparison.now_passing)}):")
    lines += [f"  {i}" for i in comparison.now_passing] or ["  none"]
    if comparison.only_old or comparison.only_new:
        lines.append(
            f"Only in old: {', '.join(comparison.only_old) or 'none'}; "
            f"only in new: {', '.join(comparison.only_new) or 'none'}"
        )
    return "\n".join(lines)


def _show(value: float, metric: str) -> str:
    return f"{value:.0f} ms" if metric.endswith("_ms") else f"{value:.3f}"
