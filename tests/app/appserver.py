"""Start app.py as a real server on a free port, wait until it answers, and stop it.

Also says how the browser tests launch Debian's chromium. Used by the app tests'
fixtures, by the README screenshot script (screenshot.py), and for the start-up figures:
`python tests/app/appserver.py --index-dir DIR` prints seconds to ready and RSS after
start-up as one JSON line, for `make bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "review-secret"  # for the app the browser tests unlock
READY_TIMEOUT_S = 120.0
# Debian's chromium (never `playwright install`: these machines reach no browser CDN).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]  # generous: the 2-core CI box may be busy with other tests


@dataclass
class AppServer:
    """A running app.py: its URL, process, log file and start-up figures."""

    url: str
    process: subprocess.Popen
    log_path: Path
    startup_seconds: float
    feedback_db: Path
    candidates_file: Path

    def rss_mb(self) -> float:
        """Resident memory of the app process, in MB (from /proc)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        return kb / 1024

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the app (SIGINT first, so Gradio shuts down cleanly) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


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
    """Start app.py on a free port with its feedback files in work_dir; return when ready."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(index_dir),
        "ASSISTANT_FEEDBACK_DB": str(work_dir / "feedback.db"),
        "ASSISTANT_CANDIDATES_FILE": str(work_dir / "eval_candidates.jsonl"),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(extra_env or {}),
    }
    env.pop("ASSISTANT_ADMIN_PASSWORD", None)
    if admin_password:
        env["ASSISTANT_ADMIN_PASSWORD"] = admin_password
    log_path = work_dir / f"app-{port}.log"
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "app.py")],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    server = AppServer(
        url=url,
        process=process,
        log_path=log_path,
        startup_seconds=0.0,
        feedback_db=work_dir / "feedback.db",
        candidates_file=work_dir / "eval_candidates.jsonl",
    )
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    server.startup_seconds = time.perf_counter() - started
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"app.py not ready after {timeout:.0f} s:\n{server.log()}")


def main() -> int:
    """Print start-up time to ready and RSS after start-up as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", type=Path, default=REPO_ROOT / "index_store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cpitg-app-") as tmp:
        server = start_app(args.index_dir, Path(tmp))
        try:
            time.sleep(1.0)  # let the first page's lazy imports settle before reading RSS
            figures = {
                "startup_to_ready_s": round(server.startup_seconds, 2),
                "rss_after_startup_mb": round(server.rss_mb(), 1),
            }
        finally:
            server.stop()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
