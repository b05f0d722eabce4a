"""The Kite simulator's session calendar: Kite refuses a regular order out of market hours, the
exchange takes AMOs at the open and matches nothing out of its session.

Each test runs a simulator on an ephemeral port with its clock a ReplayClock that the ticks move
(``ts_event``), and talks to it through the official kiteconnect client or a live
ExecutionService whose own calendar is off (the embedded default), so that what refuses or holds
an order is the simulator, not the service. Without the calendar (the default) the simulator
trades at any hour, as the night rehearsals of ``configs/sim.yaml`` need.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest
from kiteconnect import exceptions as kex

from execsvc import ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.paper.fills import FillModel
from execsvc.sim import KiteSimulator
from execsvc.sim.day_end import DAY_ENDED
from execsvc.sim.session import MARKETS_CLOSED
from tests.conftest import tick
from tests.integration.test_fo_futures_pre_open import NIFTY_FUTURES
from tests.integration.test_kite_sim import NO_LIMITS, Kite
from tests.integration.test_live_kite import Collector, live_config

THU, FRI = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
SAT = FRI + dt.timedelta(days=1)
STOCK, CRUDE = "NSE:INFY", "MCX:CRUDEOIL26DECFUT"
CRUDE_MULTIPLIER = {"MCX:CRUDEOIL": 100.0}


async def simulator(at: int, *, calendar: bool = True) -> KiteSimulator:
    """A started simulator whose clock starts at ``at``, INFY at 1,500 then (fills at the price)."""
    sim = KiteSimulator(
        clock=ReplayClock(at),
        rate_limits=NO_LIMITS,
        heartbeat_seconds=0.05,
        session_calendar=calendar,
        fill_model=FillModel(slippage_bps=0.0),
        multipliers=CRUDE_MULTIPLIER,
    )
    await sim.start()
    sim.push_tick(tick(STOCK, 1500.0, at))
    return sim


@pytest.fixture
async def sims() -> AsyncIterator[Callable[..., Any]]:
    """``await sims(at, calendar=...)``: simulators stopped when the test ends."""
    started: list[KiteSimulator] = []

    async def make(at: int, *, calendar: bool = True) -> KiteSimulator:
        started.append(sim := await simulator(at, calendar=calendar))
        return sim

    yield make
    for sim in started:
        await sim.stop()


def with_crude(config: Config) -> Config:
    """``config`` knowing crude oil's contract multiplier, as the simulator does."""
    return msgspec.structs.replace(
        config, market=msgspec.structs.replace(config.market, multipliers=CRUDE_MULTIPLIER)
    )


def order(intent_id: str, *, symbol: str = STOCK, **terms: Any) -> OrderIntent:
    terms = {"side": "BUY", "qty": 1, "order_type": "LIMIT", "price": 1490.0, "product": "NRML"} | terms
    if symbol == STOCK and terms["product"] == "NRML":
        terms["product"] = "CNC"
    return OrderIntent(symbol=symbol, strategy_code="s1", intent_id=intent_id, **terms)


def at_sim(sim: KiteSimulator, intent_id: str) -> dict[str, Any]:
    """The simulator's order placed for ``intent_id`` (found by execsvc's tag)."""
    return next(o for o in sim.orders() if o["tag"] == tag_for(intent_id))


def at_id(sim: KiteSimulator, order_id: str) -> dict[str, Any]:
    """The simulator's order ``order_id``, as ``GET /orders`` shows it."""
    return next(o for o in sim.orders() if o["order_id"] == order_id)


async def place_infy(kite: Kite, variety: str = "regular", price: float = 1490.0) -> str:
    order_id: str = await kite(
        "place_order", variety=variety, exchange="NSE", tradingsymbol="INFY", transaction_type="BUY",
        quantity=1, product="CNC", order_type="LIMIT", price=price,
    )  # fmt: skip
    return order_id


@pytest.mark.parametrize(
    ("when", "phase"),
    [
        (ist_ns(THU, 15, 30), "at the close"),
        (ist_ns(THU, 15, 45), "after the close (NSE's closing session included)"),
        (ist_ns(FRI, 9, 5), "in the equity pre-open"),
        (ist_ns(SAT, 11, 0), "on a Saturday"),
        (ist_ns(dt.date(2026, 11, 24), 11, 0), "on an exchange holiday (configs/holidays-2026.yaml)"),
    ],
)
async def test_a_regular_order_out_of_the_session_is_refused_as_kite_refuses_it(sims, when, phase):
    sim = await sims(when)
    kite = Kite(sim.url)
    with pytest.raises(kex.InputException) as refused:  # kiteconnect's class for Kite's error_type
        await place_infy(kite)
    amo_id = await place_infy(kite, variety="amo")
    assert (refused.value.code, str(refused.value)) == (400, MARKETS_CLOSED), phase
    assert [(o["order_id"], o["status"]) for o in sim.orders()] == [(amo_id, "AMO REQ RECEIVED")]


async def test_a_live_service_hears_the_refusal_after_the_close(tmp_path, sims):
    sim = await sims(ist_ns(THU, 15, 29))
    svc_clock = ReplayClock(ist_ns(THU, 15, 29))
    async with ExecutionService(live_config(tmp_path, sim), clock=svc_clock, access_token="rehearsal") as svc:
        placed = await svc.execute_intent(order("in-session"))
        sim.push_tick(tick(STOCK, 1500.0, ist_ns(THU, 15, 31)))  # the sim's clock: past the close
        svc_clock.advance_to(ist_ns(THU, 15, 31))
        refused = await svc.execute_intent(order("after-close"))
    assert placed.status == "PLACED"
    assert refused.status == "REJECTED" and refused.reject_reason == "broker:InputException"
    assert MARKETS_CLOSED in (refused.message or ""), refused.message
    assert [o["tag"] for o in sim.orders()] == [tag_for("in-session")]


async def test_an_amo_placed_after_the_close_goes_to_the_book_at_the_next_open_not_before(sims):
    sim = await sims(ist_ns(THU, 15, 45))
    kite = Kite(sim.url)
    order_id = await place_infy(kite, variety="amo", price=1495.0)
    seen = []
    for when in (ist_ns(THU, 15, 50), ist_ns(FRI, 9, 0), ist_ns(FRI, 9, 14, 59)):  # post-close, pre-open
        sim.push_tick(tick(STOCK, 1480.0, when))
        seen.append(at_id(sim, order_id)["status"])
    sim.push_tick(tick(STOCK, 1480.0, ist_ns(FRI, 9, 15)))  # the open
    history = await kite("order_history", order_id)
    assert seen == ["AMO REQ RECEIVED"] * 3
    assert history[-1]["status"] == "COMPLETE" and history[-1]["average_price"] == 1480.0
    opened = next(h for h in history if h["status"] == "OPEN")
    assert opened["exchange_timestamp"] == dt.datetime(2026, 11, 20, 9, 15)  # kiteconnect parses it


async def test_a_live_amo_before_the_open_is_held_through_the_pre_open_and_fills_at_the_open(tmp_path, sims):
    sim = await sims(ist_ns(FRI, 8, 30))
    svc_clock = ReplayClock(ist_ns(FRI, 8, 30))
    async with ExecutionService(live_config(tmp_path, sim), clock=svc_clock, access_token="rehearsal") as svc:
        seen = Collector(svc)
        placed = await svc.execute_intent(order("amo-1", variety="amo", price=1495.0))
        sim.push_tick(tick(STOCK, 1480.0, ist_ns(FRI, 9, 5)))  # the pre-open: not the exchange's open
        held = at_sim(sim, "amo-1")["status"]
        sim.push_tick(tick(STOCK, 1480.0, ist_ns(FRI, 9, 15, 1)))
        filled = await seen.until("amo-1", "FILLED")
    assert placed.status == "PLACED" and held == "AMO REQ RECEIVED"
    assert (filled.filled_qty, filled.avg_price) == (1, 1480.0)


@pytest.mark.parametrize(
    ("calendar", "heard", "states"),
    [(True, "CANCELLED", ("CANCELLED", "CANCELLED")), (False, "FILLED", ("COMPLETE", "COMPLETE"))],
)
async def test_a_resting_limit_is_not_matched_by_a_tick_after_the_close(
    tmp_path, sims, calendar, heard, states
):
    """With the calendar the close ends both orders (expired, the service told) before the tick
    after it is seen; without it the simulator matches at any hour, and the service hears the fill."""
    sim = await sims(ist_ns(THU, 15, 29), calendar=calendar)
    svc_clock = ReplayClock(ist_ns(THU, 15, 29))
    async with ExecutionService(live_config(tmp_path, sim), clock=svc_clock, access_token="rehearsal") as svc:
        seen = Collector(svc)
        bid = await svc.execute_intent(order("bid"))
        stop = await svc.execute_intent(
            order("stop", side="SELL", order_type="SL-M", price=None, trigger_price=1495.0, product="MIS")
        )
        sim.push_tick(tick(STOCK, 1480.0, ist_ns(THU, 15, 35)))  # crosses both, after NSE's 15:30 close
        at_broker = (at_sim(sim, "bid")["status"], at_sim(sim, "stop")["status"])
        bid_heard = await seen.until("bid", heard)
    assert (bid.status, stop.status) == ("PLACED", "PLACED")
    assert at_broker == states
    assert bid_heard.filled_qty == (0 if calendar else 1)
    if calendar:
        assert bid_heard.message == DAY_ENDED


async def test_an_order_at_the_exchange_expires_at_the_close_and_is_changed_no_more(sims):
    sim = await sims(ist_ns(THU, 15, 29))
    kite = Kite(sim.url)
    order_id = await place_infy(kite)
    sim.push_tick(tick(STOCK, 1500.0, ist_ns(THU, 15, 40)))
    with pytest.raises(kex.OrderException) as modify_refused:  # at 1,500 it would fill at the post-close tick
        await kite("modify_order", variety="regular", order_id=order_id, price=1500.0)
    with pytest.raises(kex.OrderException) as cancel_refused:
        await kite("cancel_order", variety="regular", order_id=order_id)
    expired = at_id(sim, order_id)
    assert str(modify_refused.value) == "Order cannot be modified as it is cancelled."
    assert str(cancel_refused.value) == "Order cannot be cancelled as it is cancelled."
    assert (expired["status"], expired["status_message"], expired["price"], expired["modified"]) == (
        "CANCELLED",
        DAY_ENDED,
        1490.0,
        False,
    )
    assert (expired["filled_quantity"], expired["cancelled_quantity"]) == (0, 1)


async def test_mcx_trades_and_matches_in_its_evening_session(tmp_path, sims):
    # 20 Nov 2026 is after the US went back to standard time: MCX closes at 23:55 IST
    evening = ist_ns(FRI, 21, 0)
    sim = await sims(evening)
    sim.push_tick(tick(CRUDE, 5000.0, evening))
    svc_clock = ReplayClock(evening)
    async with ExecutionService(
        with_crude(live_config(tmp_path, sim)),
        clock=svc_clock,
        access_token="rehearsal",  # "r" would be redacted out of messages
    ) as svc:
        seen = Collector(svc)
        crude = await svc.execute_intent(order("crude", symbol=CRUDE, price=4990.0))
        stock = await svc.execute_intent(order("stock-at-night"))
        sim.push_tick(tick(CRUDE, 4985.0, ist_ns(FRI, 23, 50)))
        filled = await seen.until("crude", "FILLED")
        late = await svc.execute_intent(order("crude-late", symbol=CRUDE, price=4990.0))
        late_filled = await seen.until("crude-late", "FILLED")  # marketable at 23:50, in the session
        sim.push_tick(tick(CRUDE, 4985.0, ist_ns(FRI, 23, 55)))  # the close: refused from here
        after = await svc.execute_intent(order("crude-after", symbol=CRUDE, price=4990.0))
    assert crude.status == "PLACED"
    assert (filled.filled_qty, filled.avg_price) == (1, 4990.0)
    assert stock.status == "REJECTED" and MARKETS_CLOSED in (stock.message or "")
    assert (late.status, late_filled.filled_qty) == ("PLACED", 1)
    assert after.status == "REJECTED" and MARKETS_CLOSED in (after.message or "")


async def test_a_future_placed_in_the_fo_pre_open_goes_to_the_book_at_the_open(sims):
    sim = await sims(ist_ns(FRI, 9, 5))
    sim.push_tick(tick("NFO:NIFTY26DECFUT", 24000.0, ist_ns(FRI, 9, 5)))
    kite = Kite(sim.url)
    order_id = await kite(
        "place_order", variety="regular", exchange="NFO", tradingsymbol="NIFTY26DECFUT",
        transaction_type="BUY", quantity=75, product="NRML", order_type="LIMIT", price=24010.0,
    )  # fmt: skip
    held = at_id(sim, order_id)["status"]
    sim.push_tick(tick("NFO:NIFTY26DECFUT", 24000.0, ist_ns(FRI, 9, 15)))
    assert held == "PUT ORDER REQ RECEIVED"  # the simulator runs no call auction: it waits for the open
    assert at_id(sim, order_id)["status"] == "COMPLETE"


async def test_without_the_calendar_the_simulator_trades_at_any_hour(sims):
    sim = await sims(ist_ns(SAT, 23, 0), calendar=False)
    kite = Kite(sim.url)
    order_id = await place_infy(kite, price=1500.0)
    assert at_id(sim, order_id)["status"] == "COMPLETE"


async def test_a_calendar_given_is_kept_with_its_holidays(sims):
    holidays = Holidays.from_yaml(
        "year: 2026\nsource: test\nexchanges:\n  NSE:\n    - {date: 2026-11-20, name: Test holiday}\n"
    )
    at = ist_ns(FRI, 10, 0)
    async with KiteSimulator(
        clock=ReplayClock(at), rate_limits=NO_LIMITS, calendar=MarketCalendar(SessionConfig(), holidays)
    ) as sim:
        sim.push_tick(tick(STOCK, 1500.0, at))
        with pytest.raises(kex.InputException):
            await place_infy(Kite(sim.url))
    assert sim.orders() == []


async def test_an_amo_whose_instrument_never_ticks_in_the_session_ends_at_the_close(tmp_path, sims):
    """The exchange opens an AMO at the open and ends it at the close if nothing fills it; the
    simulator releases one only with its instrument's tick, so without one it must still end it
    there (not carry it into the next day). An AMO placed after the close waits for the next open."""
    sim = await sims(ist_ns(THU, 8, 30))  # INFY's only tick is this one, before the open
    svc_clock = ReplayClock(ist_ns(THU, 8, 30))
    async with ExecutionService(live_config(tmp_path, sim), clock=svc_clock, access_token="rehearsal") as svc:
        seen = Collector(svc)
        early = await svc.execute_intent(order("amo-early", variety="amo", price=1495.0))
        sim.push_tick(tick("NSE:SBIN", 800.0, ist_ns(THU, 10, 0)))  # another stock trades all day
        held = at_sim(sim, "amo-early")["status"]
        sim.push_tick(tick("NSE:SBIN", 800.0, ist_ns(THU, 15, 30)))  # the close
        ended = await seen.until("amo-early", "CANCELLED")
        svc_clock.advance_to(ist_ns(THU, 16, 0))
        late = await svc.execute_intent(order("amo-late", variety="amo", price=1495.0))
        sim.push_tick(tick("NSE:SBIN", 800.0, ist_ns(FRI, 0, 0, 1)))  # the date line
        at_date_line = at_sim(sim, "amo-late")["status"]
        sim.push_tick(tick(STOCK, 1480.0, ist_ns(FRI, 9, 15)))  # the next open
        filled = await seen.until("amo-late", "FILLED")
    assert (early.status, held) == ("PLACED", "AMO REQ RECEIVED")
    assert (ended.filled_qty, ended.message) == (0, DAY_ENDED)
    assert (late.status, at_date_line) == ("PLACED", "AMO REQ RECEIVED")
    assert (filled.filled_qty, filled.avg_price) == (1, 1480.0)


async def test_the_fo_pre_open_refuses_a_far_month_future_by_the_dumps_expiries():
    sim = KiteSimulator(
        clock=ReplayClock(ist_ns(FRI, 9, 5)), rate_limits=NO_LIMITS, session_calendar=True,
        instruments=NIFTY_FUTURES,
    )  # fmt: skip
    async with sim:
        kite = Kite(sim.url)
        terms = {"variety": "regular", "exchange": "NFO", "transaction_type": "BUY", "quantity": 1}
        terms |= {"product": "NRML", "order_type": "LIMIT", "price": 26_000.0}
        with pytest.raises(kex.InputException) as refused:
            await kite("place_order", tradingsymbol="NIFTY27JANFUT", **terms)
        near = await kite("place_order", tradingsymbol="NIFTY26DECFUT", **terms)
    assert str(refused.value).startswith("tradingsymbol='NIFTY27JANFUT' (expiry 2027-01-26)")
    assert "current month (expiry 2026-12-29)" in str(refused.value)
    assert at_id(sim, near)["status"] == "PUT ORDER REQ RECEIVED"  # taken, waiting for the open


async def test_a_future_taken_in_the_pre_open_that_never_met_the_open_expires_at_the_close(sims):
    # a DAY order like any other (the paper broker ends it at the date line, a live journal at its
    # own): held over, the next session's first tick would fill an order the service closed
    sim = await sims(ist_ns(FRI, 9, 5))
    sim.push_tick(tick("NFO:NIFTY26DECFUT", 24000.0, ist_ns(FRI, 9, 5)))  # the pre-open: no open
    kite = Kite(sim.url)
    order_id = await kite(
        "place_order", variety="regular", exchange="NFO", tradingsymbol="NIFTY26DECFUT",
        transaction_type="BUY", quantity=75, product="NRML", order_type="LIMIT", price=24010.0,
    )  # fmt: skip
    sim.push_tick(tick(STOCK, 1500.0, ist_ns(FRI, 15, 40)))  # no NIFTY tick all day; NSE has closed
    at_close = at_id(sim, order_id)
    monday = FRI + dt.timedelta(days=3)
    sim.push_tick(tick("NFO:NIFTY26DECFUT", 24000.0, ist_ns(monday, 9, 15)))
    assert (at_close["status"], at_close["status_message"]) == ("CANCELLED", DAY_ENDED)
    assert [o["filled_quantity"] for o in sim.orders() if o["order_id"] == order_id] in ([], [0])
