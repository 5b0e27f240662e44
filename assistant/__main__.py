"""`python -m assistant ask "QUESTION" [--season S] [--json]`, or `ask --batch FILE.jsonl --json`.

A batch file holds one JSON object per line: {"id", "question"}, optionally "history" (the
earlier user turns, oldest first) and "season" (a season name or a list of them, which
the line's answer keeps to; --season applies to lines without one). One JSON answer per
line comes out, in the same order, with the id copied. An empty batch file is bad input.

Exit codes: 0 answered (abstaining is an answer); 2 bad input; 3 no index (the message
says how to build one); 1 the index is unreadable or its store unreachable.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.cli import OneLineParser  # noqa: E402
from exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NO_INDEX, EXIT_OK  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the assistant CLI and return its exit code."""
    parser = OneLineParser(prog="python -m assistant", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ask_cmd = commands.add_parser("ask", help="answer a question from the archive")
    ask_cmd.add_argument("question", nargs="?", help="the question")
    ask_cmd.add_argument("--season", action="append", help='e.g. "Autumn 2021" (repeatable)')
    ask_cmd.add_argument("--topic", action="append", help="a topic heading (repeatable)")
    ask_cmd.add_argument("--batch", type=Path, help='JSONL of {"id", "question"} per line')
    ask_cmd.add_argument("--json", action="store_true", help="print the JSON answer")
    ask_cmd.add_argument("--index-dir", type=Path, help="index folder (env ASSISTANT_INDEX_DIR)")
    args = parser.parse_args(argv)

    if (args.question is None) == (args.batch is None):
        print("error: give a question or --batch FILE.jsonl (not both)", file=sys.stderr)
        return EXIT_BAD_INPUT
    batch = _read_batch(args.batch) if args.batch else None
    if isinstance(batch, str):
        print(f"error: {batch}", file=sys.stderr)
        return EXIT_BAD_INPUT

    from assistant import BadQuestionError, ask
    from assistant.decide import ModelMissingError
    from index.errors import CorruptIndexError, NoIndexError
    from index.search import IndexUnavailableError
    from settings import load_settings

    settings = load_settings(index_dir=args.index_dir)
    try:
        if batch is None:
            answer = ask(args.question, season=args.season, topic=args.topic, settings=settings)
            print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else _human(answer))
            return EXIT_OK
        for item in batch:
            try:
                answer = ask(
                    item["question"],
                    history=item.get("history"),
                    season=item.get("season") or args.season,
                    topic=args.topic,
                    settings=settings,
                )
                row = {"id": item["id"], **answer.to_json()}
            except BadQuestionError as error:
                row = {"id": item["id"], "question": item["question"], "error": str(error)}
            print(json.dumps(row, ensure_ascii=False) if args.json else _human_row(row), flush=True)
        return EXIT_OK
    except BadQuestionError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NoIndexError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO_INDEX
    except (CorruptIndexError, IndexUnavailableError, ModelMissingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


def _read_batch(path: Path) -> list[dict] | str:
    """Read the batch file, or return a one-line description of what is wrong with it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        return f"cannot read {path}: {error.strerror or error}"
    except UnicodeDecodeError:
        return f"{path} is not UTF-8 text"
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            return f"{path}:{number}: not JSON ({error.msg})"
        if (
            not isinstance(item, dict)
            or "id" not in item
            or not isinstance(item.get("question"), str)
        ):
            return f'{path}:{number}: each line needs {{"id", "question"}}'
        history = item.get("history")
        if history is not None and not (
            isinstance(history, list) and all(isinstance(t, str | dict) for t in history)
        ):
            return f"{path}:{number}: history must be a list of earlier questions"
        season = item.get("season")
        if season is not None and not (
            isinstance(season, str)
            or (isinstance(season, list) and all(isinstance(s, str) for s in season))
        ):
            return f"{path}:{number}: season must be a season name or a list of them"
        items.append(item)
    if not items:
        return f"{path} holds no questions"
    return items


def _human(answer) -> str:
    lines = [answer.answer, ""]
    if answer.as_of:
        lines.append(f"As of the {answer.as_of} bulletin.")
    for citation in answer.citations:
        lines.append(f"[{citation.n}] {citation.season} > {' > '.join(citation.heading_path)}")
        lines.append(f"    {citation.url}")
    return "\n".join(lines).rstrip()


def _human_row(row: dict) -> str:
    if "error" in row:
        return f"{row['id']}: error: {row['error']}"
    return f"{row['id']}: {row['answer']}"


if __name__ == "__main__":
    sys.exit(main())
