"""Iceberg orders are validated at intake (``validate_intent``), as Kite takes them.

Kite takes ``iceberg_legs`` from 2 to 50 and ``iceberg_quantity`` = quantity / legs (FACTS.md 5.2).
The live mapping refused a bad value, but paper took it: paper took what live refused. Now the
boundary refuses it in every mode, naming the field and value, under the names the mapping reads
(``metadata.iceberg_legs``, ``metadata.iceberg_quantity``). Each leg reaches the exchange as an
order of its own, so an F&O leg must be a whole number of lots, as any F&O order must.
"""

from __future__ import annotations

from typing import Any

import pytest

from execsvc.errors import IntentValidationError
from execsvc.events import OrderIntent
from execsvc.executors.kite.mapping import order_params
from execsvc.market.iceberg import modified_iceberg_errors
from execsvc.market.instruments import Instrument
from execsvc.validation import InstrumentLookup, validate_intent

NOW = 1_777_000_000_123_456_789
NIFTY_FUT = Instrument(
    instrument_token=13_238_786,
    exchange="NFO",
    tradingsymbol="NIFTY26MAYFUT",
    tick_size=0.05,
    lot_size=65,
    instrument_type="FUT",
)
LOOKUP: InstrumentLookup = {NIFTY_FUT.key: NIFTY_FUT}.get


def iceberg(qty: int = 100, symbol: str = "NSE:INFY", **metadata: Any) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code="S1", side="BUY", qty=qty, order_type="LIMIT", price=1500.0,
        variety="iceberg", metadata=metadata,
    )  # fmt: skip


def validate(intent: OrderIntent) -> OrderIntent:
    return validate_intent(
        intent,
        now_ns=NOW,
        default_exchange="NSE",
        default_tick_size=0.05,
        lookup=LOOKUP,
        make_id=lambda _intent, ts: f"gen-{ts}",
    )


def errors_of(intent: OrderIntent) -> list[tuple[str, Any, str]]:
    with pytest.raises(IntentValidationError) as info:
        validate(intent)
    return [(e.field, e.value, e.reason) for e in info.value.errors]


@pytest.mark.parametrize(
    ("intent", "field", "value", "reason"),
    [
        (iceberg(), "metadata.iceberg_legs", None, "iceberg orders need 2..50 legs"),
        (iceberg(iceberg_legs=1), "metadata.iceberg_legs", 1, "iceberg orders need 2..50 legs"),
        (iceberg(iceberg_legs=0), "metadata.iceberg_legs", 0, "iceberg orders need 2..50 legs"),
        (iceberg(iceberg_legs=-3), "metadata.iceberg_legs", -3, "iceberg orders need 2..50 legs"),
        (iceberg(iceberg_legs=51), "metadata.iceberg_legs", 51, "iceberg orders need 2..50 legs"),
        (iceberg(iceberg_legs="5"), "metadata.iceberg_legs", "5", "must be an integer"),
        (iceberg(iceberg_legs=5.0), "metadata.iceberg_legs", 5.0, "must be an integer"),
        (iceberg(iceberg_legs=True), "metadata.iceberg_legs", True, "must be an integer"),
        (
            iceberg(iceberg_legs=2, iceberg_quantity="50"),
            "metadata.iceberg_quantity",
            "50",
            "must be an integer",
        ),
        (
            iceberg(iceberg_legs=2, iceberg_quantity=40),
            "metadata.iceberg_quantity",
            40,
            "must be at most qty (100) and cover it in 2 legs",
        ),
        (
            iceberg(iceberg_legs=2, iceberg_quantity=101),
            "metadata.iceberg_quantity",
            101,
            "must be at most qty (100) and cover it in 2 legs",
        ),
        (
            iceberg(iceberg_legs=2, iceberg_quantity=0),
            "metadata.iceberg_quantity",
            0,
            "must be at most qty (100) and cover it in 2 legs",
        ),
        (
            iceberg(iceberg_legs=2, iceberg_quantity=100),
            "metadata.iceberg_quantity",
            100,
            "2 legs of 100 leave 1 empty: in 2 legs, qty 100 takes legs of 50 to 99 "
            "(Kite's leg is qty / legs)",
        ),
        (
            iceberg(iceberg_legs=10, iceberg_quantity=20),
            "metadata.iceberg_quantity",
            20,
            "10 legs of 20 leave 5 empty: in 10 legs, qty 100 takes legs of 10 to 11 "
            "(Kite's leg is qty / legs)",
        ),
        (
            iceberg(10, iceberg_legs=9),
            "metadata.iceberg_legs",
            9,
            "qty 10 in 9 legs makes legs of 2, which fill it in 5: 4 legs would be empty "
            "(Kite's leg is qty / legs)",
        ),
    ],
    ids=[
        "missing",
        "one",
        "zero",
        "negative",
        "fifty-one",
        "string",
        "float",
        "bool",
        "leg-string",
        "legs-short",
        "leg-above-qty",
        "leg-zero",
        "leg-of-all",
        "legs-left-empty",
        "rounded-legs-left-empty",
    ],
)
def test_bad_iceberg_terms_are_refused_naming_field_and_value(
    intent: OrderIntent, field: str, value: Any, reason: str
) -> None:
    assert errors_of(intent) == [(field, value, reason)]


@pytest.mark.parametrize(
    ("metadata", "field", "value", "reason"),
    [
        (
            {"iceberg_legs": 2, "iceberg_quantity": 200},
            "metadata.iceberg_quantity",
            200,
            "must be a multiple of the lot size 65 (each leg is an exchange order of its own)",
        ),
        (
            {"iceberg_legs": 2},
            "metadata.iceberg_legs",
            2,
            "qty 325 in 2 legs makes legs of 163, not a multiple of the lot size 65: "
            "give metadata.iceberg_quantity in whole lots",
        ),
    ],
    ids=["given-leg", "rounded-leg"],
)
def test_an_fo_iceberg_leg_must_be_whole_lots(
    metadata: dict[str, Any], field: str, value: int, reason: str
) -> None:
    intent = iceberg(325, NIFTY_FUT.key, **metadata)  # 5 lots of 65
    assert errors_of(intent) == [(field, value, reason)]


@pytest.mark.parametrize(
    ("qty", "symbol", "metadata"),
    [
        (100, "NSE:INFY", {"iceberg_legs": 2}),
        (100, "NSE:INFY", {"iceberg_legs": 50}),
        (10, "NSE:INFY", {"iceberg_legs": 3}),  # legs of 4, rounded up as the mapping sends them
        (100, "NSE:INFY", {"iceberg_legs": 2, "iceberg_quantity": 60}),
        (325, NIFTY_FUT.key, {"iceberg_legs": 2, "iceberg_quantity": 195}),  # 3 lots, then 2
        (3510, NIFTY_FUT.key, {"iceberg_legs": 2}),  # legs of 27 lots
    ],
)
def test_good_iceberg_terms_pass_and_map_as_validated(
    qty: int, symbol: str, metadata: dict[str, Any]
) -> None:
    validated = validate(iceberg(qty, symbol, **metadata))
    _, fields = order_params(validated, "t1", market_protection=-1.0)
    assert fields["iceberg_legs"] == str(metadata["iceberg_legs"])


def test_a_regular_order_ignores_iceberg_metadata() -> None:
    intent = OrderIntent(
        symbol="NSE:INFY", strategy_code="S1", side="BUY", qty=100, metadata={"iceberg_legs": 1}
    )
    assert validate(intent).metadata == {"iceberg_legs": 1}


@pytest.mark.parametrize(
    ("qty", "legs", "lot_size", "reason"),
    [
        (3640, 2, 65, None),  # the freeze quantity per leg is the caller's (it knows the instrument)
        (3575, 2, 65, "as an iceberg of 2 legs: legs of 1788, not a multiple of the lot size 65"),
        (
            60,
            50,
            1,
            "as an iceberg of 50 legs: legs of 2, which fill it in 30: 20 legs would be empty "
            "(Kite's leg is qty / legs)",
        ),
        (3380, 2, 65, None),
        (100, 50, 1, None),
    ],
)
def test_a_modified_iceberg_total_is_checked_against_its_legs(
    qty: int, legs: int, lot_size: int, reason: str | None
) -> None:
    """Kite's modification names no legs: they stay, each the new total over them rounded up."""
    errors = modified_iceberg_errors(qty, legs, lot_size)
    assert [(e.field, e.value, e.reason) for e in errors] == (
        [] if reason is None else [("qty", qty, reason)]
    )
