"""The legs of a broker's iceberg order, read from its order JSON's ``meta.iceberg`` (FACTS.md 5.2).

Reconciliation adopts a broker order with our tag that the journal lacks; an iceberg's legs are in
no journaled intent then, only in the broker's ``meta``. What Kite would not take (no ``iceberg``
object, a string ``meta``, a count that is no whole number from 2 to 50) names no legs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from execsvc.market.iceberg import broker_iceberg_legs

MOCKS = Path(__file__).resolve().parents[1] / "kite_mocks"


def test_the_legs_are_read_from_the_documented_order_json() -> None:
    orders = json.loads((MOCKS / "orders.json").read_text())["data"]
    [iceberg] = [order for order in orders if order["variety"] == "iceberg"]

    assert broker_iceberg_legs(iceberg["meta"]) == 5


@pytest.mark.parametrize(
    "meta",
    [
        {},
        None,
        "",
        "iceberg",
        {"iceberg": "5"},
        {"iceberg": {}},
        {"iceberg": {"legs": "5"}},
        {"iceberg": {"legs": 5.0}},
        {"iceberg": {"legs": True}},
        {"iceberg": {"legs": 1}},
        {"iceberg": {"legs": 51}},
    ],
)
def test_a_meta_naming_no_legs_kite_takes_names_none(meta: Any) -> None:
    assert broker_iceberg_legs(meta) is None


@pytest.mark.parametrize("legs", [2, 50])
def test_the_bounds_kite_takes_are_legs(legs: int) -> None:
    assert broker_iceberg_legs({"iceberg": {"legs": legs, "leg": 1}}) == legs
