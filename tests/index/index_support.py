"""Small bulletin pages written into a temp folder, and helpers to index and query them.

Shared by tests/index and tests/reliability. Each page has the WordPress shape of
data/snapshot/*.html (entry-content, season h2s, topic h3s), with two or three short
sections, so building an index from it embeds a few dozen texts (~1 s) instead of the
whole archive (~25 s).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.appserver import free_port  # noqa: F401 - tests import it from here

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE_URL = "https://archive.example.org/cp-itg-test-archive/"

# One section per (season, topic): its paragraphs.
BASE_SECTIONS: dict[tuple[str, str], list[str]] = {
    ("Autumn 2021", "EPS and RTEC"): [
        "The Electronic Prescription Service (EPS) phase 4 rollout continued across England.",
        "Real Time Exemption Checking (RTEC) is now live in most pharmacy systems.",
    ],
    ("Autumn 2021", "NHSmail"): [
        "Every pharmacy should keep its shared NHSmail mailbox monitored during opening hours.",
        "NHSmail passwords now expire every 90 days unless multi-factor login is set up.",
    ],
    ("Winter 2021", "Smartcards"): [
        "Smartcard readers must be replaced by the end of March 2022 if they use old drivers.",
        "Registration Authority agents can unlock a smartcard remotely.",
    ],
}
# The edit the change tests make: one section added, one changed, one removed.
ADDED = ("Winter 2021", "Summary Care Record")
ADDED_TEXT = ["Summary Care Record access for pharmacy technicians was agreed in December 2021."]
CHANGED = ("Autumn 2021", "NHSmail")
CHANGED_TEXT = [
    "Every pharmacy should keep its shared NHSmail mailbox monitored during opening hours.",
    "NHSmail passwords now expire every 365 days when multi-factor login is set up.",
]
REMOVED = ("Winter 2021", "Smartcards")

QUESTION = "How often do NHSmail passwords expire?"


def edited_sections() -> dict[tuple[str, str], list[str]]:
    """BASE_SECTIONS with ADDED added, CHANGED changed and REMOVED removed."""
    sections = {k: v for k, v in BASE_SECTIONS.items() if k != REMOVED}
    sections[CHANGED] = CHANGED_TEXT
    sections[ADDED] = ADDED_TEXT
    return sections


def page_html(
    sections: dict[tuple[str, str], list[str]], title: str = "CP ITG test archive"
) -> str:
    """Return one archive page holding the sections, grouped under season h2s."""
    body: list[str] = []
    season_now = None
    for (season, topic), paragraphs in sections.items():
        slug = season.lower().replace(" ", "-")
        if season != season_now:
            body.append(f'<h2 id="{slug}-updates">{season} updates</h2>')
            season_now = season
        anchor = f"{slug}-{topic.lower().replace(' ', '-')}"
        body.append(f'<h3 id="{anchor}">{topic}</h3>')
        body.extend(f"<p>{text}</p>" for text in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<title>{title} - PSNC Website</title>
<link rel="canonical" href="{PAGE_URL}">
</head><body class="page-template-default page">
<div id="page" class="site">
<header id="masthead" class="site-header"><nav class="main-navigation"><ul>
<li><a href="/">Home</a></li></ul></nav></header>
<main id="main" class="site-main"><article class="page type-page">
<header class="entry-header"><h1 class="entry-title">{title}</h1></header>
<div class="entry-content">
<p>This page sets out information following past CP ITG meetings.</p>
{chr(10).join(body)}
</div></article></main>
<footer id="colophon" class="site-footer"><p>Footer text.</p></footer>
</div></body></html>
"""


def write_page(folder: Path, sections: dict[tuple[str, str], list[str]]) -> Path:
    """Write the page as folder/archive.html (replacing it) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "archive.html"
    path.write_text(page_html(sections), encoding="utf-8")
    return path


def build_in_process(pages: Path, index_dir: Path, chroma_url: str | None = None, **kwargs):
    """Ingest the pages into index_dir with the Python functions; return the BuildResult."""
    from index.embed import token_counter
    from index.store import build
    from ingest import ingest
    from settings import load_settings

    settings = load_settings(index_dir=index_dir, chroma_url=chroma_url)
    result = ingest(paths=[pages], count_tokens=token_counter(None), progress=False)
    assert not result.errors, result.errors
    return build(
        result.sections, result.chunks, result.sources(), settings, progress=False, **kwargs
    )


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: offline, no ambient index or server settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180, **popen):
    """Run `python -m ...` in the repo and return the CompletedProcess (text output)."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def answer_json(index_dir: Path, question: str = QUESTION, chroma_url: str | None = None) -> dict:
    """Ask in-process and return the answer JSON without timings (they always differ)."""
    from assistant import ask
    from settings import load_settings

    settings = load_settings(index_dir=index_dir, chroma_url=chroma_url)
    data = ask(question, settings=settings).to_json()
    data.pop("timings_ms")
    return data


def comparable(data: dict) -> dict:
    """The parts of an answer that must not change: answer text and citations."""
    return {"answer": data["answer"], "citations": data["citations"]}


def collection_count(index_dir: Path, chroma_url: str | None = None) -> int:
    """How many records the current build's Chroma collection holds."""
    from index.builds import read_index
    from index.chroma import chroma_client
    from settings import load_settings

    stored = read_index(index_dir)
    client = chroma_client(
        load_settings(index_dir=index_dir, chroma_url=chroma_url), stored.build_dir
    )
    try:
        return client.get_collection(stored.manifest["collection"]).count()
    finally:
        client.close()


def copy_index(source: Path, target: Path) -> Path:
    """Copy an index folder (for a test that damages or changes it)."""
    shutil.copytree(source, target, symlinks=True)
    return target


class ChromaServer:
    """A real `chroma run` on 127.0.0.1 (from the chromadb package), started and stopped."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"chroma-{self.port}.log"

    def start(self, timeout: float = 60) -> ChromaServer:
        """Start the server and wait for its heartbeat."""
        import httpx

        chroma = Path(sys.executable).with_name("chroma")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(chroma), "run", "--path", str(self.data_dir), "--host", "127.0.0.1",
                 "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run not ready after {timeout} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it to exit."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def manifest(index_dir: Path) -> dict:
    """The current build's manifest."""
    from index.builds import current_build_dir

    return json.loads((current_build_dir(index_dir) / "manifest.json").read_text())


def stored_vectors(index_dir: Path, name: str) -> dict:
    """The current build's stored vectors of one kind ("sentences.npz", "words.npz")."""
    from index.builds import current_build_dir
    from index.vectors import load_vectors

    vectors = load_vectors(current_build_dir(index_dir) / name)
    assert vectors is not None, f"{name} missing or unreadable"
    return vectors


# ---------------------------------------------------------------- fixtures
# Imported by tests/index/conftest.py and tests/reliability/conftest.py.


@pytest.fixture(autouse=True)
def no_ambient_index_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests name their index folder and server; the caller's environment must not leak in."""
    monkeypatch.delenv("ASSISTANT_INDEX_DIR", raising=False)
    monkeypatch.delenv("ASSISTANT_CHROMA_URL", raising=False)


@pytest.fixture(scope="session")
def base_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the base test page (an intro and three bulletin sections)."""
    return write_page(tmp_path_factory.mktemp("base-pages"), BASE_SECTIONS).parent


@pytest.fixture(scope="session")
def edited_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base page with one section added, one changed and one removed."""
    return write_page(tmp_path_factory.mktemp("edited-pages"), edited_sections()).parent


@pytest.fixture(scope="session")
def base_index(tmp_path_factory: pytest.TempPathFactory, base_pages: Path) -> Path:
    """An embedded index of the base page, built once; copy it before changing it."""
    index_dir = tmp_path_factory.mktemp("base-index") / "index"
    build_in_process(base_pages, index_dir)
    return index_dir


@pytest.fixture
def index_copy(base_index: Path, tmp_path: Path) -> Path:
    """A private copy of the base index for one test."""
    return copy_index(base_index, tmp_path / "index")
