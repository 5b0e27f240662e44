"""The app's settings: where the index and the feedback live, who may review, where to serve.

Each comes from its environment variable, else from a default derived from the index
folder, so `ASSISTANT_INDEX_DIR=/data/idx python app.py` keeps feedback in /data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from settings import Settings, load_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# Two cores here: two answers at a time keeps each one fast (~50 ms) and the rest queue.
CONCURRENCY_LIMIT = 2
QUEUE_MAX_SIZE = 64


@dataclass(frozen=True)
class AppConfig:
    """Everything app.py needs besides the index itself."""

    settings: Settings
    feedback_db: Path  # env ASSISTANT_FEEDBACK_DB; default <index_dir parent>/feedback.db
    candidates_file: Path  # env ASSISTANT_CANDIDATES_FILE; default beside feedback.db
    admin_password: str | None  # env ASSISTANT_ADMIN_PASSWORD; None: Review tab is open
    host: str  # env GRADIO_SERVER_NAME
    port: int  # env GRADIO_SERVER_PORT

    @classmethod
    def from_env(cls, **overrides: object) -> AppConfig:
        """Read the configuration from the environment; keyword overrides win (for tests)."""
        settings = overrides.pop("settings", None) or load_settings()
        parent = Path(settings.index_dir).resolve().parent
        env = os.environ
        values: dict[str, object] = {
            "settings": settings,
            "feedback_db": Path(env.get("ASSISTANT_FEEDBACK_DB") or parent / "feedback.db"),
            "candidates_file": Path(
                env.get("ASSISTANT_CANDIDATES_FILE") or parent / "eval_candidates.jsonl"
            ),
            "admin_password": env.get("ASSISTANT_ADMIN_PASSWORD") or None,
            "host": env.get("GRADIO_SERVER_NAME") or DEFAULT_HOST,
            "port": _port(env.get("GRADIO_SERVER_PORT")),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _port(value: str | None) -> int:
    """GRADIO_SERVER_PORT as a number, or a ValueError that names the variable."""
    if not value:
        return DEFAULT_PORT
    if not value.strip().isdigit() or not 0 <= int(value) <= 65535:
        raise ValueError(f"GRADIO_SERVER_PORT must be a port number (0-65535), not {value!r}")
    return int(value)
