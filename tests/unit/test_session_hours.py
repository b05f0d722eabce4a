"""MCX's evening close follows US daylight saving time (execsvc.session_hours): 23:30 IST while the
US is on summer time, 23:55 while it is not, from the trading day after each US switch Sunday.
Before, ``session.mcx_close`` was a fixed "23:30" to be changed by hand in November and March: a
trader who forgot was squared off, and refused fresh MIS, 25 minutes early all winter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ist_ns
from execsvc.config import config_from_dict, load_config
from execsvc.errors import ConfigError
from execsvc.session_hours import mcx_close_minutes, mcx_summer_hours, us_switch_sundays

REPO = Path(__file__).resolve().parents[2]
SUMMER, WINTER = 23 * 60 + 30, 23 * 60 + 55
D = dt.date

# The US switches at 2 AM local: to summer time on the second Sunday of March, back on the first
# Sunday of November. Each row: the Friday before, the switch Sunday, the Monday after.
SWITCHES = [
    # year, to summer time, back to standard time
    (2024, D(2024, 3, 10), D(2024, 11, 3)),
    (2025, D(2025, 3, 9), D(2025, 11, 2)),
    (2026, D(2026, 3, 8), D(2026, 11, 1)),
    (2027, D(2027, 3, 14), D(2027, 11, 7)),
]
FRIDAY, MONDAY = dt.timedelta(days=-2), dt.timedelta(days=1)


@pytest.mark.parametrize(("year", "to_summer", "to_winter"), SWITCHES)
def test_the_us_switch_sundays(year: int, to_summer: dt.date, to_winter: dt.date) -> None:
    assert us_switch_sundays(year) == (to_summer, to_winter)
    assert to_summer.weekday() == to_winter.weekday() == 6


@pytest.mark.parametrize(
    ("day", "close"),
    [
        row
        for _, to_summer, to_winter in SWITCHES
        for row in (
            (to_summer + FRIDAY, WINTER),  # the last day of the winter hours
            (to_summer, WINTER),  # the switch is Sunday afternoon IST: the day opened in winter
            (to_summer + MONDAY, SUMMER),  # the first trading day after the switch
            (to_winter + FRIDAY, SUMMER),
            (to_winter, SUMMER),
            (to_winter + MONDAY, WINTER),
        )
    ]
    + [
        (D(2025, 1, 1), WINTER),
        (D(2026, 7, 15), SUMMER),
        (D(2026, 11, 25), WINTER),
        (D(2026, 12, 31), WINTER),
    ],
)
def test_mcx_close_around_each_us_switch(day: dt.date, close: int) -> None:
    assert mcx_close_minutes(day) == close
    assert mcx_summer_hours(day) is (close == SUMMER)


def test_the_rule_agrees_with_the_tz_database_on_every_day_2024_to_2027() -> None:
    """The US zone's daylight saving at each IST day's 09:00 open (when MCX's day starts)."""
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        new_york = zoneinfo.ZoneInfo("America/New_York")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no tz database (tzdata) on this machine")
    day, wrong = D(2024, 1, 1), []
    while day.year < 2028:
        opening = dt.datetime.fromtimestamp(ist_ns(day, 9, 0) / 1e9, tz=new_york)
        if mcx_summer_hours(day) is not bool(opening.dst()):
            wrong.append(day)
        day += dt.timedelta(days=1)
    assert wrong == []


def _calendar(config: SessionConfig) -> MarketCalendar:
    return MarketCalendar(config, Holidays())


@pytest.mark.parametrize(
    ("day", "close", "square_off"),
    [
        (D(2026, 11, 25), (23, 55), (23, 25)),  # US winter
        (D(2026, 7, 15), (23, 30), (23, 0)),  # US summer
        (D(2025, 3, 7), (23, 55), (23, 25)),  # the Friday before the March switch
        (D(2025, 3, 10), (23, 30), (23, 0)),  # the Monday after
        (D(2025, 10, 31), (23, 30), (23, 0)),
        (D(2025, 11, 3), (23, 55), (23, 25)),
    ],
)
def test_the_calendar_gives_mcx_the_days_close_by_default(
    day: dt.date, close: tuple[int, int], square_off: tuple[int, int]
) -> None:
    session = _calendar(SessionConfig()).session("MCX", day)
    assert session is not None
    assert (session.close_ns, session.square_off_ns) == (ist_ns(day, *close), ist_ns(day, *square_off))
    assert _calendar(SessionConfig()).phase("MCX", ist_ns(day, *close) - 1) == "open"


@pytest.mark.parametrize("day", [D(2026, 11, 25), D(2026, 7, 15)])
def test_an_explicit_close_holds_on_every_day(day: dt.date) -> None:
    session = _calendar(SessionConfig(mcx_close="23:40")).session("MCX", day)
    assert session is not None
    assert (session.close_ns, session.square_off_ns) == (ist_ns(day, 23, 40), ist_ns(day, 23, 10))


@pytest.mark.parametrize(("day", "close"), [(D(2026, 11, 25), (17, 0)), (D(2026, 7, 15), (17, 0))])
def test_a_holidays_closes_holds_on_its_day(day: dt.date, close: tuple[int, int]) -> None:
    text = f"year: 2026\nsource: t\nexchanges:\n  MCX:\n    - {{date: {day}, name: Early, closes: '17:00'}}\n"
    session = MarketCalendar(SessionConfig(), Holidays.from_yaml(text)).session("MCX", day)
    assert session is not None
    assert session.close_ns == ist_ns(day, *close)


def test_an_evening_only_holiday_keeps_the_days_close() -> None:
    """Holi 2026 (3 March, before the US switch of 8 March): MCX trades 17:00-23:55."""
    holidays = Holidays.load(REPO / "configs" / "holidays-2026.yaml")
    holi = D(2026, 3, 3)
    session = MarketCalendar(SessionConfig(), holidays).session("MCX", holi)
    assert session is not None
    assert (session.open_ns, session.close_ns) == (ist_ns(holi, 17, 0), ist_ns(holi, 23, 55))


def test_auto_is_the_default_and_the_shipped_configs_keep_it() -> None:
    assert SessionConfig().mcx_close == "auto"
    assert config_from_dict({"session": {"mcx_close": "auto"}}).session.mcx_close == "auto"
    for name in ("dev", "live", "sim"):
        assert load_config(REPO / "configs" / f"{name}.yaml").session.mcx_close == "auto"


BAD_CLOSE = "neither 'auto' (each day's close by US daylight saving: 23:30 or 23:55) nor a time of day"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mcx_close": "Auto"}, f"session.mcx_close='Auto': {BAD_CLOSE}"),
        ({"mcx_close": "23:60"}, f"session.mcx_close='23:60': {BAD_CLOSE}"),
        ({"mcx_close": ""}, f"session.mcx_close='': {BAD_CLOSE}"),
        ({"mcx_close": "summer"}, f"session.mcx_close='summer': {BAD_CLOSE}"),
        (
            {"mcx_open": "23:40"},
            "session.mcx_close='auto' (23:30 in the US summer): must be after session.mcx_open",
        ),
        ({"mcx_close": "08:00"}, "session.mcx_close='08:00': must be after session.mcx_open"),
        # the shorter, summer day must hold the square-off: 09:00-23:30 is 870 minutes
        ({"square_off_mcx_minutes_before_close": 880}, "session.square_off_mcx_minutes_before_close=880"),
    ],
)
def test_a_bad_mcx_close_is_refused_naming_the_key(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        msgspec.convert(fields, SessionConfig)
    assert message in str(info.value)
    with pytest.raises(ConfigError, match=r"<config>: session\.(mcx_close|square_off_mcx)"):
        config_from_dict({"session": fields})


def test_an_unquoted_time_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"session\.mcx_close=1435"):
        config_from_dict({"session": {"mcx_close": 1435}})  # YAML's reading of 23:55


def test_an_explicit_close_gives_the_square_off_its_longer_day() -> None:
    config = SessionConfig(mcx_close="23:55", square_off_mcx_minutes_before_close=880)
    assert config.mcx_close == "23:55"
