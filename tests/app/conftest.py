"""Fixtures for the app tests: app.py served for real on a free port, and an artifacts folder.

Each test module that needs the server gets its own (module scope), started on the
session's snapshot index with its feedback database in a temp folder, and stopped at
the end of the module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `import browser` in test modules

from browser import ADMIN_PASSWORD  # noqa: E402

from bench.appserver import AppServer, start_app  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def app_server(
    snapshot_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """app.py running on the snapshot index, Review tab open (no admin password)."""
    server = start_app(snapshot_index_dir, tmp_path_factory.mktemp("app"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def locked_app_server(
    snapshot_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """app.py running on the snapshot index with ASSISTANT_ADMIN_PASSWORD set."""
    server = start_app(
        snapshot_index_dir, tmp_path_factory.mktemp("app-locked"), admin_password=ADMIN_PASSWORD
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """tests/artifacts/ (git-ignored): screenshots and logs a failed run can be read from."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test item, so fixtures can tell a failure happened."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
