"""Kite error envelopes to execsvc's exception tree (FACTS.md section 1.4).

The mapping, first match wins::

    HTTP 429 (Kite sends NetworkException "Too many requests")  -> BrokerRateLimitError
    TokenException with HTTP 403 (or another 4xx)                -> BrokerAuthError
    HTTP 5xx (500 General, 502 OMS down, 503, 504)               -> BrokerUnavailableError(maybe_sent=True)
    NetworkException, DataException (API/OMS trouble)            -> BrokerUnavailableError(maybe_sent=True)
    any other 4xx, or an error envelope with any other type      -> BrokerRejectError
      (InputException, OrderException, MarginException, HoldingException, UserException,
       PermissionException, GeneralException, unknown names)

DataException means "the OMS response was not understood": the order may exist, so it is an
unknown outcome rather than a refusal. Every error keeps ``error_type`` and ``http_status``.
Messages are built only from the method, the path, the status and Kite's own ``message``; they
never carry headers, tokens or request bodies, and the caller's ``redact`` removes any credential
that Kite's own text echoes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from execsvc.errors import (
    BrokerAuthError,
    BrokerError,
    BrokerRateLimitError,
    BrokerRejectError,
    BrokerUnavailableError,
)

__all__ = ["ERROR_TYPES", "map_kite_error"]

ERROR_TYPES = (
    "TokenException",
    "UserException",
    "OrderException",
    "InputException",
    "MarginException",
    "HoldingException",
    "NetworkException",
    "DataException",
    "GeneralException",
    "PermissionException",
)
"""The ``error_type`` values Kite documents (and pykiteconnect knows)."""

_UNKNOWN_OUTCOME = frozenset({"NetworkException", "DataException"})
_MAX_MESSAGE = 300


def map_kite_error(
    http_status: int,
    body: dict[str, Any] | None,
    *,
    method: str,
    path: str,
    redact: Callable[[str], str] | None = None,
) -> BrokerError:
    """The execsvc error for a Kite error response.

    Args:
        http_status: the response's HTTP status code.
        body: the decoded JSON envelope (``{"status": "error", "message": ..., "error_type": ...}``),
            or None when the response was not JSON.
        method: the request method, for the message.
        path: the request path without query (never a URL with credentials), for the message.
        redact: applied to Kite's ``message`` and ``error_type`` (broker text that may echo a
            credential, for example the Authorization header) before either is used.

    Returns:
        The error to raise; see the module docstring for the mapping. It is returned, not raised,
        so that the caller can ``raise map_kite_error(...) from exc``.
    """
    error_type: str | None = None
    text = ""
    if body is not None:
        raw_type = body.get("error_type")
        error_type = raw_type if isinstance(raw_type, str) and raw_type else None
        raw_message = body.get("message")
        if raw_message is not None:
            text = str(raw_message)
        if redact is not None:
            text = redact(text)
            error_type = redact(error_type) if error_type is not None else None
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "..."
    head = f"Kite {method} {path}: HTTP {http_status}"
    if error_type:
        head = f"{head} {error_type}"
    message = f"{head}: {text}" if text else head
    kwargs: dict[str, Any] = {"error_type": error_type, "http_status": http_status}
    if http_status == 429:
        return BrokerRateLimitError(message, **kwargs)
    if error_type == "TokenException" and 400 <= http_status < 500:
        return BrokerAuthError(message, **kwargs)
    if http_status >= 500 or error_type in _UNKNOWN_OUTCOME:
        return BrokerUnavailableError(message, maybe_sent=True, **kwargs)
    return BrokerRejectError(message, **kwargs)
