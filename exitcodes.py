"""The exit codes every command-line tool here returns, defined once.

`python -m assistant`, `python -m ingest`, `python -m eval` and `python app.py` share them,
so a script can tell "fix your input" from "build an index" from "try again later".
"""

from __future__ import annotations

EXIT_OK = 0  # done; for the assistant, abstaining is an answer
EXIT_FAILED = 1  # the index is unreadable, its Chroma server unreachable, or a build failed
EXIT_BAD_INPUT = 2  # bad arguments, input file or configuration
EXIT_NO_INDEX = 3  # there is no index yet; the message says how to build one
EXIT_LOCKED = 4  # another ingest holds the index folder's lock
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
