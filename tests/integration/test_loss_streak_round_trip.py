"""The loss streak judges a closing order by its round trip: what opening the quantity it closes cost
counts against it, as its own charges do (README: "consecutive losing closing orders, net of charges")."""

from __future__ import annotations

import datetime as dt

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.market.replay import ReplayStats
from execsvc.report import build_report
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick


def _intent(side: str, price: float, product: str = "MIS") -> OrderIntent:
    return OrderIntent(
        symbol="NSE:INFY", strategy_code="s1", side=side, qty=10, order_type="LIMIT", price=price,
        product=product,
    )  # fmt: skip


async def test_a_round_trip_whose_profit_its_charges_eat_is_a_loss(journal_dir, clock):
    # buy 10 @ 1500 (charges 6.30), sell 10 @ 1501.25: gross +12.50 covers the exit's 9.86 but not
    # both legs' 16.16, so the trade lost 3.66; the exit's own charges alone called it a win
    config = make_config(journal_dir, execution={"circuit_breakers": {"max_loss_streak": 2}})
    async with ExecutionService(config, clock=clock) as svc:
        for n in range(2):
            await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + (2 * n + 1) * SECOND))
            entry = await svc.execute_intent(_intent("BUY", 1500.0))
            await svc.on_tick(tick("NSE:INFY", 1501.25, OPEN_NS + (2 * n + 2) * SECOND))
            exit_ = await svc.execute_intent(_intent("SELL", 1501.25))
            assert (entry.avg_price, exit_.avg_price) == (1500.0, 1501.25)
            assert 12.5 - exit_.charges > 0 > 12.5 - exit_.charges - entry.charges
        streak = svc.breaker_status()["loss_streak"]
        opening = await svc.execute_intent(_intent("BUY", 1500.0))
        files = sorted(journal_dir.glob("*.jsonl"))

    assert streak == 2
    assert (opening.status, opening.reject_reason) == ("REJECTED", "breaker:max_loss_streak")
    report = build_report(ReplayStats(), files, inputs={}, capital=500_000.0)
    assert (report["by_strategy"]["s1"]["wins"], report["by_strategy"]["s1"]["losses"]) == (0, 2)


async def test_the_entry_charges_of_a_position_carried_overnight_count_against_its_exit(journal_dir):
    # CNC: bought on one day (charges 17.80), sold the next 20 higher: the exit's 15.53 alone
    # left a win of 4.47, the round trip lost 13.33
    next_day = DAY + dt.timedelta(days=1)
    clock = ReplayClock(OPEN_NS)
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        entry = await svc.execute_intent(_intent("BUY", 1500.0, "CNC"))
        await svc.on_tick(tick("NSE:INFY", 1502.0, ist_ns(next_day, 9, 15, 1)))
        exit_ = await svc.execute_intent(_intent("SELL", 1502.0, "CNC"))
        running = svc.breaker_status()

    assert (entry.status, exit_.status, running["day"]) == ("FILLED", "FILLED", next_day.isoformat())
    assert 20.0 - exit_.charges > 0 > 20.0 - exit_.charges - entry.charges
    assert running["loss_streak"] == 1
    async with ExecutionService(config, clock=clock) as again:  # the fold of the day's journal
        assert again.breaker_status() == running
        assert again.positions()[0].open_charges == 0.0


async def test_a_flip_counts_against_its_close_only_what_closing_cost(journal_dir, clock):
    # long 10 @ 1500 (charges 6.30), then SELL 30 @ 1502 (charges 28.6): the 10 it closed gained
    # 20.00 gross for 6.30 + a third of 28.6, a win; the rest of its charges opened the short of 20,
    # and its exit will pay for them (before, they made the close a loss)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        entry = await svc.execute_intent(_intent("BUY", 1500.0))
        await svc.on_tick(tick("NSE:INFY", 1502.0, OPEN_NS + 2 * SECOND))
        flip = await svc.execute_intent(
            OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="SELL", qty=30, order_type="LIMIT",
                        price=1502.0)
        )  # fmt: skip
        position = svc.positions()[0]
        streak = svc.breaker_status()["loss_streak"]

    assert (flip.status, flip.avg_price, position.net_qty) == ("FILLED", 1502.0, -20)
    assert 20.0 - flip.charges < 0 < 20.0 - flip.charges / 3 - entry.charges
    assert streak == 0
    assert position.open_charges == pytest.approx(flip.charges * 2 / 3)
