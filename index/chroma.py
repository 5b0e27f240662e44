"""The Chroma side of the index: the client (embedded or a server), the writer, and clean failures.

In server mode (ASSISTANT_CHROMA_URL=http://HOST:PORT) the vectors live in one collection
per build on the Chroma server, named in the manifest; everything else stays in the index
folder. The server is checked with a heartbeat bounded by a short timeout, so a server
that is down gives a clear error in about 3 s instead of a hang.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from index.errors import IndexError_, IndexUnavailableError, IndexWriteError, failure_reason
from index.nodes import to_node
from records import Chunk
from settings import Settings

COLLECTION_PREFIX = "cpitg_"
# Chroma server timeouts. A heartbeat answers in ~1 ms on 127.0.0.1, a top-40 query in a few
# ms, so 3 s to connect and 4 s to read still fail well inside the 5 s a user will wait.
# Writes get longer: one 500-chunk batch is ~1.5 MB of JSON and the server indexes it
# before answering (~0.3 s here, far more on a busy server).
SERVER_CONNECT_TIMEOUT_S = 3.0
SERVER_READ_TIMEOUT_S = 4.0
SERVER_WRITE_TIMEOUT_S = 60.0
HEARTBEAT_PATH = "/api/v2/heartbeat"


def collection_for(build_id: str) -> str:
    """Return the Chroma collection name of a build ("cpitg_20250101T120000_ab12cd")."""
    return COLLECTION_PREFIX + build_id.replace("-", "_")


def check_server(url: str, timeout: float = SERVER_CONNECT_TIMEOUT_S) -> None:
    """Raise IndexUnavailableError unless the Chroma server at url answers its heartbeat.

    chromadb's own HTTP client has no timeout at all (a stopped server that still accepts
    connections hangs it forever), so this bounded check runs before it is used.
    """
    import httpx

    _server_address(url)  # a malformed URL is reported as such
    try:
        response = httpx.get(url.rstrip("/") + HEARTBEAT_PATH, timeout=timeout)
    except httpx.HTTPError as error:
        raise IndexUnavailableError(unreachable_message(url, connection_reason(error))) from error
    if response.status_code != 200:
        raise IndexUnavailableError(
            unreachable_message(
                url, f"HTTP {response.status_code} from {HEARTBEAT_PATH}: is it a Chroma server?"
            )
        )


def chroma_client(settings: Settings, build_dir: Path | None = None, *, writing: bool = False):
    """Return a Chroma client: the server at ASSISTANT_CHROMA_URL, else the build's own store.

    A server client is checked first (IndexUnavailableError within ~3 s when it is down)
    and gets bounded timeouts: 4 s per read, 60 s per write when writing=True.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = settings.chroma_url
        host, port, ssl = _server_address(url)
        check_server(url)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
        except Exception as error:  # noqa: BLE001 - chromadb raises ValueError for a refusal
            raise IndexUnavailableError(
                unreachable_message(url, connection_reason(error))
            ) from error
        _bound_timeouts(client, SERVER_WRITE_TIMEOUT_S if writing else SERVER_READ_TIMEOUT_S)
        return client
    assert build_dir is not None
    return chromadb.PersistentClient(path=str(build_dir / "chroma"), settings=chroma_settings)


def _server_address(url: str) -> tuple[str, int, bool]:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise IndexUnavailableError(
            f"ASSISTANT_CHROMA_URL={url!r} is not a server address; "
            "it should look like http://127.0.0.1:8000"
        )
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    except ValueError as error:
        raise IndexUnavailableError(f"ASSISTANT_CHROMA_URL={url!r}: {error}") from error
    return parsed.hostname, port, parsed.scheme == "https"


def _bound_timeouts(client, read_timeout: float) -> None:
    """Give chromadb's httpx session timeouts (it creates it with timeout=None)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(read_timeout, connect=SERVER_CONNECT_TIMEOUT_S)


def unreachable_message(url: str, reason: str) -> str:
    """The one-line message for a Chroma server that cannot be used."""
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    try:
        port = parsed.port or 8000
    except ValueError:
        port = 8000
    return (
        f"cannot reach the Chroma server at {url} ({reason}); start it with: "
        f"chroma run --path CHROMA_DATA_DIR --host {host} --port {port}"
    )


def is_connection_error(error: BaseException) -> bool:
    import httpx

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.TransportError | ConnectionError):
            return True
        if isinstance(current, ValueError) and "Could not connect" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def connection_reason(error: BaseException) -> str:
    """A few words on why a connection failed: "connection refused", "no answer in 4 s"."""
    import httpx

    if isinstance(error, httpx.TimeoutException):
        return "timed out: no answer"
    text = str(error)
    if "refused" in text.lower() or "Could not connect" in text:
        return "connection refused"
    if isinstance(error, httpx.HTTPError):
        return text or error.__class__.__name__
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__


def write_chroma(
    build_dir: Path,
    collection_name: str,
    chunks: list[Chunk],
    vectors: dict[str, np.ndarray],
    settings: Settings,
) -> None:
    """Store chunks as llama-index nodes in Chroma, so its vector retriever can read them.

    Chroma wraps disk errors in its own types (a full disk reads "Error in compaction:
    Failed to apply logs to the metadata segment"), so every failure here becomes an
    IndexWriteError that says what went wrong in words a user can act on.
    """
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = None
    try:
        client = chroma_client(settings, build_dir, writing=True)
        # Cosine space with our own embeddings: Chroma must never embed (its default
        # embedding function downloads a model).
        collection = client.create_collection(
            collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        store = ChromaVectorStore(chroma_collection=collection)
        nodes = [to_node(c, vectors[c.id]) for c in chunks]
        for start in range(0, len(nodes), 500):
            store.add(nodes[start : start + 500])
        stored = collection.count()
        if stored != len(chunks):
            raise IndexWriteError(
                f"the vector store holds {stored} chunks instead of {len(chunks)}; "
                "the previous index is unchanged"
            )
    except IndexError_:
        raise
    except Exception as error:  # noqa: BLE001 - chromadb raises many types for one cause
        if settings.chroma_url and is_connection_error(error):
            raise IndexUnavailableError(
                unreachable_message(settings.chroma_url, connection_reason(error))
            ) from error
        where = settings.chroma_url or build_dir.parents[1]  # the index folder, not .tmp-*
        raise IndexWriteError(
            f"could not write the vector store in {where} "
            f"({failure_reason(build_dir, error)}); the previous index is unchanged"
        ) from error
    finally:
        # Release the embedded store's SQLite handles before its folder is renamed.
        if client is not None:
            client.close()


def delete_collection(url: str, name: str) -> None:
    """Delete a collection on a Chroma server; a missing one or a down server is ignored."""
    try:
        client = chroma_client(Settings(chroma_url=url), writing=True)
        try:
            client.delete_collection(name)
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - an orphan collection is harmless, only space
        pass
