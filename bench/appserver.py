"""Start app.py as a real server on a free port, wait until it answers, measure, stop it.

Used by the benchmarks (bench/serving.py, bench/runs.py), by the app tests' fixtures
(tests/app/conftest.py) and by the README screenshot script (tests/app/screenshot.py).
For the start-up figures on their own, `python -m bench.appserver --index-dir DIR` prints
seconds to ready and RSS after start-up as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 180.0  # a busy 2-core machine can take a minute to import the stack


@dataclass
class AppServer:
    """A running app.py: its URL, process, log and feedback files, and start-up timing."""

    url: str
    process: subprocess.Popen
    log_path: Path
    feedback_db: Path
    candidates_file: Path
    started: float  # time.perf_counter() just before the process was spawned
    ready_s: float = 0.0  # seconds from spawn to the first HTTP 200

    def rss_mb(self) -> float:
        """Resident memory of the app process in MB, from /proc/<pid>/status (VmRSS)."""
        return rss_mb(self.process.pid)

    def log(self) -> str:
        """Everything the app has written to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the app (SIGINT first, so Gradio shuts down cleanly) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS from /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return kb / 1024


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(
    index_dir: Path,
    work_dir: Path,
    *,
    admin_password: str | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = READY_TIMEOUT_S,
) -> AppServer:
    """Start app.py on a free port (feedback files in work_dir) and return once it is ready.

    No ASSISTANT_* variable is inherited from this process; admin_password, when given,
    becomes ASSISTANT_ADMIN_PASSWORD (locking the Review tab).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    feedback_db = work_dir / "feedback.db"
    candidates_file = work_dir / "eval_candidates.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_INDEX_DIR=str(index_dir),
        ASSISTANT_FEEDBACK_DB=str(feedback_db),
        ASSISTANT_CANDIDATES_FILE=str(candidates_file),
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        **(extra_env or {}),
    )
    if admin_password:
        env["ASSISTANT_ADMIN_PASSWORD"] = admin_password
    log_path = work_dir / f"app-{port}.log"
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "app.py")],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    app = AppServer(url, process, log_path, feedback_db, candidates_file, started)
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{_tail(app)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    app.ready_s = time.perf_counter() - started
                    return app
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)  # 50 ms polling: the start-up figure is good to ~0.05 s
    app.stop()
    raise RuntimeError(f"app.py not ready after {timeout:.0f} s:\n{_tail(app)}")


def _tail(app: AppServer, chars: int = 2000) -> str:
    return app.log()[-chars:]


def main() -> int:
    """Print start-up time to ready and RSS after start-up as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", type=Path, default=REPO_ROOT / "index_store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cpitg-app-") as tmp:
        app = start_app(args.index_dir, Path(tmp))
        try:
            time.sleep(1.0)  # let the first page's lazy imports settle before reading RSS
            figures = {
                "startup_to_ready_s": round(app.ready_s, 2),
                "rss_after_startup_mb": round(app.rss_mb(), 1),
            }
        finally:
            app.stop()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
