"""An embedded service with the market calendar (``session_calendar``): the session's refusals and
the paper broker's MIS square-off at Zerodha's times, as the daemon and ``execsvc replay`` have
them; without it (the default) orders go out at any hour."""

from __future__ import annotations

import pytest

from execsvc import (
    ExecutionService,
    Holidays,
    MarketCalendar,
    OrderIntent,
    ReplayClock,
    ValidationError,
    load_config,
)
from execsvc.clock import ist_ns
from execsvc.executors.paper.auto_square_off import REASON
from tests.conftest import DAY, OPEN_NS, SECOND, amo, make_config, tick
from tests.jumping_clock import JumpingClock

EVENING = ist_ns(DAY, 20, 0)  # a Friday: the next session is Monday's


def buy(intent_id: str, **kw: object) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=4, intent_id=intent_id, **kw)  # type: ignore[arg-type]


async def test_with_the_calendar_an_order_at_20_00_is_refused_naming_the_session_and_an_amo_passes(
    journal_dir,
):
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(EVENING), session_calendar=True) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING + SECOND))
        refused = await svc.execute_intent(buy("late"))
        queued = await svc.execute_intent(amo("after-hours"))
        calendar = svc.calendar
    assert (refused.status, refused.reject_reason) == ("REJECTED", "session")
    assert refused.message.startswith(
        "NSE is post_close (the session closed at 15:30 IST): "
        "next open 2026-11-23 09:15 IST; send variety='amo'"
    )
    assert queued.status == "PLACED"  # waits for Monday's open
    assert isinstance(calendar, MarketCalendar)
    assert calendar.config == config.session


async def test_without_the_calendar_the_same_order_at_20_00_fills(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(EVENING)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING + SECOND))
        result = await svc.execute_intent(buy("late"))
        assert svc.calendar is None
    assert (result.status, result.filled_qty) == ("FILLED", 4)


async def test_with_the_calendar_the_paper_broker_squares_mis_off_at_15_20_on_the_tick_past_it(journal_dir):
    seen = []
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(make_config(journal_dir), clock=clock, session_calendar=True) as svc:
        svc.on_result(seen.append)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        bought = await svc.execute_intent(buy("m1"))
        await svc.on_tick(tick("NSE:INFY", 1495.0, ist_ns(DAY, 15, 19, 59)))  # not yet
        await svc.settle()
        held_before = [p.net_qty for p in svc.positions()]
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 21)))  # the first tick past 15:20
        await svc.settle()
        held_after = [p.net_qty for p in svc.positions()]
        late = await svc.execute_intent(buy("fresh-mis"))
    assert bought.status == "FILLED"
    assert held_before == [4]
    assert held_after == [0]
    squared = [r for r in seen if r.intent_id.startswith("auto-sqoff-")]
    assert [(r.side, r.filled_qty, r.status, r.message) for r in squared] == [("SELL", 4, "FILLED", REASON)]
    assert (late.status, late.reject_reason) == ("REJECTED", "after_auto_square_off")


async def test_without_the_calendar_an_mis_position_stays_open_past_15_20(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(buy("m1"))
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 21)))
        await svc.settle()
        assert [p.net_qty for p in svc.positions()] == [4]


async def test_a_calendar_of_ones_own_is_kept(journal_dir):
    config = make_config(journal_dir)
    holidays = Holidays.from_yaml(
        "year: 2026\nsource: test\nexchanges:\n  NSE:\n    - {date: 2026-11-20, name: A day off}\n"
    )
    calendar = MarketCalendar(config.session, holidays)
    noon = ist_ns(DAY, 12, 0)
    async with ExecutionService(config, clock=ReplayClock(noon), session_calendar=calendar) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, noon + SECOND))
        refused = await svc.execute_intent(buy("holiday"))
        assert svc.calendar is calendar
    assert refused.reject_reason == "session"
    assert refused.message.startswith("NSE is closed (holiday: A day off)")


@pytest.mark.parametrize("choice", ["yes", 1, None, "configs/holidays-2026.yaml"])
def test_a_session_calendar_that_is_neither_a_bool_nor_a_calendar_is_refused(journal_dir, choice):
    with pytest.raises(ValidationError, match="session_calendar="):
        ExecutionService(make_config(journal_dir), session_calendar=choice)


def test_the_calendar_of_a_config_file_reads_its_holidays_file():
    session = load_config("configs/dev.yaml").session
    calendar = MarketCalendar.from_config(session)
    assert calendar.holidays == Holidays.load(session.holidays_file)


async def test_on_a_live_clock_the_calendar_squares_mis_off_at_15_20_with_no_tick_after_it(journal_dir):
    clock = JumpingClock(OPEN_NS)  # a wall clock that jumps when told: the service's timer runs
    async with ExecutionService(make_config(journal_dir), clock=clock, session_calendar=True) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        assert (await svc.execute_intent(buy("m1"))).status == "FILLED"
        assert await clock.asleep() == ist_ns(DAY, 15, 20)  # the broker's time for NSE

        clock.advance_to(ist_ns(DAY, 15, 21))  # no tick since the morning
        assert await clock.asleep() == ist_ns(DAY, 15, 25)  # done with 15:20: F&O's time next
        assert [p.net_qty for p in svc.positions()] == [0]
