"""Hypothesis: invariants of fills, positions, codecs and breakers (pure functions, no event loop)."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from execsvc.breakers.rules import LATCHING, BreakerView, check_order
from execsvc.config import CircuitBreakerConfig
from execsvc.events import Charges, ExecutionResult, Fill, OrderIntent
from execsvc.executors.paper.fills import Consumed, FillModel, aggressive_fills, resting_fills, round_to_tick
from execsvc.journal.codec import decode_event, encode_event
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick
from execsvc.positions import Position, apply_fill, is_reducing

SETTINGS = settings(max_examples=200, deadline=None)
TICK = 0.05
SIDES = st.sampled_from(["BUY", "SELL"])


def _px(steps: int) -> float:
    return round(steps * TICK, 8)


# --- (a) fills never exceed the quantity nor cross the limit ----------------------------------------------


@st.composite
def markets(draw: st.DrawFn) -> Tick:
    """A tick with a last price on the grid and, maybe, a depth book of distinct prices around it."""
    mid = draw(st.integers(20, 200_000))
    depth = None
    if draw(st.booleans()):
        n_buy, n_sell = draw(st.integers(0, 5)), draw(st.integers(0, 5))
        gaps = st.lists(st.integers(1, 20), min_size=5, max_size=5)
        bid_gaps, ask_gaps = draw(gaps), draw(gaps)
        quantity = st.integers(0, 500)
        bids, asks, b, a = [], [], mid, mid
        for i in range(n_buy):
            b -= bid_gaps[i]
            bids.append(DepthLevel(draw(quantity), _px(max(b, 0)), draw(st.integers(0, 9))))
        for i in range(n_sell):
            a += ask_gaps[i]
            asks.append(DepthLevel(draw(quantity), _px(a), draw(st.integers(0, 9))))
        depth = Depth(buy=tuple(bids), sell=tuple(asks))
    ltp = _px(mid + draw(st.integers(-10, 10)))
    return Tick(symbol="NSE:INFY", last_price=ltp, depth=depth)


MODELS = st.builds(
    FillModel,
    slippage_bps=st.floats(0, 100, allow_nan=False),
    use_bid_ask_spread=st.booleans(),
    use_depth=st.booleans(),
)


def _within_limit(side: str, price: float, limit: float) -> bool:
    return price <= limit + 1e-9 if side == "BUY" else price >= limit - 1e-9


@SETTINGS
@given(
    tick=markets(),
    model=MODELS,
    side=SIDES,
    qty=st.integers(1, 3000),
    limit_offset=st.none() | st.integers(-40, 40),
    repeats=st.integers(1, 3),
)
def test_aggressive_fills_never_exceed_qty_nor_cross_the_limit(
    tick: Tick, model: FillModel, side: str, qty: int, limit_offset: int | None, repeats: int
) -> None:
    limit = None if limit_offset is None else _px(max(1, round(tick.last_price / TICK) + limit_offset))
    consumed: Consumed = {}
    taken: dict[float, int] = {}

    for _ in range(repeats):
        fills = aggressive_fills(side, qty, limit, tick, model, TICK, consumed)

        assert sum(q for q, _ in fills) <= qty
        assert all(q > 0 and p > 0 for q, p in fills)
        if limit is not None:
            assert all(_within_limit(side, p, limit) for _, p in fills)
        for q, p in fills:
            taken[p] = taken.get(p, 0) + q

    if model.use_depth and tick.depth is not None and (tick.depth.sell if side == "BUY" else tick.depth.buy):
        levels = {lv.price: lv.quantity for lv in (tick.depth.sell if side == "BUY" else tick.depth.buy)}
        assert all(taken[p] <= levels[p] for p in taken)  # consumed liquidity is never taken twice


@SETTINGS
@given(tick=markets(), model=MODELS, side=SIDES, qty=st.integers(1, 3000), limit_offset=st.integers(-40, 40))
def test_resting_fills_at_the_limit_and_never_exceed_qty(
    tick: Tick, model: FillModel, side: str, qty: int, limit_offset: int
) -> None:
    limit = _px(max(1, round(tick.last_price / TICK) + limit_offset))

    fills = resting_fills(side, qty, limit, tick, model, {})

    assert sum(q for q, _ in fills) <= qty
    assert all(q > 0 and p == limit for q, p in fills)


@SETTINGS
@given(
    tick=markets(),
    model=MODELS,
    side=SIDES,
    qty=st.integers(1, 3000),
    limit_offset=st.none() | st.integers(-40, 40),
)
def test_same_inputs_give_the_same_fills(
    tick: Tick, model: FillModel, side: str, qty: int, limit_offset: int | None
) -> None:
    limit = None if limit_offset is None else _px(max(1, round(tick.last_price / TICK) + limit_offset))

    first = aggressive_fills(side, qty, limit, tick, model, TICK, {})
    second = aggressive_fills(side, qty, limit, tick, model, TICK, {})

    assert first == second


@SETTINGS
@given(
    tick_size=st.sampled_from([0.05, 0.01, 0.1, 0.0025, 1.0]),
    fraction=st.floats(0, 1, exclude_max=True),
    side=SIDES,
)
def test_a_price_on_the_grid_is_its_own_rounding_up_to_the_largest_accepted_price(
    tick_size: float, fraction: float, side: str
) -> None:
    steps = int(fraction * 1e7 / tick_size) + 1
    price = round(steps * tick_size, 4)

    assert round_to_tick(price, tick_size, side) == price


# --- (b) net position does not depend on the order of fills --------------------------------------------

FILLS = st.lists(
    st.tuples(SIDES, st.integers(1, 500), st.integers(1, 400_000).map(_px)),
    min_size=1,
    max_size=12,
)


def _fold(fills: list[tuple[str, int, float]]) -> Position:
    position = Position(strategy_code="S1", symbol="NSE:INFY")
    for side, qty, price in fills:
        position, _ = apply_fill(position, side, qty, price)
    return position


def _close(fills: list[tuple[str, int, float]], price: float) -> list[tuple[str, int, float]]:
    net = sum(q if s == "BUY" else -q for s, q, _ in fills)
    if net == 0:
        return fills
    return [*fills, ("SELL" if net > 0 else "BUY", abs(net), price)]


def _close_enough(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, scale)


@SETTINGS
@given(data=st.data(), fills=FILLS)
def test_net_position_is_independent_of_fill_order(
    data: st.DataObject, fills: list[tuple[str, int, float]]
) -> None:
    shuffled = data.draw(st.permutations(fills))

    a, b = _fold(fills), _fold(shuffled)

    assert a.net_qty == b.net_qty
    assert (a.buy_qty, a.sell_qty) == (b.buy_qty, b.sell_qty)
    assert _close_enough(a.buy_value, b.buy_value, a.buy_value)
    assert _close_enough(a.sell_value, b.sell_value, a.sell_value)


@SETTINGS
@given(data=st.data(), fills=FILLS, exit_price=st.integers(1, 400_000).map(_px))
def test_flat_realized_is_sell_value_minus_buy_value_in_any_order(
    data: st.DataObject, fills: list[tuple[str, int, float]], exit_price: float
) -> None:
    closed = _close(fills, exit_price)
    shuffled = data.draw(st.permutations(closed))

    for position in (_fold(closed), _fold(shuffled)):
        scale = position.buy_value + position.sell_value
        assert position.net_qty == 0
        assert position.avg_price == 0.0
        assert _close_enough(position.realized_gross, position.sell_value - position.buy_value, scale)


# --- (c) codecs round-trip -------------------------------------------------------------------------------

FINITE = st.floats(allow_nan=False, allow_infinity=False)
INT64 = st.integers(-(2**63), 2**63 - 1)
NON_NEG = st.integers(0, 2**63 - 1)
TEXT = st.text(max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | INT64 | FINITE | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=10,
)
JSON_DICTS = st.dictionaries(TEXT, JSON_VALUES, max_size=4)

INTENTS = st.builds(
    OrderIntent,
    symbol=TEXT,
    strategy_code=TEXT,
    side=TEXT,
    qty=INT64,
    order_type=TEXT,
    product=TEXT,
    validity=TEXT,
    price=st.none() | FINITE,
    trigger_price=st.none() | FINITE,
    tag=st.none() | TEXT,
    reason=TEXT,
    confidence=FINITE,
    metadata=JSON_DICTS,
    intent_id=TEXT,
    exchange=st.none() | TEXT,
    ts_init=NON_NEG,
    variety=TEXT,
)
RESULTS = st.builds(
    ExecutionResult,
    intent_id=TEXT,
    strategy_code=TEXT,
    status=st.sampled_from(["PLACED", "FILLED", "PARTIAL", "CANCELLED", "REJECTED", "UNKNOWN"]),
    symbol=TEXT,
    side=SIDES,
    qty=INT64,
    order_id=st.none() | TEXT,
    filled_qty=INT64,
    avg_price=st.none() | FINITE,
    message=st.none() | TEXT,
    reject_reason=st.none() | TEXT,
    raw=st.none() | JSON_DICTS,
    timestamp=st.none() | TEXT,
    ts_event=NON_NEG,
    mode=st.sampled_from(["paper", "live", "dry_run"]),
    charges=FINITE,
)
CHARGES = st.builds(
    Charges,
    brokerage=FINITE,
    stt=FINITE,
    exchange=FINITE,
    sebi=FINITE,
    stamp=FINITE,
    gst=FINITE,
    total=FINITE,
)
FILL_EVENTS = st.builds(
    Fill,
    fill_id=TEXT,
    order_id=TEXT,
    intent_id=TEXT,
    strategy_code=TEXT,
    symbol=TEXT,
    side=SIDES,
    qty=INT64,
    price=FINITE,
    product=TEXT,
    charges=CHARGES,
    liquidity=st.sampled_from(["taker", "maker"]),
    ts_event=NON_NEG,
)
LEVELS = st.lists(st.builds(DepthLevel, INT64, FINITE, INT64), max_size=5).map(tuple)
TICKS = st.builds(
    Tick,
    symbol=TEXT,
    last_price=FINITE,
    instrument_token=NON_NEG,
    ts_event=NON_NEG,
    last_traded_quantity=INT64,
    average_traded_price=FINITE,
    volume_traded=INT64,
    total_buy_quantity=INT64,
    total_sell_quantity=INT64,
    ohlc=st.none() | st.builds(OHLC, FINITE, FINITE, FINITE, FINITE),
    oi=INT64,
    oi_day_high=INT64,
    oi_day_low=INT64,
    last_trade_time=INT64,
    exchange_timestamp=INT64,
    depth=st.none() | st.builds(Depth, LEVELS, LEVELS),
    mode=st.sampled_from(["ltp", "quote", "full"]),
    tradable=st.booleans(),
)


@SETTINGS
@given(event=st.one_of(INTENTS, RESULTS, FILL_EVENTS))
def test_journal_events_round_trip(event: Any) -> None:
    data = encode_event(event)

    back = decode_event(data)

    assert back == event
    assert type(back) is type(event)
    assert encode_event(back) == data


@SETTINGS
@given(tick=TICKS)
def test_tick_round_trips_through_msgspec_json(tick: Tick) -> None:
    data = msgspec.json.encode(tick)

    back = msgspec.json.decode(data, type=Tick)

    assert back == tick
    assert msgspec.json.encode(back) == data


# --- (d) once a loss breaker has latched, only reducing orders pass -----------------------------------------

ORDERS = st.lists(
    st.tuples(SIDES, st.integers(1, 300), st.integers(0, 300), st.none() | st.floats(1, 10_000)),
    min_size=1,
    max_size=30,
)


@SETTINGS
@given(
    latch=st.sampled_from([*LATCHING[:-1], f"{LATCHING[-1]}:S1"]),
    start_qty=st.integers(-500, 500),
    orders=ORDERS,
    limits=st.sampled_from([CircuitBreakerConfig(), CircuitBreakerConfig(max_order_value_rupees=1e6)]),
    figures=st.fixed_dictionaries(
        {
            "realized_net": st.floats(-1e5, 1e5),
            "peak_equity": st.floats(4e5, 6e5),
            "capital": st.just(500_000.0),
            "loss_streak": st.integers(0, 10),
            "trades_today": st.integers(0, 200),
            "strategy_trades_today": st.integers(0, 100),
            "orders_last_second": st.integers(0, 30),
            "strategy_orders_last_second": st.integers(0, 15),
        }
    ),
)
def test_latched_breaker_lets_only_reducing_orders_pass(
    latch: str,
    start_qty: int,
    orders: list[tuple[str, int, int, float | None]],
    limits: CircuitBreakerConfig,
    figures: dict[str, Any],
) -> None:
    net = start_qty
    for side, qty, pending, ref_price in orders:
        reducing = is_reducing(side, qty, net, pending)
        view = BreakerView(latched={latch: "tripped earlier"}, symbol_net_qty=net, **figures)

        denial = check_order(
            strategy_code="S1",
            side=side,
            qty=qty,
            reducing=reducing,
            ref_price=ref_price,
            view=view,
            limits=limits,
        )

        if denial is None:
            assert reducing
            net += qty if side == "BUY" else -qty  # the order filled; the latch still holds
        if not reducing:
            assert denial is not None
            assert denial.trips is False
            assert denial.breaker == latch.partition(":")[0]


OFF = CircuitBreakerConfig(
    max_daily_loss_rupees=None,
    max_daily_drawdown_pct=None,
    max_trades_per_day=None,
    max_trades_per_strategy_per_day=None,
    max_loss_streak=None,
    max_orders_per_second=None,
    max_orders_per_second_per_strategy=None,
)


@SETTINGS
@given(
    latch=st.sampled_from([*LATCHING[:-1], f"{LATCHING[-1]}:S1"]),
    start_qty=st.integers(-500, 500),
    orders=ORDERS,
)
def test_with_only_the_latch_in_force_exactly_the_reducing_orders_pass(
    latch: str, start_qty: int, orders: list[tuple[str, int, int, float | None]]
) -> None:
    net = start_qty
    for side, qty, pending, ref_price in orders:
        reducing = is_reducing(side, qty, net, pending)
        view = BreakerView(latched={latch: "tripped earlier"}, symbol_net_qty=net)

        denial = check_order(
            strategy_code="S1",
            side=side,
            qty=qty,
            reducing=reducing,
            ref_price=ref_price,
            view=view,
            limits=OFF,
        )

        assert (denial is None) == reducing
        if denial is None:
            net += qty if side == "BUY" else -qty
