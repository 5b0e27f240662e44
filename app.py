"""The app: the chat, the review desk and a plain JSON API on one server.

Run it with `make run` (builds the index first if there is none) or `python app.py`.
It serves http://127.0.0.1:7860:
- the chat (Ask tab) and the secretariat's review desk (Review tab, off unless
  ASSISTANT_ADMIN_PASSWORD is set), a Gradio app mounted on the FastAPI server;
- POST /api/ask and GET /api/health, plain JSON routes (ui/api.py), documented at /docs:

      curl -s http://127.0.0.1:7860/api/ask -H 'Content-Type: application/json' \\
           -d '{"question": "When does MYS become compulsory for FP34C?"}'

- the Gradio endpoint /ask for gradio_client, returning the same JSON answer.

Every setting is in settings.py's "App and UI" block, each with its environment variable
(ASSISTANT_INDEX_DIR, ASSISTANT_ADMIN_PASSWORD, GRADIO_SERVER_PORT, ...).
Exit codes (exitcodes.py): 2 bad configuration, 3 no index (the message says how to build
one), 1 the index is unreadable, the feedback database cannot be opened, or the address
cannot be served.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import sys
import time
from typing import TYPE_CHECKING

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NO_INDEX, EXIT_OK  # noqa: E402

if TYPE_CHECKING:
    from fastapi import FastAPI

    from settings import Settings

log = logging.getLogger("cpitg.app")


class FeedbackStoreError(Exception):
    """The feedback database cannot be opened (bad path, no permission, not SQLite)."""


def build_server(settings: Settings) -> FastAPI:
    """Open the feedback database, load the model and index (once, here), return the server.

    Raises FeedbackStoreError when the feedback database cannot be opened, and
    index.errors.NoIndexError or CorruptIndexError when there is no usable index.
    """
    import torch

    from assistant import get_index
    from assistant.feedback import FeedbackStore
    from assistant.questionlog import QuestionLog
    from index.builds import read_index
    from index.search import IndexUnavailableError

    torch.set_num_threads(settings.torch_threads)  # before the model's first use
    try:  # first, so a bad path fails in a second rather than after the model loads
        store = FeedbackStore(settings.feedback_db_path, settings.candidates_path)
        questions = QuestionLog(
            settings.feedback_db_path,
            retention_days=settings.question_log_days,
            enabled=settings.question_log,
        )
    except (OSError, sqlite3.Error) as error:
        raise FeedbackStoreError(
            f"cannot open the feedback store {settings.feedback_db_path}: {error}"
        ) from error
    try:
        stored = get_index(settings).stored  # loads the embedding model and Chroma
    except IndexUnavailableError as error:
        # The Chroma server may come back; answers say so meanwhile, and the app is up.
        log.warning("%s; starting anyway", error)
        stored = read_index(settings.index_dir)

    import gradio as gr
    from fastapi import FastAPI

    from ui.answering import AnswerService
    from ui.api import add_api
    from ui.chat import ChatService
    from ui.facts import IndexFacts
    from ui.gaps import GapsService
    from ui.layout import TITLE, build_blocks, launch_options
    from ui.review import ReviewService

    answers = AnswerService(settings, questions)
    demo = build_blocks(
        settings,
        IndexFacts.from_stored(stored),
        ChatService(answers=answers, store=store),
        ReviewService(settings=settings, store=store),
        GapsService(settings=settings, log=questions),
    )
    server = FastAPI(
        title=TITLE,
        version="1",
        summary="Answers community-pharmacy IT questions from the CP ITG bulletin archive, "
        "with every answer cited.",
        redoc_url=None,
    )
    add_api(server, answers)
    return gr.mount_gradio_app(
        server,
        demo,
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        show_error=False,  # unexpected errors stay in the log, not in users' browsers
        max_file_size="1mb",  # the app takes no uploads
        **launch_options(),
    )


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, not yet listening: the server listens once it is ready,
    so a client that connects during start-up is refused at once rather than left waiting."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve(server: FastAPI, sock: socket.socket) -> None:
    """Serve until interrupted, on a socket already bound (so a busy port fails first)."""
    import uvicorn

    config = uvicorn.Config(
        server,
        log_level="warning",
        access_log=False,  # an access log would keep every client's IP address
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down for
        pass


def main() -> int:
    """Start the app and serve until interrupted; return the exit code."""
    started = time.perf_counter()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"error: bad configuration: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        sock = bind(settings.host, settings.port)
    except OSError as error:
        reason = error.strerror or error
        print(f"error: cannot serve on {settings.host}:{settings.port}: {reason}", file=sys.stderr)
        return EXIT_FAILED

    from index.errors import CorruptIndexError, NoIndexError

    with sock:
        try:
            server = build_server(settings)
        except NoIndexError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_NO_INDEX
        except (CorruptIndexError, FeedbackStoreError) as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_FAILED
        host, port = sock.getsockname()[:2]
        desk = "on" if settings.admin_password else "off (set ASSISTANT_ADMIN_PASSWORD)"
        print(
            f"index loaded from {settings.index_dir} in {time.perf_counter() - started:.1f} s; "
            f"feedback and question log in {settings.feedback_db_path}; review desk {desk}\n"
            f"serving on http://{host}:{port}/ (API docs: http://{host}:{port}/docs)",
            file=sys.stderr,
            flush=True,
        )
        serve(server, sock)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
