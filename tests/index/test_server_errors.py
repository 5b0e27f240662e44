"""A Chroma server that is down, hung or misnamed gives one clear error within seconds."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from index_support import free_port

from index.chroma import check_server
from index.errors import IndexError_
from index.search import IndexUnavailableError, open_index
from settings import load_settings

# The spec: a clear error within 5 s, never a hang.
DEADLINE_S = 5.0


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never answers (like a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_server_down_is_reported_at_once() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(IndexUnavailableError) as caught:
        check_server(url)
    assert time.monotonic() - started < DEADLINE_S
    message = str(caught.value)
    assert message.startswith(f"cannot reach the Chroma server at {url} (connection refused)")
    assert "chroma run --path" in message
    assert "\n" not in message
    assert isinstance(caught.value, IndexError_)  # the ingest CLI reports it as one line


def test_hung_server_times_out(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(IndexUnavailableError, match="timed out"):
        check_server(silent_server)
    assert time.monotonic() - started < DEADLINE_S


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1:8000", "http://:8000"])
def test_malformed_server_url_is_named(url: str) -> None:
    with pytest.raises(IndexUnavailableError, match="should look like http://127.0.0.1:8000"):
        check_server(url)


def test_an_embedded_index_asked_through_a_server_says_so_every_time(base_index: Path) -> None:
    """A failed load is retried by the next call (so the app recovers by itself)."""
    # The index was built embedded: pointing it at a server must say so, not hang.
    settings = load_settings(index_dir=base_index, chroma_url=f"http://127.0.0.1:{free_port()}")
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(IndexUnavailableError, match="built without a Chroma server"):
            open_index(settings)
        assert time.monotonic() - started < DEADLINE_S
    assert open_index(load_settings(index_dir=base_index)).manifest["chroma_url"] is None
