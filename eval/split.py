"""Split the question pool into train / dev / test, stratified, and seal the test split.

    python -m eval.split POOL.jsonl [POOL.jsonl ...]   # writes eval/questions/*.jsonl

Fit on train, choose thresholds on dev, report on test: a number measured on the data a
decision was tuned on predicts nothing about the next contractor's question. The split is
deterministic and stable:
- each writing pass (voice) is split on its own, so adding a new pass never moves an item
  of an earlier one between splits;
- within a pass, items are ordered by stratum (type, then season, or gap for unanswerable
  items) and by a seeded hash of their id, and dealt in turn to train, dev, train, test,
  train: 60/20/20 overall and within every stratum big enough to hold five.
The test split's SHA-256 goes into eval/questions/SEALED; the fitting code refuses a file
with that checksum or name (eval/dataset.py load_for_fitting), and the quality-gate tests
pin it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from eval.validate import ROOT, load_items

SPLITS_DIR = ROOT / "eval" / "questions"
SPLITS = ("train", "dev", "test")
SEALED_FILE = SPLITS_DIR / "SEALED"
SEED = "cp-itg-2026"
# Every fifth item goes to dev and every fifth to test, the rest to train: 60/20/20.
DEAL = ("train", "dev", "train", "test", "train")


def stratum(item: dict) -> tuple[str, str]:
    """The stratum an item is dealt within: its type, and its season (or gap)."""
    return (item["type"], str(item.get("season") or item.get("gap") or ""))


def _order_key(item: dict) -> tuple[tuple[str, str], str]:
    return stratum(item), hashlib.sha256(f"{SEED}:{item['id']}".encode()).hexdigest()


def split(items: list[dict]) -> dict[str, list[dict]]:
    """Deal the items into train / dev / test, pass by pass, stratum by stratum."""
    by_voice: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        by_voice[item["voice"]].append(item)
    parts: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for voice in sorted(by_voice):
        for position, item in enumerate(sorted(by_voice[voice], key=_order_key)):
            parts[DEAL[position % len(DEAL)]].append(item)
    for name in SPLITS:
        parts[name].sort(key=lambda item: item["id"])
    return parts


def checksum(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(parts: dict[str, list[dict]], folder: Path = SPLITS_DIR) -> dict[str, Path]:
    """Write each split as JSONL and seal the test split; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, items in parts.items():
        path = folder / f"{name}.jsonl"
        path.write_text(
            "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items),
            encoding="utf-8",
        )
        paths[name] = path
    (folder / "SEALED").write_text(checksum(paths["test"]) + "  test.jsonl\n", encoding="utf-8")
    return paths


def describe(parts: dict[str, list[dict]]) -> str:
    """Counts per split, and per type in each split (nothing of any item's content)."""
    lines = []
    for name, items in parts.items():
        types = Counter(item["type"] for item in items)
        listed = ", ".join(f"{t}={n}" for t, n in sorted(types.items()))
        lines.append(f"{name}: {len(items)} items ({listed})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Split the given pool files (default: the current splits, re-dealt) and seal test."""
    args = sys.argv[1:] if argv is None else argv
    sources = [Path(a) for a in args] or [SPLITS_DIR / f"{name}.jsonl" for name in SPLITS]
    items = [item for path in sources for item in load_items(path)]
    ids = Counter(item["id"] for item in items)
    repeated = [i for i, n in ids.items() if n > 1]
    if repeated:
        print(f"repeated ids across the pool: {', '.join(sorted(repeated)[:5])}", file=sys.stderr)
        return 2
    parts = split(items)
    write(parts)
    print(describe(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
