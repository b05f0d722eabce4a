"""MCX's close follows US daylight saving (``session.mcx_close: auto``): 23:55 IST in the US winter,
23:30 in its summer. With the fixed 23:30 a winter evening lost its last 25 minutes: fresh MCX MIS
orders were refused from 23:00 (the session square-off, 30 minutes before the close) and the paper
broker squared MIS off at 23:05 (25 minutes before), while MCX trades and Zerodha squares off until
23:30. A summer evening must keep the earlier times."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.squareoff import mis_entry_cutoff
from tests.conftest import SECOND, make_config, tick
from tests.integration.test_paper_auto_square_off import with_calendar

CRUDE = "MCX:CRUDEOIL26DECFUT"
WINTER, SUMMER = dt.date(2026, 11, 25), dt.date(2026, 7, 15)  # ordinary Wednesdays


def crude_mis(intent_id: str) -> OrderIntent:
    return OrderIntent(symbol=CRUDE, strategy_code="s1", side="BUY", qty=1, intent_id=intent_id)


@pytest.mark.parametrize(
    ("day", "status", "reason", "message"),
    [
        (WINTER, "FILLED", None, None),  # the session square-off is at 23:25
        (
            SUMMER,
            "REJECTED",
            "session",
            "MCX MIS square-off time 23:00 IST has passed: no fresh MIS order on MCX (exits pass)",
        ),
    ],
)
async def test_a_fresh_mcx_mis_order_at_23_10(
    journal_dir: Path, day: dt.date, status: str, reason: str | None, message: str | None
):
    config = make_config(journal_dir, market={"multipliers": {"MCX:CRUDEOIL": 100}})
    clock = ReplayClock(ist_ns(day, 10, 0))
    async with ExecutionService(config, clock=clock) as svc:
        with_calendar(svc)
        svc.engine.mis_entry_cutoff = mis_entry_cutoff(svc.engine.calendar)  # as the daemon does
        await svc.on_tick(tick(CRUDE, 6000.0, ist_ns(day, 10, 0) + SECOND))
        await svc.on_tick(tick(CRUDE, 6010.0, ist_ns(day, 23, 10)))
        late = await svc.execute_intent(crude_mis("late"))
    assert (late.status, late.reject_reason) == (status, reason)
    if message is not None:
        assert late.message == message


@pytest.mark.parametrize(
    ("day", "ticks", "held", "broker_time"),
    [
        (WINTER, [(23, 5, 0), (23, 29, 59), (23, 30, 0)], [1, 1, 0], "23:30"),  # 25 minutes before 23:55
        (SUMMER, [(23, 4, 59), (23, 5, 0)], [1, 0], "23:05"),  # 25 minutes before 23:30
    ],
)
async def test_the_paper_broker_squares_mcx_mis_off_25_minutes_before_the_days_close(
    journal_dir: Path, day: dt.date, ticks: list[tuple[int, int, int]], held: list[int], broker_time: str
):
    config = make_config(journal_dir, market={"multipliers": {"MCX:CRUDEOIL": 100}})
    async with ExecutionService(config, clock=ReplayClock(ist_ns(day, 10, 0))) as svc:
        with_calendar(svc)
        await svc.on_tick(tick(CRUDE, 6000.0, ist_ns(day, 10, 0) + SECOND))
        bought = await svc.execute_intent(crude_mis("c1"))
        seen = []
        for n, hms in enumerate(ticks):
            await svc.on_tick(tick(CRUDE, 6001.0 + n, ist_ns(day, *hms)))
            seen.append(sum(p.net_qty for p in svc.positions()))
        late = await svc.execute_intent(crude_mis("c2"))
    assert bought.status == "FILLED"
    assert seen == held
    why = f"MCX takes no MIS order after the broker's auto square-off at {broker_time} IST"
    assert (late.status, late.message) == ("REJECTED", why)
