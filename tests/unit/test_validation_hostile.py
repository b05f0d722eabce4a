"""Hostile values at the validation boundary: each comes back as a field error naming its value.

Every case here used to escape ``validate_intent`` as an exception (an OverflowError or a
RecursionError that the engine turned into a ServiceError and an HTTP 500) or to pass (an absurd
quantity was filled).
"""

from __future__ import annotations

from typing import Any

import pytest

from execsvc.errors import IntentValidationError
from execsvc.events import OrderIntent
from execsvc.market.instruments import Instrument
from execsvc.validation import (
    MAX_METADATA_DEPTH,
    MAX_PRICE,
    MAX_QTY,
    on_tick_grid,
    validate_intent,
    validate_modify,
)

NOW = 1_777_000_000_123_456_789


def _intent(**overrides: Any) -> OrderIntent:
    fields: dict[str, Any] = {"symbol": "NSE:INFY", "strategy_code": "s1", "side": "BUY", "qty": 1}
    fields.update(overrides)
    return OrderIntent(**fields)


def _no_instruments(key: str) -> Instrument | None:
    return None


def _errors(intent: OrderIntent) -> dict[str, Any]:
    """The field errors of an intent that must fail, as ``{field: (value, reason)}``."""
    with pytest.raises(IntentValidationError) as info:
        validate_intent(
            intent,
            now_ns=NOW,
            default_exchange="NSE",
            default_tick_size=0.05,
            lookup=_no_instruments,
            make_id=lambda i, ts: f"gen-{ts}",
        )
    return {e.field: (e.value, e.reason) for e in info.value.errors}


def _valid(intent: OrderIntent) -> OrderIntent:
    return validate_intent(
        intent,
        now_ns=NOW,
        default_exchange="NSE",
        default_tick_size=0.05,
        lookup=_no_instruments,
        make_id=lambda i, ts: f"gen-{ts}",
    )


# -- prices that overflow the tick grid ------------------------------------------------------------


@pytest.mark.parametrize("price", [1e308, 1.7e308, 1e300, MAX_PRICE + 0.05])
@pytest.mark.parametrize(
    ("field", "terms"),
    [
        ("price", {"order_type": "LIMIT"}),
        ("trigger_price", {"order_type": "SL-M"}),
    ],
)
def test_a_price_above_the_bound_is_a_field_error(field: str, terms: dict[str, Any], price: float) -> None:
    errors = _errors(_intent(**terms, **{field: price}))
    assert errors[field][0] == price
    assert "must not exceed" in errors[field][1]


def test_a_price_at_the_bound_passes() -> None:
    assert _valid(_intent(order_type="LIMIT", price=MAX_PRICE)).price == MAX_PRICE


def test_on_tick_grid_does_not_raise_when_price_over_tick_overflows() -> None:
    assert on_tick_grid(1e308, 1e-10) is False


def test_a_modification_to_an_overflowing_price_is_a_field_error() -> None:
    order = _intent(order_type="LIMIT", price=1500.0)
    errors = validate_modify(
        order, 0, qty=None, price=1e308, trigger_price=None, order_type=None, tick_size=0.05
    )
    assert [(e.field, e.value) for e in errors] == [("price", 1e308)]


def test_a_price_too_large_for_a_float_is_a_field_error() -> None:
    errors = _errors(_intent(order_type="LIMIT", price=10**400))
    assert errors["price"] == (10**400, f"must not exceed {MAX_PRICE:,.0f} rupees")


# -- absurd quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize("qty", [MAX_QTY + 1, 10**30, 18_446_744_073_709_551_615])
def test_a_qty_above_the_bound_is_a_field_error(qty: int) -> None:
    errors = _errors(_intent(qty=qty))
    assert errors["qty"] == (qty, f"must not exceed {MAX_QTY:,}")


def test_a_qty_at_the_bound_passes() -> None:
    assert _valid(_intent(qty=MAX_QTY)).qty == MAX_QTY


def test_a_modification_to_an_absurd_qty_is_a_field_error() -> None:
    order = _intent(order_type="LIMIT", price=1500.0)
    errors = validate_modify(
        order, 0, qty=10**30, price=None, trigger_price=None, order_type=None, tick_size=0.05
    )
    assert [(e.field, e.value) for e in errors] == [("qty", 10**30)]


# -- metadata that cannot be encoded -------------------------------------------------------------------


def _self_referencing() -> dict[str, Any]:
    rec: dict[str, Any] = {}
    rec["self"] = rec
    return rec


def _deeply_nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    root = node
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


@pytest.mark.parametrize("metadata", [_self_referencing(), _deeply_nested(100_000)])
def test_metadata_that_cannot_be_encoded_is_a_field_error(metadata: dict[str, Any]) -> None:
    errors = _errors(_intent(metadata=metadata))
    value, reason = errors["metadata"]
    assert isinstance(value, str) and len(value) <= 80
    assert "not JSON-serialisable" in reason


def _nested_lists(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return {"a": value}


def test_metadata_nested_past_the_bound_is_a_field_error() -> None:
    """msgspec's depth depends on the stack it runs on: metadata nested ~980 deep encoded in the
    engine and was journaled, and the next start failed to decode it (RecursionError), the whole
    day's journal with it. A fixed bound refuses it whatever the stack."""
    shallow = _intent(metadata=_nested_lists(MAX_METADATA_DEPTH - 1))
    valid = validate_intent(
        shallow, now_ns=NOW, default_exchange="NSE", default_tick_size=0.05,
        lookup=_no_instruments, make_id=lambda i, ts: "id-1",
    )  # fmt: skip
    assert valid.metadata == shallow.metadata
    for depth in (MAX_METADATA_DEPTH, 100):
        value, reason = _errors(_intent(metadata=_nested_lists(depth)))["metadata"]
        assert (value, reason) == ("<...>", f"nested deeper than {MAX_METADATA_DEPTH} levels")
    assert "metadata" in _errors(_intent(metadata=_nested_lists(980)))  # (here the encoder may stop first)
