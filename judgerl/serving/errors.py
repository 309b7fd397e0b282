"""The server's error replies and its body gate (size, read time, UTF-8, JSON syntax, duplicate keys, depth).

Every error a client sees has one of two shapes, chosen by the path: judgerl's own endpoints
answer `{"error": "message"}`; the OpenAI-protocol endpoints (`/v1/chat/completions`,
`/v1/models`) answer OpenAI's `{"error": {"message", "type", "param", "code"}}`, so an OpenAI
client raises its usual exception with `param` set to the offending field. FastAPI's own
`{"detail": ...}` never reaches a client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse

MAX_JSON_DEPTH = 32  # the deepest request schema nests 5 levels; deeper is an attack, not a request
OPENAI_PREFIXES = ("/v1/chat/", "/v1/models")


class ServeError(Exception):
    """A request the server refuses or cannot finish: an HTTP status, a message and the field at fault.

    Usage: raise ServeError(413, "prompt is 1,300 tokens; the context leaves 512", param="messages")
    """

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def is_openai_path(path: str) -> bool:
    """True for the OpenAI-protocol endpoints (their errors take OpenAI's shape).

    >>> is_openai_path("/v1/chat/completions"), is_openai_path("/v1/judge")
    (True, False)
    """
    return path.startswith(OPENAI_PREFIXES)


def _openai_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_response(
    path: str, status: int, message: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    """The error reply for `path`: judgerl's `{"error": msg}` or OpenAI's `{"error": {...}}`.

    Usage: return error_response(request.url.path, 401, "missing or wrong bearer token")

    >>> error_response("/v1/judge", 422, "question: Field required").body
    b'{"error":"question: Field required"}'
    """
    if is_openai_path(path):
        body: dict[str, Any] = {
            "error": {"message": message, "type": _openai_type(status), "param": param, "code": code}
        }
    else:
        body = {"error": message}
    return JSONResponse(body, status_code=status)


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    """pydantic's errors as one message naming each field, and the first field (OpenAI's `param`).

    Usage: message, param = validation_message(list(exc.errors()))

    >>> validation_message([{"loc": ("body", "n"), "msg": "Input should be >= 1", "input": 0}])
    ('n: Input should be >= 1 (got 0)', 'n')
    """
    parts, first = [], None
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        first = first or loc
        parts.append(f"{loc}: {e.get('msg')}{_shown(e.get('input'))}")
    return "; ".join(parts), first


def _shown(value: Any) -> str:
    """' (got VALUE)' for a scalar input, shortened; '' for a missing field or a whole object."""
    if not isinstance(value, str | int | float | bool | None):
        return ""
    text = repr(value)
    return f" (got {text[:60]}{'...' if len(text) > 60 else ''})"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ServeError(400, f"malformed JSON: duplicate key {key!r}", param=key)
        seen[key] = value
    return seen


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, iteratively (a recursive walk could itself overflow)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def check_json_body(body: bytes) -> None:
    """Raise ServeError(400) unless `body` is UTF-8 JSON without duplicate keys, at most MAX_JSON_DEPTH deep.

    Usage: check_json_body(await request.body())

    >>> check_json_body(b'{"question": "q", "question": "r"}')
    Traceback (most recent call last):
    ...
    judgerl.serving.errors.ServeError: malformed JSON: duplicate key 'question'
    >>> check_json_body(b'{"n": ' + b"9" * 4301 + b"}")
    Traceback (most recent call last):
    ...
    judgerl.serving.errors.ServeError: malformed JSON: Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ServeError(400, f"body is not valid UTF-8 (byte {err.start})") from None
    try:
        parsed = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise ServeError(400, f"malformed JSON: {err.msg} at position {err.pos}") from None
    except RecursionError:
        raise ServeError(400, f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as err:  # an integer past Python's digit limit (sys.get_int_max_str_digits)
        raise ServeError(400, f"malformed JSON: {str(err).split(';')[0]}") from None
    if _depth(parsed) > MAX_JSON_DEPTH:
        raise ServeError(400, f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels")


class BodyGate:
    """Pure ASGI middleware: reads each body (at most `limit` bytes, declared or streamed, else 413;
    whole within `timeout` seconds of its headers, else 408 and the connection closed), checks a
    POST's JSON (`check_json_body`, else 400) and replays the body to the app, so neither an
    oversized, a trickled nor a malformed body reaches FastAPI's own parsing.

    Usage: app.add_middleware(BodyGate, limit=2_000_000, timeout=15.0)
    """

    def __init__(self, app: Any, limit: int, timeout: float | None = None) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = error_response(path, 413, f"request body over {self.limit} bytes")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        chunks, seen, more = [], 0, True
        while more:
            try:
                left = None if deadline is None else max(deadline - loop.time(), 0.0)
                message = await asyncio.wait_for(receive(), left)
            except TimeoutError:
                late = error_response(path, 408, f"request body not received within {self.timeout} s")
                late.headers["connection"] = "close"  # the rest of a trickled body is not read
                await late(scope, receive, send)
                return
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await too_big(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and scope.get("method") == "POST":
            try:
                check_json_body(body)
            except ServeError as err:
                await error_response(path, err.status, err.message, err.param)(scope, receive, send)
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
