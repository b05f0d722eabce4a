"""The simulator's day boundary for delivery stock: CNC positions move into holdings (sim/holdings.py)."""

from __future__ import annotations

import pytest

from execsvc.market.ticks import Tick
from execsvc.sim.holdings import HoldingBook, holdings_reject
from execsvc.sim.orders import OrderRequest
from execsvc.sim.positions import PositionBook


def fill(book: PositionBook, side: str, qty: int, price: float, product: str = "CNC", exchange: str = "NSE"):
    return book.apply(exchange, "INFY", 408065, product, side, qty, price)


def row(holdings: HoldingBook, positions: PositionBook | None = None) -> dict:
    rows = holdings.to_list(positions or PositionBook(), {})
    assert len(rows) == 1, rows
    return rows[0]


def quantities(h: dict) -> tuple[int, int, int, int]:
    return h["quantity"], h["t1_quantity"], h["used_quantity"], h["opening_quantity"]


def test_a_cnc_buy_is_t1_for_one_trading_day_then_delivered() -> None:
    positions, holdings = PositionBook(), HoldingBook()
    fill(positions, "BUY", 5, 1500.0)
    fill(positions, "BUY", 5, 1510.0, product="MIS")
    holdings.end_day(positions, trading_day=True)  # Monday's buy, into Tuesday
    assert [r.product for r in positions.rows.values()] == ["MIS"]  # only CNC moves
    assert quantities(row(holdings)) == (0, 5, 0, 5)
    holdings.end_day(positions, trading_day=True)  # into Wednesday: delivered
    assert quantities(row(holdings)) == (5, 0, 0, 5)


def test_a_friday_buy_is_t1_on_monday_and_delivered_on_tuesday() -> None:
    positions, holdings = PositionBook(), HoldingBook()
    fill(positions, "BUY", 5, 1500.0)
    for trading in (False, False, True):  # Saturday, Sunday, Monday
        holdings.end_day(positions, trading_day=trading)
        assert quantities(row(holdings)) == (0, 5, 0, 5)
    holdings.end_day(positions, trading_day=True)  # Tuesday
    assert quantities(row(holdings)) == (5, 0, 0, 5)


def test_a_sale_of_held_stock_shows_as_used_until_the_boundary_then_leaves() -> None:
    positions, holdings = PositionBook(), HoldingBook()
    fill(positions, "BUY", 5, 1500.0)
    holdings.end_day(positions, trading_day=True)
    holdings.end_day(positions, trading_day=True)
    fill(positions, "SELL", 2, 1520.0)  # today: a negative CNC position, the holding unchanged
    assert quantities(row(holdings, positions)) == (5, 0, 2, 5)
    holdings.end_day(positions, trading_day=True)
    assert quantities(row(holdings)) == (3, 0, 0, 3)
    fill(positions, "SELL", 3, 1530.0)
    holdings.end_day(positions, trading_day=True)
    assert holdings.to_list(positions, {}) == []  # sold off


def test_buys_average_in_and_a_sale_is_booked_after_the_days_delivery() -> None:
    positions, holdings = PositionBook(), HoldingBook()
    fill(positions, "BUY", 4, 100.0)
    holdings.end_day(positions, trading_day=True)
    holdings.end_day(positions, trading_day=True)  # 4 delivered at 100
    fill(positions, "BUY", 4, 200.0)
    holdings.end_day(positions, trading_day=True)  # 4 more as T1: average 150
    assert quantities(row(holdings)) == (4, 4, 0, 8)
    assert row(holdings)["average_price"] == 150.0
    fill(positions, "SELL", 6, 210.0)
    holdings.end_day(positions, trading_day=True)  # the T1 4 delivered, then 6 sold
    assert quantities(row(holdings)) == (2, 0, 0, 2)


def test_a_friday_sale_takes_delivered_stock_first_then_t1() -> None:
    positions, holdings = PositionBook(), HoldingBook()
    fill(positions, "BUY", 2, 100.0)
    holdings.end_day(positions, trading_day=True)
    holdings.end_day(positions, trading_day=True)  # 2 delivered
    fill(positions, "BUY", 4, 100.0)
    holdings.end_day(positions, trading_day=True)  # Thursday's 4 are T1 on Friday
    fill(positions, "SELL", 5, 110.0)  # Friday
    holdings.end_day(positions, trading_day=False)  # Saturday: nothing is delivered
    assert quantities(row(holdings)) == (0, 1, 0, 1)
    holdings.end_day(positions, trading_day=False)
    holdings.end_day(positions, trading_day=True)  # Monday: the T1 left is delivered
    assert quantities(row(holdings)) == (1, 0, 0, 1)


@pytest.mark.parametrize("exchange", ["NSE", "BSE"])
def test_one_holding_per_security_whichever_exchange_traded_it(exchange: str) -> None:
    positions, holdings = PositionBook(), HoldingBook()
    fill(positions, "BUY", 5, 1500.0)
    holdings.end_day(positions, trading_day=True)
    fill(positions, "SELL", 5, 1510.0, exchange=exchange)
    assert row(holdings, positions)["used_quantity"] == 5
    holdings.end_day(positions, trading_day=True)
    assert holdings.to_list(positions, {}) == []


def test_a_holding_row_has_the_mock_fields_and_is_marked_at_the_last_tick() -> None:
    positions, holdings = PositionBook(), HoldingBook()
    fill(positions, "BUY", 2, 1500.0)
    holdings.end_day(positions, trading_day=True)
    [h] = holdings.to_list(positions, {"NSE:INFY": Tick(symbol="NSE:INFY", last_price=1510.0)})
    assert (h["exchange"], h["tradingsymbol"], h["product"], h["instrument_token"]) == (
        "NSE",
        "INFY",
        "CNC",
        408065,
    )
    assert h["last_price"] == 1510.0 and h["pnl"] == 20.0
    assert {"isin", "realised_quantity", "collateral_quantity", "discrepancy", "mtf"} <= set(h)


def sell(qty: int, exchange: str = "NSE", product: str = "CNC") -> OrderRequest:
    return OrderRequest(
        variety="regular", exchange=exchange, tradingsymbol="INFY", transaction_type="SELL",
        order_type="MARKET", quantity=qty, product=product,
    )  # fmt: skip


def test_a_cnc_sell_is_weighed_against_the_holding_of_the_security_on_either_exchange() -> None:
    """The demat holding is the security's (by trading symbol here, by ISIN at Zerodha): stock
    bought on NSE is sold on BSE; beyond it the RMS rejects; MIS needs no holding."""
    positions, holdings = PositionBook(), HoldingBook()
    fill(positions, "BUY", 5, 1500.0)
    holdings.end_day(positions, trading_day=True)  # T1 counts: Zerodha sells it (BTST)
    fill(positions, "SELL", 2, 1510.0)  # today's sale of it
    assert holdings_reject(sell(3, "BSE"), holdings, positions, []) == (None, None)
    message, raw = holdings_reject(sell(4), holdings, positions, [])
    assert raw == "RMS:Rule: Check holdings, INFY: required 4, available 3"
    assert message is not None and message.startswith("Insufficient holdings. Sell quantity 4 of INFY")
    assert holdings_reject(sell(50, product="MIS"), holdings, positions, []) == (None, None)
