"""Intents and results as JetStream messages: their bodies and headers (pure functions).

Subjects and stream names come from :mod:`execsvc.bus.subjects`; this module fills in the rest:

- an intent goes out as its journal encoding, with ``Nats-Msg-Id`` = the intent id (JetStream
  drops a duplicate inside its window), ``Execsvc-Key`` = the submission key and, on the service's
  own square-off orders, ``Execsvc-Square-Off: 1``; a cancel or a modify is a request of its own,
  so its ``Nats-Msg-Id`` is its submission key (a cancel's ``intent_id`` names the order's intent,
  whose message id it must not reuse); a NaN or an infinity inside an intent's ``metadata``, which
  JSON writes as null, is named in ``Execsvc-Non-Finite`` and put back on intake, for the engine's
  validation to refuse by name;
- a message on the intents stream comes back as an intent, a cancel or a modify, or as the field
  errors that keep it from being one, which answer it with a ``REJECTED`` result;
- a result goes out with a ``Nats-Msg-Id`` made of its intent id, event time, status and filled
  quantity.

It is apart from :mod:`execsvc.bus.nats` because none of it needs a connection: the message format
can be read and tested without a NATS server, and the bus keeps only the I/O (connecting, consuming
under the lease, acknowledging, retrying).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from execsvc.bus.subjects import (
    KEY_HEADER,
    MSG_ID_HEADER,
    NON_FINITE_HEADER,
    SQUARE_OFF_HEADER,
    intents_subject,
    results_subject,
)
from execsvc.clock import iso_ist
from execsvc.errors import FieldError
from execsvc.events import CancelIntent, ExecutionResult, ModifyIntent, OrderIntent
from execsvc.journal.codec import encode_event
from execsvc.json_input import (
    UNREADABLE_JSON,
    lone_surrogates,
    non_finite_numbers,
    numbers_out_of_range,
    put_at,
    strict_json,
    unknown_fields,
)

Message = tuple[str, bytes, dict[str, str]]
"""A message to publish: subject, body and headers."""

_INTENT_FIELDS = frozenset(OrderIntent.__struct_fields__)
_KINDS = ("intent", "cancel_intent", "modify_intent")
_CHANGE_FIELDS = {
    kind: frozenset(target.__struct_fields__) - {"key"}
    for kind, target in (("cancel_intent", CancelIntent), ("modify_intent", ModifyIntent))
}
_json_decode = msgspec.json.Decoder().decode
_NUMBER_FIELDS = ("price", "trigger_price", "confidence")


def intent_message(account: str, submission: Any) -> Message:
    """The subject, body and headers that carry a submission to the account's intents stream.

    Args:
        account: the broker account (names the subject).
        submission: an :class:`~execsvc.engine.Submission`.
    """
    intent = submission.intent
    msg_id = submission.key
    if isinstance(intent, OrderIntent) and intent.intent_id:
        msg_id = intent.intent_id
    headers = {MSG_ID_HEADER: msg_id, KEY_HEADER: submission.key}
    if submission.square_off:
        headers[SQUARE_OFF_HEADER] = "1"
    headers.update(non_finite_header(intent))
    subject = intents_subject(account, getattr(intent, "strategy_code", "") or "cancel")
    return subject, intent_body(intent), headers


def intent_body(intent: Any) -> bytes:
    """The body of an intent, a cancel or a modify, its non-finite numbers kept as their text.

    JSON has no infinity or NaN, and msgspec writes them as null: ``price=inf`` on a MARKET intent,
    which the engine refuses by name, would arrive as no price and be placed. As ``"inf"`` it is
    refused naming the field and the value, as on the in-process bus. Only these three fields: one
    in ``metadata`` is written as the journal writes it and named in :func:`non_finite_header`.
    """
    odd = {}
    for name in _NUMBER_FIELDS:
        value = getattr(intent, name, None)
        if type(value) is float and not math.isfinite(value):
            odd[name] = repr(value)
    if odd:
        intent = msgspec.structs.replace(intent, **odd)
    return encode_event(intent)


def non_finite_header(intent: Any) -> dict[str, str]:
    """``{Execsvc-Non-Finite: ...}`` for an intent whose ``metadata`` holds NaN or an infinity, else ``{}``.

    msgspec writes such a float as null, which the engine would take and journal as sent; the header
    names each one, so the intake puts it back and validation refuses the intent by name, as on the
    in-process bus. An empty ``metadata`` (the common case) is not walked.
    """
    metadata = getattr(intent, "metadata", None)
    if not metadata or not isinstance(metadata, dict):
        return {}
    found = non_finite_numbers(metadata)
    if not found:
        return {}
    named = [[["metadata", *keys], repr(number)] for keys, number in found]
    return {NON_FINITE_HEADER: msgspec.json.encode(named).decode()}


def _restore_non_finite(raw: dict[str, Any], header: str) -> list[FieldError]:
    """Put back the floats ``header`` names into ``raw`` (where the body has null); the errors of a
    header that is not what :func:`non_finite_header` writes."""
    try:
        named = _json_decode(header)
        for keys, text in named:
            if text not in ("nan", "inf", "-inf") or not keys or keys[0] != "metadata":
                raise ValueError(text)
            put_at(raw, tuple(keys), float(text))
    except (*UNREADABLE_JSON, ValueError, TypeError) as exc:
        return [
            FieldError(NON_FINITE_HEADER, header[:80], f"not a list of [keys, 'nan' | 'inf' | '-inf']: {exc}")
        ]
    return []


def result_message(account: str, result: ExecutionResult) -> Message:
    """The subject, body and headers that carry a result to the account's results stream.

    The message id names the result's state, not only its intent: a retried publish of the same
    result is dropped as a duplicate, while the order's next result is stored.
    """
    msg_id = f"{result.intent_id}:{result.ts_event}:{result.status}:{result.filled_qty}"
    subject = results_subject(account, result.strategy_code, result.intent_id)
    return subject, encode_event(result), {MSG_ID_HEADER: msg_id}


def decode_submission(
    data: bytes, headers: dict[str, str] | None, subject: str
) -> tuple[Any, list[FieldError]]:
    """An intent from a message, or the field errors that keep it from being one.

    Type errors (``qty: "ten"``) are left for the engine's validation, which names them and
    journals the rejection, for intents, cancels and modifies alike (a cancel or a modify from
    ``ExecutionService`` over NATS is answered as on the in-process bus); only a body that is not
    a JSON object of intent fields fails here: one that is not UTF-8 JSON, with a key given twice
    in one object, an unknown ``type``, an unknown field or a missing required one.
    """
    headers = headers or {}
    try:
        raw = _json_decode(data)
    except UNREADABLE_JSON as exc:  # a bad message, not a reason to stop intake
        # JSON that msgspec cannot hold (a lone surrogate escape, a number no float holds) is named
        # by its field, as the control API names it; read again only here, never on the good path
        named = lone_surrogates(data) or numbers_out_of_range(data)
        if named:
            return None, named
        return None, [FieldError("body", data[:60].decode(errors="replace"), f"not JSON: {exc}")]
    if not isinstance(raw, dict):
        return None, [FieldError("body", type(raw).__name__, "must be a JSON object of intent fields")]
    _, duplicates = strict_json(data)  # msgspec kept the last of two values for a key
    if duplicates:
        return None, duplicates
    kind = raw.pop("type", "intent")
    if kind not in _KINDS:
        return None, [FieldError("type", kind, f"must be one of {', '.join(_KINDS)}")]
    if kind in ("cancel_intent", "modify_intent"):
        target = CancelIntent if kind == "cancel_intent" else ModifyIntent
        # ``key`` is the engine's to journal: a producer names its change by the headers
        unknown_request = unknown_fields(raw, _CHANGE_FIELDS[kind])
        if unknown_request:  # a misspelt "pirce" would leave the price as it is
            return None, unknown_request
        if kind == "modify_intent" and "order_id" not in raw:
            return None, [FieldError("order_id", None, "required")]
        return target(**raw), []  # a term of the wrong type is the engine's to refuse, by name
    unknown = sorted(set(raw) - _INTENT_FIELDS)
    if unknown:
        return None, [FieldError(name, raw[name], "unknown field") for name in unknown]
    missing = [f for f in ("symbol", "strategy_code", "side", "qty") if f not in raw]
    if missing:
        return None, [FieldError(name, None, "required") for name in missing]
    if NON_FINITE_HEADER in headers and (bad := _restore_non_finite(raw, headers[NON_FINITE_HEADER])):
        return None, bad
    if not raw.get("intent_id") and headers.get(MSG_ID_HEADER):
        raw["intent_id"] = headers[MSG_ID_HEADER]
    return OrderIntent(**raw), []


def aged_from_stream(intent: Any, stored_ns: int, now_ns: int) -> Any:
    """An intent that came without ``ts_init`` (a raw producer's), aged from when the stream stored it.

    Stamped on intake instead, an intent that sat in the stream (kept there for days) while no
    executor ran would look fresh and be placed on the executor's return. The earlier of the
    server's time and ``now_ns``: a server clock ahead of the executor's never makes an intent
    look as if it came from the future.
    """
    if type(intent) is OrderIntent and intent.ts_init == 0 and stored_ns > 0:
        return msgspec.structs.replace(intent, ts_init=min(stored_ns, now_ns))
    return intent


def delivery_key(intent: Any, headers: Mapping[str, str]) -> tuple[str, bool]:
    """The submission key and the square-off flag of a decoded intent, from its message's headers.

    A producer that sent no ``Execsvc-Key`` is keyed by the intent id (from the body, else from
    ``Nats-Msg-Id``); a cancel or a modify by its ``Nats-Msg-Id`` (it has no id of its own).
    """
    own_id = intent.intent_id if isinstance(intent, OrderIntent) else ""
    key = headers.get(KEY_HEADER) or own_id or headers.get(MSG_ID_HEADER, "")
    return key, headers.get(SQUARE_OFF_HEADER) == "1"


def rejection(
    subject: str, headers: Mapping[str, str], errors: list[FieldError], now_ns: int
) -> ExecutionResult:
    """The ``REJECTED`` result that answers a message on ``subject`` that is not an intent.

    The body could not be read, so the intent id comes from ``Nats-Msg-Id`` and the strategy code
    from the subject's last token.
    """
    intent_id = headers.get(MSG_ID_HEADER, "")
    strategy = subject.rsplit(".", 1)[-1]
    message = "invalid intent: " + "; ".join(str(e) for e in errors)
    return ExecutionResult(
        intent_id=intent_id,
        strategy_code=strategy,
        status="REJECTED",
        symbol="",
        side="",
        qty=0,
        message=message,
        reject_reason="validation",
        raw={"errors": [e.to_dict() for e in errors]},
        timestamp=iso_ist(now_ns),
        ts_event=now_ns,
    )
