"""`python -m ingest`: build the index from every registered source, and manage the sources.

    python -m ingest                      build or refresh from every registered source
    python -m ingest add URL_OR_PATH ... [--crawl] [--max-pages N] [--depth D]
    python -m ingest list [--json]
    python -m ingest refresh [SOURCE ...] conditional re-fetch (ETag / Last-Modified)
    python -m ingest remove SOURCE ...    unregister and rebuild ("snapshot" is the bundled one)
    python -m ingest --url URL / --path FILE_OR_DIR   shorthand for add

Every command takes --index-dir DIR (env ASSISTANT_INDEX_DIR), --dry-run and --quiet.
A new index starts with the bundled snapshot registered. Exit codes: 0 done (or nothing
to do); 1 every source asked for failed, or the build failed; 2 bad arguments or an
unknown source; 3 no index (list); 4 another ingest holds the lock.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from exitcodes import (  # noqa: E402
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_NO_INDEX,
    EXIT_OK,
)
from settings import load_settings  # noqa: E402

SHOWN_ITEMS = 20  # change-report lines listed one by one (all of them in a dry run)


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (and exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message} (see: {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the command is not reset by the command's parser.
    common.add_argument("--index-dir", type=Path, default=argparse.SUPPRESS,
                        help="index folder (env ASSISTANT_INDEX_DIR)")  # fmt: skip
    common.add_argument("--dry-run", action="store_true", default=argparse.SUPPRESS,
                        help="print what would change only")  # fmt: skip
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars, errors only")  # fmt: skip
    parser = _OneLineParser(
        prog="python -m ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    # Both "--url A --url B" and "--url A B" work.
    parser.add_argument("--url", action="extend", nargs="+", default=[], help="shorthand for add")
    parser.add_argument("--path", action="extend", nargs="+", default=[], type=Path,
                        help="shorthand for add")  # fmt: skip
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when an index already exists")  # fmt: skip
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    add = commands.add_parser("add", parents=[common], help="register sources and build")
    add.add_argument("locations", nargs="+", metavar="URL_OR_PATH")
    add.add_argument("--crawl", action="store_true", help="follow the site's links from URL")
    add.add_argument("--max-pages", type=int, help="most pages a crawl keeps (default 50)")
    add.add_argument("--depth", type=int, help="most links a crawl follows (default 3)")
    listing = commands.add_parser("list", parents=[common], help="show the sources")
    listing.add_argument("--json", action="store_true", help="a JSON list of objects")
    refresh = commands.add_parser("refresh", parents=[common], help="re-fetch and rebuild")
    refresh.add_argument("sources", nargs="*", metavar="SOURCE", help="id, URL or path")
    remove = commands.add_parser("remove", parents=[common], help="unregister and rebuild")
    remove.add_argument("sources", nargs="+", metavar="SOURCE", help="id, URL, path, snapshot")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ingest CLI and return its exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    index_dir = getattr(args, "index_dir", None)
    quiet = getattr(args, "quiet", False)
    dry_run = getattr(args, "dry_run", False)
    settings = load_settings(index_dir=index_dir)

    if args.command == "list":
        return _list(settings, args.json)

    from ingest.update import AddRequest

    if args.if_missing:
        from index.builds import read_index
        from index.errors import IndexError_

        try:
            read_index(settings.index_dir)
            if not quiet:
                print(f"index exists in {settings.index_dir}; skipping ingest")
            return EXIT_OK
        except IndexError_:
            pass

    add: list[AddRequest] = []
    remove: list[str] = []
    refresh: list[str] | None = None  # all
    if args.command == "add":
        if (args.max_pages is not None or args.depth is not None) and not args.crawl:
            return _bad("--max-pages and --depth go with --crawl")
        if args.max_pages is not None and args.max_pages < 1:
            return _bad("--max-pages must be 1 or more")
        if args.depth is not None and args.depth < 0:
            return _bad("--depth must be 0 or more")
        for location in args.locations:
            problem = _location_problem(location, args.crawl)
            if problem:
                return _bad(problem)
        add = [AddRequest(x, args.crawl, args.max_pages, args.depth) for x in args.locations]
        refresh = []
    elif args.command == "refresh":
        refresh = args.sources or None
    elif args.command == "remove":
        remove, refresh = args.sources, []
    elif args.url or args.path:
        for location in [*args.url, *map(str, args.path)]:
            problem = _location_problem(location, False)
            if problem:
                return _bad(problem)
        add = [AddRequest(str(x)) for x in [*args.url, *args.path]]
        refresh = []
    return _update(settings, add, remove, refresh, dry_run, quiet)


def _location_problem(location: str, crawl: bool) -> str | None:
    """Why a location cannot be added, or None."""
    if "://" in location and not location.startswith(("http://", "https://")):
        return f"{location}: not an http:// or https:// URL, nor a file or folder"
    if crawl and not location.startswith(("http://", "https://")):
        return f"{location}: --crawl needs an http:// or https:// URL"
    return None


def _bad(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _update(settings, add, remove, refresh, dry_run: bool, quiet: bool) -> int:
    """Run one update and print its change report; return the exit code."""
    from index.errors import IndexError_, IngestLockedError
    from ingest.update import BadRequest, update

    def say(message: str) -> None:
        if not quiet:
            print(message)

    started = time.perf_counter()
    try:
        outcome = update(
            settings, add=add, remove=remove, refresh=refresh, dry_run=dry_run,
            progress=not quiet,
        )  # fmt: skip
    except BadRequest as error:
        return _bad(str(error))
    except IngestLockedError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_LOCKED
    except IndexError_ as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:
        print(
            f"error: could not write the index in {settings.index_dir} "
            f"({error.strerror or error}); the previous index is unchanged",
            file=sys.stderr,
        )
        return EXIT_FAILED

    for error in outcome.errors:
        print(f"error: {error}", file=sys.stderr)
    if outcome.build is None:
        return EXIT_FAILED  # every source asked for failed; the index is as it was
    if outcome.errors:
        print(f"warning: {len(outcome.errors)} source(s) skipped; indexing the rest",
              file=sys.stderr)  # fmt: skip
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)

    result = outcome.build
    changes = result.changes
    verb = "would change" if dry_run else "changed"
    say(f"{verb}: {changes.summary()}")
    for label, items in (
        ("added", changes.sections_added),
        ("changed", changes.sections_changed),
        ("removed", changes.sections_removed),
        ("note", changes.notes),
    ):
        shown = items if dry_run or len(items) <= SHOWN_ITEMS else items[:SHOWN_ITEMS]
        for item in shown:
            say(f"  {label}: {item}" if label != "note" else f"  {item}")
        if len(shown) < len(items):
            say(f"  ... and {len(items) - len(shown)} more {label}")
    added, removed = ("would add", "would remove") if dry_run else ("added", "removed")
    for source in outcome.added:
        say(f"source {added}: {source.name} ({source.kind}, {source.sections} sections)")
    for source in outcome.removed:
        say(f"source {removed}: {source.name}")
    if dry_run:
        return EXIT_OK
    if not result.written:
        say(f"index in {settings.index_dir} is up to date (nothing changed)")
    else:
        counts = result.manifest["counts"]
        say(
            f"built {result.build_id}: {counts['sections']} sections, {counts['chunks']} chunks "
            f"({result.embedded} texts embedded) in {time.perf_counter() - started:.1f} s"
        )
        for season, count in counts["per_season"].items():
            say(f"  {season}: {count['sections']} sections, {count['chunks']} chunks")
    asked = len(outcome.added) + len(outcome.refreshed)
    stale = sum(1 for s in outcome.refreshed if s.status == "stale")
    if asked and stale == asked and not outcome.added and not outcome.removed:
        return EXIT_FAILED  # every source refreshed failed (each kept its last good copy)
    return EXIT_OK


def _list(settings, as_json: bool) -> int:
    """Print the registry: one row per source, and the pages of crawls and folders."""
    from ingest.sources import list_rows, load_registry

    registry = load_registry(settings.index_dir)
    if not registry.exists:
        print(
            f"error: no index in {settings.index_dir}: build one with: python -m ingest"
            + ("" if Path(settings.index_dir) == Path("index_store") else
               f" --index-dir {settings.index_dir}"),
            file=sys.stderr,
        )  # fmt: skip
        return EXIT_NO_INDEX
    rows = list_rows(registry)
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{'ID':<13} {'KIND':<6} {'STATUS':<7} {'SECTIONS':>8}  {'FETCHED':<25}  SOURCE")
    for row in rows:
        page = bool(row.get("crawl") or row.get("parent"))
        ident = "" if page else row["id"]
        where = ("  " if page else "") + (row.get("path") or row["url"] or "")
        if row.get("error"):
            where += f"  ({row['error']})"
        elif row.get("note"):
            where += f"  ({row['note']})"
        print(
            f"{ident:<13} {row['kind']:<6} {row['status']:<7} {row['sections']:>8}  "
            f"{(row['fetched_at'] or '-'):<25}  {where}"
        )
    return EXIT_OK


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("error: interrupted; the previous index is unchanged", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:  # `python -m ingest list | head`: the reader left early
        sys.stderr.close()
        sys.exit(0)
