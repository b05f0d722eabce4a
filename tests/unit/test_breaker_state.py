"""Unit tests of the breakers' day figures (execsvc.breakers.state.BreakerState): a pure fold."""

from __future__ import annotations

import pytest

from execsvc.breakers.rules import BreakerView
from execsvc.breakers.state import BreakerState

SECOND = 1_000_000_000
T0 = 1_777_000_000 * SECOND


def _state(capital: float = 100_000.0) -> BreakerState:
    state = BreakerState(capital)
    state.new_day("2026-05-04")
    return state


# --- throttle windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age_ns", "counted"),
    [(0, True), (1, True), (SECOND - 1, True), (SECOND, False), (SECOND + 1, False), (5 * SECOND, False)],
)
def test_throttle_window_boundary(age_ns: int, counted: bool) -> None:
    state = _state()
    state.on_order("S1", T0)

    total, mine = state.orders_in_last_second(T0 + age_ns, "S1")

    assert (total, mine) == ((1, 1) if counted else (0, 0))


def test_throttle_window_slides() -> None:
    state = _state()
    for i in range(5):
        state.on_order("S1", T0 + i * 200_000_000)  # 0.0, 0.2, 0.4, 0.6, 0.8 s
    state.on_order("S2", T0 + 900_000_000)

    counts = [state.orders_in_last_second(T0 + ms * 1_000_000, "S1") for ms in (900, 1000, 1300, 1700, 1900)]

    assert counts == [(6, 5), (5, 4), (4, 3), (2, 1), (0, 0)]


def test_throttle_counts_per_strategy() -> None:
    state = _state()
    for strategy in ("S1", "S1", "S2", "S1", "S3"):
        state.on_order(strategy, T0)

    got = {s: state.orders_in_last_second(T0 + 1, s) for s in ("S1", "S2", "S3", "S4")}

    assert got == {"S1": (5, 3), "S2": (5, 1), "S3": (5, 1), "S4": (5, 0)}


def test_on_order_counts_trades_per_day_and_strategy() -> None:
    state = _state()
    for strategy in ("S1", "S2", "S1"):
        state.on_order(strategy, T0)

    assert state.trades_today == 3
    assert state.trades_by_strategy == {"S1": 2, "S2": 1}


# --- equity, peak, realized --------------------------------------------------------------------------------


def test_peak_equity_follows_fills() -> None:
    state = _state(capital=100_000.0)
    steps = [(1000.0, 10.0), (-500.0, 10.0), (2000.0, 20.0), (-5000.0, 0.0)]

    seen = []
    for gross, charges in steps:
        state.on_fill(gross, charges)
        seen.append((state.realized_net, state.equity, state.peak_equity))

    assert seen == [
        (990.0, 100_990.0, 100_990.0),
        (480.0, 100_480.0, 100_990.0),
        (2460.0, 102_460.0, 102_460.0),
        (-2540.0, 97_460.0, 102_460.0),
    ]
    assert (state.realized_gross, state.charges) == (-2500.0, 40.0)


def test_peak_starts_at_capital_and_losses_do_not_move_it() -> None:
    state = _state(capital=50_000.0)

    state.on_fill(-100.0, 5.0)

    assert state.peak_equity == 50_000.0
    assert state.equity == 49_895.0


# --- loss streak ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("closes", "streak"),
    [
        ([], 0),
        ([-1.0], 1),
        ([-1.0, -2.0, -3.0], 3),
        ([-1.0, -2.0, 5.0], 0),
        ([-1.0, 5.0, -2.0], 1),
        ([-1.0, 0.0, -2.0], 2),  # a scratch trade neither extends nor ends the streak
        ([0.0, 0.0], 0),
    ],
)
def test_loss_streak(closes: list[float], streak: int) -> None:
    state = _state()

    for realized in closes:
        state.on_order_closed(realized)

    assert state.loss_streak == streak


# --- trips, resets and the day boundary ---------------------------------------------------------------------


def test_on_trip_latches_only_when_asked() -> None:
    state = _state()

    state.on_trip("max_daily_loss", "lost too much", latched=True)
    state.on_trip("max_orders_per_second", "too fast", latched=False)

    assert state.latched == {"max_daily_loss": "lost too much"}
    assert state.trips_today == 2


def test_on_reset_clears_latches_and_streak_but_keeps_figures() -> None:
    state = _state()
    state.on_fill(-3000.0, 10.0)
    for _ in range(4):
        state.on_order_closed(-1.0)
        state.on_order("S1", T0)
    state.on_trip("max_loss_streak", "4 losses", latched=True)
    state.on_trip("max_trades_per_strategy_per_day:S1", "busy", latched=True)

    state.on_reset()

    assert state.latched == {}
    assert state.loss_streak == 0
    assert (state.realized_net, state.trades_today, state.trips_today) == (-3010.0, 4, 2)


def test_new_day_resets_counters_and_latches_but_not_a_halt() -> None:
    state = _state(capital=100_000.0)
    state.on_order("S1", T0)
    state.on_fill(5000.0, 20.0)
    state.on_fill(-9000.0, 20.0)
    state.on_order_closed(-4040.0)
    state.on_trip("max_daily_loss", "lost", latched=True)
    state.halted_reason = "operator"

    state.new_day("2026-05-05")

    assert state.day == "2026-05-05"
    assert (state.trades_today, state.trades_by_strategy) == (0, {})
    assert (state.realized_gross, state.charges, state.realized_net) == (0.0, 0.0, 0.0)
    assert state.peak_equity == 100_000.0
    assert state.loss_streak == 0
    assert (state.latched, state.trips_today) == ({}, 0)
    assert state.orders_in_last_second(T0 + 1, "S1") == (0, 0)
    assert state.halted_reason == "operator"


# --- the view -------------------------------------------------------------------------------------------


def test_view_carries_the_figures_for_one_strategy() -> None:
    state = _state(capital=200_000.0)
    state.on_order("S1", T0)
    state.on_order("S2", T0 + 10)
    state.on_order("S1", T0 + 20)
    state.on_fill(1000.0, 0.0)
    state.on_fill(-1500.0, 25.0)
    state.on_order_closed(-525.0)
    state.on_trip("max_loss_streak", "x", latched=True)

    view = state.view("S1", T0 + 30, symbol_net_qty=-7)

    assert view == BreakerView(
        halted_reason=None,
        latched={"max_loss_streak": "x"},
        realized_net=-525.0,
        peak_equity=201_000.0,
        capital=200_000.0,
        loss_streak=1,
        trades_today=3,
        strategy_trades_today=2,
        orders_last_second=3,
        strategy_orders_last_second=2,
        symbol_net_qty=-7,
    )


def test_view_of_an_unknown_strategy() -> None:
    state = _state()
    state.on_order("S1", T0)

    view = state.view("S9", T0 + 1, symbol_net_qty=0)

    assert (view.strategy_trades_today, view.strategy_orders_last_second, view.orders_last_second) == (
        0,
        0,
        1,
    )


def test_a_reloaded_capital_moves_the_peak_and_keeps_the_drawdown_in_rupees() -> None:
    state = _state(100_000.0)
    state.on_fill(3_000.0, 0.0)  # peak 103,000
    state.on_fill(-2_000.0, 0.0)  # equity 101,000: 2,000 below the peak, 2 % of the capital

    state.set_capital(50_000.0)

    view = state.view("S1", T0, 0)
    assert (view.capital, view.peak_equity, state.equity) == (50_000.0, 53_000.0, 51_000.0)
    assert (view.peak_equity - state.equity) / view.capital == 0.04
