"""Holding execsvc's money figures to the independent model (``tests/pnl_model.py``).

The rounding rule expected of ours: STT/CTT in whole rupees per order; every other component to
₹0.0001 per fill (so an order's figure is within ₹0.00035 a fill of the exact one); nothing else is
rounded until it is shown, where positions, days and strategies are summed unrounded and shown to
the paisa (half a paisa rounds either way in binary, so a shown figure may be a paisa off the
model's).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from execsvc.journal.inspect import fold_file, state_summary
from tests import pnl_model as model


def close(ours: float, exact: Fraction, tolerance: float, what: str) -> None:
    assert abs(Fraction(ours) - exact) <= Fraction(tolerance), (
        f"{what}: ours {ours!r}, model {float(exact)!r}"
    )


def shown(ours: float, exact: Fraction, what: str) -> None:
    """A figure shown to the paisa: within one paisa of the model's (see the module's rounding rule)."""
    assert abs(Fraction(repr(ours)) - model.paise(exact)) <= Fraction(1, 100), (
        f"{what}: shows {ours!r}, model {float(model.paise(exact))!r}"
    )


def per_fill(n: int) -> float:
    return 0.00035 * n + 1e-6


def check_day(day: model.Day, folded: dict[str, Any]) -> None:
    """One day's orders, results and positions against the model; and ``execsvc state``'s summary."""
    assert day.expired == []  # the simulated broker closed every MIS position before the line
    for order in day.orders.values():
        if not order.fills:
            continue
        exact = day.model_charges[order.order_id]
        n = len(order.fills)
        # a square-off leg's share of the broker's order: each part split in whole ₹0.0001 units
        # (and a settlement's share of the account's net settlement, split the same way)
        # (and a delivery's share of its stock's one DP charge)
        split = 0.0001 if order.broker_square_off or order.settlement or order.delivery else 0.0
        for name in (*model.PARTS, "total"):
            ours = float(order.journaled.get(name, 0))
            slack = per_fill(n) + 7 * split if name == "total" else 0.00005 * n + split + 1e-6
            close(
                ours,
                exact[name],
                slack,
                f"{order.order_id} {order.symbol} {order.product} {order.side} {name}",
            )
        assert exact["stt"].denominator == 1 or order.broker_square_off or order.settlement or order.delivery
        if order.settlement and (price := model.settlement_price(day, order)) is not None:
            assert [p for _, p in order.fills] == [price], f"{order.symbol} settles at {price}"
        result = day.results[order.intent_id]
        assert result["filled_qty"] == order.filled
        avg = sum((p * qty for qty, p in order.fills), Fraction(0)) / order.filled
        close(result["avg_price"], avg, 1e-6, f"{order.intent_id} avg_price")
        close(
            result.get("charges", 0.0), exact["total"], per_fill(n) + 7 * split, f"{order.intent_id} charges"
        )
    check_deliveries(day)
    for symbol, whole in day.square_offs.items():  # the broker's one order per symbol
        legs = [o for o in day.orders.values() if o.broker_square_off and o.symbol == symbol]
        paid = sum((o.journaled.get("total", Fraction(0)) for o in legs), Fraction(0))
        close(float(paid), whole["total"], per_fill(1) + 0.0001 * len(legs), f"square-off of {symbol}")
    summary = {(p["strategy"], p["symbol"], p["product"]): p for p in folded["positions"]}
    assert set(summary) == set(day.books)
    for key, b in day.books.items():
        p = summary[key]
        assert p["net_qty"] == b.qty, key
        close(p["avg_price"], b.avg, 0.0001, f"{key} avg")  # shown to 4 decimals
        shown(p["realized_gross"], b.realized, f"{key} realized_gross")
        shown(p["charges"], b.charges, f"{key} charges")
        shown(p["realized_net"], b.realized - b.charges, f"{key} realized_net")
    gross = sum((b.realized for b in day.books.values()), Fraction(0))
    charges = sum((b.charges for b in day.books.values()), Fraction(0))
    shown(folded["breakers"]["realized_net"], gross - charges, f"{day.day} realized_net")
    assert folded["fills"] == day.fills


def check_deliveries(day: model.Day) -> None:
    """The shares each stock's physical settlement moved, against the model's own reading of the
    day's settlements and holdings; a short delivery is said in a settlement's result."""
    expected = model.expected_deliveries(day)
    moved = {o.symbol for o in day.orders.values() if o.delivery and o.fills}
    assert moved <= set(expected), f"deliveries the model expects none of: {moved - set(expected)}"
    for stock, e in expected.items():
        mine = [o for o in day.orders.values() if o.delivery and o.symbol == stock]
        received = sum(o.filled for o in mine if o.side == "BUY")
        given = sum(o.filled for o in mine if o.side == "SELL")
        assert (received, given) == (e.received, e.given), f"{stock}: ours {(received, given)}, model {e}"
        assert {p for o in mine for _, p in o.fills} <= e.prices, f"{stock} delivered at {e.prices}"
        said = any("short delivery of" in r.get("message", "") and stock in r.get("message", "")
                   for r in day.results.values())  # fmt: skip
        assert said == (e.short > 0), f"{stock}: short delivery of {e.short}"


def check_carry(before: model.Day, after: model.Day) -> None:
    """The positions a day carried in are the model's overnight positions of the day before."""
    carried = {(p["strategy_code"], p["symbol"], p.get("product", "MIS")): p for p in after.carried_in}
    expected = {k: b for k, b in before.books.items() if b.qty and k[2] != "MIS"}
    assert set(carried) == set(expected)
    for key, b in expected.items():
        assert carried[key]["net_qty"] == b.qty
        close(carried[key]["avg_price"], b.avg, 1e-6, f"{key} carried avg")
        assert carried[key].get("multiplier", 1.0) == b.multiplier
    assert not [b for k, b in before.books.items() if b.qty and k[2] == "MIS"]


def check_days(files: list[Path], instruments: Path | None = None) -> list[model.Day]:
    """Fold ``files`` (consecutive journal days) with the model and hold each day to it: its orders,
    results and positions, ``execsvc state``'s summary of it and the positions it carried in.
    ``instruments``: the dump the service ran with, which the model reads where a symbol is not
    enough (a stock whose name ends in digits; a monthly contract's expiry day)."""
    days = model.fold_days(files, instruments)
    for n, (day, path) in enumerate(zip(days, files, strict=True)):
        check_day(day, state_summary(fold_file(path)))
        if n:
            check_carry(days[n - 1], day)
    return days


def check_report(report: dict[str, Any], days: list[model.Day]) -> None:
    """The replay report's totals and per-strategy gross, charges and net over ``days``."""
    totals: dict[str, list[Fraction]] = {code: [Fraction(0), Fraction(0)] for code in report["by_strategy"]}
    for day in days:
        for strategy, (g, c) in day.strategy_totals().items():
            t = totals[strategy]  # a strategy with a position placed an order
            t[0] += g
            t[1] += c
    for strategy, (g, c) in totals.items():
        figures = report["by_strategy"][strategy]
        shown(figures["realized_pnl_gross"], g, f"{strategy} gross")
        shown(figures["charges"], c, f"{strategy} charges")
        shown(figures["net_pnl"], g - c, f"{strategy} net")
    all_gross = sum((t[0] for t in totals.values()), Fraction(0))
    all_charges = sum((t[1] for t in totals.values()), Fraction(0))
    shown(report["realized_pnl_gross"], all_gross, "report gross")
    shown(report["charges"], all_charges, "report charges")
    shown(report["net_pnl"], all_gross - all_charges, "report net")
