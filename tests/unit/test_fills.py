"""Unit tests of paper fill simulation (execsvc.executors.paper.fills): pure functions."""

from __future__ import annotations

import pytest

from execsvc.executors.paper.fills import (
    Consumed,
    FillModel,
    aggressive_fills,
    resting_fills,
    round_to_tick,
    stop_triggered,
)
from execsvc.market.ticks import Depth, DepthLevel, Tick

LTP_ONLY = FillModel(slippage_bps=5.0)
BID_ASK = FillModel(slippage_bps=5.0, use_bid_ask_spread=True)
DEPTH = FillModel(slippage_bps=5.0, use_depth=True)

BOOK = Depth(
    buy=(DepthLevel(150, 99.95, 3), DepthLevel(250, 99.90, 5), DepthLevel(400, 99.85, 2)),
    sell=(DepthLevel(100, 100.10, 1), DepthLevel(200, 100.15, 4), DepthLevel(300, 100.20, 6)),
)


def _tick(last_price: float = 100.0, depth: Depth | None = None) -> Tick:
    return Tick(symbol="NSE:INFY", last_price=last_price, depth=depth)


def _aggr(
    side: str,
    qty: int,
    limit: float | None = None,
    *,
    tick: Tick | None = None,
    model: FillModel = LTP_ONLY,
    consumed: Consumed | None = None,
) -> list[tuple[int, float]]:
    return aggressive_fills(
        side,
        qty,
        limit,
        tick if tick is not None else _tick(),
        model,
        0.05,
        consumed if consumed is not None else {},
    )


# --- round_to_tick ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "tick_size", "side", "want"),
    [
        (100.05, 0.05, "BUY", 100.05),
        (100.05, 0.05, "SELL", 100.05),
        (100.01, 0.05, "BUY", 100.05),
        (100.04, 0.05, "SELL", 100.0),
        (100.05 + 1e-12, 0.05, "BUY", 100.05),  # float noise is not a tick
        (100.05 - 1e-12, 0.05, "SELL", 100.05),
        (100.0500001, 0.05, "BUY", 100.1),  # a real fraction of a tick is
        (0.15, 0.05, "BUY", 0.15),  # 0.15 / 0.05 == 2.9999999999999996
        (0.15, 0.05, "SELL", 0.15),
        (123.456, 0.01, "BUY", 123.46),
        (123.456, 0.01, "SELL", 123.45),
        (1.00125, 0.0025, "BUY", 1.0025),
        (1.00125, 0.0025, "SELL", 1.0),
        (131_234.52, 0.05, "BUY", 131_234.55),
        (131_234.52, 0.05, "SELL", 131_234.5),
        (899_937.45, 0.05, "SELL", 899_937.45),  # 899937.45 / 0.05 == 17998748.999999996
        (899_937.45, 0.05, "BUY", 899_937.45),
        (242_284.11, 0.01, "SELL", 242_284.11),
        (9_999_999.95, 0.05, "SELL", 9_999_999.95),  # the largest price validation accepts
        (9_999_999.92, 0.05, "BUY", 9_999_999.95),
        (9_999_999.92, 0.05, "SELL", 9_999_999.9),
    ],
)
def test_round_to_tick_against_the_trader(price: float, tick_size: float, side: str, want: float) -> None:
    assert round_to_tick(price, tick_size, side) == want


# --- MARKET orders on LTP with slippage ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "ltp", "slippage_bps", "want"),
    [
        ("BUY", 100.0, 5.0, 100.05),
        ("SELL", 100.0, 5.0, 99.95),
        ("BUY", 100.02, 5.0, 100.10),  # 100.07001 rounds up
        ("SELL", 100.02, 5.0, 99.95),  # 99.96999 rounds down
        ("BUY", 2000.0, 5.0, 2001.0),
        ("SELL", 2000.0, 5.0, 1999.0),
        ("BUY", 100.0, 0.0, 100.0),
        ("SELL", 100.0, 0.0, 100.0),
        ("BUY", 100.0, 20.0, 100.2),
        ("SELL", 100.0, 20.0, 99.8),
    ],
)
def test_market_fills_at_ltp_with_slippage(side: str, ltp: float, slippage_bps: float, want: float) -> None:
    model = FillModel(slippage_bps=slippage_bps)

    fills = _aggr(side, 10, tick=_tick(ltp), model=model)

    assert fills == [(10, want)]


def test_market_ignores_depth_when_the_model_does_not_use_it() -> None:
    fills = _aggr("BUY", 10, tick=_tick(100.0, BOOK), model=LTP_ONLY)

    assert fills == [(10, 100.05)]


# --- bid/ask mode -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "want"), [("BUY", 100.10), ("SELL", 99.95)])
def test_bid_ask_mode_uses_the_best_quote(side: str, want: float) -> None:
    fills = _aggr(side, 1000, tick=_tick(100.0, BOOK), model=BID_ASK)

    assert fills == [(1000, want)]


def test_bid_ask_mode_skips_empty_levels() -> None:
    depth = Depth(
        buy=(DepthLevel(0, 99.95), DepthLevel(10, 99.9)), sell=(DepthLevel(0, 0.0), DepthLevel(5, 100.2))
    )

    assert _aggr("BUY", 7, tick=_tick(100.0, depth), model=BID_ASK) == [(7, 100.2)]
    assert _aggr("SELL", 7, tick=_tick(100.0, depth), model=BID_ASK) == [(7, 99.9)]


@pytest.mark.parametrize(("side", "want"), [("BUY", 100.05), ("SELL", 99.95)])
def test_bid_ask_mode_without_a_quote_falls_back_to_ltp(side: str, want: float) -> None:
    assert _aggr(side, 3, tick=_tick(100.0), model=BID_ASK) == [(3, want)]


@pytest.mark.parametrize(
    ("side", "limit", "want"),
    [
        ("BUY", 100.10, [(5, 100.10)]),
        ("BUY", 100.50, [(5, 100.10)]),
        ("BUY", 100.05, []),
        ("SELL", 99.95, [(5, 99.95)]),
        ("SELL", 99.00, [(5, 99.95)]),
        ("SELL", 100.0, []),
    ],
)
def test_bid_ask_mode_limit(side: str, limit: float, want: list[tuple[int, float]]) -> None:
    assert _aggr(side, 5, limit, tick=_tick(100.0, BOOK), model=BID_ASK) == want


# --- LIMIT orders on LTP ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "limit", "want"),
    [
        ("BUY", 100.02, [(10, 100.02)]),  # marketable; slippage would be 100.05, capped at the limit
        ("BUY", 100.0, [(10, 100.0)]),
        ("BUY", 101.0, [(10, 100.05)]),
        ("BUY", 99.95, []),  # not marketable
        ("SELL", 99.98, [(10, 99.98)]),
        ("SELL", 100.0, [(10, 100.0)]),
        ("SELL", 99.0, [(10, 99.95)]),
        ("SELL", 100.05, []),
    ],
)
def test_limit_on_ltp_never_worse_than_the_limit(
    side: str, limit: float, want: list[tuple[int, float]]
) -> None:
    fills = _aggr(side, 10, limit, tick=_tick(100.0))

    assert fills == want
    for _, price in fills:
        assert price <= limit if side == "BUY" else price >= limit


# --- depth walk -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "qty", "limit", "want"),
    [
        ("BUY", 50, None, [(50, 100.10)]),
        ("BUY", 100, None, [(100, 100.10)]),
        ("BUY", 250, None, [(100, 100.10), (150, 100.15)]),
        ("BUY", 600, None, [(100, 100.10), (200, 100.15), (300, 100.20)]),
        ("BUY", 1000, None, [(100, 100.10), (200, 100.15), (300, 100.20)]),  # partial: book is short
        ("BUY", 500, 100.15, [(100, 100.10), (200, 100.15)]),  # partial: limit stops the walk
        ("BUY", 500, 100.05, []),
        ("SELL", 200, None, [(150, 99.95), (50, 99.90)]),
        ("SELL", 1000, None, [(150, 99.95), (250, 99.90), (400, 99.85)]),
        ("SELL", 1000, 99.90, [(150, 99.95), (250, 99.90)]),
        ("SELL", 10, 100.0, []),
    ],
)
def test_depth_walk(side: str, qty: int, limit: float | None, want: list[tuple[int, float]]) -> None:
    consumed: Consumed = {}

    fills = _aggr(side, qty, limit, tick=_tick(100.0, BOOK), model=DEPTH, consumed=consumed)

    assert fills == want
    assert consumed == {price: q for q, price in want}


def test_depth_walk_does_not_reuse_consumed_liquidity() -> None:
    consumed: Consumed = {}
    tick = _tick(100.0, BOOK)

    calls = [_aggr("BUY", 250, tick=tick, model=DEPTH, consumed=consumed) for _ in range(4)]

    assert calls == [
        [(100, 100.10), (150, 100.15)],
        [(50, 100.15), (200, 100.20)],
        [(100, 100.20)],
        [],
    ]
    assert consumed == {100.10: 100, 100.15: 200, 100.20: 300}


def test_depth_walk_with_a_fresh_consumed_dict_starts_over() -> None:
    tick = _tick(100.0, BOOK)
    _aggr("BUY", 600, tick=tick, model=DEPTH, consumed={})

    again = _aggr("BUY", 100, tick=tick, model=DEPTH, consumed={})

    assert again == [(100, 100.10)]


def test_depth_walk_skips_empty_and_zero_price_levels() -> None:
    depth = Depth(
        sell=(DepthLevel(0, 100.1), DepthLevel(10, 0.0), DepthLevel(5, 100.2), DepthLevel(5, 100.25))
    )

    fills = _aggr("BUY", 8, tick=_tick(100.0, depth), model=DEPTH)

    assert fills == [(5, 100.2), (3, 100.25)]


def test_depth_mode_without_depth_falls_back_to_ltp() -> None:
    assert _aggr("BUY", 10, tick=_tick(100.0), model=DEPTH) == [(10, 100.05)]


# --- resting fills ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "limit", "ltp", "want"),
    [
        ("BUY", 100.0, 99.95, [(20, 100.0)]),  # the market traded through: filled at the limit
        ("BUY", 100.0, 100.0, [(20, 100.0)]),
        ("BUY", 100.0, 100.05, []),
        ("SELL", 100.0, 100.05, [(20, 100.0)]),
        ("SELL", 100.0, 100.0, [(20, 100.0)]),
        ("SELL", 100.0, 99.95, []),
    ],
)
def test_resting_fill_at_the_limit_price(
    side: str, limit: float, ltp: float, want: list[tuple[int, float]]
) -> None:
    assert resting_fills(side, 20, limit, _tick(ltp), LTP_ONLY, {}) == want


@pytest.mark.parametrize(
    ("side", "limit", "want"),
    [
        ("BUY", 100.10, [(20, 100.10)]),
        ("BUY", 100.05, []),
        ("SELL", 99.95, [(20, 99.95)]),
        ("SELL", 100.0, []),
    ],
)
def test_resting_fill_in_bid_ask_mode_uses_the_quote(
    side: str, limit: float, want: list[tuple[int, float]]
) -> None:
    assert resting_fills(side, 20, limit, _tick(100.0, BOOK), BID_ASK, {}) == want


@pytest.mark.parametrize(
    ("side", "qty", "limit", "want"),
    [
        ("BUY", 500, 100.15, [(300, 100.15)]),  # capped by the crossing liquidity, filled at the limit
        ("BUY", 50, 100.15, [(50, 100.15)]),
        ("BUY", 50, 100.05, []),
        ("SELL", 300, 99.90, [(300, 99.90)]),
        ("SELL", 1000, 99.90, [(400, 99.90)]),
    ],
)
def test_resting_fill_with_depth(side: str, qty: int, limit: float, want: list[tuple[int, float]]) -> None:
    assert resting_fills(side, qty, limit, _tick(100.0, BOOK), DEPTH, {}) == want


def test_resting_fill_with_depth_shares_consumed_liquidity() -> None:
    consumed: Consumed = {}
    tick = _tick(100.0, BOOK)
    _aggr("BUY", 250, tick=tick, model=DEPTH, consumed=consumed)

    fills = resting_fills("BUY", 500, 100.15, tick, DEPTH, consumed)

    assert fills == [(50, 100.15)]


# --- stops ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "trigger", "last", "hit"),
    [
        ("BUY", 105.0, 104.95, False),
        ("BUY", 105.0, 105.0, True),
        ("BUY", 105.0, 105.05, True),
        ("SELL", 95.0, 95.05, False),
        ("SELL", 95.0, 95.0, True),
        ("SELL", 95.0, 94.9, True),
        ("BUY", 0.3, 0.1 + 0.2, True),  # 0.30000000000000004: float noise counts as reached
        ("SELL", 0.3, 0.1 + 0.2, True),
    ],
)
def test_stop_triggered(side: str, trigger: float, last: float, hit: bool) -> None:
    assert stop_triggered(side, trigger, last) is hit
