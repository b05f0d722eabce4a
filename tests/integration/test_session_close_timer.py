"""On a live clock the held instruments' closing prices are journaled at the close, with no input
after it (the service's session-close timer, ``execsvc.close_timer``).

Found by a hunt: ``session_closes`` was journaled only by the first input from an exchange's close.
A daemon on the wall clock gets no tick once the exchanges close and nothing steps its clock:
killed between the close and the date line and restarted, it had journaled no close, and the
expiring December future and 26000 CE settled at their entry fills (₹0 booked) instead of the
15:29 close (-₹14,950). The clock here is a live one that jumps when told (``JumpingClock``):
ticks do not move it, and nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from execsvc import ExecutionService
from execsvc.clock import LiveClock, ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.journal.inspect import fold_file
from execsvc.market.ticks import Tick
from tests.conftest import journal_records, tick
from tests.integration.test_session_closes_restart import (
    CALENDAR,
    CALL,
    FUT,
    JAN,
    MARKER,
    TUE,
    WED,
    buy,
    config,
    settlement_prices,
)
from tests.jumping_clock import JumpingClock

THU = WED + dt.timedelta(days=1)
TUE_FILE, WED_FILE = f"{TUE.isoformat()}.jsonl", f"{WED.isoformat()}.jsonl"
FUT_CLOSE = {"symbol": FUT, "last_price": 26_020.0, "bid": 26_015.0, "ask": 26_025.0}
CALL_CLOSE = {"symbol": CALL, "last_price": 95.0, "bid": 94.5, "ask": 95.5}
# what the timer journals once the clock reaches 15:31, when nothing came after the 15:29 ticks
AT_THE_CLOSE = [
    {"type": "session_closes", "closes": [FUT_CLOSE, CALL_CLOSE], "ts_event": ist_ns(TUE, 15, 31)}
]


async def started(cfg: Config, clock: JumpingClock) -> ExecutionService:
    svc = ExecutionService(cfg, clock=clock)
    await svc.start()
    svc.engine.calendar = CALENDAR  # what the daemon gives it (here after the start: the timer wakes)
    return svc


async def at(clock: JumpingClock, svc: ExecutionService, when: int, item: Tick) -> None:
    """The wall clock reaches ``when`` and the feed sends ``item`` (a live service stamps a tick
    with its clock's time, not the tick's)."""
    clock.advance_to(when)
    await svc.on_tick(item)


async def expiry_day(clock: JumpingClock, svc: ExecutionService) -> None:
    """Long 65 December futures at 26,120 and 130 calls at 160; the last ticks at 15:29."""
    await at(clock, svc, ist_ns(TUE, 10, 0), tick(FUT, 26_120.0, 0))
    await at(clock, svc, ist_ns(TUE, 10, 0, 1), tick(CALL, 160.0, 0))
    for intent in (buy(FUT, 65, "f1"), buy(CALL, 130, "c1")):
        assert (await svc.execute_intent(intent)).status == "FILLED"
    await at(clock, svc, ist_ns(TUE, 15, 29), tick(FUT, 26_020.0, 0, bid=26_015.0, ask=26_025.0))
    await at(clock, svc, ist_ns(TUE, 15, 29, 1), tick(CALL, 95.0, 0, bid=94.5, ask=95.5))


def session_closes(path: Path) -> list[dict[str, Any]]:
    return [e for e in journal_records(path) if e["type"] == "session_closes"]


async def test_the_close_is_journaled_with_no_input_after_it_and_a_restart_after_a_kill_settles_at_it(
    tmp_path, journal_dir
):
    cfg = config(tmp_path, journal_dir)
    clock = JumpingClock(ist_ns(TUE, 9, 15))
    svc = await started(cfg, clock)
    try:
        await expiry_day(clock, svc)
        assert await clock.asleep() == ist_ns(TUE, 15, 30)  # the timer waits for the close

        clock.advance_to(ist_ns(TUE, 15, 31))  # no more input
        assert await clock.asleep() == ist_ns(TUE, 16, 45)  # done with 15:30: CDS's broker time next
        assert session_closes(journal_dir / TUE_FILE) == AT_THE_CLOSE
    finally:
        await svc.kill()  # killed between the close and the date line

    clock.advance_to(ist_ns(TUE, 20, 0))
    svc = await started(cfg, clock)
    try:
        assert {s: svc.engine.executor.last_price(s) for s in (FUT, CALL)} == {FUT: 26_020.0, CALL: 95.0}
        await clock.asleep()
        clock.advance_to(ist_ns(WED, 9, 15))
        await svc.on_tick(tick(MARKER, 801.0, 0))  # meets the date line
    finally:
        await svc.stop()

    assert settlement_prices(journal_dir) == {FUT: 26_020.0, CALL: 95.0}
    books = fold_file(journal_dir / TUE_FILE).positions.values()
    assert {p.symbol: p.realized_gross for p in books} == {FUT: -6_500.0, CALL: -8_450.0}
    assert session_closes(journal_dir / TUE_FILE) == AT_THE_CLOSE  # the restart journaled it not again


async def test_nothing_is_journaled_at_the_close_when_nothing_is_held(tmp_path, journal_dir):
    clock = JumpingClock(ist_ns(TUE, 9, 15))
    svc = await started(config(tmp_path, journal_dir), clock)
    try:
        await at(clock, svc, ist_ns(TUE, 15, 29), tick(FUT, 26_020.0, 0, bid=26_015.0, ask=26_025.0))
        await at(clock, svc, ist_ns(TUE, 15, 29, 1), tick(CALL, 95.0, 0))
        assert await clock.asleep() == ist_ns(TUE, 15, 30)

        clock.advance_to(ist_ns(TUE, 15, 31))
        assert await clock.asleep() == ist_ns(TUE, 16, 45)  # the timer went past the close
    finally:
        await svc.stop()

    assert [e["type"] for e in journal_records(journal_dir / TUE_FILE)] == ["journal_opened"]


async def test_a_late_tick_after_the_timer_journals_no_second_close(tmp_path, journal_dir):
    clock = JumpingClock(ist_ns(TUE, 9, 15))
    svc = await started(config(tmp_path, journal_dir), clock)
    try:
        await expiry_day(clock, svc)
        assert await clock.asleep() == ist_ns(TUE, 15, 30)
        clock.advance_to(ist_ns(TUE, 15, 31))
        assert await clock.asleep() == ist_ns(TUE, 16, 45)

        # the feed reconnects and sends the last ticks again, another instrument ticks, an intent comes
        await at(clock, svc, ist_ns(TUE, 15, 45), tick(FUT, 26_020.0, 0, bid=26_015.0, ask=26_025.0))
        await at(clock, svc, ist_ns(TUE, 15, 45, 1), tick(CALL, 95.0, 0, bid=94.5, ask=95.5))
        await at(clock, svc, ist_ns(TUE, 15, 46), tick(MARKER, 800.0, 0))
        assert (await svc.execute_intent(buy(FUT, 65, "late"))).status == "REJECTED"  # after the close
    finally:
        await svc.stop()

    assert session_closes(journal_dir / TUE_FILE) == AT_THE_CLOSE


async def test_a_service_that_runs_for_days_journals_each_days_close_in_that_days_file(tmp_path, journal_dir):
    clock = JumpingClock(ist_ns(TUE, 9, 15))
    svc = await started(config(tmp_path, journal_dir), clock)
    try:
        await at(clock, svc, ist_ns(TUE, 10, 0), tick(JAN, 26_350.0, 0))
        assert (await svc.execute_intent(buy(JAN, 65, "j1"))).status == "FILLED"
        await at(clock, svc, ist_ns(TUE, 15, 29), tick(JAN, 26_300.0, 0))
        clock.advance_to(ist_ns(TUE, 15, 31))
        assert await clock.asleep() == ist_ns(TUE, 16, 45)
        clock.advance_to(ist_ns(TUE, 23, 56))  # MCX closes at 23:55 in the US winter
        assert await clock.asleep() == ist_ns(WED, 15, 20)  # past the date line: the next day's NSE time

        clock.advance_to(ist_ns(WED, 15, 31))  # no input all Wednesday: the timer meets the date line
        assert await clock.asleep() == ist_ns(WED, 16, 45)
        assert svc.engine.state.day == WED.isoformat()
        await at(clock, svc, ist_ns(THU, 10, 0), tick(JAN, 26_500.0, 0))
        await at(clock, svc, ist_ns(THU, 15, 29), tick(JAN, 26_400.0, 0))
        clock.advance_to(ist_ns(THU, 15, 31))
        assert await clock.asleep() == ist_ns(THU, 16, 45)
    finally:
        await svc.stop()

    closes = {
        day: [(e["closes"], e["ts_event"]) for e in session_closes(journal_dir / f"{day.isoformat()}.jsonl")]
        for day in (TUE, WED, THU)
    }
    assert closes == {
        TUE: [([{"symbol": JAN, "last_price": 26_300.0}], ist_ns(TUE, 15, 31))],
        WED: [],  # no tick all day: no price of the day to journal (as with an input at 15:31)
        THU: [([{"symbol": JAN, "last_price": 26_400.0}], ist_ns(THU, 15, 31))],
    }


async def test_a_replay_clock_runs_no_timer(tmp_path, journal_dir):
    svc = ExecutionService(config(tmp_path, journal_dir), clock=ReplayClock(ist_ns(TUE, 9, 15)))
    await svc.start()
    try:
        svc.engine.calendar = CALENDAR
        names = {task.get_name() for task in svc._lifecycle.background}
    finally:
        await svc.stop()

    assert "session-close-timer" not in names
    assert "journal-writer" in names


async def test_the_wall_clock_wakes_a_sleeper_whose_time_has_come_at_once():
    await asyncio.wait_for(LiveClock().sleep_until(ist_ns(dt.date(2020, 1, 1), 15, 30)), 5)
