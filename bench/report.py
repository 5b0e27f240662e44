"""The benchmark report: the machine, each benchmark's tables and plots, the headline figures.

Written as bench/reports/<timestamp>/report.md (with its PNG plots), copied to
bench/reports/latest.md, and the headline table to docs/performance.md for the README.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORTS_DIR = REPO_ROOT / "bench" / "reports"
PERFORMANCE_DOC = REPO_ROOT / "docs" / "performance.md"


def machine() -> dict[str, str]:
    """The machine the figures were measured on: CPUs, memory, CPU model, versions, load."""
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
                break
    except OSError:
        pass
    versions = {}
    for name in ("torch", "chromadb", "sentence_transformers", "gradio"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "?")
        except ImportError:
            versions[name] = "not installed"
    return {
        "cpus (nproc)": str(os.cpu_count()),
        "memory": memory,
        "cpu model": cpu_model,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **versions,
        "load average at start": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and max of durations given in seconds, in milliseconds."""
    ms = [v * 1000 for v in values_s]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "mean": statistics.fmean(ms) if ms else float("nan"),
        "max": max(ms) if ms else float("nan"),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Headline:
    """One figure for the README: what, the value as shown, and the target if there is one."""

    figure: str
    value: str
    target: str = ""
    met: bool | None = None  # None: no target


@dataclass
class Report:
    """Collects sections, plots and headline figures, then writes them out."""

    quick: bool = False
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    sections: list[tuple[str, str]] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    machine_info: dict[str, str] = field(default_factory=machine)

    def __post_init__(self) -> None:
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        self.out_dir = REPORTS_DIR / stamp
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def add(self, title: str, markdown: str) -> None:
        """Add a section (its body in Markdown)."""
        self.sections.append((title, markdown))

    def headline(self, figure: str, value: str, target: str = "", met: bool | None = None) -> None:
        """Add a headline figure (shown in the README's performance table)."""
        self.headlines.append(Headline(figure, value, target, met))

    def plot(self, name: str, draw: Callable[[object], None], size=(6.4, 3.6)) -> str:
        """Draw a figure with matplotlib (Agg) into <name>.png; return its Markdown image."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=size, dpi=110)
        draw(ax)
        fig.tight_layout()
        fig.savefig(self.out_dir / f"{name}.png")
        plt.close(fig)
        return f"![{name}]({name}.png)"

    def write(self, update_docs: bool = True) -> Path:
        """Write report.md, latest.md and (unless a partial run) docs/performance.md."""
        body = self._markdown()
        path = self.out_dir / "report.md"
        path.write_text(body, encoding="utf-8")
        # latest.md sits one folder up: point its images into the timestamped folder.
        latest = re.sub(r"!\[([^\]]*)\]\(([^)/]+\.png)\)", rf"![\1]({self.out_dir.name}/\2)", body)
        (REPORTS_DIR / "latest.md").write_text(latest, encoding="utf-8")
        if update_docs and self.headlines:
            PERFORMANCE_DOC.parent.mkdir(parents=True, exist_ok=True)
            PERFORMANCE_DOC.write_text(self._performance_doc(), encoding="utf-8")
        return path

    def _headline_table(self) -> str:
        rows = []
        for h in self.headlines:
            verdict = "" if h.met is None else (" ✓" if h.met else " ✗")
            rows.append((h.figure, h.value, (h.target + verdict).strip() or "—"))
        return table(("figure", "measured", "target"), rows)

    def _machine_line(self) -> str:
        m = self.machine_info
        return (
            f"{m['cpus (nproc)']} CPUs ({m['cpu model']}), {m['memory']} RAM, {m['os']}, "
            f"Python {m['python']}, torch {m['torch']}, chromadb {m['chromadb']}, "
            f"sentence-transformers {m['sentence_transformers']}"
        )

    def _markdown(self) -> str:
        lines = [
            f"# Benchmark report ({self.started.strftime('%Y-%m-%d %H:%M UTC')})",
            "",
            "Produced by `make bench` (`python -m bench`"
            + (" --quick" if self.quick else "")
            + "). Figures are measured, not asserted; targets are the issues' speed goals.",
            "",
            "## Machine",
            "",
            table(("", ""), list(self.machine_info.items())),
            "",
        ]
        if self.notes:
            lines += ["## Notes", ""] + [f"- {note}" for note in self.notes] + [""]
        if self.headlines:
            lines += ["## Headline figures", "", self._headline_table(), ""]
        for title, markdown in self.sections:
            lines += [f"## {title}", "", markdown.strip(), ""]
        return "\n".join(lines)

    def _performance_doc(self) -> str:
        return "\n".join(
            [
                "## Performance",
                "",
                f"Measured by `make bench` on {self.started.strftime('%Y-%m-%d')}: "
                f"{self._machine_line()}. "
                f"Load average at the start: {self.machine_info['load average at start']} "
                "(the machine was shared, so treat small differences as noise).",
                "",
                self._headline_table(),
                "",
                "The full report, with per-stage timings and plots, is written to "
                "`bench/reports/latest.md`; `python -m bench NAME` reruns one benchmark "
                "(ingest, query, startup, load, scale, coldstart, sources).",
                "",
            ]
        )
