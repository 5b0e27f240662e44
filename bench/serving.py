"""The serving benchmarks: app start-up beside its floor, and the app under load.

startup: app.py from spawn to its first HTTP 200, beside the floor (a bare script that
starts Python, loads the model and opens the index, nothing else), RSS, first answer.

load: 20 clients asking 10 questions each, at the same time, through each way in:
POST /api/ask (httpx), the chat (the browser's Gradio calls, by hand: bench/gradio_wire.py)
and the Gradio /ask endpoint (gradio_client); beside the rate of one in-process batch of
the same questions (`python -m assistant ask --batch`), measured in the same run. Before
the load, every eval question goes once through /api/ask, and the report shows what the
review desk's Gaps view then lists.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from bench.appserver import REPO_ROOT, AppServer, rss_mb, start_app
from bench.report import summary_ms, table

if TYPE_CHECKING:  # bench.runs imports this module
    from bench.runs import Context

SPLIT_FILES = [REPO_ROOT / "eval" / "questions" / f"{name}.jsonl" for name in ("train", "dev")]
FIRST_QUESTION = "When does MYS become compulsory for FP34C?"
LOAD_CLIENTS = 20
LOAD_QUESTIONS_EACH = 10
TARGET_RATIO = 0.8  # /api/ask under load vs one in-process batch (issue 11)
STARTUP_TARGET_S = 15.0
FLOOR_SCRIPT = """
import sys
from settings import load_settings
from index.search import open_index
index = open_index(load_settings(index_dir=sys.argv[1]))
index.embed_query("warm up")  # the model is loaded for real
print("ready", flush=True)
"""


def eval_items() -> list[dict]:
    """The eval questions of the train and dev splits (the sealed test split is left alone
    even here: these are latency figures, not quality ones)."""
    items = []
    for path in SPLIT_FILES:
        items += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                  if line.strip()]  # fmt: skip
    return items


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **(extra or {}))
    return env


# ---------------------------------------------------------------- start-up


def floor_s(index_dir: Path) -> float:
    """Seconds from spawning a bare script to its model loaded and index open."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", FLOOR_SCRIPT, str(index_dir)],
        cwd=REPO_ROOT,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    seconds = time.perf_counter() - started
    process.wait(timeout=60)
    if line.strip() != "ready":
        raise RuntimeError(f"the floor script failed (exit {process.returncode})")
    return seconds


def first_api_answer(url: str) -> dict:
    response = httpx.post(url.rstrip("/") + "/api/ask", json={"question": FIRST_QUESTION},
                          timeout=120)  # fmt: skip
    response.raise_for_status()
    return response.json()


def bench_startup(ctx: Context) -> None:
    """app.py start-up to ready beside its floor, RSS after start-up, and first answer."""
    runs = 1 if ctx.quick else 3
    rows, ready, floor, rss, first = [], [], [], [], []
    for run in range(runs):
        floor.append(floor_s(ctx.index()))  # alternating, so both see the same machine load
        app = start_app(ctx.index(), ctx.work / f"startup-{run}")
        try:
            time.sleep(1.0)  # let the first page's lazy imports settle before reading RSS
            rss.append(app.rss_mb())
            answer = first_api_answer(app.url)
            first.append(time.perf_counter() - app.started)
            ready.append(app.ready_s)
            assert answer["answer"], answer
        finally:
            app.stop()
        rows.append((run + 1, _fmt(floor[-1]), _fmt(ready[-1]), _fmt(ready[-1] - floor[-1]),
                     _fmt(rss[-1], 0), _fmt(first[-1])))  # fmt: skip
    ready_s, floor_s_, rss_mb_, first_s = (statistics.median(x) for x in (ready, floor, rss, first))
    ctx.figures.update(app_ready_s=ready_s, app_rss_mb=rss_mb_, app_first_answer_s=first_s)
    ctx.report.add(
        "App start-up",
        "\n\n".join(
            [
                table(
                    (
                        "run",
                        "floor: bare script (s)",
                        "app.py to HTTP 200 (s)",
                        "app over floor (s)",
                        "RSS after start-up (MB)",
                        "start to first /api/ask answer (s)",
                    ),
                    rows,
                ),  # fmt: skip
                f"Median of {runs}: ready in **{_fmt(ready_s)} s** (target ≤ 15 s) against a "
                f"floor of **{_fmt(floor_s_)} s**; **{_fmt(rss_mb_, 0)} MB** resident. The floor "
                "is a bare script that starts Python, loads the model and opens the index "
                "(`open_index` and one query embedding) and does nothing else; what the app "
                "adds is importing FastAPI and Gradio, building the UI, opening the feedback "
                "database and starting the server. `app.py` loads the model and the index "
                "before it listens, so the first answer needs no further loading. RSS is "
                "VmRSS from /proc, 1 s after the first HTTP 200.",
            ]
        ),
    )
    ctx.report.headline(
        "App start-up to ready (floor: Python + model + index in a bare script)",
        f"{_fmt(ready_s)} s (floor {_fmt(floor_s_)} s)",
        "≤ 15 s",
        ready_s <= STARTUP_TARGET_S,
    )
    ctx.report.headline("App RSS after start-up", f"{_fmt(rss_mb_, 0)} MB")


# ---------------------------------------------------------------- load


@dataclass
class Run:
    """One path under load: what every client saw."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict[str, float]:
        return summary_ms(self.latencies)


class ApiSession:
    """An integrator: one keep-alive HTTP connection, POST /api/ask."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=300)
        self.http.get("/api/health").raise_for_status()

    def ask(self, question: str) -> None:
        response = self.http.post("/api/ask", json={"question": question})
        if response.status_code != 200 or "answer" not in response.json():
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:120]}")

    def close(self) -> None:
        self.http.close()


class ChatSession:
    """A browser tab: the chat's own three events per question, as the page calls them."""

    def __init__(self, url: str) -> None:
        from bench.gradio_wire import GradioWire

        self.wire = GradioWire(url, timeout=300)
        names = [d.get("api_name") for d in self.wire.dependencies()]
        self.take = names.index("take_question")
        self.respond = names.index("respond")
        self.release = names.index("release_question_box")

    def ask(self, question: str) -> None:
        for step, data in ((self.take, [question]), (self.respond, None), (self.release, None)):
            reply = self.wire.call(step, data)
            if not reply.success:
                raise RuntimeError(f"event {step}: {reply.error}")
        if "Searching the bulletins" in reply.raw:
            raise RuntimeError("the answer never replaced the placeholder")

    def close(self) -> None:
        self.wire.close()


class GradioSession:
    """A gradio_client integrator calling the Gradio /ask endpoint."""

    def __init__(self, url: str) -> None:
        from gradio_client import Client

        self.client = Client(url, verbose=False)

    def ask(self, question: str) -> None:
        answer = self.client.predict(question, None, None, api_name="/ask")
        if not isinstance(answer, dict) or "answer" not in answer:
            raise RuntimeError(f"unexpected reply {str(answer)[:80]}")

    def close(self) -> None:
        pass


def under_load(name: str, url: str, asked: list[str], clients: int,
               session: Callable[[str], object]) -> Run:  # fmt: skip
    """clients sessions at once, each asking its share of asked one after another."""
    run = Run(name)
    each = len(asked) // clients
    sessions = [session(url) for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    lock = threading.Lock()

    def client(number: int) -> None:
        barrier.wait()
        for question in asked[number * each : (number + 1) * each]:
            started = time.perf_counter()
            try:
                sessions[number].ask(question)
            except Exception as error:  # noqa: BLE001 - every failure is a figure
                with lock:
                    run.errors.append(f"{type(error).__name__}: {error}"[:200])
                continue
            with lock:
                run.latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    run.wall_s = time.perf_counter() - started
    for one in sessions:
        one.close()
    return run


def batch_rate(index_dir: Path, batch: Path, asked: int, threads: int | None) -> Run:
    """`python -m assistant ask --batch` on the questions: its answers/s once it is running.

    Timed from its first answer line to its last, so the start-up (~10 s) is left out;
    threads sets torch's threads (None: torch's default, as a user runs it).
    """
    extra = {"OMP_NUM_THREADS": str(threads)} if threads else {}
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "ask", "--batch", str(batch), "--json",
         "--index-dir", str(index_dir)],
        cwd=REPO_ROOT,
        env=_environment(extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    stamps = []
    run = Run("in-process batch" + (f", {threads} torch thread" if threads else ""))
    for line in process.stdout:
        stamps.append(time.perf_counter())
        if "error" in json.loads(line):
            run.errors.append(json.loads(line)["error"])
    process.wait(timeout=60)
    if process.returncode != 0 or len(stamps) != asked:
        raise RuntimeError(f"the batch failed: {process.stderr.read() if process.stderr else ''}")
    # n answers after the first took stamps[-1] - stamps[0]; per-answer time is the gap.
    run.latencies = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    run.wall_s = stamps[-1] - stamps[0]
    return run


def eval_through_api(app: AppServer, items: list[dict]) -> tuple[int, list]:
    """Every eval question once through /api/ask (with its history); return how many were
    asked and what the Gaps view lists for them (every topic, both statuses)."""
    from assistant.questionlog import QuestionLog

    with httpx.Client(base_url=app.url, timeout=300) as http:
        for item in items:
            body = {"question": item["question"], "history": item.get("history") or []}
            http.post("/api/ask", json=body).raise_for_status()
    return len(items), QuestionLog(app.feedback_db).gaps(examples=3)


def bench_load(ctx: Context) -> None:
    """The app under 20 concurrent clients per path, beside one in-process batch."""
    clients = 5 if ctx.quick else LOAD_CLIENTS
    rounds = 1 if ctx.quick else 2
    items = eval_items()
    texts = [item["question"] for item in items]
    asked = [texts[i % len(texts)] for i in range(clients * LOAD_QUESTIONS_EACH)]
    batch = ctx.work / "load-batch.jsonl"
    batch.write_text("".join(json.dumps({"id": i, "question": q}) + "\n"
                             for i, q in enumerate(asked)))  # fmt: skip
    index_dir = ctx.index()
    app = start_app(index_dir, ctx.work / "load-app")
    samples: list[float] = []
    results: list[dict[str, Run]] = []
    try:
        eval_asked, gaps = eval_through_api(app, items)
        stop = threading.Event()

        def sample_rss() -> None:
            while not stop.is_set():
                try:
                    samples.append(rss_mb(app.process.pid))
                except (OSError, StopIteration):
                    return
                stop.wait(0.25)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        for _ in range(rounds):  # the paths interleaved, so each sees the same machine load
            row = {
                "batch": batch_rate(index_dir, batch, len(asked), None),
                "batch_1t": batch_rate(index_dir, batch, len(asked), 1),
                "api": under_load("POST /api/ask", app.url, asked, clients, ApiSession),
                "chat": under_load("the chat (Gradio queue)", app.url, asked, clients,
                                   ChatSession),
                "gradio": under_load("Gradio /ask (gradio_client)", app.url, asked, clients,
                                     GradioSession),
            }  # fmt: skip
            results.append(row)
        stop.set()
        sampler.join()
        rss_end = app.rss_mb()
    finally:
        app.stop()
    _load_report(ctx, clients, results, max(samples, default=float("nan")), rss_end)
    _gaps_report(ctx, eval_asked, gaps)


def _load_report(ctx: Context, clients: int, results: list[dict[str, Run]], rss_peak: float,
                 rss_end: float) -> None:  # fmt: skip
    from settings import Settings

    app = Settings()  # the app runs on the defaults: start_app passes no ASSISTANT_* tuning

    def best_batch(row: dict[str, Run]) -> Run:
        return max(row["batch"], row["batch_1t"], key=lambda r: r.rate)

    ratios = [row["api"].rate / best_batch(row).rate for row in results]
    rows = []
    for number, row in enumerate(results, start=1):
        for key in ("batch", "batch_1t", "api", "chat", "gradio"):
            run = row[key]
            s = run.summary()
            versus = (
                f"{run.rate / best_batch(row).rate:.2f}x"
                if key not in ("batch", "batch_1t")
                else ""
            )
            rows.append((number, run.name, f"{run.rate:.1f}", _fmt(s["p50"], 0), _fmt(s["p95"], 0),
                         _fmt(s["max"], 0), len(run.errors), versus))  # fmt: skip
    median = {key: statistics.median(r[key].rate for r in results) for key in results[0]}
    p95 = {key: statistics.median(r[key].summary()["p95"] for r in results) for key in results[0]}
    errors = {key: sum(len(r[key].errors) for r in results) for key in results[0]}
    ratio = statistics.median(ratios)
    first_errors = [e for r in results for run in r.values() for e in run.errors][:3]
    ctx.report.add(
        f"Load: {clients} concurrent clients per path, beside one in-process batch",
        "\n\n".join(
            [
                table(
                    (
                        "round",
                        "path",
                        "answers/s",
                        "p50 ms",
                        "p95 ms",
                        "max ms",
                        "errors",
                        "vs best batch",
                    ),
                    rows,
                ),  # fmt: skip
                f"Each round asks the same {clients} x {LOAD_QUESTIONS_EACH} eval questions "
                "down every path, one path at a time: the in-process batch "
                "(`python -m assistant ask --batch`, timed from its first answer to its "
                "last, with torch's default threads and with 1), then "
                f"{clients} clients at once through POST /api/ask (one keep-alive httpx "
                "connection each), the chat (each client a browser tab: the chat's three "
                "Gradio events per question, through the queue), and the Gradio /ask "
                "endpoint (gradio_client). Latency is per question as each client saw it, "
                f"queueing included. The app answers {app.answer_concurrency} questions at a "
                f"time (`ASSISTANT_ANSWER_CONCURRENCY`) with {app.torch_threads} torch "
                "thread(s) each (`ASSISTANT_TORCH_THREADS`).",
                f"/api/ask against the better in-process batch: **{ratio:.2f}x** "
                f"(median of {len(results)} rounds; target ≥ {TARGET_RATIO}x). App RSS peak "
                f"{_fmt(rss_peak, 0)} MB, {_fmt(rss_end, 0)} MB after.",
                *([f"First errors: {'; '.join(first_errors)}"] if first_errors else []),
            ]
        ),
    )
    ctx.report.headline(
        f"Load: {clients} clients x {LOAD_QUESTIONS_EACH} questions via POST /api/ask",
        f"{median['api']:.1f} answers/s, {ratio:.2f}x the in-process batch "
        f"({max(median['batch'], median['batch_1t']):.1f}/s); p95 {_fmt(p95['api'], 0)} ms; "
        f"{errors['api']} errors",
        f"≥ {TARGET_RATIO}x, 0 errors",
        ratio >= TARGET_RATIO and errors["api"] == 0,
    )
    ctx.report.headline(
        "… the chat path (Gradio queue) under the same load",
        f"{median['chat']:.1f} answers/s; p95 {_fmt(p95['chat'], 0)} ms; {errors['chat']} errors",
    )
    ctx.report.headline(
        "… the Gradio /ask endpoint (gradio_client) under the same load",
        f"{median['gradio']:.1f} answers/s; p95 {_fmt(p95['gradio'], 0)} ms; "
        f"{errors['gradio']} errors",
    )


def _gaps_report(ctx: Context, asked: int, gaps: list) -> None:
    not_covered = sum(g.not_covered for g in gaps)
    hedged = sum(g.hedged for g in gaps)
    rows = [(g.topic, g.not_covered, g.hedged, g.total, " · ".join(g.examples)) for g in gaps]
    ctx.report.add(
        "The Gaps view after the eval questions went through /api/ask",
        "\n\n".join(
            [
                f"All {asked} eval questions, each once with its history, through POST "
                f"/api/ask; then the review desk's Gaps view (every status, every day): "
                f"**{not_covered} not covered and {hedged} hedged, in {len(gaps)} topics**.",
                table(
                    ("nearest topic", "not covered", "hedged", "asked", "latest examples"), rows
                ),  # fmt: skip
            ]
        ),
    )
    top = ", ".join(f"{g.topic} ({g.total})" for g in gaps[:3])
    ctx.report.headline(
        f"Gaps view after the {asked} eval questions via /api/ask",
        f"{not_covered} not covered, {hedged} hedged, in {len(gaps)} topics; most: {top}",
    )
