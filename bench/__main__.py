"""`python -m bench [NAME ...] [--quick]`: run the benchmarks and write the report.

NAME is one or more of: ingest, query, startup, coldstart, load, scale, sources
(default: all).
The report goes to bench/reports/<timestamp>/report.md (with PNG plots) and
bench/reports/latest.md; a full run (all benchmarks, not --quick) also writes the
headline figures to docs/performance.md for the README.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (all by default) and return 0, or 1 if any failed."""
    from bench.report import Report
    from bench.runs import BENCHMARKS, Context

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes (10x corpus, fewer runs)"
    )
    parser.add_argument("--keep", type=Path, help="keep the indexes built, in this folder")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}",
              file=sys.stderr)  # fmt: skip
        return 2
    names = args.names or list(BENCHMARKS)

    report = Report(quick=args.quick)
    failed = []
    with tempfile.TemporaryDirectory(prefix="cpitg-bench-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        context = Context(report=report, quick=args.quick, work=work)
        for name in names:
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            try:
                BENCHMARKS[name](context)
            except Exception:  # noqa: BLE001 - one failed benchmark must not lose the rest
                failed.append(name)
                report.add(f"{name}: FAILED", "```\n" + traceback.format_exc() + "\n```")
                traceback.print_exc()
            print(f"bench: {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    report.notes.append(
        "load average at the end: " + " / ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    full_run = not args.quick and set(names) == set(BENCHMARKS) and not failed
    path = report.write(update_docs=full_run)
    print(f"report: {path}")
    if full_run:
        print("headline figures: docs/performance.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
