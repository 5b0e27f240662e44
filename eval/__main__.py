"""`python -m eval`: run a question set through the assistant and the baselines, write a report.

    python -m eval [--split train|dev|test | --set FILE] [--type T ...] [--limit N] [--json]
                   [--out DIR] [--index-dir DIR] [--no-baselines] [--quiet]
    python -m eval --compare OLD NEW [--json]

By default it reports on the sealed test split (nothing is tuned on it; this only reads
it). Exit codes: 0 done (missing a floor is reported, not an error: the quality-gate test
enforces the floors); 2 bad input (set file, options, --compare paths); 3 no index (the
message says how to build one); 1 the index or the model file is unusable, or the store is
unreachable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.cli import OneLineParser  # noqa: E402
from exitcodes import (  # noqa: E402
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NO_INDEX,
    EXIT_OK,
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> OneLineParser:
    from eval.dataset import SPLITS, TYPES

    parser = OneLineParser(
        prog="python -m eval",
        description="Evaluate the assistant on a question set, beside baselines, and write a "
        "report folder (report.md, report.html, results.json).",
    )
    parser.add_argument(
        "--split", choices=SPLITS, help="a split of the project's set (default: test, sealed)"
    )
    parser.add_argument(
        "--set", type=Path, dest="set_path", metavar="FILE",
        help="any JSONL question set of the same shape, instead of a split; validated "
        "against the archive",
    )  # fmt: skip
    parser.add_argument(
        "--type", nargs="+", action="extend", dest="types", metavar="T", choices=TYPES,
        help=f"only these question types: {', '.join(TYPES)}",
    )  # fmt: skip
    parser.add_argument(
        "--limit", type=_positive_int, metavar="N",
        help="at most N questions, taken type by type so every type is covered",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="report folder (default eval/reports/<timestamp>)"
    )
    parser.add_argument(
        "--index-dir", type=Path, metavar="DIR", help="index folder (env ASSISTANT_INDEX_DIR)"
    )
    parser.add_argument("--no-baselines", action="store_true", help="run only our system (faster)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--compare", nargs=2, type=Path, metavar=("OLD", "NEW"),
        help="compare two reports (folders or results.json files) instead of running",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the eval CLI and return its exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.compare:
            return _compare(args)
        return _run(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - one line on stderr, never a traceback
        print(f"error: unexpected {error.__class__.__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED


def _compare(args: argparse.Namespace) -> int:
    from eval.compare import CompareError, compare, load_results, render

    extra = [
        flag
        for flag, value in (
            ("--split", args.split),
            ("--set", args.set_path),
            ("--type", args.types),
            ("--limit", args.limit),
            ("--out", args.out),
            ("--index-dir", args.index_dir),
            ("--no-baselines", args.no_baselines),
        )  # fmt: skip
        if value
    ]
    if extra:
        print(f"error: --compare takes no {extra[0]} (only --json)", file=sys.stderr)
        return EXIT_BAD_INPUT
    old_path, new_path = args.compare
    try:
        comparison = compare(
            load_results(old_path), load_results(new_path), str(old_path), str(new_path)
        )
    except CompareError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(comparison.to_json(), indent=1, ensure_ascii=False))
    else:
        print(render(comparison))
    return EXIT_OK


def chosen_set(split: str | None, set_path: Path | None) -> tuple[str | None, Path]:
    """Which set to run: a file given with --set, else the split (the test split by default)."""
    from eval.dataset import SPLIT_PATHS

    if set_path is not None:
        return None, set_path
    name = split or "test"
    return name, SPLIT_PATHS[name]


def _run(args: argparse.Namespace) -> int:
    from eval.dataset import DatasetError, checksum, load_set, sealed_checksum, select

    if args.split and args.set_path:
        print("error: give --split or --set, not both", file=sys.stderr)
        return EXIT_BAD_INPUT
    split, set_path = chosen_set(args.split, args.set_path)
    try:
        items = select(load_set(set_path), args.types, args.limit)
        digest = checksum(set_path)  # the bytes just loaded, reported beside the figures
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not items:
        kinds = ", ".join(args.types)
        print(f"error: {set_path} has no questions of type {kinds}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)  # fail now, not after a 2-minute run
        except OSError as error:
            reason = error.strerror or error
            print(f"error: cannot write the report to {args.out}: {reason}", file=sys.stderr)
            return EXIT_BAD_INPUT

    from assistant.decide import ModelMissingError
    from eval.baselines import BaselineUnavailableError
    from eval.metrics import FLOORS, TARGETS, below_floors
    from eval.report import console_summary, default_folder, headline, write_report
    from eval.run import OURS, SYSTEMS, run_eval
    from index.errors import CorruptIndexError, NoIndexError
    from index.search import IndexUnavailableError
    from settings import load_settings

    settings = load_settings(index_dir=args.index_dir)
    systems = (OURS,) if args.no_baselines else SYSTEMS
    try:
        # Libraries print to stdout ("Using MockLLM", ...); keep stdout for our output.
        with contextlib.redirect_stdout(sys.stderr):
            result = run_eval(
                items, settings, systems, progress=not args.quiet and sys.stderr.isatty()
            )
    except NoIndexError:
        custom = settings.index_dir != Path("index_store")
        hint = f" --index-dir {settings.index_dir}" if custom else ""
        print(
            f"error: no index in {settings.index_dir}: build one with: python -m ingest{hint}",
            file=sys.stderr,
        )
        return EXIT_NO_INDEX
    except (
        CorruptIndexError,
        IndexUnavailableError,
        ModelMissingError,
        BaselineUnavailableError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    result.meta.update(
        {
            "set": str(set_path),
            "split": split,
            "sha256": digest,
            # The test split is reported as sealed only when its bytes are the sealed ones.
            "sealed": digest == sealed_checksum() if split == "test" else None,
            "types": args.types or "all",
            "limit": args.limit,
        }
    )
    folder = args.out or default_folder()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            write_report(result, folder)
    except OSError as error:
        print(f"error: cannot write the report to {folder}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        data = result.to_json()
        missed = {metric for metric, _, _ in below_floors(result.summary[OURS])}
        floors = {}
        for metric, floor in FLOORS.items():
            got = result.summary[OURS].get(metric)
            value = got.value if got else None
            floors[metric] = {
                "bound": floor.bound,
                "direction": floor.direction,
                "value": value,
                "met": value is not None and metric not in missed,
                "target": TARGETS[metric].bound if metric in TARGETS else None,
                "target_met": value is not None
                and metric in TARGETS
                and TARGETS[metric].met(value),
            }
        print(
            json.dumps(
                {
                    "report": str(folder),
                    "headline": headline(result),
                    "summary": data["summary"],
                    "versus": data["versus"],
                    "breakdowns": data["breakdowns"],
                    "hit1_by_type": data["hit1_by_type"],
                    "floors": floors,
                    "failed": [{"id": i.id, "failures": i.failures} for i in result.failed],
                    "meta": result.meta,
                },
                indent=1,
                ensure_ascii=False,
            )
        )
    else:
        print(console_summary(result, folder))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
