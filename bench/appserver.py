"""Start app.py as a real server for the benchmarks, wait until it answers, measure, stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 180.0  # a busy 2-core machine can take a minute to import the stack


@dataclass
class RunningApp:
    """A running app.py: its URL, process, when it was started and when it was ready."""

    url: str
    process: subprocess.Popen
    log_path: Path
    started: float  # time.perf_counter() just before the process was spawned
    ready_s: float = 0.0  # seconds from spawn to the first HTTP 200

    def rss_mb(self) -> float:
        """Resident memory of the app process in MB, from /proc/<pid>/status (VmRSS)."""
        return rss_mb(self.process.pid)

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
    index_dir: Path, work_dir: Path, extra_env: dict[str, str] | None = None
) -> RunningApp:
    """Start app.py on a free port (feedback files in work_dir) and return once it is ready."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_INDEX_DIR=str(index_dir),
        ASSISTANT_FEEDBACK_DB=str(work_dir / "feedback.db"),
        ASSISTANT_CANDIDATES_FILE=str(work_dir / "eval_candidates.jsonl"),
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        **(extra_env or {}),
    )
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
    app = RunningApp(url, process, log_path, started)
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}: {_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    app.ready_s = time.perf_counter() - started
                    return app
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)  # 50 ms polling: the start-up figure is good to ~0.05 s
    app.stop()
    raise RuntimeError(f"app.py not ready after {READY_TIMEOUT_S:.0f} s: {_tail(log_path)}")


def _tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:]
