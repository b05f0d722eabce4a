"""plan_fills: which broker trades of an order are booked (each once, never beyond the quantity)."""

from __future__ import annotations

import logging

from execsvc.executors.kite.models import KiteTrade
from execsvc.executors.kite.trades import plan_fills


def trade(trade_id: str, qty: int, price: float = 1500.0, order_id: str = "B1") -> KiteTrade:
    return KiteTrade(trade_id=trade_id, order_id=order_id, quantity=qty, average_price=price)


def test_each_trade_once_and_only_this_orders() -> None:
    plan = plan_fills("B1", [trade("T1", 2), trade("T2", 3), trade("X", 9, order_id="B2")], set(), 0, 5)
    assert plan.book == [("T1", 2, 1500.0), ("T2", 3, 1500.0)] and plan.problems == []


def test_already_booked_trades_are_skipped() -> None:
    plan = plan_fills("B1", [trade("T1", 2), trade("T2", 3)], {"T1"}, 2, 5)
    assert plan.book == [("T2", 3, 1500.0)]


def test_nothing_is_booked_beyond_the_quantity() -> None:
    plan = plan_fills("B1", [trade("T1", 5), trade("T2", 5)], set(), 0, 5)
    assert plan.book == [("T1", 5, 1500.0)]
    assert [level for level, _ in plan.problems] == [logging.ERROR]
    assert "T2" in plan.problems[0][1]


def test_a_trade_partly_beyond_is_booked_up_to_the_quantity() -> None:
    plan = plan_fills("B1", [trade("T1", 3), trade("T2", 4)], set(), 0, 5)
    assert plan.book == [("T1", 3, 1500.0), ("T2", 2, 1500.0)]
    assert len(plan.problems) == 1 and plan.problems[0][0] == logging.ERROR


def test_a_repeated_trade_id_keeps_its_first_row_and_is_reported_when_it_differs() -> None:
    plan = plan_fills("B1", [trade("T1", 2), trade("T1", 5), trade("T1", 2)], set(), 0, 5)
    assert plan.book == [("T1", 2, 1500.0)]
    assert [level for level, _ in plan.problems] == [logging.WARNING]
    assert "quantity=2" in plan.problems[0][1] and "quantity=5" in plan.problems[0][1]


def test_a_trade_that_is_not_a_trade_is_reported_and_the_rest_booked() -> None:
    plan = plan_fills("B1", [trade("T1", 2, float("nan")), trade("T2", 0), trade("T3", 3)], set(), 0, 5)
    assert plan.book == [("T3", 3, 1500.0)]
    assert [level for level, _ in plan.problems] == [logging.ERROR, logging.ERROR]
