"""Endpoints that act: ``POST /intents``, ``/halt``, ``/resume``, ``/breakers/reset``, ``/square-off``.

Bodies are JSON decoded by msgspec at this edge (the trust boundary). A body that does not decode
is answered 400 ``{"errors": [{"field", "value", "reason"}]}`` naming the field, parsed from
msgspec's ``- at `$.qty``` path; so is a body with a field the endpoint does not know (a misspelt
``validty`` or ``strategy_code`` is never ignored) or with a key given twice in one object, and
nothing is done. An intent that decodes but fails the service's validation is answered 400 with the
service's field errors and its REJECTED result (it is journaled all the same).
Operator actions need a non-empty ``reason``; ``by`` defaults to ``control-api``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable
from typing import Annotated, Any, Protocol, TypeVar

import msgspec
from aiohttp import web

from execsvc.control.keys import METRICS, SERVICE
from execsvc.control.responses import json_response
from execsvc.errors import FieldError, IntentValidationError
from execsvc.events import OrderIntent
from execsvc.json_input import (
    UNREADABLE_JSON,
    lone_surrogates,
    non_finite_numbers,
    numbers_out_of_range,
    put_at,
    strict_json,
    unknown_fields,
)

T = TypeVar("T")


class SliceFlag(msgspec.Struct, kw_only=True):
    """The one key of a ``POST /intents`` body that is not the intent's: ``"slice": true`` sends an
    intent above its freeze quantity in slices (``ExecutionService.execute_sliced``)."""

    slice: bool = False


_intent_decoder = msgspec.json.Decoder(OrderIntent)
_slice_decoder = msgspec.json.Decoder(SliceFlag)
# "type": the intent's tag ("intent"); "slice": the SliceFlag, read from the same body
_INTENT_FIELDS = frozenset(OrderIntent.__struct_fields__) | {"type", "slice"}
_any_decoder = msgspec.json.Decoder()
_AT = re.compile(r"^(?P<reason>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]*)`$")
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


class ControlRequest(msgspec.Struct, kw_only=True):
    """The body of ``POST /halt``, ``/resume`` and ``/breakers/reset``."""

    reason: str
    by: str = "control-api"


class SquareOffRequest(ControlRequest, kw_only=True):
    """The body of ``POST /square-off``: one strategy, or ``null`` for all (``""`` names none)."""

    strategy: Annotated[str, msgspec.Meta(min_length=1)] | None = None


def _value_at(body: bytes, path: str) -> Any:
    """The JSON value at a msgspec path (``$.metadata.a[1]``), or None.

    A number no float holds (``1e400``) is given as written: msgspec cannot decode the body it is
    in, so it is read again keeping such numbers as their text (a field error names its value).
    """
    try:
        node: Any = _any_decoder.decode(body)
    except msgspec.ValidationError:  # well-formed JSON, but a number out of a float's range
        try:
            node = json.loads(body, parse_float=_float_as_written)
        except (ValueError, RecursionError):
            return None
    except UNREADABLE_JSON:
        return None
    for key, index in _STEP.findall(path.removeprefix("$")):
        try:
            node = node[int(index)] if index else node[key]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _float_as_written(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text


def decode_errors(exc: msgspec.DecodeError, body: bytes) -> list[dict[str, Any]]:
    """msgspec's error as ``[{"field", "value", "reason"}]``.

    ``Expected `int`, got `str` - at `$.qty``` gives ``qty``; a missing field is named by itself;
    malformed JSON is ``body``.
    """
    text = str(exc)
    match = _AT.match(text)
    reason = match["reason"] if match else text
    path = (match["path"] if match else None) or "$"
    field = path.removeprefix("$").removeprefix(".")
    value: Any = None
    if not isinstance(exc, msgspec.ValidationError):
        named = lone_surrogates(body)
        if named:
            return [e.to_dict() for e in named]
        return [{"field": "body", "value": None, "reason": reason}]
    missing = _MISSING.match(reason)
    if missing:
        field = f"{field}.{missing['field']}" if field else missing["field"]
        reason = "required"
    elif reason == "Number out of range" and (named := numbers_out_of_range(body)):
        # msgspec names a dict's entry "[...]" (metadata[...][1]): the number is found by its keys
        return [e.to_dict() for e in named]
    elif field:  # the whole body is not echoed back
        value = _value_at(body, path)
    return [{"field": field or "body", "value": value, "reason": reason}]


def unreadable(exc: Exception) -> list[dict[str, Any]]:
    """A body msgspec could not read past its own ``DecodeError``, as ``[{"field": "body", ...}]``.

    msgspec raises ``UnicodeDecodeError`` for bytes that are not UTF-8 and ``RecursionError`` for
    arrays or objects nested deeper than it recurses; both are the sender's fault, not ours.
    """
    reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
    return [FieldError("body", None, f"{reason}: {exc}").to_dict()]


def shape_errors(body: bytes, known: frozenset[str]) -> list[dict[str, Any]]:
    """Keys given twice anywhere in ``body``, and top-level keys that are not in ``known``.

    msgspec ignores unknown fields and keeps the last of two values for a key; at this edge either
    means the sender asked for something other than what would be done, so both are refused.
    """
    value, errors = strict_json(body)
    if isinstance(value, dict):
        errors += unknown_fields(value, known)
    return [e.to_dict() for e in errors]


def _with_non_finite(body: bytes, decoder: msgspec.json.Decoder[T]) -> T | None:
    """``body`` decoded with the ``NaN`` and ``Infinity`` that Python's ``json`` writes put back into
    ``metadata``, for validation to refuse by name (and journal); None for any other bad body.

    msgspec refuses them as malformed JSON at a byte offset, naming nothing. Only ``metadata``: a
    top-level number such a body names keeps msgspec's error (as null it would be read as absent).
    """
    try:
        value = json.loads(body)
        found = non_finite_numbers(value)
        if not found or any(len(keys) < 2 or keys[0] != "metadata" for keys, _ in found):
            return None
        decoded = decoder.decode(msgspec.json.encode(value))  # each written as null, then put back
    except (ValueError, RecursionError, msgspec.DecodeError, msgspec.EncodeError):
        return None
    metadata = getattr(decoded, "metadata", None)
    for keys, number in found:
        put_at(metadata, keys[1:], number)
    return decoded


async def _decode(
    request: web.Request, decoder: msgspec.json.Decoder[T], known: frozenset[str]
) -> T | web.Response:
    body = await request.read()
    try:
        decoded = decoder.decode(body)
    except msgspec.ValidationError as exc:
        errors = decode_errors(exc, body) + shape_errors(body, known)
        return json_response({"errors": errors}, status=400)
    except msgspec.DecodeError as exc:
        restored = _with_non_finite(body, decoder)
        if restored is None:
            return json_response({"errors": decode_errors(exc, body)}, status=400)
        decoded = restored
    except (UnicodeDecodeError, RecursionError) as exc:
        return json_response({"errors": unreadable(exc)}, status=400)
    errors = shape_errors(body, known)
    if errors:
        return json_response({"errors": errors}, status=400)
    return decoded


async def post_intent(request: web.Request) -> web.Response:
    """Decode an intent, note it for latency metrics, execute it and answer with its first result.

    ``ts_init`` (when 0) and ``intent_id`` (when empty) are filled in here exactly as the service
    would, so the metrics know the id before the result arrives. Idempotent on ``intent_id``: a
    repeated POST gets the first result, byte for byte. With ``"slice": true`` see
    :func:`_post_sliced`.
    """
    decoded = await _decode(request, _intent_decoder, _INTENT_FIELDS)
    if isinstance(decoded, web.Response):
        return decoded
    flag = await _decode(request, _slice_decoder, _INTENT_FIELDS)
    if isinstance(flag, web.Response):
        return flag
    intent = decoded
    svc = request.app[SERVICE]
    if intent.ts_init == 0:
        intent = msgspec.structs.replace(intent, ts_init=svc.clock.now_ns())
    if not intent.intent_id and intent.ts_init > 0:
        intent = msgspec.structs.replace(intent, intent_id=svc.engine.make_intent_id(intent, intent.ts_init))
    if flag.slice:
        return await _post_sliced(request, intent)
    request.app[METRICS].note_intent(intent.intent_id, intent.ts_init)
    result = await svc.execute_intent(intent)
    if result.status == "REJECTED" and result.reject_reason == "validation":
        errors = (result.raw or {}).get("errors", [])
        return json_response({"errors": errors, "result": result}, status=400)
    return json_response(result)


async def _post_sliced(request: web.Request, intent: OrderIntent) -> web.Response:
    """``{"intent_id", "results"}``: the first results of the intent's slices, in order, up to the
    first REJECTED (or of the intent itself, within its freeze quantity). 400 with field errors when
    nothing was sent for a bad field: the intent refused by validation (its result under
    ``results``), or slices that could not be valid (no result). Idempotent on ``intent_id``."""
    metrics = request.app[METRICS]
    try:
        # each slice (or the intent sent whole) is noted as an unsliced POST notes its intent
        results = await request.app[SERVICE].execute_sliced(
            intent, on_send=lambda sent: metrics.note_intent(sent.intent_id, sent.ts_init)
        )
    except IntentValidationError as exc:
        return json_response({"errors": [e.to_dict() for e in exc.errors], "results": []}, status=400)
    body = {"intent_id": intent.intent_id, "results": results}
    [first, *rest] = results
    if not rest and first.status == "REJECTED" and first.reject_reason == "validation":
        return json_response({"errors": (first.raw or {}).get("errors", []), **body}, status=400)
    return json_response(body)


async def _control(
    request: web.Request, decoder: msgspec.json.Decoder[T], known: frozenset[str]
) -> T | web.Response:
    decoded = await _decode(request, decoder, known)
    if isinstance(decoded, ControlRequest) and not decoded.reason.strip():
        error = {"field": "reason", "value": decoded.reason, "reason": "must not be empty"}
        return json_response({"errors": [error]}, status=400)
    return decoded


_control_decoder = msgspec.json.Decoder(ControlRequest)
_square_off_decoder = msgspec.json.Decoder(SquareOffRequest)
_CONTROL_FIELDS = frozenset(ControlRequest.__struct_fields__)
_SQUARE_OFF_FIELDS = frozenset(SquareOffRequest.__struct_fields__)


def _after(request: web.Request, action: str, body: ControlRequest) -> web.Response:
    svc = request.app[SERVICE]
    return json_response(
        {
            "ok": True,
            "action": action,
            "by": body.by,
            "reason": body.reason,
            "halted": svc.halted,
            "breakers": svc.breaker_status(),
        }
    )


async def halt(request: web.Request) -> web.Response:
    """Halt trading (journaled with ``by`` and ``reason``)."""
    return await _operator_control(request, "halt", request.app[SERVICE].halt)


async def resume(request: web.Request) -> web.Response:
    """Lift a halt (journaled)."""
    return await _operator_control(request, "resume", request.app[SERVICE].resume)


async def reset_breakers(request: web.Request) -> web.Response:
    """Clear latched breakers (journaled)."""
    return await _operator_control(request, "reset_breakers", request.app[SERVICE].reset_breakers)


class _Control(Protocol):
    def __call__(self, reason: str, *, by: str) -> Awaitable[None]: ...


async def _operator_control(request: web.Request, action: str, control: _Control) -> web.Response:
    body = await _control(request, _control_decoder, _CONTROL_FIELDS)
    if isinstance(body, web.Response):
        return body
    await control(body.reason, by=body.by)
    return _after(request, action, body)


async def square_off(request: web.Request) -> web.Response:
    """Square off MIS positions (one strategy or all) through ``ExecutionService.square_off``.

    Answers 501 when the service has no ``square_off`` (older builds).
    """
    body = await _control(request, _square_off_decoder, _SQUARE_OFF_FIELDS)
    if isinstance(body, web.Response):
        return body
    action = getattr(request.app[SERVICE], "square_off", None)
    if not callable(action):
        return json_response({"error": "square-off is not available in this service"}, status=501)
    results = await action(strategy=body.strategy, reason=body.reason, by=body.by)
    return json_response({"ok": True, "strategy": body.strategy, "results": list(results)})
