"""The plain JSON API on the app's own server: POST /api/ask and GET /api/health.

Integrators post JSON and get the CLI's JSON answer back, with no Gradio protocol in
between, at nearly the in-process rate. Bad input is a 4xx with {"error": "..."} (400 not
JSON, 413 body too large, 415 not sent as JSON, 422 a missing, unknown or invalid field,
an empty or too long question, an unknown season); no index, or an unreachable Chroma
server, is a 503 with {"error": "..."}. Both routes are documented in the server's
OpenAPI document (/openapi.json, browsable at /docs).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from assistant import BadQuestionError, get_index
from assistant.query import MAX_QUESTION_CHARS
from index.chroma import check_server
from index.errors import IndexError_
from ui.answering import AnswerService

log = logging.getLogger("cpitg.app")

API_PREFIX = "/api/"
EXAMPLE_QUESTION = "When does MYS become compulsory for FP34C?"


# ---------------------------------------------------------------- request and answer shapes


class ChatTurn(BaseModel):
    """One earlier turn as a chat message (only the user's turns are used)."""

    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    """A question, with the conversation so far and optional filters."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": EXAMPLE_QUESTION, "season": "Winter 2021"}]},
    )

    question: str = Field(
        description=f"The question, as plain text (1 to {MAX_QUESTION_CHARS:,} characters)."
    )
    history: list[str | ChatTurn] = Field(
        default_factory=list,
        description="Earlier turns, oldest first: the user's earlier questions as strings, "
        "or role/content messages. A follow-up ('and in Wales?') is read against the last "
        "earlier question.",
    )
    season: str | list[str] | None = Field(
        default=None,
        description="Answer only from this bulletin season ('Autumn 2021') or these seasons.",
    )
    topic: str | list[str] | None = Field(
        default=None, description="Answer only from this top-level topic heading, or these."
    )


class CitationOut(BaseModel):
    n: int
    season: str
    heading_path: list[str]
    url: str = Field(description="The section's link, with #anchor (HTML) or #page=N (PDF).")
    text: str
    sentences: list[str] = Field(description="The sentences of text the answer quotes.")


class RetrievedOut(BaseModel):
    rank: int
    score: float
    season: str
    heading_path: list[str]
    url: str
    text: str


class AnswerOut(BaseModel):
    """The JSON answer, exactly as `python -m assistant ask --json` prints it."""

    question: str
    answer: str = Field(description="The answer with [n] citation markers.")
    status: Literal["answered", "hedged", "not_covered"]
    caveat: str = Field(description="What the archive doesn't say; empty unless hedged.")
    abstained: bool = Field(description="True only when status is not_covered.")
    as_of: str | None = Field(description="The newest bulletin season the answer uses.")
    key_spans: list[list[int]] = Field(
        description="[start, end) character offsets into answer of the words that answer."
    )
    citations: list[CitationOut]
    retrieved: list[RetrievedOut] = Field(description="The top 10 passages retrieved.")
    timings_ms: dict[str, float]


class HealthOut(BaseModel):
    """The index the app is answering from."""

    status: Literal["ok"]
    build_id: str
    built_at: str | None
    model: str | None = Field(description="The embedding model the build was made with.")
    vector_store: str = Field(description="'embedded', or the Chroma server's URL.")
    counts: dict[str, Any] = Field(description="sections, chunks, and both per season.")
    seasons: list[str] = Field(description="The seasons in the index, newest first.")
    question_log: dict[str, Any] = Field(description="enabled, and retention_days.")


class ErrorOut(BaseModel):
    error: str = Field(description="What is wrong, in one line.")


# What each field must look like, for a one-line error when it doesn't.
FIELD_SHAPES = {
    "question": "a string",
    "history": 'a list of earlier questions (strings) or {"role": "user" or "assistant", '
    '"content": "..."} messages',
    "season": "a season name such as 'Autumn 2021', or a list of them",
    "topic": "a topic heading, or a list of them",
}

ERRORS = {
    400: {"model": ErrorOut, "description": "The body is not valid JSON."},
    413: {"model": ErrorOut, "description": "The body is larger than the cap."},
    415: {"model": ErrorOut, "description": "The body was not sent as application/json."},
    422: {"model": ErrorOut, "description": "A field is missing, unknown or invalid."},
    503: {"model": ErrorOut, "description": "No index, or its Chroma server is unreachable."},
}


# ---------------------------------------------------------------- routes


def add_api(server: FastAPI, service: AnswerService) -> None:
    """Add /api/ask and /api/health to server, with the body cap and {"error"} replies."""
    settings = service.settings
    server.add_middleware(BodyCap, limit=settings.api_max_body_bytes, prefix=API_PREFIX)
    server.add_exception_handler(RequestValidationError, _validation_error)
    server.add_exception_handler(HTTPException, _http_error)
    server.add_exception_handler(Exception, _unexpected_error)

    @server.post(
        "/api/ask",
        response_model=AnswerOut,
        responses={k: v for k, v in ERRORS.items()},
        summary="Answer a question from the CP ITG bulletin archive",
        tags=["assistant"],
    )
    async def api_ask(body: AskRequest) -> JSONResponse:
        """Return the JSON answer, with citations, that `python -m assistant ask --json`
        prints. A question the archive doesn't answer still gets a 200, with status
        not_covered and the closest sections in retrieved."""
        if len(body.history) > settings.api_max_history:
            return _error(
                422,
                f"history holds {len(body.history)} turns; the limit is {settings.api_max_history}",
            )
        history = [t if isinstance(t, str) else t.model_dump() for t in body.history]
        seasons = [body.season] if isinstance(body.season, str) else list(body.season or [])
        try:
            answer = await service.answer(
                body.question,
                channel="api",
                history=history,
                seasons=seasons,
                topic=body.topic or None,
            )
        except BadQuestionError as error:
            return _error(422, f"bad question: {error}")
        except IndexError_ as error:
            return _error(503, str(error))
        return JSONResponse(answer.to_json())

    @server.get(
        "/api/health",
        response_model=HealthOut,
        responses={503: ERRORS[503]},
        summary="The build the app answers from",
        tags=["assistant"],
    )
    async def api_health() -> JSONResponse:
        """Return the build id, its counts and its model; 503 when the index or its Chroma
        server cannot be used."""
        try:
            facts = await anyio.to_thread.run_sync(health, service)
        except IndexError_ as error:
            return _error(503, str(error))
        return JSONResponse(facts)


def health(service: AnswerService) -> dict:
    """The health facts of the current build (loading it if it just landed).

    Raises IndexError_ when there is no usable index, or the Chroma server is down.
    """
    settings = service.settings
    index = get_index(settings)
    if settings.chroma_url:
        check_server(settings.chroma_url)  # a loaded index says nothing about the server now
    manifest = index.manifest
    return {
        "status": "ok",
        "build_id": manifest.get("build_id", ""),
        "built_at": manifest.get("built_at"),
        "model": manifest.get("model"),
        "vector_store": settings.chroma_url or "embedded",
        "counts": manifest.get("counts", {}),
        "seasons": index.seasons,
        "question_log": {
            "enabled": service.questions.enabled,
            "retention_days": service.questions.retention_days,
        },
    }


# ---------------------------------------------------------------- errors


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """One line for the first problem: "question: field required", "not JSON", ..."""
    problem = error.errors()[0]
    kind, where = problem.get("type", ""), [str(p) for p in problem.get("loc", ())][1:]
    if kind == "json_invalid":
        reason = (problem.get("ctx") or {}).get("error", "")
        return _error(400, f"the body is not valid JSON ({reason})" if reason else "not JSON")
    if not where and isinstance(problem.get("input"), bytes | str):
        return _error(415, "send the body as JSON, with Content-Type: application/json")
    if not where and problem.get("input") is None:
        return _error(422, 'the body is empty; send {"question": "..."}')
    if not where:
        return _error(422, 'the body must be a JSON object like {"question": "..."}')
    field = where[0]
    if field in FIELD_SHAPES and kind not in ("missing", "extra_forbidden"):
        return _error(422, f"{field} must be {FIELD_SHAPES[field]}")
    if kind == "missing":
        return _error(422, f"missing field {field!r}")
    if kind == "extra_forbidden":
        known = ", ".join(AskRequest.model_fields)
        return _error(422, f"unknown field {field!r}; the fields are {known}")
    return _error(422, f"{field}: {problem.get('msg', 'invalid').lower()}")


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"error": str(error.detail)}, status_code=error.status_code, headers=error.headers
    )


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return _error(500, "internal error; the server log has the details")


class BodyCap:
    """Refuse request bodies over limit bytes under prefix with 413 {"error": ...}.

    The Content-Length is checked before anything is read; a chunked body is counted as
    it arrives and cut off at the limit. (Starlette's own limiter answers in plain text.)
    """

    def __init__(self, app: ASGIApp, limit: int, prefix: str) -> None:
        self.app = app
        self.limit = limit
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        seen, refused = 0, False

        async def counted() -> AsgiMessage:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    await self._refuse(send)
            # Past the limit the app is told the client left, and its reply is dropped.
            return {"type": "http.disconnect"} if refused else message

        async def unless_refused(message: AsgiMessage) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"error": f"the request body is over the {self.limit:,}-byte limit"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
