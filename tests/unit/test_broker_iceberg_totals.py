"""An iceberg's total and its fills in all, read from Kite's view of its current leg (FACTS.md 2.1, 5.2).

Kite's sample (``tests/kite_mocks/orders.json``, order 220524001859672) shows an iceberg of 1000 in
5 legs of 200 as ``"quantity": 200``, the total in ``meta.iceberg``. The live path reads every
broker order through ``whole_iceberg``: its quantity is the total, its fills those of all its
legs, and a leg's COMPLETE with legs to come is no end of the order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from execsvc.executors.kite.models import parse_order
from execsvc.market.iceberg import (
    BrokerIceberg,
    broker_iceberg,
    iceberg_filled_total,
    iceberg_legs_to_come,
)

MOCKS = Path(__file__).resolve().parents[1] / "kite_mocks"
SAMPLE_META = {"leg": 1, "legs": 5, "leg_quantity": 200, "total_quantity": 1000, "remaining_quantity": 800}


def sample_iceberg() -> dict[str, Any]:
    orders = json.loads((MOCKS / "orders.json").read_text())["data"]
    [iceberg] = [order for order in orders if order["variety"] == "iceberg"]
    return dict(iceberg)


def leg(number: int, *, filled: int, status: str, remaining: int | None = None) -> dict[str, Any]:
    """The sample's iceberg (1000 in 5 legs of 200) showing leg ``number`` with ``filled`` of it."""
    row = sample_iceberg()
    left = 1000 - 200 * number if remaining is None else remaining
    meta = {"leg": number, "legs": 5, "leg_quantity": 200, "total_quantity": 1000, "remaining_quantity": left}
    row.update(status=status, filled_quantity=filled, pending_quantity=200 - filled, meta={"iceberg": meta})
    return row


def test_the_sample_iceberg_is_read_as_its_total() -> None:
    row = sample_iceberg()
    order = parse_order(row)

    assert broker_iceberg(row["meta"]) == BrokerIceberg(1, 5, 200, 1000, 800)
    assert row["quantity"] == 200
    assert (order.quantity, order.filled_quantity, order.status) == (1000, 0, "REJECTED")


@pytest.mark.parametrize(
    ("number", "filled", "status", "whole"),
    [
        (1, 200, "COMPLETE", ("OPEN", 200, 800)),  # a leg's COMPLETE: four legs to come
        (2, 0, "OPEN", ("OPEN", 200, 800)),
        (3, 120, "UPDATE", ("UPDATE", 520, 480)),
        (5, 200, "COMPLETE", ("COMPLETE", 1000, 0)),  # the last leg's: the order's
        (4, 50, "CANCELLED", ("CANCELLED", 650, 150)),
    ],
)
def test_a_legs_view_is_read_as_the_whole_orders(
    number: int, filled: int, status: str, whole: tuple[str, int, int]
) -> None:
    order = parse_order(leg(number, filled=filled, status=status))

    assert order.quantity == 1000
    assert (order.status, order.filled_quantity, order.pending_quantity) == whole


def test_the_last_leg_with_a_remainder_still_shown_is_not_the_orders_end() -> None:
    """Either figure saying legs are to come keeps the order working (a cancel then is refused
    harmlessly; an order read as ended while it works would not be cancelled)."""
    order = parse_order(leg(5, filled=200, status="COMPLETE", remaining=200))

    assert order.status == "OPEN"


@pytest.mark.parametrize(
    "meta",
    [
        {},
        "iceberg",
        {"iceberg": {"leg": 1, "legs": 5, "leg_quantity": 200, "total_quantity": 1000}},
        {"iceberg": {**SAMPLE_META, "leg": 6}},
        {"iceberg": {**SAMPLE_META, "total_quantity": 0}},
        {"iceberg": {**SAMPLE_META, "remaining_quantity": 1200}},
        {"iceberg": {**SAMPLE_META, "leg_quantity": "200"}},
    ],
)
def test_an_iceberg_whose_meta_names_no_total_has_no_quantity(meta: Any) -> None:
    """Its ``quantity`` is a leg's: taken as the order's, reconciliation would cut ours to it."""
    row = {**sample_iceberg(), "meta": meta}

    assert broker_iceberg(meta) is None
    assert parse_order(row).quantity == 0


@pytest.mark.parametrize(
    ("iceberg", "quantity", "filled", "expected"),
    [
        (BrokerIceberg(1, 5, 200, 1000, 800), 200, 0, 0),  # the sample: leg 1, nothing filled
        (BrokerIceberg(1, 5, 200, 1000, 800), 200, 200, 200),
        (BrokerIceberg(3, 5, 200, 1000, 400), 200, 120, 520),
        (BrokerIceberg(3, 5, 200, 1000, 400), 0, 120, 520),  # no quantity: the leg's is leg_quantity
        (BrokerIceberg(3, 3, 334, 1000, 0), 332, 332, 1000),  # a smaller last leg
        (BrokerIceberg(5, 5, 200, 1000, 0), 200, 900, 1000),  # never beyond the total
    ],
)
def test_the_filled_total_is_the_earlier_legs_and_this_legs_fills(
    iceberg: BrokerIceberg, quantity: int, filled: int, expected: int
) -> None:
    assert iceberg_filled_total(iceberg, quantity, filled) == expected


def test_legs_are_to_come_until_the_last_with_nothing_remaining() -> None:
    assert iceberg_legs_to_come(BrokerIceberg(1, 5, 200, 1000, 800))
    assert iceberg_legs_to_come(BrokerIceberg(4, 5, 200, 1000, 200))
    assert not iceberg_legs_to_come(BrokerIceberg(5, 5, 200, 1000, 0))


def test_other_orders_are_read_as_they_are() -> None:
    row = {**sample_iceberg(), "variety": "regular", "meta": {}}

    assert parse_order(row).quantity == 200
