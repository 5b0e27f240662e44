"""Fixtures for the app tests: app.py served for real on a free port, and an artifacts folder.

Two servers are shared by the whole session (each start loads the model: ~10 s on a quiet
machine), both on the session's snapshot index with their feedback database in a temp
folder: one with the review desk off, one with it locked by a password. Tests that share
them look only at what they asked or planted themselves; a test that changes the index
or the environment starts its own.
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


@pytest.fixture(scope="session")
def app_server(
    snapshot_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """app.py running on the snapshot index, no admin password: the review desk is off."""
    server = start_app(snapshot_index_dir, tmp_path_factory.mktemp("app"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
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
