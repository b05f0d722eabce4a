"""The Kite simulator's day end: a DAY order still working at the close expires, as the exchange
ends it, and T1 stock is delivered on trading days, not on exchange holidays.

Before, such an order stayed in the simulator's book into the next day while the live service
closed it at its own date line: a tick the next morning could fill an order the journal had
ended, and the journal and the broker disagreed. Each test runs a simulator on an ephemeral port
whose clock the ticks move (a ``ReplayClock``) or a test jumps (``JumpingClock``, the wall clock's
interface); a live ExecutionService talks to it as it talks to Kite.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar
from execsvc.clock import ReplayClock, ist_ns
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.paper.fills import FillModel
from execsvc.session_hours import SessionConfig
from execsvc.sim import KiteSimulator
from execsvc.sim.config import DEFAULT_HOLIDAYS
from execsvc.sim.day_end import DAY_ENDED
from tests.conftest import tick
from tests.integration.test_kite_sim import NO_LIMITS, Kite
from tests.integration.test_live_kite import Collector, live_config, placements_per_tag
from tests.jumping_clock import JumpingClock

THU, FRI = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
STOCK, MARKER = "NSE:INFY", "NSE:SBIN"  # no order names SBIN: its tick only moves the clock
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(DEFAULT_HOLIDAYS))
TOKEN = "rehearsal"  # the service redacts its access token out of messages: not a letter of them
GUARD = 5.0


def simulator(clock: Any, calendar: bool) -> KiteSimulator:
    return KiteSimulator(
        clock=clock,
        rate_limits=NO_LIMITS,
        heartbeat_seconds=0.05,
        calendar=CALENDAR if calendar else None,
        fill_model=FillModel(slippage_bps=0.0),
    )


def order(intent_id: str, price: float, **terms: Any) -> OrderIntent:
    return OrderIntent(
        symbol=STOCK, strategy_code="s1", side="BUY", qty=1, order_type="LIMIT", price=price,
        product="CNC", intent_id=intent_id, **terms,
    )  # fmt: skip


async def buy_infy(kite: Kite, qty: int, **terms: Any) -> str:
    """Place a CNC BUY of INFY through the official client; its order id."""
    order_id: str = await kite(
        "place_order", variety="regular", exchange="NSE", tradingsymbol="INFY", transaction_type="BUY",
        quantity=qty, product="CNC", **terms,
    )  # fmt: skip
    return order_id


def results(journal: Path, intent_id: str) -> list[tuple[str, int, str | None]]:
    records = [json.loads(line)["ev"] for line in journal.read_text().splitlines()]
    return [
        (r["status"], r.get("filled_qty", 0), r.get("message"))
        for r in records
        if r["type"] == "result" and r["intent_id"] == intent_id
    ]


@pytest.mark.parametrize("calendar", [True, False], ids=["session-calendar", "any-hour"])
async def test_a_day_order_resting_at_the_close_ends_at_the_broker_and_in_the_journal_alike(
    tmp_path, calendar
):
    """The order rests through the close; with the calendar the simulator ends it there, without
    it at its date line. Either way the service hears the cancel, the next day's reconciliation
    finds nothing to adopt or apply, and the next morning's tick through its price fills only the
    AMO placed after the close (it waited for the open)."""
    clock = ReplayClock(ist_ns(THU, 15, 0))
    svc_clock = ReplayClock(ist_ns(THU, 15, 0))
    async with simulator(clock, calendar) as sim:
        config = live_config(tmp_path, sim)
        sim.push_tick(tick(STOCK, 1500.0, ist_ns(THU, 15, 0)))
        async with ExecutionService(config, clock=svc_clock, access_token=TOKEN) as svc:
            seen = Collector(svc)
            resting = await svc.execute_intent(order("day", 1490.0))
            sim.push_tick(tick(STOCK, 1495.0, ist_ns(THU, 15, 31)))  # past NSE's close, crossing nothing
            at_close = next(o["status"] for o in sim.orders() if o["tag"] == tag_for("day"))
            svc_clock.advance_to(ist_ns(THU, 16, 0))
            amo = await svc.execute_intent(order("amo", 1495.0, variety="amo"))
            sim.push_tick(tick(MARKER, 800.0, ist_ns(FRI, 0, 0, 1)))  # the simulator's date line
            expired = await seen.until("day", "CANCELLED")
            svc_clock.advance_to(ist_ns(FRI, 0, 0, 1))
            await svc.on_tick(tick(MARKER, 800.0, ist_ns(FRI, 0, 0, 1)))  # the service's date line
        at_broker = [(o["tag"], o["status"]) for o in sim.orders()]
        async with ExecutionService(config, clock=ReplayClock(ist_ns(FRI, 9, 14)), access_token=TOKEN) as svc:
            seen = Collector(svc)
            report = svc.reconciliation
            sim.push_tick(tick(STOCK, 1480.0, ist_ns(FRI, 9, 15)))  # the open, through both prices
            filled = await seen.until("amo", "FILLED")
            positions = [(p.symbol, p.product, p.net_qty) for p in svc.positions() if p.net_qty]
        trades = await Kite(sim.url)("trades")
    assert (resting.status, amo.status) == ("PLACED", "PLACED")
    assert at_close == ("CANCELLED" if calendar else "OPEN")
    assert (expired.filled_qty, expired.message) == (0, DAY_ENDED)
    assert results(tmp_path / "2026-11-19.jsonl", "day") == [
        ("PLACED", 0, "accepted by the broker"),
        ("CANCELLED", 0, DAY_ENDED),
    ]
    assert at_broker == [(tag_for("amo"), "AMO REQ RECEIVED")]  # the ended order left the book
    assert report is not None
    # checked: only the AMO, the one order both sides still have working (reconciliation lists
    # every order it finds at the broker by its id as updated)
    assert (report.orders_checked, report.orders_updated, report.orders_adopted) == (1, [tag_for("amo")], [])
    assert (report.orders_gone, report.orders_not_placed, report.position_mismatches) == ([], [], [])
    assert (filled.filled_qty, filled.avg_price) == (1, 1480.0)
    assert [t["order_id"] for t in trades] == [amo.order_id]
    assert positions == [(STOCK, "CNC", 1)]
    assert placements_per_tag(sim) == {tag_for("day"): 1, tag_for("amo"): 1}


async def test_on_a_waiting_clock_the_close_ends_the_order_without_a_request_or_a_tick():
    """``execsvc kite-sim`` runs on the wall clock, which ticks do not move: its timer sends the
    cancel at the close, so a service listening on the WebSocket hears it then."""
    clock = JumpingClock(ist_ns(THU, 15, 29))
    async with simulator(clock, calendar=True) as sim:
        sim.push_tick(tick(STOCK, 1500.0, ist_ns(THU, 15, 29)))
        order_id = await buy_infy(Kite(sim.url), 1, order_type="LIMIT", price=1490.0)
        await clock.asleep_until(ist_ns(THU, 15, 30))  # the timer waits for NSE's close
        requests = sim.stats()["requests"]
        clock.advance_to(ist_ns(THU, 15, 30))

        def ended() -> bool:
            return any(o["order_id"] == order_id and o["status"] == "CANCELLED" for o in sim.orders())

        await asyncio.wait_for(sim.wait_until(ended), GUARD)
        assert sim.stats()["requests"] == requests
        assert await clock.asleep() == ist_ns(THU, 17, 0)  # then it waits for the currency close


@pytest.mark.parametrize(
    ("calendar", "wednesday", "thursday"),
    [(True, (0, 5), (5, 0)), (False, (5, 0), (5, 0))],
    ids=["session-calendar", "weekdays-only"],
)
async def test_t1_stock_bought_before_an_exchange_holiday_is_delivered_a_trading_day_later(
    calendar, wednesday, thursday
):
    """Bought on Monday 23 Nov 2026; Tuesday 24 is an NSE holiday (Guru Nanak Jayanti). With the
    calendar the stock shows as T1 on Wednesday (the next trading day) and is delivered on
    Thursday; without it (holidays unknown) Tuesday counts and Wednesday already delivers."""
    monday = dt.date(2026, 11, 23)
    clock = ReplayClock(ist_ns(monday, 10, 0))
    async with simulator(clock, calendar) as sim:
        sim.push_tick(tick(STOCK, 1500.0, ist_ns(monday, 10, 0)))
        kite = Kite(sim.url)
        await buy_infy(kite, 5, order_type="MARKET", market_protection=-1)
        held = []
        for day in (2, 3):  # Wednesday and Thursday, each after its date line
            clock.advance_to(ist_ns(monday + dt.timedelta(days=day), 10, 0))
            rows = await kite("holdings")
            held.append([(h["quantity"], h["t1_quantity"]) for h in rows])
    assert held == [[wednesday], [thursday]]
