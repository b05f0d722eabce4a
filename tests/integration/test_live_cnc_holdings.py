"""Live delivery (CNC) stock across days: the broker moves it from positions to holdings.

At Zerodha, stock bought CNC shows under positions on the day of purchase only; from the next
trading day it is in the demat account (``GET /portfolio/holdings``). The journal carries the CNC
position across days, so start-up reconciliation must compare what was carried in with the
holdings, not with the positions: before, every start after a CNC purchase halted trading with a
"position mismatch" until the stock was sold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.executors.kite.client import KiteRestClient
from execsvc.sim import KiteSimulator
from tests.integration.test_kite_sim import NO_LIMITS
from tests.integration.test_live_kite import Collector, intent, live_config, tick

MONDAY = dt.date(2026, 11, 16)
TUESDAY, WEDNESDAY = MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=2)


@pytest.fixture
async def broker() -> AsyncIterator[tuple[KiteSimulator, ReplayClock]]:
    """A simulator on an ephemeral port whose clock the test moves across the date line (its rate
    limits off: a clock that stands still between the moves would count a whole run as one second)."""
    clock = ReplayClock(ist_ns(MONDAY, 10, 0))
    async with KiteSimulator(heartbeat_seconds=0.05, clock=clock, rate_limits=NO_LIMITS) as sim:
        sim.push_tick(tick(1500.0))
        yield sim, clock


async def broker_view(sim: KiteSimulator) -> tuple[list[tuple[str, int]], list[tuple[str, int, int, int]]]:
    """The broker's CNC positions and its holdings, read through the REST API."""
    async with KiteRestClient(api_key="testkey", access_token="t", root=sim.url) as client:
        positions = await client.positions()
        holdings = await client.holdings()
    cnc = [(p.tradingsymbol, p.quantity) for p in positions["net"] if p.product == "CNC"]
    held = [(h.tradingsymbol, h.quantity, h.t1_quantity, h.used_quantity) for h in holdings]
    return cnc, held


async def buy_on_monday(config, intent_id: str = "cnc-buy") -> None:
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MONDAY, 10, 0)), access_token="t") as svc:
        seen = Collector(svc)
        await svc.execute_intent(intent(intent_id, product="CNC"))  # MARKET BUY 5
        await seen.until(intent_id, "FILLED")


async def test_cnc_stock_bought_yesterday_does_not_halt_the_restart_today_nor_after_a_sale(tmp_path, broker):
    sim, broker_clock = broker
    config = live_config(tmp_path, sim)
    await buy_on_monday(config)

    tuesday = ist_ns(TUESDAY, 9, 20)
    broker_clock.advance_to(tuesday)  # the broker's day boundary
    assert await broker_view(sim) == ([], [("INFY", 0, 5, 0)])  # T1 in holdings, gone from positions
    async with ExecutionService(config, clock=ReplayClock(tuesday), access_token="t") as svc:
        report, halted = svc.reconciliation, svc.halted
        positions = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
        seen = Collector(svc)
        await svc.execute_intent(intent("cnc-sell", side="SELL", qty=2, product="CNC"))
        await seen.until("cnc-sell", "FILLED")
    assert report is not None and report.position_mismatches == [], report.position_mismatches
    assert not report.halted and not halted
    assert positions == [("CNC", 5)]

    # a sale of held stock shows in the day's positions: a restart the same day matches too
    assert await broker_view(sim) == ([("INFY", -2)], [("INFY", 0, 5, 2)])
    async with ExecutionService(config, clock=ReplayClock(ist_ns(TUESDAY, 11, 0)), access_token="t") as svc:
        report, halted = svc.reconciliation, svc.halted
    assert report is not None and report.position_mismatches == [] and not halted

    wednesday = ist_ns(WEDNESDAY, 9, 20)
    broker_clock.advance_to(wednesday)  # delivered; the sale taken out
    assert await broker_view(sim) == ([], [("INFY", 3, 0, 0)])
    async with ExecutionService(config, clock=ReplayClock(wednesday), access_token="t") as svc:
        report, halted = svc.reconciliation, svc.halted
        positions = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert report is not None and report.position_mismatches == [] and not halted
    assert positions == [("CNC", 3)]


async def test_a_journal_that_carried_more_than_the_broker_holds_halts_naming_symbol_and_both_quantities(
    tmp_path, broker
):
    sim, broker_clock = broker
    config = live_config(tmp_path, sim)
    await buy_on_monday(config)
    async with KiteRestClient(api_key="testkey", access_token="t", root=sim.url) as client:
        await client.place_order(  # someone sells 2 of them outside execsvc, the same day
            "regular",
            {
                "exchange": "NSE",
                "tradingsymbol": "INFY",
                "transaction_type": "SELL",
                "quantity": "2",
                "product": "CNC",
                "order_type": "MARKET",
                "market_protection": "-1",
            },
        )
    tuesday = ist_ns(TUESDAY, 9, 20)
    broker_clock.advance_to(tuesday)
    async with ExecutionService(config, clock=ReplayClock(tuesday), access_token="t") as svc:
        report, halted_reason = svc.reconciliation, svc.engine.state.breakers.halted_reason
        refused = await svc.execute_intent(intent("after-mismatch", product="CNC"))
    expected = "NSE:INFY CNC carried in: journal 5, broker holds 3"
    assert report is not None and report.position_mismatches == [expected]
    assert report.halted
    assert halted_reason is not None and expected in halted_reason
    assert refused.status == "REJECTED" and refused.reject_reason == "breaker:halted"


async def test_stock_held_beyond_what_execsvc_bought_is_no_mismatch(tmp_path, broker):
    sim, broker_clock = broker
    config = live_config(tmp_path, sim)
    async with KiteRestClient(api_key="testkey", access_token="t", root=sim.url) as client:
        await client.place_order(  # the trader's own long-term stock, bought by hand
            "regular",
            {
                "exchange": "NSE",
                "tradingsymbol": "INFY",
                "transaction_type": "BUY",
                "quantity": "100",
                "product": "CNC",
                "order_type": "MARKET",
                "market_protection": "-1",
            },
        )
    broker_clock.advance_to(ist_ns(TUESDAY, 9, 0))
    async with ExecutionService(
        config, clock=ReplayClock(ist_ns(TUESDAY, 10, 0)), access_token="t"
    ) as svc:  # execsvc's first day: it buys 5 CNC
        seen = Collector(svc)
        await svc.execute_intent(intent("cnc-buy", product="CNC"))
        await seen.until("cnc-buy", "FILLED")
    wednesday = ist_ns(WEDNESDAY, 9, 20)
    broker_clock.advance_to(wednesday)
    assert await broker_view(sim) == ([], [("INFY", 100, 5, 0)])
    async with ExecutionService(config, clock=ReplayClock(wednesday), access_token="t") as svc:
        report, halted = svc.reconciliation, svc.halted
    assert report is not None and report.position_mismatches == [] and not halted
