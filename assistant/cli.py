"""Conventions our command-line tools share: the exit codes and one-line errors."""

from __future__ import annotations

import argparse
import sys

from exitcodes import EXIT_BAD_INPUT


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit 2."""

    def error(self, message: str) -> None:  # argparse would print the whole usage first
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
