"""``close_timer``: when the next close comes and the timer wakes next (the broker's square-off times
too), across days, weekends and holidays; which clocks it runs on; and when a live daemon stops
after the day's last close."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import LiveClock, ReplayClock, WaitingClock, ist_ns
from execsvc.close_timer import next_wake_ns
from execsvc.daemon_timers import stop_after_close_ns

REPO = Path(__file__).resolve().parents[2]
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
TUE = dt.date(2026, 12, 29)
THU_BEFORE_CHRISTMAS = dt.date(2026, 12, 24)
GURPURB = dt.date(2026, 11, 24)  # equity, F&O and currency shut; MCX from 17:00


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ist_ns(TUE, 10, 0), ist_ns(TUE, 15, 20)),  # the broker squares off NSE and BSE equity MIS
        (ist_ns(TUE, 15, 20), ist_ns(TUE, 15, 25)),  # NFO and BFO
        (ist_ns(TUE, 15, 25), ist_ns(TUE, 15, 30)),  # the equity and F&O closes
        (ist_ns(TUE, 15, 30), ist_ns(TUE, 16, 45)),  # CDS and BCD
        (ist_ns(TUE, 16, 45), ist_ns(TUE, 17, 0)),
        (ist_ns(TUE, 17, 0), ist_ns(TUE, 23, 30)),  # MCX: 25 minutes before its 23:55 winter close
        (ist_ns(TUE, 23, 30), ist_ns(TUE, 23, 55)),
        (ist_ns(dt.date(2026, 7, 15), 17, 0), ist_ns(dt.date(2026, 7, 15), 23, 5)),  # US summer
        (ist_ns(TUE, 23, 55), ist_ns(TUE + dt.timedelta(days=1), 15, 20)),  # over the date line
        (ist_ns(THU_BEFORE_CHRISTMAS, 23, 55), ist_ns(dt.date(2026, 12, 28), 15, 20)),  # holiday, weekend
        (ist_ns(GURPURB, 9, 0), ist_ns(GURPURB, 23, 30)),  # only MCX trades
    ],
)
def test_the_timer_wakes_next_at_the_first_brokers_time_or_close_after_now(now, expected):
    assert next_wake_ns(CALENDAR, now) == expected


def test_no_calendar_no_close():
    assert next_wake_ns(None, ist_ns(TUE, 10, 0)) is None


def test_only_a_clock_that_moves_by_itself_can_be_waited_on():
    assert isinstance(LiveClock(), WaitingClock)
    assert not isinstance(ReplayClock(0), WaitingClock)  # a replay's time is its inputs'


@pytest.mark.parametrize(
    ("day", "grace_seconds", "stops"),
    [
        (dt.date(2026, 7, 15), 300, ist_ns(dt.date(2026, 7, 15), 23, 35)),  # MCX's summer close + 5 min
        (TUE, 0, ist_ns(TUE, 23, 55)),
        # the winter close + 5 min is midnight: one second before it instead (the day's journal)
        (TUE, 300, ist_ns(TUE, 23, 59, 59)),
        (TUE, 3600, ist_ns(TUE, 23, 59, 59)),
    ],
)
def test_a_live_daemon_stops_after_the_last_close_but_before_the_date_line(day, grace_seconds, stops):
    assert stop_after_close_ns(CALENDAR, day, grace_seconds * 1_000_000_000) == stops


def test_no_session_no_stop():
    assert stop_after_close_ns(CALENDAR, dt.date(2026, 12, 26), 300 * 1_000_000_000) is None  # Saturday
