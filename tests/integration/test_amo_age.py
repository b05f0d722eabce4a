"""An after-market order is as good as new until the open it waits for (``max_intent_age_seconds``).

An AMO sent at 20:00 goes to the exchange at the next open whether it is placed at 20:00 or at
08:00: an executor that restarted overnight (a deploy, a standby taking over) and reached it
hours later REJECTED it ``stale``, and the trader's entries for the open were never placed. Once
that open has passed it is stale like any other intent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent, ReplayClock
from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ist_ns
from execsvc.executors.base import placement_deadline
from tests.conftest import DAY, SECOND, make_config

REPO = Path(__file__).resolve().parents[2]
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
FRIDAY_EVENING = ist_ns(DAY, 20, 0)  # DAY is a Friday: the next open is Monday's
MONDAY_OPEN = ist_ns(DAY + dt.timedelta(days=3), 9, 15)


def amo(intent_id: str, ts_init: int) -> OrderIntent:
    return OrderIntent(
        symbol="NSE:INFY",
        strategy_code="s1",
        side="BUY",
        qty=5,
        order_type="LIMIT",
        price=1400.0,
        product="CNC",
        variety="amo",
        intent_id=intent_id,
        ts_init=ts_init,
    )


@pytest.mark.parametrize(
    ("handled_at", "status", "reason"),
    [
        (ist_ns(DAY + dt.timedelta(days=3), 8, 0), "PLACED", None),  # Monday 08:00, before its open
        (MONDAY_OPEN + 60 * SECOND, "REJECTED", "stale"),  # its open has passed
    ],
)
async def test_an_amo_is_not_stale_before_the_open_it_waits_for(journal_dir, handled_at, status, reason):
    clock = ReplayClock(FRIDAY_EVENING)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        svc.engine.calendar = CALENDAR
        clock.advance_to(handled_at)  # the executor was down since Friday evening
        result = await svc.execute_intent(amo("evening", FRIDAY_EVENING))
    assert (result.status, result.reject_reason) == (status, reason), result.message


def test_the_placement_deadline_of_an_amo_is_its_open_and_of_a_square_off_none():
    normal = OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=5, ts_init=FRIDAY_EVENING)
    assert placement_deadline(30.0, normal, CALENDAR) == FRIDAY_EVENING + 30 * SECOND
    assert placement_deadline(30.0, amo("a", FRIDAY_EVENING), CALENDAR) == MONDAY_OPEN
    assert placement_deadline(30.0, amo("a", FRIDAY_EVENING), None) == FRIDAY_EVENING + 30 * SECOND
    in_session = amo("b", MONDAY_OPEN + SECOND)  # sent while the market is open: it trades at once
    assert placement_deadline(30.0, in_session, CALENDAR) == MONDAY_OPEN + 31 * SECOND
    assert placement_deadline(None, normal, CALENDAR) is None
    assert placement_deadline(30.0, normal, CALENDAR, square_off=True) is None
