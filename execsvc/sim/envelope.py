"""Kite's response envelopes (FACTS.md 1.4) and the error a decision returns as data.

Every response the simulator writes is JSON with ``Content-Type: application/json`` (except the
instruments CSV), and every error carries both ``message`` and ``error_type``: pykiteconnect
crashes with ``TypeError``/``KeyError`` on an error body missing either, and with ``KeyError`` on
a response without a content type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

__all__ = ["ApiError", "error_body", "json_response", "success"]

_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class ApiError:
    """A refusal as data: the HTTP status, Kite's ``error_type`` and the message.

    Decisions (validation, the book) return one instead of raising, and the HTTP edge turns it
    into an error envelope.
    """

    status: int
    error_type: str
    message: str

    @classmethod
    def input(cls, message: str) -> ApiError:
        """A 400 ``InputException`` (missing or bad parameter)."""
        return cls(400, "InputException", message)

    @classmethod
    def order(cls, message: str) -> ApiError:
        """A 400 ``OrderException`` (the order is in a state that forbids the request)."""
        return cls(400, "OrderException", message)

    @classmethod
    def token(cls, message: str = "Incorrect `api_key` or `access_token`.") -> ApiError:
        """A 403 ``TokenException``."""
        return cls(403, "TokenException", message)

    @classmethod
    def too_many(cls) -> ApiError:
        """Kite's rate-limit answer: HTTP 429 ``NetworkException`` "Too many requests"."""
        return cls(429, "NetworkException", "Too many requests")

    def response(self) -> web.Response:
        """The error envelope as an aiohttp response."""
        return json_response(error_body(self.message, self.error_type), status=self.status)


def error_body(message: str, error_type: str) -> dict[str, Any]:
    """``{"status": "error", "message": ..., "error_type": ...}``."""
    return {"status": "error", "message": message, "error_type": error_type}


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON response with ``Content-Type: application/json``."""
    return web.Response(body=_ENCODER.encode(body), status=status, content_type="application/json")


def success(data: Any) -> web.Response:
    """``{"status": "success", "data": data}`` with HTTP 200."""
    return json_response({"status": "success", "data": data})
