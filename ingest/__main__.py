"""`python -m ingest`: build or refresh the index from the bundled snapshot, files or live URLs.

Exit codes: 0 done (or nothing to do); 1 every source failed or the build failed;
2 bad arguments; 4 another ingest holds the lock.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ingest import ingest  # noqa: E402
from ingest.fetch import FetchOptions  # noqa: E402
from settings import load_settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the ingest CLI and return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    # Both "--url A --url B" and "--url A B" work.
    parser.add_argument("--url", action="extend", nargs="+", default=[], help="live pages to fetch")
    parser.add_argument(
        "--path", action="extend", nargs="+", default=[], type=Path, help="HTML files or folders"
    )
    parser.add_argument("--index-dir", type=Path, help="index folder (env ASSISTANT_INDEX_DIR)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change only")
    parser.add_argument(
        "--if-missing", action="store_true", help="do nothing when an index already exists"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars, errors only")
    args = parser.parse_args(argv)
    settings = load_settings(index_dir=args.index_dir)

    from index.builds import read_index
    from index.errors import IndexError_, IngestLockedError
    from index.store import build

    def say(message: str) -> None:
        if not args.quiet:
            print(message)

    if args.if_missing:
        try:
            read_index(settings.index_dir)
            say(f"index exists in {settings.index_dir}; skipping ingest")
            return 0
        except IndexError_:
            pass

    started = time.perf_counter()
    from index.embed import token_counter

    result = ingest(
        args.url,
        args.path,
        count_tokens=token_counter(settings.embed_model),
        max_tokens=settings.max_chunk_tokens,
        fetch_options=FetchOptions(cache_dir=Path(settings.index_dir) / "http-cache"),
        progress=not args.quiet,
    )
    if not result.sections:
        # One line per failed source; the index is left as it was.
        for error in result.errors or ["nothing to index"]:
            print(f"error: {error}", file=sys.stderr)
        return 1
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    if result.errors:
        print(
            f"warning: {len(result.errors)} source(s) skipped; indexing the rest", file=sys.stderr
        )

    try:
        outcome = build(
            result.sections,
            result.chunks,
            result.sources(),
            settings,
            dry_run=args.dry_run,
            progress=not args.quiet,
        )
    except IngestLockedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 4
    except IndexError_ as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(
            f"error: could not write the index in {settings.index_dir} "
            f"({error.strerror or error}); the previous index is unchanged",
            file=sys.stderr,
        )
        return 1

    changes = outcome.changes
    verb = "would change" if args.dry_run else "changed"
    say(f"{verb}: {changes.summary()}")
    for label, items in (
        ("added", changes.sections_added),
        ("changed", changes.sections_changed),
        ("removed", changes.sections_removed),
    ):
        if args.dry_run or len(items) <= 20:
            for item in items:
                say(f"  {label}: {item}")
    if args.dry_run:
        return 0
    if not outcome.written:
        say(f"index in {settings.index_dir} is up to date (nothing changed)")
    else:
        counts = outcome.manifest["counts"]
        say(
            f"built {outcome.build_id}: {counts['sections']} sections, {counts['chunks']} chunks "
            f"({outcome.embedded} texts embedded) in {time.perf_counter() - started:.1f} s"
        )
        for season, count in counts["per_season"].items():
            say(f"  {season}: {count['sections']} sections, {count['chunks']} chunks")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("error: interrupted; the previous index is unchanged", file=sys.stderr)
        sys.exit(130)
