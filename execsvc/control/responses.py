"""JSON responses and the error middleware: every error is JSON, and no traceback reaches a client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from execsvc.errors import JournalFencedError, ServiceNotRunningError

log = logging.getLogger("execsvc.control")

_encoder = msgspec.json.Encoder()

MAX_BODY = 64 * 1024
"""The largest request body accepted (larger ones get 413); an intent is a few hundred bytes."""


class BadParameter(Exception):
    """A query parameter that does not parse; answered 400 naming it and its value."""

    def __init__(self, name: str, value: str, reason: str) -> None:
        super().__init__(f"{name}={value!r}: {reason}")
        self.body = {"error": "bad parameter", "errors": [{"field": name, "value": value, "reason": reason}]}


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """``data`` (builtins or msgspec Structs) as an ``application/json`` response."""
    return web.Response(
        body=_encoder.encode(data), status=status, content_type="application/json", headers=headers
    )


def encode(data: Any) -> bytes:
    """``data`` as JSON bytes (the one encoder of the control API)."""
    return _encoder.encode(data)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure to a JSON answer.

    Error handling: HTTP errors (404, 405, 413, ...) keep their status and get a JSON body (405
    keeps its ``Allow`` header); a :class:`BadParameter` is 400 naming it;
    :class:`ServiceNotRunningError` and :class:`JournalFencedError` (the account's lease is
    another instance's) are 503; anything else is logged with its traceback here and
    answered 500 ``{"error": "internal error"}``. Cancellation passes.
    """
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        body: dict[str, Any] = {"error": exc.reason.lower()}
        if exc.status == 413:
            body["limit_bytes"] = MAX_BODY
        return json_response(body, status=exc.status, headers=headers)
    except BadParameter as exc:
        return json_response(exc.body, status=400)
    except ServiceNotRunningError as exc:
        return json_response({"error": "service not running", "detail": str(exc)}, status=503)
    except JournalFencedError as exc:  # another instance holds the account's lease: ask it
        return json_response({"error": "not the active instance", "detail": str(exc)}, status=503)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("control API: %s %s failed", request.method, request.path)
        return json_response({"error": "internal error"}, status=500)
