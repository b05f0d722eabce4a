"""The same-day CNC match and its charges as pure functions (``execsvc.cnc_day``)."""

from __future__ import annotations

import datetime as dt

import pytest

from execsvc.cnc_day import ScripDay, book, charge_fill, matches, same_day_charges
from execsvc.costs import CostModel, RateTable
from execsvc.events import Charges, Fill, OrderAccepted

DAY = dt.date(2026, 11, 20)
TABLE = RateTable.load("configs/charges.yaml")
DELIVERY = TABLE.rates_for("equity", "CNC", DAY, "NSE")
INTRADAY = TABLE.rates_for("equity", "MIS", DAY, "NSE")


def fill(order_id: str, side: str, qty: int, price: float, symbol: str = "NSE:INFY") -> Fill:
    return Fill(
        fill_id=f"{order_id}-x", order_id=order_id, intent_id=order_id, strategy_code="s1", symbol=symbol,
        side=side, qty=qty, price=price, product="CNC", ts_event=1,
    )  # fmt: skip


def folded(*fills: Fill) -> dict[str, ScripDay]:
    days: dict[str, ScripDay] = {}
    for f in fills:
        book(days, f)
    return days


def test_a_fill_matches_the_oldest_units_of_the_other_side_first() -> None:
    day = folded(fill("b1", "BUY", 30, 100.0), fill("b2", "BUY", 50, 101.0))["NSE:INFY"]

    assert matches(day, "SELL", 60) == ([("b1", 30, 100.0), ("b2", 30, 101.0)], 60)
    assert matches(day, "SELL", 100) == ([("b1", 30, 100.0), ("b2", 50, 101.0)], 80)
    assert matches(day, "BUY", 10) == ([], 0)  # the same side matches nothing
    assert matches(None, "SELL", 10) == ([], 0)


def test_the_fold_keeps_each_orders_intraday_part_and_the_unmatched_rest() -> None:
    days = folded(
        fill("b1", "BUY", 100, 1000.0), fill("s1", "SELL", 60, 1010.0), fill("s2", "SELL", 70, 1020.0)
    )
    day = days["NSE:INFY"]

    # b1: 100 bought, 60 then 40 matched; s2: 40 matched, 30 left unmatched (a sale of holdings)
    splits = {oid: (s.value, s.intraday, s.delivery) for oid, s in day.orders.items()}
    assert splits == {
        "b1": (100_000.0, 100_000.0, 0.0),
        "s1": (60_600.0, 60_600.0, 0.0),
        "s2": (71_400.0, 40_800.0, 30_600.0),
    }
    assert (day.side, [(lot.order_id, lot.qty) for lot in day.lots]) == ("SELL", [("s2", 30)])


def test_facts_worked_example_as_a_same_day_cnc_round_trip() -> None:
    """BUY 100 at 1,000 (delivery when it fills: 118.6226), SELL 100 at 1,010: the sale carries its
    intraday charges (52.2588) and moves the buy to intraday (30.2226 - 118.6226): -36.1412; the
    round trip 82.4814, FACTS.md 7's intraday figure."""
    days = folded(fill("b1", "BUY", 100, 1000.0))

    sale = same_day_charges(DELIVERY, INTRADAY, days["NSE:INFY"], "s1", "SELL", 1010.0, 100)

    assert sale == Charges(
        brokerage=40.0, stt=-75.0, exchange=2.9997, sebi=0.101, stamp=-12.0, gst=7.7581, total=-36.1412
    )


@pytest.mark.parametrize(
    ("before", "side", "why"),
    [
        ((), "BUY", "no CNC fill of the scrip today"),
        ((("b1", "BUY", 10, 1000.0),), "BUY", "the same side: nothing to match"),
    ],
)
def test_a_fill_that_matches_nothing_is_charged_as_any_delivery_fill(
    before: tuple[tuple[str, str, int, float], ...], side: str, why: str
) -> None:
    days = folded(*(fill(*f) for f in before))
    assert same_day_charges(DELIVERY, INTRADAY, days.get("NSE:INFY"), "b2", side, 1000.0, 10) is None, why


def test_a_later_fill_of_an_order_with_an_intraday_part_is_charged_on_its_delivery_part() -> None:
    """SELL 30 at 1,000.50 matched a BUY 30; the sale's next fill, 20 at 1,024.50 (20,490), matches
    nothing: delivery STT per order on the order's delivery part alone, round(20.49) = 20, not
    round(0.1 % x 50,505) - round(0.1 % x 30,015) = 51 - 30 = 21 of an order all at delivery."""
    days = folded(fill("b1", "BUY", 30, 1000.5), fill("s1", "SELL", 30, 1000.5))

    rest = same_day_charges(DELIVERY, INTRADAY, days["NSE:INFY"], "s1", "SELL", 1024.5, 20)

    # NSE 0.00297 % = 0.608553; SEBI 0.02049; GST 18 % x 0.629043 = 0.11322774; total 20.7423
    assert rest == Charges(stt=20.0, exchange=0.6086, sebi=0.0205, gst=0.1132, total=20.7423)


def test_charges_disabled_charge_a_same_day_round_trip_nothing() -> None:
    days = folded(fill("b1", "BUY", 100, 1000.0))
    order = OrderAccepted(
        order_id="s1", intent_id="s1", strategy_code="s1", symbol="NSE:INFY", side="SELL", qty=100,
        order_type="MARKET", product="CNC", validity="DAY", ts_event=1,
    )  # fmt: skip

    charged = charge_fill(
        CostModel.zero(), days, order, price=1010.0, qty=100, instrument_type="EQ", trade_day=DAY,
        order_value_before=0.0,
    )  # fmt: skip

    assert charged == Charges()
