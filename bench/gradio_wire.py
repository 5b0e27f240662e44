"""Gradio's HTTP protocol spoken by hand: the calls a browser page makes, without a browser.

The load benchmark drives the chat path with it (twenty "browser tabs" asking at once),
and the review-desk tests call every event the app registers with it, the way an attacker
with curl could. A queued event is POST /gradio_api/queue/join, then the session's event
stream (GET /gradio_api/queue/data) until the event completes; an event with queue=False
is one POST /gradio_api/run/predict.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import httpx

API = "gradio_api"


@dataclass
class Reply:
    """What the server sent back for one event: success, outputs, error, and every byte."""

    success: bool
    data: list = field(default_factory=list)  # the outputs (queue=False) or the last ones sent
    error: str | None = None
    raw: str = ""  # the whole response or event stream, as text


class GradioWire:
    """One browser-like session (one session hash) against a running Gradio app."""

    def __init__(self, url: str, *, timeout: float = 120.0, session_hash: str | None = None):
        self.url = url.rstrip("/")
        self.session_hash = session_hash or uuid.uuid4().hex[:11]
        self.http = httpx.Client(timeout=timeout)
        self._config: dict | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GradioWire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def config(self) -> dict:
        """The app's /config: components and dependencies (the events, by fn_index)."""
        if self._config is None:
            response = self.http.get(f"{self.url}/config")
            response.raise_for_status()
            self._config = response.json()
        return self._config

    def dependencies(self) -> list[dict]:
        return self.config()["dependencies"]

    def defaults(self, fn_index: int) -> list:
        """The event's inputs as the page would send them untouched: each one's value."""
        components = {c["id"]: c for c in self.config()["components"]}
        return [
            components[i].get("props", {}).get("value")
            for i in self.dependencies()[fn_index]["inputs"]
        ]

    def call(self, fn_index: int, data: list | None = None, event_data: object = None) -> Reply:
        """Run event fn_index with data (default: the inputs' values) and return the reply."""
        dependency = self.dependencies()[fn_index]
        body = {
            "data": self.defaults(fn_index) if data is None else data,
            "fn_index": fn_index,
            "session_hash": self.session_hash,
            "event_data": event_data,
            "trigger_id": (dependency.get("targets") or [[None]])[0][0],
        }
        if dependency.get("queue") is False:
            return self._predict(body)
        return self._queued(body)

    def _predict(self, body: dict) -> Reply:
        response = self.http.post(f"{self.url}/{API}/run/predict", json=body)
        text = response.text
        try:
            payload = response.json()
        except json.JSONDecodeError:
            return Reply(False, error=f"HTTP {response.status_code}", raw=text)
        if response.status_code != 200 or "error" in payload:
            return Reply(False, error=str(payload.get("error") or payload), raw=text)
        return Reply(True, data=payload.get("data", []), raw=text)

    def _queued(self, body: dict) -> Reply:
        joined = self.http.post(f"{self.url}/{API}/queue/join", json=body)
        if joined.status_code != 200:
            return Reply(False, error=f"HTTP {joined.status_code}: {joined.text}", raw=joined.text)
        event_id = joined.json()["event_id"]
        lines: list[str] = []
        with self.http.stream(
            "GET", f"{self.url}/{API}/queue/data", params={"session_hash": self.session_hash}
        ) as stream:
            for line in stream.iter_lines():
                lines.append(line)
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event_id:
                    continue
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    raw = "\n".join(lines)
                    if not message.get("success", False):
                        return Reply(False, error=str(output.get("error")), raw=raw)
                    return Reply(True, data=output.get("data") or [], raw=raw)
                if message.get("msg") == "unexpected_error":
                    return Reply(False, error=str(message.get("message")), raw="\n".join(lines))
        return Reply(False, error="the event stream ended first", raw="\n".join(lines))
