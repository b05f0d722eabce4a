"""An order at the next session's open, before its instrument's first tick of the day: the paper
exchange has no price of that day for it yet. Before, a service that ran through the date line
filled it at the last price of the previous session (a Friday's close on a Monday, whatever the
gap), while a service started that morning refused it for want of a tick."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick
from tests.integration.test_paper_auto_square_off import intent

MONDAY_OPEN = ist_ns(DAY + dt.timedelta(days=3), 9, 15)


async def a_friday(svc: ExecutionService) -> None:
    await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
    await svc.execute_intent(intent("BUY", 10, "n1", product="NRML"))


@pytest.mark.parametrize("through", ["ran through the weekend", "started on Monday"])
async def test_a_market_order_before_the_days_first_tick_is_not_filled_at_fridays_price(
    journal_dir: Path, through: str
):
    config = make_config(journal_dir)
    if through == "started on Monday":
        async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
            await a_friday(svc)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        if through == "ran through the weekend":
            await a_friday(svc)
        await svc.on_tick(tick("NSE:TCS", 4000.0, MONDAY_OPEN))  # Monday, INFY has not traded yet
        early = await svc.execute_intent(intent("BUY", 1, "early", product="NRML"))
        marked = svc.engine.executor.last_price("NSE:INFY")
        await svc.on_tick(tick("NSE:INFY", 1600.0, MONDAY_OPEN + SECOND))
        priced = await svc.execute_intent(intent("BUY", 1, "priced", product="NRML"))
    assert (early.status, early.reject_reason) == ("REJECTED", "no_market_data")
    assert (priced.status, priced.avg_price) == ("FILLED", 1600.8)
    if through == "ran through the weekend":  # Friday's close still marks the carried position
        assert marked == 1500.0
