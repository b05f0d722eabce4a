"""Unit tests of the market calendar (execsvc.calendar): pure functions of timestamps and data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ist_ns
from execsvc.config import config_from_dict
from execsvc.errors import ConfigError, ValidationError

SHIPPED = Path(__file__).resolve().parents[2] / "configs" / "holidays-2026.yaml"
FRI = dt.date(2026, 11, 20)  # an ordinary Friday (US winter: MCX closes at 23:55)
SUMMER = dt.date(2026, 7, 15)  # an ordinary Wednesday in the US summer: MCX closes at 23:30
SAT, SUN, MON = dt.date(2026, 11, 21), dt.date(2026, 11, 22), dt.date(2026, 11, 23)
NS = 1  # one nanosecond

FIXTURE = """\
year: 2026
source: test fixture
exchanges:
  NSE: &equity
    - {date: 2026-01-26, name: Republic Day}
    - {date: 2026-11-10, name: Diwali Balipratipada}
  BSE: *equity
  NFO: *equity
  MCX:
    - {date: 2026-01-26, name: Republic Day}
    - {date: 2026-03-03, name: Holi, opens: "17:00"}
    - {date: 2026-12-24, name: Early close, closes: "17:00"}
special_sessions:
  - date: 2026-11-08
    name: Muhurat trading
    exchanges: [NSE, NFO]
    pre_open: "17:45"
    open: "18:00"
    close: "19:00"
  - {date: 2026-02-01, name: Budget day, exchanges: [BSE], open: "09:15", close: "15:30", square_off: "15:00"}
"""


def _calendar(config: SessionConfig | None = None, text: str = FIXTURE) -> MarketCalendar:
    return MarketCalendar(config or SessionConfig(), Holidays.from_yaml(text, "fixture.yaml"))


CAL = _calendar()


def at(day: dt.date, hour: int, minute: int, second: int = 0) -> int:
    return ist_ns(day, hour, minute, second)


@pytest.mark.parametrize(
    ("exchange", "ts", "phase"),
    [
        ("NSE", at(FRI, 8, 59, 59), "closed"),
        ("NSE", at(FRI, 9, 0), "pre_open"),
        ("NSE", at(FRI, 9, 14, 59), "pre_open"),
        ("NSE", at(FRI, 9, 15) - NS, "pre_open"),
        ("NSE", at(FRI, 9, 15), "open"),
        ("NSE", at(FRI, 15, 30) - NS, "open"),
        ("NSE", at(FRI, 15, 30), "post_close"),
        ("BSE", at(FRI, 9, 15), "open"),
        ("NFO", at(FRI, 9, 5), "pre_open"),  # the futures call auction (since 8 Dec 2025)
        ("NFO", at(FRI, 9, 15), "open"),
        ("BFO", at(FRI, 15, 30), "post_close"),
        ("CDS", at(FRI, 9, 0) - NS, "closed"),
        ("CDS", at(FRI, 9, 0), "open"),
        ("BCD", at(FRI, 17, 0) - NS, "open"),
        ("CDS", at(FRI, 17, 0), "post_close"),
        ("MCX", at(FRI, 9, 0), "open"),
        ("MCX", at(FRI, 23, 55) - NS, "open"),
        ("MCX", at(FRI, 23, 55), "post_close"),
        ("MCX", at(SUMMER, 23, 30) - NS, "open"),
        ("MCX", at(SUMMER, 23, 30), "post_close"),
        ("NSE", at(SAT, 11, 0), "closed"),
        ("MCX", at(SUN, 11, 0), "closed"),
    ],
)
def test_phase_boundaries_to_the_nanosecond(exchange: str, ts: int, phase: str) -> None:
    assert CAL.phase(exchange, ts) == phase
    assert CAL.is_open(exchange, ts) is (phase == "open")


@pytest.mark.parametrize(
    ("config", "exchange", "ts", "phase"),
    [
        (SessionConfig(fo_futures_pre_open=False), "NFO", at(FRI, 9, 5), "closed"),
        (SessionConfig(mcx_close="23:55"), "MCX", at(SUMMER, 23, 54, 59), "open"),
        (SessionConfig(mcx_close="23:55"), "MCX", at(SUMMER, 23, 55), "post_close"),
        (SessionConfig(mcx_close="23:30"), "MCX", at(FRI, 23, 30), "post_close"),
        (SessionConfig(equity_open="10:00"), "NSE", at(FRI, 9, 30), "pre_open"),
    ],
)
def test_configured_hours(config: SessionConfig, exchange: str, ts: int, phase: str) -> None:
    assert _calendar(config).phase(exchange, ts) == phase


def test_session_is_in_utc_nanoseconds_for_the_ist_day() -> None:
    session = CAL.session("NSE", FRI)
    assert session is not None
    assert session.open_ns == at(FRI, 9, 15)
    assert session.close_ns == at(FRI, 15, 30)
    assert session.pre_open_ns == at(FRI, 9, 0)
    utc = dt.datetime(2026, 11, 20, 3, 45, tzinfo=dt.UTC)  # 09:15 IST is 03:45 UTC
    assert session.open_ns == int(utc.timestamp()) * 1_000_000_000
    assert CAL.session("CDS", FRI).pre_open_ns is None  # type: ignore[union-attr]


@pytest.mark.parametrize("exchange", ["NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX"])
@pytest.mark.parametrize("day", [SAT, SUN])
def test_weekends_are_closed(exchange: str, day: dt.date) -> None:
    assert not CAL.is_trading_day(exchange, day)
    assert CAL.session(exchange, day) is None
    assert CAL.square_off_ns(exchange, day) is None


@pytest.mark.parametrize(
    ("exchange", "day", "trading"),
    [
        ("NSE", dt.date(2026, 1, 26), False),
        ("BSE", dt.date(2026, 1, 26), False),
        ("NFO", dt.date(2026, 1, 26), False),
        ("MCX", dt.date(2026, 1, 26), False),
        ("NSE", dt.date(2026, 1, 27), True),
        ("NSE", dt.date(2026, 2, 1), True),  # Sunday: Union Budget live session
        ("NFO", dt.date(2026, 2, 1), True),
        ("MCX", dt.date(2026, 3, 3), True),  # Holi: MCX evening session only
        ("NSE", dt.date(2026, 3, 3), False),
        ("NSE", dt.date(2026, 12, 25), False),
    ],
)
def test_shipped_holidays_file(exchange: str, day: dt.date, trading: bool) -> None:
    calendar = MarketCalendar(SessionConfig(), Holidays.load(SHIPPED))
    assert calendar.is_trading_day(exchange, day) is trading


def test_shipped_file_is_the_default_and_covers_2026() -> None:
    assert SHIPPED.as_posix().endswith(SessionConfig().holidays_file)
    holidays = Holidays.load(SHIPPED)
    assert holidays.covers(dt.date(2026, 6, 1))
    assert not holidays.covers(dt.date(2027, 1, 1))
    nse = {day for (exchange, day) in holidays.closures if exchange == "NSE"}
    assert all(day.weekday() < 5 and day.year == 2026 for day in nse)
    assert {dt.date(2026, 1, 26), dt.date(2026, 4, 3), dt.date(2026, 10, 2), dt.date(2026, 12, 25)} <= nse


@pytest.mark.parametrize(
    ("exchange", "ts", "phase"),
    [
        ("NSE", at(dt.date(2026, 11, 8), 17, 44, 59), "closed"),  # Muhurat, a Sunday
        ("NSE", at(dt.date(2026, 11, 8), 17, 45), "pre_open"),
        ("NSE", at(dt.date(2026, 11, 8), 18, 0), "open"),
        ("NSE", at(dt.date(2026, 11, 8), 19, 0), "post_close"),
        ("NFO", at(dt.date(2026, 11, 8), 18, 30), "open"),
        ("BSE", at(dt.date(2026, 11, 8), 18, 30), "closed"),  # not listed for BSE
        ("MCX", at(dt.date(2026, 3, 3), 16, 59, 59), "closed"),  # Holi: evening only
        ("MCX", at(dt.date(2026, 3, 3), 17, 0), "open"),
        ("MCX", at(dt.date(2026, 12, 24), 17, 0), "post_close"),  # early close
    ],
)
def test_special_sessions_and_partial_holidays(exchange: str, ts: int, phase: str) -> None:
    assert CAL.phase(exchange, ts) == phase


@pytest.mark.parametrize(
    ("exchange", "day", "expected"),
    [
        ("NSE", FRI, at(FRI, 15, 15)),
        ("BSE", FRI, at(FRI, 15, 15)),
        ("NFO", FRI, at(FRI, 15, 20)),
        ("BFO", FRI, at(FRI, 15, 20)),
        ("CDS", FRI, at(FRI, 16, 40)),
        ("BCD", FRI, at(FRI, 16, 40)),
        ("MCX", FRI, at(FRI, 23, 25)),  # 30 minutes before 23:55 (US winter)
        ("MCX", SUMMER, at(SUMMER, 23, 0)),  # 30 minutes before 23:30 (US summer)
        ("MCX", dt.date(2026, 3, 3), at(dt.date(2026, 3, 3), 23, 25)),  # evening only, before the US switch
        ("MCX", dt.date(2026, 12, 24), at(dt.date(2026, 12, 24), 16, 30)),
        ("NSE", dt.date(2026, 11, 8), at(dt.date(2026, 11, 8), 18, 45)),  # Muhurat: 15 min margin
        ("BSE", dt.date(2026, 2, 1), at(dt.date(2026, 2, 1), 15, 0)),  # its own square_off
        ("NSE", dt.date(2026, 1, 26), None),
        ("NSE", SAT, None),
    ],
)
def test_square_off_times(exchange: str, day: dt.date, expected: int | None) -> None:
    assert CAL.square_off_ns(exchange, day) == expected


def test_mcx_square_off_follows_the_configured_close() -> None:
    calendar = _calendar(SessionConfig(mcx_close="23:55", square_off_mcx_minutes_before_close=25))
    assert calendar.square_off_ns("MCX", SUMMER) == at(SUMMER, 23, 30)


WEEKEND_REASON = (
    "NSE is closed (weekend): next open 2026-11-23 09:15 IST; "
    "send variety='amo' to queue an after-market order"
)


@pytest.mark.parametrize(
    ("exchange", "ts", "variety", "instrument_type", "allowed", "reason"),
    [
        ("NSE", at(SAT, 10, 0), "regular", None, False, WEEKEND_REASON),
        ("NSE", at(SAT, 10, 0), "amo", None, True, "AMO queued for the next open 2026-11-23 09:15 IST"),
        ("NSE", at(FRI, 10, 0), "regular", None, True, "NSE is open"),
        ("NSE", at(FRI, 9, 5), "regular", None, False, "NSE is pre_open"),
        ("NSE", at(FRI, 9, 5), "amo", None, True, "NSE is pre_open"),
        ("NFO", at(FRI, 9, 5), "regular", "FUT", True, "futures trade in the pre-open"),
        ("NFO", at(FRI, 9, 5), "regular", "CE", False, "futures only"),
        ("NSE", at(FRI, 9, 5), "regular", "FUT", False, "NSE is pre_open"),  # F&O only
        (
            "NSE",
            at(FRI, 15, 30),
            "regular",
            None,
            False,
            "NSE is post_close (the session closed at 15:30 IST)",
        ),
        ("NSE", at(FRI, 8, 0), "regular", None, False, "next open 2026-11-20 09:15 IST"),
        ("MCX", at(SUMMER, 23, 45), "co", None, False, "MCX is post_close"),
        ("MCX", at(FRI, 23, 45), "co", None, True, "MCX is open"),
        ("NSE", at(dt.date(2026, 1, 26), 11, 0), "regular", None, False, "closed (holiday: Republic Day)"),
        ("NSE", at(dt.date(2026, 1, 26), 11, 0), "regular", None, False, "next open 2026-01-27 09:15 IST"),
        ("XYZ", at(FRI, 10, 0), "regular", None, False, "unknown exchange"),
    ],
)
def test_may_place(
    exchange: str, ts: int, variety: str, instrument_type: str | None, allowed: bool, reason: str
) -> None:
    ok, why = CAL.may_place(
        exchange, ts, variety=variety, instrument_type=instrument_type, order_type="LIMIT", validity="DAY"
    )
    assert ok is allowed
    assert reason in why


@pytest.mark.parametrize(
    ("order_type", "validity", "allowed", "reason"),
    [
        ("LIMIT", "DAY", True, "futures trade in the pre-open call auction"),
        ("MARKET", "DAY", True, "futures trade in the pre-open call auction"),
        ("SL", "DAY", False, "the futures auction takes LIMIT and MARKET, not order_type='SL'"),
        ("SL-M", "DAY", False, "not order_type='SL-M'"),
        (None, "DAY", False, "not order_type=None"),  # a caller that does not say is not let through
        ("LIMIT", "IOC", False, "the futures auction takes no validity='IOC' order"),
        ("LIMIT", "TTL", True, "futures trade in the pre-open call auction"),
    ],
)
def test_the_futures_pre_open_takes_limit_and_market_orders_but_no_stop_and_no_ioc(
    order_type: str | None, validity: str, allowed: bool, reason: str
) -> None:
    ok, why = CAL.may_place(
        "NFO",
        at(FRI, 9, 5),
        variety="regular",
        instrument_type="FUT",
        order_type=order_type,
        validity=validity,
    )
    assert (ok, reason in why) == (allowed, True), why


def test_without_fo_futures_pre_open_a_future_waits_for_the_open_like_any_order() -> None:
    calendar = _calendar(SessionConfig(fo_futures_pre_open=False))
    ok, why = calendar.may_place(
        "NFO", at(FRI, 9, 5), variety="regular", instrument_type="FUT", order_type="LIMIT", validity="DAY"
    )
    assert not ok
    assert why.startswith("NFO is closed (the day's session opens at 09:15 IST)")


@pytest.mark.parametrize(
    ("exchange", "ts", "expected"),
    [
        ("NSE", at(FRI, 16, 0), at(MON, 9, 15)),  # across a weekend
        ("NSE", at(SAT, 12, 0), at(MON, 9, 15)),
        ("NSE", at(FRI, 9, 5), at(FRI, 9, 15)),  # from the pre-open: today
        ("NSE", at(FRI, 9, 15), at(FRI, 9, 15)),  # at the open: now
        ("NSE", at(FRI, 9, 15) + NS, at(MON, 9, 15)),
        ("NSE", at(dt.date(2026, 1, 23), 16, 0), at(dt.date(2026, 1, 27), 9, 15)),  # weekend + holiday
        ("NSE", at(dt.date(2026, 11, 9), 16, 0), at(dt.date(2026, 11, 11), 9, 15)),  # holiday
        ("NSE", at(dt.date(2026, 11, 7), 12, 0), at(dt.date(2026, 11, 8), 18, 0)),  # Muhurat Sunday
        ("BSE", at(dt.date(2026, 1, 31), 12, 0), at(dt.date(2026, 2, 1), 9, 15)),  # Budget Sunday
        ("MCX", at(dt.date(2026, 3, 3), 10, 0), at(dt.date(2026, 3, 3), 17, 0)),  # evening session
        ("CDS", at(FRI, 17, 0), at(MON, 9, 0)),
    ],
)
def test_next_open(exchange: str, ts: int, expected: int) -> None:
    assert CAL.next_open(exchange, ts) == expected


def test_unknown_exchange_raises_outside_may_place() -> None:
    with pytest.raises(ValidationError, match="exchange='XYZ'"):
        CAL.session("XYZ", FRI)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"equity_open": "9:15"}, "session.equity_open='9:15'"),
        ({"square_off_fo": "15:75"}, "session.square_off_fo='15:75'"),
        ({"mcx_close": "24:00"}, "session.mcx_close='24:00'"),
        ({"cds_close": "noon"}, "session.cds_close='noon'"),
        (
            {"square_off_equity": "15:45"},
            "session.equity_close='15:30': must be after session.square_off_equity",
        ),
        ({"fo_pre_open": "09:30"}, "session.fo_open='09:15': must be after session.fo_pre_open"),
        ({"square_off_mcx_minutes_before_close": 0}, "session.square_off_mcx_minutes_before_close=0"),
    ],
)
def test_bad_session_config(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        msgspec.convert(fields, SessionConfig)
    assert message in str(info.value)
    with pytest.raises(ConfigError, match="session"):
        config_from_dict({"session": fields})


def test_session_config_in_the_service_config() -> None:
    config = config_from_dict({"session": {"mcx_close": "23:55", "holidays_file": "x.yaml"}})
    assert config.session.mcx_close == "23:55"
    with pytest.raises(ConfigError, match=r"unknown key 'session\.equity_opens'"):
        config_from_dict({"session": {"equity_opens": "09:15"}})


HEADER = "year: 2026\nsource: test\n"


def _listing(exchange: str, *entries: str) -> str:
    """A file whose ``exchanges`` holds ``entries`` for ``exchange``; the first entry is on line 5."""
    return HEADER + f"exchanges:\n  {exchange}:\n" + "".join(f"    - {entry}\n" for entry in entries)


def _special(body: str) -> str:
    """A file with one special session (on line 5)."""
    return HEADER + f"exchanges: {{}}\nspecial_sessions:\n  - {{date: 2026-11-08, name: M, {body}}}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_listing("NSE", "{date: 2026-02-30, name: X}"), "fixture.yaml:5: exchanges.NSE[0].date='2026-02"),
        (_listing("NSE", "{date: 2027-01-26, name: X}"), "outside the year 2026"),
        (_listing("NSE", "{date: 2026-01-26, name: ''}"), "fixture.yaml:5: exchanges.NSE[0].name=''"),
        (_listing("NSE", "{date: 2026-01-26}"), "missing required field `name`"),
        (_listing("NSE", "{date: 2026-01-26, name: X, when: 1}"), "NSE[0].when='1': unknown key"),
        (HEADER + "exchanges:\n  NSX: []\n", "fixture.yaml:4: exchanges.NSX: unknown exchange"),
        (_listing("MCX", "{date: 2026-03-03, name: H, opens: 17:00}"), "MCX[0].opens='17:00'"),
        (_listing("MCX", "{date: 2026-03-03, name: H, opens: '25:00'}"), "'HH:MM'"),
        (
            _listing("NSE", "{date: 2026-01-26, name: A}", "{date: 2026-01-26, name: B}"),
            "fixture.yaml:6: exchanges.NSE[1].date='2026-01-26': outside the year 2026, or listed twice",
        ),
        (
            _special("exchanges: [NSE], open: '19:00', close: '18:00'"),
            "fixture.yaml:5: special_sessions[0]: times must run",
        ),
        (_special("exchanges: [NSX], open: '18:00', close: '19:00'"), "sessions[0].exchanges[0]='NSX'"),
        (_special("exchanges: [], open: '18:00', close: '19:00'"), "special_sessions[0].exchanges"),
        ("year: 2026\nexchanges: {}\n", "missing required field `source`"),
        ("year: 26.5\nsource: s\nexchanges: {}\n", "fixture.yaml:1: year='26.5': Expected `int`"),
        ("- just a list\n", "Expected `object`"),
        ("year: [2026\n", "not valid YAML"),
    ],
)
def test_bad_holidays_file(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Holidays.from_yaml(text, "fixture.yaml")
    assert message in str(info.value)


def test_several_yearly_files(tmp_path: Path) -> None:
    later = tmp_path / "holidays-2027.yaml"
    later.write_text(
        "year: 2027\nsource: test\nexchanges:\n  NSE:\n    - {date: 2027-01-26, name: Republic Day}\n"
    )
    calendar = MarketCalendar(SessionConfig(), Holidays.load(SHIPPED, later))
    assert calendar.holidays.sources.keys() == {2026, 2027}
    assert not calendar.is_trading_day("NSE", dt.date(2026, 1, 26))
    assert not calendar.is_trading_day("NSE", dt.date(2027, 1, 26))
    assert calendar.next_open("NSE", at(dt.date(2026, 12, 31), 16, 0)) == at(dt.date(2027, 1, 1), 9, 15)


def test_a_year_loaded_twice_or_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="year 2026 is already loaded"):
        Holidays.load(SHIPPED, SHIPPED)
    with pytest.raises(ConfigError, match="cannot read holidays file"):
        Holidays.load(tmp_path / "missing.yaml")


BEFORE = "must be before Zerodha's auto square-off at"


@pytest.mark.parametrize(
    ("session", "expected"),
    [
        ({"square_off_equity": "15:20"}, f"session.square_off_equity='15:20': {BEFORE} 15:20"),
        ({"square_off_fo": "15:26"}, f"session.square_off_fo='15:26': {BEFORE} 15:25"),
        (
            {"cds_close": "16:45", "square_off_cds": "16:40"},
            f"session.square_off_cds='16:40': {BEFORE} 16:30",
        ),
        ({"square_off_mcx_minutes_before_close": 25}, "square_off_mcx_minutes_before_close=25: must be more"),
    ],
)
def test_a_square_off_at_or_after_zerodhas_own_is_refused(session: dict[str, Any], expected: str) -> None:
    """Zerodha squares MIS off first, at ₹50 + GST an order: a later square-off of ours never runs."""
    with pytest.raises(ConfigError) as info:
        config_from_dict({"session": session})
    assert expected in str(info.value)


def test_a_square_off_just_before_zerodhas_loads() -> None:
    edge = {"square_off_equity": "15:19", "square_off_fo": "15:24", "square_off_cds": "16:44",
            "square_off_mcx_minutes_before_close": 26}  # fmt: skip
    assert config_from_dict({"session": edge}).session.square_off_equity == "15:19"


def test_a_year_the_holidays_file_lacks_is_said_once(caplog):
    calendar = _calendar()  # 2026's file only
    with caplog.at_level("WARNING", logger="execsvc.calendar"):
        assert calendar.session("NSE", dt.date(2026, 11, 20)) is not None
        assert caplog.records == []
        # Republic Day 2027 trades for want of 2027's file: said, once for the whole year
        assert calendar.session("NSE", dt.date(2027, 1, 26)) is not None
        assert calendar.session("NFO", dt.date(2027, 3, 1)) is not None
        calendar.may_place("MCX", ist_ns(dt.date(2027, 6, 1), 10, 0), variety="regular")
    [record] = caplog.records
    assert record.getMessage() == (
        "session.holidays_file has no 2027: its exchange holidays are unknown, so 2027-01-26 and every "
        "other weekday of 2027 counts as a trading day (add 2027's holidays file)"
    )


def test_sessions_are_worked_out_once_and_stay_the_same():
    calendar = _calendar()
    day = dt.date(2026, 11, 20)
    first = calendar.session("MCX", day)
    assert calendar.session("MCX", day) is first
    assert first == _calendar().session("MCX", day)
    with pytest.raises(ValidationError, match="exchange='XYZ'"):
        calendar.session("XYZ", day)
    with pytest.raises(ValidationError, match="exchange='XYZ'"):
        calendar.session("XYZ", day)  # a refusal is not cached as "no session"
