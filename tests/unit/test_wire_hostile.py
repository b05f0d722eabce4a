"""Hostile message bodies on the bus: named field errors (or a skipped result), never an exception.

``decode_submission`` runs inside the NATS intake loop and ``RemoteExecution`` reads results in a
subscription callback: an exception out of either would end the consumer for every later message.
"""

from __future__ import annotations

import pytest

from execsvc.bus.wire import decode_submission
from execsvc.events import ExecutionResult
from execsvc.journal.codec import encode_event
from execsvc.remote import _read_result

SUBJECT = "execsvc.acct1.intents.s1"
HOSTILE = [
    pytest.param(
        b'{"symbol":"NSE:INFY","strategy_code":"s1","side":"BUY","qty":1,"tag":"\xff"}', id="non-utf8"
    ),
    pytest.param(b'{"metadata":{"a":' + b"[" * 30_000 + b"]" * 30_000 + b"}}", id="deep"),
    pytest.param(b"[" * 30_000 + b"]" * 30_000, id="deep-array"),
]


@pytest.mark.parametrize("data", HOSTILE)
def test_decode_submission_names_the_body(data: bytes) -> None:
    intent, errors = decode_submission(data, {"Nats-Msg-Id": "m1"}, SUBJECT)
    assert intent is None
    assert [e.field for e in errors] == ["body"]


@pytest.mark.parametrize("data", [*HOSTILE, pytest.param(b"{", id="not-json")])
def test_a_message_that_is_not_a_result_is_skipped(data: bytes) -> None:
    assert _read_result(data, "execsvc.acct1.results.s1.x") is None


def test_a_result_is_read() -> None:
    result = ExecutionResult(
        intent_id="r1", strategy_code="s1", status="FILLED", symbol="NSE:INFY", side="BUY", qty=1
    )
    assert _read_result(encode_event(result), "execsvc.acct1.results.s1.r1") == result


def test_an_intent_with_a_duplicate_key_is_refused_naming_it() -> None:
    data = b'{"symbol":"NSE:INFY","strategy_code":"s1","side":"BUY","qty":10,"qty":20}'
    intent, errors = decode_submission(data, {"Nats-Msg-Id": "m1"}, SUBJECT)
    assert intent is None
    assert [(e.field, e.value) for e in errors] == [("qty", [10, 20])]


def test_a_message_of_an_unknown_type_is_refused_naming_it() -> None:
    data = b'{"type":"cancel","symbol":"NSE:INFY","strategy_code":"s1","side":"BUY","qty":10}'
    intent, errors = decode_submission(data, {}, SUBJECT)
    assert intent is None
    assert [(e.field, e.value) for e in errors] == [("type", "cancel")]


def test_a_modify_with_a_misspelt_field_is_refused_naming_it() -> None:
    data = b'{"type":"modify_intent","order_id":"o1","qty":20,"pirce":1400.0}'
    intent, errors = decode_submission(data, {}, SUBJECT)
    assert intent is None
    assert [(e.field, e.value) for e in errors] == [("pirce", 1400.0)]


def test_a_plain_intent_still_decodes() -> None:
    data = b'{"type":"intent","symbol":"NSE:INFY","strategy_code":"s1","side":"BUY","qty":10}'
    intent, errors = decode_submission(data, {"Nats-Msg-Id": "m1"}, SUBJECT)
    assert errors == [] and (intent.qty, intent.intent_id) == (10, "m1")


def test_a_change_with_a_term_of_the_wrong_type_is_left_for_the_engine_to_refuse() -> None:
    data = b'{"type":"modify_intent","order_id":"o1","qty":5.0,"reason":null}'
    change, errors = decode_submission(data, {}, SUBJECT)
    assert errors == [] and (change.order_id, change.qty, change.reason) == ("o1", 5.0, None)


@pytest.mark.parametrize("kind", ["cancel_intent", "modify_intent"])
def test_a_change_naming_its_own_journal_key_is_refused(kind: str) -> None:
    """``key`` is journaled by the engine (the submission key, from the headers): not a body field."""
    data = b'{"type":"%s","order_id":"o1","key":"k1"}' % kind.encode()
    change, errors = decode_submission(data, {}, SUBJECT)
    assert change is None and [e.field for e in errors] == ["key"]


def test_a_modify_without_an_order_id_is_refused_naming_it() -> None:
    change, errors = decode_submission(b'{"type":"modify_intent","qty":5}', {}, SUBJECT)
    assert change is None and [(e.field, e.reason) for e in errors] == [("order_id", "required")]


BUY = b'{"symbol":"NSE:INFY","strategy_code":"s1","side":"BUY","qty":1,'


@pytest.mark.parametrize(
    ("data", "field", "value", "reason"),
    [
        pytest.param(
            BUY + b'"order_type":"LIMIT","price":1e400}',
            "price",
            "1e400",
            "Number out of range",
            id="price-1e400",
        ),
        pytest.param(
            BUY + b'"metadata":{"a":[1,-2.5E+999]}}',
            "metadata.a[1]",
            "-2.5E+999",
            "Number out of range",
            id="metadata-nested-number",
        ),
        pytest.param(
            BUY + b'"metadata":{"note":"\\ud800"}}',
            "metadata.note",
            "\\ud800",
            "lone surrogate",
            id="metadata-lone-surrogate",
        ),
        pytest.param(
            BUY + b'"intent_id":"\\udc00x"}',
            "intent_id",
            "\\udc00x",
            "lone surrogate",
            id="intent-id-lone-surrogate",
        ),
    ],
)
def test_a_number_no_float_holds_or_a_lone_surrogate_is_named_by_field_and_value(
    data: bytes, field: str, value: str, reason: str
) -> None:
    # the intake named only "body" with the first 60 bytes, "Input data was truncated" for a
    # lone surrogate: the producer's REJECTED result did not say which field (invariant 4)
    intent, errors = decode_submission(data, {"Nats-Msg-Id": "m1"}, SUBJECT)

    assert intent is None
    assert [(e.field, e.value) for e in errors] == [(field, value)]
    assert reason in errors[0].reason
