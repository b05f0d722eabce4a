"""A restart after the close changes nothing on the next day, also for instruments nothing holds.

Ticks are not journaled. A service that runs on from one day into the next carries each
instrument's last tick across the date line as a mark (``PaperExecutor.closes``); one restarted
after the close on the same tick stream knows only the prices its journal rebuilds: those of the
instruments it holds (``session_closes``). The breakers value an order at its instrument's last
price (``reference_price``), so an order on the next day, sent before its instrument's first tick
of that day, was valued at the last session's price by one run and at nothing by the other: under
``max_order_value_rupees`` one run placed it (and the paper broker refused it for want of a tick),
the other denied it, and the two journals differed. An order of a new day needs its instrument's
first tick of that day to trade, so the date line now carries the marks only of what the new day
holds (a restart rebuilds those: ``session_closes``), and both runs value such an order alike.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.journal.reader import journal_days, journal_path, read_journal
from tests.conftest import make_config, tick

REPO = Path(__file__).resolve().parents[2]
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
THU, FRI = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
HELD, UNHELD, MARKER = "NSE:INFY", "NSE:TCS", "NSE:SBIN"  # MARKER's ticks only move the clock
CAP = 50_000.0


def config(journal_dir: Path) -> Config:
    return make_config(
        journal_dir,
        execution={"slippage_bps": 0, "circuit_breakers": {"max_order_value_rupees": CAP}},
    )


async def started(cfg: Config, at: int) -> ExecutionService:
    svc = ExecutionService(cfg, clock=ReplayClock(at))
    await svc.start()
    svc.engine.calendar = CALENDAR  # what the daemon and ``execsvc replay`` give it
    return svc


def buy(symbol: str, qty: int, intent_id: str, **terms: Any) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code="s1", side="BUY", qty=qty, product="CNC", intent_id=intent_id, **terms
    )


async def run(journal_dir: Path, *, restart_at: int | None = None) -> dict[str, Any]:
    """Thursday: INFY bought and held, TCS only ticking (also after the close); with ``restart_at``
    the service stops and starts again on its journal at 20:00. Friday: orders for TCS before its
    first tick of the day, then after it."""
    cfg = config(journal_dir)
    svc = await started(cfg, ist_ns(THU, 9, 15))
    out: dict[str, Any] = {}
    try:
        await svc.on_tick(tick(HELD, 1_500.0, ist_ns(THU, 10, 0)))
        assert (await svc.execute_intent(buy(HELD, 10, "held"))).status == "FILLED"
        await svc.on_tick(tick(UNHELD, 4_000.0, ist_ns(THU, 15, 29)))
        await svc.on_tick(tick(HELD, 1_510.0, ist_ns(THU, 15, 29, 30)))
        await svc.on_tick(tick(UNHELD, 4_010.0, ist_ns(THU, 15, 45)))  # a post-close tick
        await svc.on_tick(tick(MARKER, 800.0, ist_ns(THU, 20, 0)))
        if restart_at is not None:
            await svc.stop()
            svc = await started(cfg, restart_at)
        await svc.on_tick(tick(MARKER, 801.0, ist_ns(FRI, 9, 15)))  # meets the date line
        out["marks"] = {s: svc.engine.executor.last_price(s) for s in (HELD, UNHELD)}
        answers: dict[str, ExecutionResult] = {}
        answers["cheap"] = await svc.execute_intent(buy(UNHELD, 10, "cheap"))  # ₹40,100 at Thursday's
        answers["dear"] = await svc.execute_intent(buy(UNHELD, 20, "dear"))  # ₹80,200: over the cap
        answers["bid"] = await svc.execute_intent(buy(UNHELD, 10, "bid", order_type="LIMIT", price=4_000.0))
        await svc.on_tick(tick(UNHELD, 4_020.0, ist_ns(FRI, 9, 16)))
        answers["after"] = await svc.execute_intent(buy(UNHELD, 10, "after"))
        answers["too_dear"] = await svc.execute_intent(buy(UNHELD, 20, "too_dear"))
        out["answers"] = {k: (r.status, r.reject_reason, r.message) for k, r in answers.items()}
    finally:
        await svc.stop()
    return out


def journaled(journal_dir: Path) -> dict[str, list[tuple[int, Any]]]:
    """Every day's records as (ts, event): what a restart must not change."""
    return {
        day: [(r.ts, r.ev) for r in read_journal(journal_path(journal_dir, day)).records]
        for day in journal_days(journal_dir)
    }


async def test_a_restart_after_the_close_values_the_next_days_orders_as_a_run_that_went_on(tmp_path):
    straight = await run(tmp_path / "straight")
    restarted = await run(tmp_path / "restarted", restart_at=ist_ns(THU, 20, 0))

    assert restarted == straight
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")


async def test_the_next_day_values_an_unheld_instrument_at_its_first_tick_of_that_day(tmp_path):
    out = await run(tmp_path / "straight")

    no_price = "max_order_value: no price to value the order against"
    no_tick = f"no market data for {UNHELD}: the simulator needs a tick first"
    assert out["marks"] == {HELD: 1_510.0, UNHELD: None}  # what is held keeps its close as its mark
    assert out["answers"] == {
        "cheap": ("REJECTED", "breaker:max_order_value", no_price),
        "dear": ("REJECTED", "breaker:max_order_value", no_price),
        "bid": ("REJECTED", "no_market_data", no_tick),
        "after": ("FILLED", None, None),
        "too_dear": ("REJECTED", "breaker:max_order_value", "max_order_value: 80,400.00 > 50,000.00"),
    }
