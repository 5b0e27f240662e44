"""The chat app: ask the CP ITG bulletin archive, see each answer's sources, give feedback.

Run it with `make run` (builds the index first if there is none) or `python app.py`.
It serves http://127.0.0.1:7860 with a chat tab, a Review tab for the secretariat, and
one API endpoint, /ask, that returns the CLI's JSON answer:

    from gradio_client import Client
    Client("http://127.0.0.1:7860/").predict("When does MYS become compulsory?", api_name="/ask")

A bad question (empty, too long, unknown season) makes /ask raise an error whose message
starts "bad question:"; gradio_client surfaces it as gradio_client.exceptions.AppError.

Environment: ASSISTANT_INDEX_DIR (index folder), ASSISTANT_FEEDBACK_DB (default
<index folder's parent>/feedback.db), ASSISTANT_CANDIDATES_FILE (default
eval_candidates.jsonl beside it), ASSISTANT_ADMIN_PASSWORD (locks the Review tab),
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860).
Exit codes: 2 bad configuration, 3 no index (the message says how to build one),
1 the index is unreadable or the server cannot start.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr

    from ui.config import AppConfig

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EXIT_BAD_CONFIG = 2
EXIT_NO_INDEX = 3


class FeedbackStoreError(Exception):
    """The feedback database cannot be opened (bad path, no permission, not SQLite)."""


def build_app(config: AppConfig | None = None) -> gr.Blocks:
    """Open the feedback store, load the model and index (once, here), return the Gradio app.

    Raises FeedbackStoreError when the feedback database cannot be opened, and
    index.errors.NoIndexError or CorruptIndexError when there is no usable index.
    """
    from assistant import get_index
    from assistant.feedback import FeedbackStore
    from index.builds import read_index
    from index.search import IndexUnavailableError
    from ui.config import AppConfig
    from ui.layout import IndexFacts
    from ui.layout import build_app as build_layout

    config = config or AppConfig.from_env()
    try:  # first, so a bad path fails in a second rather than after the model loads
        store = FeedbackStore(config.feedback_db, config.candidates_file)
    except (OSError, sqlite3.Error) as error:
        raise FeedbackStoreError(
            f"cannot open the feedback store {config.feedback_db}: {error}"
        ) from error
    try:
        stored = get_index(config.settings).stored  # loads the embedding model and Chroma
    except IndexUnavailableError as error:
        # The Chroma server may come back; answers say so meanwhile, and the app is up.
        logging.getLogger("cpitg.app").warning("%s; starting anyway", error)
        stored = read_index(config.settings.index_dir)
    return build_layout(config, IndexFacts.from_stored(stored), store)


def main() -> int:
    """Start the app and serve until interrupted; return the exit code."""
    started = time.perf_counter()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from ui.config import AppConfig

    try:  # before gradio is imported: it parses GRADIO_SERVER_PORT itself, with a traceback
        config = AppConfig.from_env()
    except ValueError as error:
        print(f"error: bad configuration: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG

    from index.errors import CorruptIndexError, NoIndexError
    from ui.layout import launch_options

    try:
        demo = build_app(config)
    except NoIndexError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO_INDEX
    except CorruptIndexError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except FeedbackStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"index loaded from {config.settings.index_dir} in {time.perf_counter() - started:.1f} s; "
        f"feedback in {config.feedback_db}",
        file=sys.stderr,
    )
    try:
        demo.launch(
            server_name=config.host,
            server_port=config.port,
            show_error=False,  # unexpected errors stay in the log, not in users' browsers
            max_file_size="1mb",  # the app takes no uploads
            **launch_options(),
        )
    except OSError as error:
        print(f"error: cannot serve on {config.host}:{config.port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
