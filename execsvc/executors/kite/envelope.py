"""Reading Kite's response envelope: ``data`` from a clean answer, an execsvc error from anything else.

Kite answers ``{"status": "success", "data": ...}`` or ``{"status": "error", "error_type": ...,
"message": ...}`` (FACTS.md section 1.4). What does not fit is not trusted: a 5xx is
:class:`~execsvc.errors.BrokerUnavailableError` with ``maybe_sent``; a body that is not JSON (below
500) or not an object is :class:`~execsvc.errors.BrokerDataError`; Kite's errors go through
:func:`~execsvc.executors.kite.errors.map_kite_error`. For a placement, anything below 500 that is
neither a clean success nor a clean Kite error is an unknown outcome (``BrokerDataError``) that the
live executor resolves by the order's tag, never a refusal. Broker text reaches a message only
through ``redact``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec

from execsvc.errors import BrokerDataError, BrokerUnavailableError
from execsvc.executors.kite.errors import ERROR_TYPES, map_kite_error
from execsvc.json_input import UNREADABLE_JSON

Redact = Callable[[str], str]

_decode = msgspec.json.Decoder().decode


def read_envelope(
    method: str, path: str, status: int, ctype: str, raw: bytes, *, placement: bool, redact: Redact
) -> Any:
    """Kite's ``data`` from an answer, or the error it means (see the module docstring).

    Args:
        method, path: the request (for messages).
        status, ctype, raw: the answer's HTTP status, Content-Type and body.
        placement: the request placed an order (anything unclear below 500 is then unknown).
        redact: strips credentials from broker text before it goes into a message.
    """
    is_json = "json" in ctype
    if placement and status < 500:
        # an order may exist after anything but a clean answer: never a refusal, never resent
        return _placement_answer(method, path, status, ctype, raw, redact)
    if not is_json:
        if status == 429:
            raise map_kite_error(status, None, method=method, path=path)
        if status >= 500:
            raise BrokerUnavailableError(
                f"Kite {method} {path}: HTTP {status} with Content-Type {ctype!r}",
                http_status=status,
                maybe_sent=True,
            )
        raise BrokerDataError(
            f"Kite {method} {path}: HTTP {status}: Content-Type={ctype!r}: expected JSON ({len(raw)} bytes)",
            http_status=status,
        )
    try:
        data = _decode(raw)
    except UNREADABLE_JSON as exc:  # not UTF-8, or nested past the decoder: no more readable than bad JSON
        if status >= 500 or status == 429:
            raise map_kite_error(status, None, method=method, path=path) from exc
        head = redact(raw[:80].decode("utf-8", "replace"))
        raise BrokerDataError(
            f"Kite {method} {path}: HTTP {status}: body={head!r}: not valid JSON", http_status=status
        ) from exc
    if not isinstance(data, dict):
        raise BrokerDataError(
            f"Kite {method} {path}: HTTP {status}: body={type(data).__name__}: expected an object",
            http_status=status,
        )
    if status >= 400 or data.get("status") == "error" or data.get("error_type"):
        raise map_kite_error(status, data, method=method, path=path, redact=redact)
    if "data" not in data:
        raise BrokerDataError(f"Kite {method} {path}: data is missing from the envelope", http_status=status)
    return data["data"]


def _placement_answer(method: str, path: str, status: int, ctype: str, raw: bytes, redact: Redact) -> Any:
    # a 5xx is handled by read_envelope (BrokerUnavailableError, maybe_sent): unknown as well
    data: Any = None
    shape = ""  # what the answer looked like, worked out only for an unclear one
    if "json" in ctype:
        try:
            data = _decode(raw)
        except UNREADABLE_JSON:
            shape = f"body={redact(raw[:80].decode('utf-8', 'replace'))!r}: not valid JSON"
    verdict = placement_verdict(status, data)
    if verdict == "success":
        return data["data"]
    if verdict == "error":
        raise map_kite_error(status, data, method=method, path=path, redact=redact)
    if not shape:
        shape = f"Content-Type={ctype!r} ({len(raw)} bytes)"
    if isinstance(data, dict):
        shape = ", ".join(
            f"{key}={redact(str(data.get(key)))[:80]!r}" for key in ("status", "error_type", "message")
        )
    raise BrokerDataError(
        f"Kite {method} {path}: HTTP {status}: {shape}: neither a clean success nor a clean Kite "
        "error; the order may exist",
        http_status=status,
    )


def placement_verdict(status: int, data: Any) -> str:
    """What a placement's answer (below HTTP 500) says: ``"success"``, ``"error"`` or ``"unclear"``.

    ``"success"``: HTTP 2xx, ``status`` "success", no ``error_type``, a ``data`` key. ``"error"``: a
    clean Kite error, ``status`` "error" with a 4xx and an ``error_type`` Kite documents; only this
    may be taken as a refusal. Anything else (an envelope that contradicts itself, a 4xx without a
    known error type, a body that is not a JSON object) is ``"unclear"``: the order may exist.
    """
    if not isinstance(data, dict):
        return "unclear"
    error_type = data.get("error_type")
    if 200 <= status < 300 and data.get("status") == "success" and not error_type and "data" in data:
        return "success"
    if 400 <= status < 500 and data.get("status") == "error" and error_type in ERROR_TYPES:
        return "error"
    return "unclear"


def redact_secrets(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (longest first, so a pair goes whole)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text


def order_id_of(data: Any, what: str) -> str:
    """The order id in a place, modify or cancel answer's ``data`` (Kite sends a string; an int is taken).

    Raises:
        BrokerDataError: no order id there.
    """
    order_id = data.get("order_id") if isinstance(data, dict) else None
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        return str(order_id)
    if not isinstance(order_id, str) or not order_id:
        raise BrokerDataError(
            f"Kite {what} response: order_id={order_id!r}: expected an order id", http_status=200
        )
    return order_id


def object_of(data: Any, path: str) -> dict[str, Any]:
    """``data`` that must be an object (margins, quotes, profile).

    Raises:
        BrokerDataError: it is not.
    """
    if not isinstance(data, dict):
        raise BrokerDataError(f"Kite GET {path}: data={type(data).__name__}: expected an object")
    return data


def no_silent_resend(session: aiohttp.ClientSession) -> None:
    """Switch off aiohttp's one silent re-send of an idempotent request (PUT and DELETE included)
    when a kept-alive connection drops: a modify or a cancel goes out at most once."""
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False


def path_segment(value: str) -> str:
    """``value`` quoted as one URL path segment (an order id, a variety)."""
    return quote(value, safe="")
