"""Unit tests of the breaker decisions (execsvc.breakers.rules): pure, table-driven."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from execsvc.breakers.rules import LATCHING, BreakerView, Denial, check_modify, check_order, reference_price
from execsvc.config import CircuitBreakerConfig

#: Every breaker disabled; each test switches on the one it is about.
OFF = CircuitBreakerConfig(
    max_daily_loss_rupees=None,
    max_daily_drawdown_pct=None,
    max_trades_per_day=None,
    max_trades_per_strategy_per_day=None,
    max_loss_streak=None,
    max_orders_per_second=None,
    max_orders_per_second_per_strategy=None,
    max_order_value_rupees=None,
    max_position_per_symbol=None,
)


def _limits(**on: Any) -> CircuitBreakerConfig:
    return msgspec.structs.replace(OFF, **on)


def _check(
    limits: CircuitBreakerConfig,
    view: BreakerView | None = None,
    *,
    strategy_code: str = "S1",
    side: str = "BUY",
    qty: int = 10,
    reducing: bool = False,
    ref_price: float | None = 100.0,
) -> Denial | None:
    return check_order(
        strategy_code=strategy_code,
        side=side,
        qty=qty,
        reducing=reducing,
        ref_price=ref_price,
        view=view if view is not None else BreakerView(),
        limits=limits,
    )


# --- halted -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reducing", [False, True])
def test_halt_refuses_everything_even_reducing(reducing: bool) -> None:
    view = BreakerView(halted_reason="operator pressed stop")

    denial = _check(CircuitBreakerConfig(), view, reducing=reducing)

    assert denial == Denial("halted", "trading halted: operator pressed stop", trips=False)


# --- max_daily_loss ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("realized", "denied"),
    [(0.0, False), (-4999.0, False), (-5000.0, False), (-5000.01, True), (-5120.0, True), (1e6, False)],
)
def test_max_daily_loss_threshold(realized: float, denied: bool) -> None:
    view = BreakerView(realized_net=realized)

    denial = _check(_limits(max_daily_loss_rupees=5000.0), view)

    if not denied:
        assert denial is None
    else:
        assert denial is not None
        assert (denial.breaker, denial.value, denial.limit) == ("max_daily_loss", realized, -5000.0)
        assert (denial.trips, denial.latch, denial.latch_key) == (True, True, "max_daily_loss")


def test_max_daily_loss_message() -> None:
    view = BreakerView(realized_net=-5120.0)

    denial = _check(_limits(max_daily_loss_rupees=5000.0), view)

    assert denial is not None
    assert denial.message == "max_daily_loss: realized -5,120.00 < -5,000.00"


# --- max_daily_drawdown ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capital", "peak", "realized", "drawdown"),
    [
        (100_000.0, 100_000.0, 0.0, None),
        (100_000.0, 100_000.0, -2000.0, None),  # exactly 2 %: passes
        (100_000.0, 100_000.0, -2000.5, 0.020005),
        (100_000.0, 103_000.0, 1000.0, None),  # 2 % below the peak, not more
        (100_000.0, 103_000.0, 999.0, 0.02001),  # peak 103 000, equity 100 999
        (100_000.0, 110_000.0, 5000.0, 0.05),  # still up on the day, but 5 % off the peak
        (500_000.0, 500_000.0, -9_999.0, None),
        (500_000.0, 500_000.0, -10_001.0, 0.020002),
    ],
)
def test_max_daily_drawdown_maths(
    capital: float, peak: float, realized: float, drawdown: float | None
) -> None:
    view = BreakerView(capital=capital, peak_equity=peak, realized_net=realized)

    denial = _check(_limits(max_daily_drawdown_pct=0.02), view)

    if drawdown is None:
        assert denial is None
    else:
        assert denial is not None
        assert denial.breaker == "max_daily_drawdown"
        assert denial.value == pytest.approx(drawdown, rel=1e-9)
        assert denial.limit == 0.02
        assert (denial.trips, denial.latch, denial.latch_key) == (True, True, "max_daily_drawdown")


def test_max_daily_drawdown_message_shows_peak_and_equity() -> None:
    view = BreakerView(capital=100_000.0, peak_equity=103_000.0, realized_net=999.0)

    denial = _check(_limits(max_daily_drawdown_pct=0.02), view)

    assert denial is not None
    assert denial.message == "max_daily_drawdown: 2.00% > 2.00% (peak 103,000.00, equity 100,999.00)"


# --- counters: streak, trades per day, trades per strategy per day ---------------------------------------

COUNTERS = [
    # (limit field, limit, view field, value, denied)
    ("max_loss_streak", 5, "loss_streak", 4, False),
    ("max_loss_streak", 5, "loss_streak", 5, True),
    ("max_loss_streak", 5, "loss_streak", 6, True),
    ("max_trades_per_day", 100, "trades_today", 99, False),
    ("max_trades_per_day", 100, "trades_today", 100, True),
    ("max_trades_per_strategy_per_day", 50, "strategy_trades_today", 49, False),
    ("max_trades_per_strategy_per_day", 50, "strategy_trades_today", 50, True),
    ("max_trades_per_strategy_per_day", 1, "strategy_trades_today", 0, False),
    ("max_trades_per_strategy_per_day", 1, "strategy_trades_today", 1, True),
]


@pytest.mark.parametrize(("limit_field", "limit", "view_field", "value", "denied"), COUNTERS)
def test_latching_counter_thresholds(
    limit_field: str, limit: int, view_field: str, value: int, denied: bool
) -> None:
    view = BreakerView(**{view_field: value})

    denial = _check(_limits(**{limit_field: limit}), view, strategy_code="S7")

    if not denied:
        assert denial is None
        return
    assert denial is not None
    breaker = limit_field.removesuffix("_rupees")
    want_key = f"{breaker}:S7" if breaker == "max_trades_per_strategy_per_day" else breaker
    assert (denial.breaker, denial.value, denial.limit) == (breaker, value, limit)
    assert (denial.trips, denial.latch, denial.latch_key) == (True, True, want_key)
    assert denial.message.startswith(f"{breaker}: ")
    assert f">= {limit}" in denial.message


def test_per_strategy_message_names_the_strategy() -> None:
    view = BreakerView(strategy_trades_today=50)

    denial = _check(_limits(max_trades_per_strategy_per_day=50), view, strategy_code="momo.v2")

    assert denial is not None
    assert denial.message == "max_trades_per_strategy_per_day: momo.v2 placed 50 orders today >= 50"
    assert denial.latch_key == "max_trades_per_strategy_per_day:momo.v2"


# --- throttles: deny without latching, and also apply to reducing orders --------------------------------

THROTTLES = [
    ("max_orders_per_second", 20, "orders_last_second", 19, False),
    ("max_orders_per_second", 20, "orders_last_second", 20, True),
    ("max_orders_per_second", 20, "orders_last_second", 35, True),
    ("max_orders_per_second_per_strategy", 10, "strategy_orders_last_second", 9, False),
    ("max_orders_per_second_per_strategy", 10, "strategy_orders_last_second", 10, True),
]


@pytest.mark.parametrize("reducing", [False, True])
@pytest.mark.parametrize(("limit_field", "limit", "view_field", "value", "denied"), THROTTLES)
def test_throttle_thresholds(
    limit_field: str, limit: int, view_field: str, value: int, denied: bool, reducing: bool
) -> None:
    view = BreakerView(**{view_field: value})

    denial = _check(_limits(**{limit_field: limit}), view, reducing=reducing, side="SELL")

    if not denied:
        assert denial is None
        return
    assert denial is not None
    assert (denial.breaker, denial.value, denial.limit) == (limit_field, value, limit)
    assert (denial.trips, denial.latch, denial.latch_key) == (True, False, "")
    assert f"{value} orders in the last second >= {limit}" in denial.message


def test_throttle_per_strategy_message_names_the_strategy() -> None:
    view = BreakerView(strategy_orders_last_second=10)

    denial = _check(_limits(max_orders_per_second_per_strategy=10), view, strategy_code="S9")

    assert denial is not None
    assert denial.message == (
        "max_orders_per_second_per_strategy: S9 sent 10 orders in the last second >= 10"
    )


# --- max_order_value ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref_price", "qty", "value"),
    [(100.0, 1000, None), (100.0, 999, None), (100.0, 1001, 100_100.0), (2500.5, 40, 100_020.0)],
)
def test_max_order_value_threshold(ref_price: float, qty: int, value: float | None) -> None:
    denial = _check(_limits(max_order_value_rupees=100_000.0), ref_price=ref_price, qty=qty)

    if value is None:
        assert denial is None
    else:
        assert denial is not None
        assert denial.breaker == "max_order_value"
        assert denial.value == pytest.approx(value)
        assert denial.limit == 100_000.0
        assert (denial.trips, denial.latch) == (True, False)


def test_max_order_value_message() -> None:
    denial = _check(_limits(max_order_value_rupees=100_000.0), ref_price=100.0, qty=1001)

    assert denial is not None
    assert denial.message == "max_order_value: 100,100.00 > 100,000.00"


@pytest.mark.parametrize("reducing", [False, True])
def test_max_order_value_without_a_price_is_denied(reducing: bool) -> None:
    denial = _check(_limits(max_order_value_rupees=100_000.0), ref_price=None, reducing=reducing)

    assert denial is not None
    assert (denial.breaker, denial.value, denial.limit) == ("max_order_value", 0.0, 100_000.0)
    assert denial.message == "max_order_value: no price to value the order against"


def test_no_price_is_fine_when_the_value_cap_is_off() -> None:
    assert _check(CircuitBreakerConfig(), ref_price=None) is None


# --- max_position_per_symbol -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("net", "side", "qty", "after"),
    [
        (0, "BUY", 100, None),
        (0, "BUY", 101, 101),
        (0, "SELL", 100, None),
        (0, "SELL", 101, -101),
        (90, "BUY", 10, None),
        (90, "BUY", 11, 101),
        (150, "SELL", 10, None),  # above the cap but shrinking: allowed
        (150, "SELL", 300, None),  # flips to -150: no larger than before
        (150, "SELL", 301, -151),
        (150, "BUY", 1, 151),
        (50, "SELL", 200, -150),  # a flip past the cap
        (-90, "SELL", 20, -110),
        (-90, "BUY", 20, None),
        (-150, "BUY", 10, None),
    ],
)
def test_max_position_per_symbol(net: int, side: str, qty: int, after: int | None) -> None:
    view = BreakerView(symbol_net_qty=net)

    denial = _check(_limits(max_position_per_symbol=100), view, side=side, qty=qty)

    if after is None:
        assert denial is None
    else:
        assert denial is not None
        assert (denial.breaker, denial.value, denial.limit) == ("max_position_per_symbol", abs(after), 100)
        assert denial.message == (
            f"max_position_per_symbol: position would be {after} > 100 in absolute size"
        )
        assert (denial.trips, denial.latch) == (True, False)


# --- REDUCING semantics -------------------------------------------------------------------------------------

LATCHED = [
    ("max_daily_loss", "max_daily_loss"),
    ("max_daily_drawdown", "max_daily_drawdown"),
    ("max_loss_streak", "max_loss_streak"),
    ("max_trades_per_day", "max_trades_per_day"),
    ("max_trades_per_strategy_per_day:S1", "max_trades_per_strategy_per_day"),
]


@pytest.mark.parametrize(("key", "breaker"), LATCHED)
def test_latched_breaker_lets_reducing_orders_through(key: str, breaker: str) -> None:
    view = BreakerView(latched={key: f"{breaker}: tripped earlier"})

    denial = _check(CircuitBreakerConfig(), view, side="SELL", reducing=True)

    assert denial is None


@pytest.mark.parametrize(("key", "breaker"), LATCHED)
def test_latched_breaker_denies_non_reducing_orders_without_a_new_trip(key: str, breaker: str) -> None:
    view = BreakerView(latched={key: f"{breaker}: tripped earlier"})

    denial = _check(CircuitBreakerConfig(), view, reducing=False)

    assert denial is not None
    assert denial.breaker == breaker
    assert (denial.trips, denial.latch) == (False, False)
    assert denial.message == (
        f"{breaker}: tripped earlier (tripped; only reducing orders pass until reset or the next day)"
    )


def test_latching_keys_are_the_documented_ones() -> None:
    assert {key.partition(":")[0] for key, _ in LATCHED} == set(LATCHING)


def test_per_strategy_latch_does_not_block_another_strategy() -> None:
    view = BreakerView(latched={"max_trades_per_strategy_per_day:S1": "S1 done"})

    mine = _check(CircuitBreakerConfig(), view, strategy_code="S1")
    theirs = _check(CircuitBreakerConfig(), view, strategy_code="S2")

    assert mine is not None and mine.breaker == "max_trades_per_strategy_per_day"
    assert theirs is None


def test_reducing_order_never_trips_a_latching_breaker() -> None:
    view = BreakerView(
        realized_net=-50_000.0,
        capital=100_000.0,
        peak_equity=120_000.0,
        loss_streak=50,
        trades_today=10_000,
        strategy_trades_today=10_000,
    )

    reducing = _check(CircuitBreakerConfig(), view, side="SELL", reducing=True)
    opening = _check(CircuitBreakerConfig(), view, side="BUY", reducing=False)

    assert reducing is None
    assert opening is not None and opening.breaker == "max_daily_loss" and opening.trips


def test_first_crossed_latching_breaker_wins() -> None:
    view = BreakerView(realized_net=-6000.0, loss_streak=9, trades_today=500)

    denial = _check(CircuitBreakerConfig(capital_rupees=1.0), view)

    assert denial is not None
    assert denial.breaker == "max_daily_loss"


# --- a None limit disables a breaker ----------------------------------------------------------------------

EXTREME = BreakerView(
    realized_net=-1e9,
    peak_equity=1e9,
    capital=1.0,
    loss_streak=10**6,
    trades_today=10**6,
    strategy_trades_today=10**6,
    orders_last_second=10**6,
    strategy_orders_last_second=10**6,
    symbol_net_qty=10**6,
)
DEFAULTS = CircuitBreakerConfig(max_order_value_rupees=1.0, max_position_per_symbol=1)
BREAKER_LIMITS = [
    ("max_daily_loss", "max_daily_loss_rupees"),
    ("max_daily_drawdown", "max_daily_drawdown_pct"),
    ("max_loss_streak", "max_loss_streak"),
    ("max_trades_per_day", "max_trades_per_day"),
    ("max_trades_per_strategy_per_day", "max_trades_per_strategy_per_day"),
    ("max_orders_per_second", "max_orders_per_second"),
    ("max_orders_per_second_per_strategy", "max_orders_per_second_per_strategy"),
    ("max_order_value", "max_order_value_rupees"),
    ("max_position_per_symbol", "max_position_per_symbol"),
]


@pytest.mark.parametrize(("breaker", "field"), BREAKER_LIMITS)
def test_each_breaker_trips_alone_on_extreme_figures(breaker: str, field: str) -> None:
    limits = _limits(**{field: getattr(DEFAULTS, field)})

    denial = _check(limits, EXTREME)

    assert denial is not None and denial.breaker == breaker


@pytest.mark.parametrize(("breaker", "field"), BREAKER_LIMITS)
def test_none_limit_disables_the_breaker(breaker: str, field: str) -> None:
    limits = msgspec.structs.replace(DEFAULTS, **{field: None})
    only_others = {b for b, _ in BREAKER_LIMITS} - {breaker}

    denial = _check(limits, EXTREME)
    alone = _check(_limits(**{field: None}), EXTREME)

    assert denial is not None and denial.breaker in only_others
    assert alone is None


def test_all_limits_off_allows_anything() -> None:
    assert _check(OFF, EXTREME, qty=10**9, ref_price=1e9) is None


@pytest.mark.parametrize(
    ("side", "order_type", "price", "trigger", "last", "expected"),
    [
        ("BUY", "MARKET", 0.05, None, 1500.0, 1500.0),  # a price on a MARKET order values nothing
        ("SELL", "MARKET", None, None, None, None),  # nothing known: the cap refuses it
        ("SELL", "LIMIT", 0.05, None, 1500.0, 1500.0),  # a marketable SELL LIMIT sells at the market
        ("SELL", "LIMIT", 1600.0, None, 1500.0, 1600.0),
        ("BUY", "LIMIT", 2000.0, None, 1500.0, 2000.0),  # a BUY LIMIT above the market commits its limit
        ("BUY", "LIMIT", 1000.0, None, 1500.0, 1000.0),  # and never pays more than it
        ("BUY", "LIMIT", 1000.0, None, None, 1000.0),
        ("SELL", "SL-M", 0.05, 1600.0, 1500.0, 1600.0),
        ("BUY", "SL", 1610.0, 1600.0, 1500.0, 1610.0),
        ("SELL", "SL", 1390.0, 1400.0, 1500.0, 1500.0),
        ("BUY", "MARKET", None, None, 0.0, None),  # a last price of 0 (not traded yet) is no price
    ],
)
def test_reference_price_is_the_most_the_order_can_trade_at(
    side: str,
    order_type: str,
    price: float | None,
    trigger: float | None,
    last: float | None,
    expected: float | None,
) -> None:
    assert reference_price(side, order_type, price, trigger, last) == expected


# --- modifications ------------------------------------------------------------------------------------


def _modify(limits: CircuitBreakerConfig, view: BreakerView | None = None, **change: Any) -> Denial | None:
    terms: dict[str, Any] = {
        "strategy_code": "S1",
        "side": "BUY",
        "old_qty": 10,
        "new_qty": 10,
        "filled_qty": 0,
        "widening": True,
        "reducing": False,
        "old_ref_price": 100.0,
        "new_ref_price": 100.0,
    }
    terms.update(change)
    return check_modify(**terms, view=view if view is not None else BreakerView(), limits=limits)


LOSS_LATCHED = BreakerView(latched={"max_daily_loss": "max_daily_loss: realized -6,000.00 < -5,000.00"})


@pytest.mark.parametrize(
    ("limits", "view", "change", "breaker"),
    [
        # the value cap: growing past it is refused; a change that makes nothing bigger passes
        (_limits(max_order_value_rupees=1500.0), None, {"new_qty": 20}, "max_order_value"),
        (_limits(max_order_value_rupees=1500.0), None, {"new_ref_price": 160.0}, "max_order_value"),
        (_limits(max_order_value_rupees=500.0), None, {"new_qty": 4, "widening": False}, None),
        (_limits(max_order_value_rupees=500.0), None, {"new_qty": 9, "new_ref_price": 99.0}, None),
        (_limits(max_order_value_rupees=500.0), None, {"new_ref_price": None}, "max_order_value"),
        # ... valued on what is left to fill, as a new order for it would be
        (
            _limits(max_order_value_rupees=15_000.0),
            None,
            {"filled_qty": 9, "old_ref_price": 1500.0, "new_ref_price": 1510.0},
            None,
        ),
        (
            _limits(max_order_value_rupees=15_000.0),
            None,
            {"filled_qty": 0, "old_ref_price": 1500.0, "new_ref_price": 1510.0},
            "max_order_value",
        ),
        # the position cap counts what the order has left to fill
        (
            _limits(max_position_per_symbol=25),
            BreakerView(symbol_net_qty=10),
            {"new_qty": 16},
            "max_position_per_symbol",
        ),
        (_limits(max_position_per_symbol=25), BreakerView(symbol_net_qty=10), {"new_qty": 15}, None),
        (
            _limits(max_position_per_symbol=25),
            BreakerView(symbol_net_qty=10),
            {"new_qty": 20, "filled_qty": 5},
            None,
        ),
        (
            _limits(max_position_per_symbol=5),
            BreakerView(symbol_net_qty=10),
            {"side": "SELL", "new_qty": 15},
            None,
        ),
        # a latch: an opening order may only be cut; a reducing one may change
        (OFF, LOSS_LATCHED, {"new_qty": 11}, "max_daily_loss"),
        (OFF, LOSS_LATCHED, {"new_ref_price": 101.0}, "max_daily_loss"),
        (OFF, LOSS_LATCHED, {"new_qty": 5, "widening": False}, None),
        (OFF, LOSS_LATCHED, {"new_qty": 11, "reducing": True}, None),
        # crossed but not yet latched: a loss limit trips; trade counts and throttles do not apply
        (
            _limits(max_daily_loss_rupees=100.0),
            BreakerView(realized_net=-150.0),
            {"new_qty": 11},
            "max_daily_loss",
        ),
        (_limits(max_trades_per_day=1), BreakerView(trades_today=5), {"new_qty": 11}, None),
        (_limits(max_orders_per_second=1), BreakerView(orders_last_second=9), {"new_qty": 11}, None),
    ],
)
def test_a_modification_may_not_do_what_a_new_order_could_not(
    limits: CircuitBreakerConfig, view: BreakerView | None, change: dict[str, Any], breaker: str | None
) -> None:
    denial = _modify(limits, view, **change)
    assert (denial.breaker if denial is not None else None) == breaker


def test_a_modification_trips_a_crossed_loss_limit_and_names_a_latched_one() -> None:
    tripped = _modify(_limits(max_daily_loss_rupees=100.0), BreakerView(realized_net=-150.0), new_qty=11)
    latched = _modify(OFF, LOSS_LATCHED, new_qty=11)
    assert tripped is not None and (tripped.trips, tripped.latch) == (True, True)
    assert latched is not None and not latched.trips
    assert latched.message == (
        "max_daily_loss: realized -6,000.00 < -5,000.00 "
        "(tripped; only changes that cut an order pass until reset or the next day)"
    )
