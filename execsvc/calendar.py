"""The market calendar: when each Indian exchange trades (IST). Pure: no wall-clock reads.
Exchanges map to segments, each with one set of hours (defaults: FACTS.md section 6)::

    NSE, BSE -> equity   pre-open 09:00-09:15, normal 09:15-15:30, MIS square-off 15:15
    NFO, BFO -> fo       09:15-15:30 (futures pre-open 09:00-09:15 since 8 Dec 2025), square-off 15:20
    CDS, BCD -> cds      09:00-17:00, square-off 16:40
    MCX      -> mcx      09:00-23:30 in the US summer, 23:55 in its winter (``session_hours``: the day's
                         close by US daylight saving), square-off 30 min before the close

Zerodha's own (charged) auto square-off is 5 minutes after each. Phases: ``closed``, ``pre_open``
(call auction), ``open``, ``post_close`` (NSE's 15:40-16:00 closing session included). Weekends are
closed; a holiday closes an exchange all day or partly (``opens``/``closes``: MCX's evening-only days);
a special session (Budget day, Muhurat) wins over both. Outside the files' years only weekends close.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from execsvc.clock import ist_datetime, ist_hhmm, trading_day
from execsvc.errors import ConfigError, ValidationError
from execsvc.holidays import Holidays as Holidays  # re-exported: the calendar's public names
from execsvc.session_hours import BAD_EXCHANGE, parse_hhmm, segment_hours
from execsvc.session_hours import SEGMENTS as SEGMENTS
from execsvc.session_hours import Segment as Segment  # re-exported: the calendar's public names
from execsvc.session_hours import SessionConfig as SessionConfig

if TYPE_CHECKING:
    from execsvc.market.auction_months import AuctionMonths

Phase = Literal["closed", "pre_open", "open", "post_close"]
FO_EXCHANGES: Final = frozenset(e for e, segment in SEGMENTS.items() if segment == "fo")
"""The exchanges whose futures may enter the pre-open call auction (``fo_futures_pre_open``)."""
# what NSE's futures call auction takes (FACTS section 6: limit and market orders, no SL, no IOC)
AUCTION_ORDER_TYPES: Final = ("LIMIT", "MARKET")
# Zerodha's MIS auto square-off, minutes before each segment's close (FACTS section 6)
BROKER_SQUARE_OFF_MINUTES: Final[Mapping[Segment, int]] = {"equity": 10, "fo": 5, "cds": 15, "mcx": 25}
_MINUTE_NS = 60_000_000_000
_DAY_NS = 1440 * _MINUTE_NS
_IST_OFFSET_NS = 330 * _MINUTE_NS
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
log = logging.getLogger("execsvc.calendar")
# a timer looking for the next session looks this far: past the longest run of exchange holidays
LOOKAHEAD_DAYS: Final = 15
_SEARCH_DAYS = 400  # next_open gives up after this: only a broken holidays file closes a year
_CACHED_SESSIONS = 8192  # about three years of every exchange's days


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """One exchange's session on one IST day; every ``*_ns`` is a UTC timestamp in nanoseconds."""

    exchange: str
    day: dt.date
    open_ns: int
    close_ns: int
    pre_open_ns: int | None
    square_off_ns: int  # the MIS square-off time of this exchange's segment
    label: str = ""  # the special session or partial holiday that shaped the day, if any


def _m(hhmm: str | None) -> int | None:
    return None if hhmm is None else parse_hhmm("time", hhmm)


class MarketCalendar:
    """Sessions, phases and the order gate of every exchange, from session config and holidays."""

    def __init__(self, config: SessionConfig, holidays: Holidays) -> None:
        self.config = config
        self.holidays = holidays
        self._hours = segment_hours(config)
        # every order's gate asks for its exchange's session: worked out once a day, not per order
        self._sessions: dict[tuple[str, dt.date], Session | None] = {}
        self._unlisted_years: set[int] = set()

    @classmethod
    def from_config(cls, config: SessionConfig) -> MarketCalendar:
        """The calendar of ``config``'s hours and of its ``holidays_file``.

        Raises:
            ConfigError: the holidays file is missing or bad (file, line, key).
        """
        return cls(config, Holidays.load(config.holidays_file))

    def session(self, exchange: str, day: dt.date) -> Session | None:
        """``exchange``'s session on the IST date ``day``, or None (ValidationError: unknown exchange)."""
        key = (exchange, day)
        try:
            return self._sessions[key]
        except KeyError:
            pass
        if exchange not in SEGMENTS:
            raise ValidationError(f"exchange={exchange!r}: {BAD_EXCHANGE}")
        if len(self._sessions) >= _CACHED_SESSIONS:  # a replay over years: bounded all the same
            self._sessions.clear()
        if day.year not in self.holidays.sources and day.year not in self._unlisted_years:
            self._unlisted_years.add(day.year)  # said once a year: it holds for every day of it
            log.warning(
                "session.holidays_file has no %d: its exchange holidays are unknown, so %s and every "
                "other weekday of %d counts as a trading day (add %d's holidays file)",
                day.year, day, day.year, day.year,
            )  # fmt: skip
        session = self._sessions[key] = self._work_out(exchange, day)
        return session

    def _work_out(self, exchange: str, day: dt.date) -> Session | None:
        hours = self._hours[SEGMENTS[exchange]]
        key = (exchange, day)
        special, closure = self.holidays.specials.get(key), self.holidays.closures.get(key)
        if special is not None:  # times validated at load; no pre-open where the segment has none
            pre, opens, close, label = _m(special.pre_open), _m(special.open), _m(special.close), special.name
            square_off, pre = _m(special.square_off), None if hours.pre_open is None else pre
        elif day.weekday() >= 5 or (closure is not None and closure.opens is None and closure.closes is None):
            return None
        else:
            pre, opens, close, label, square_off = hours.pre_open, hours.open, hours.close_on(day), "", None
            if closure is not None:
                pre, opens = (None, _m(closure.opens)) if closure.opens is not None else (pre, opens)
                close, label = _m(closure.closes) if closure.closes is not None else close, closure.name
        assert opens is not None and close is not None
        if opens >= close:
            return None
        if square_off is None:
            square_off = max(opens, close - hours.margin)
        base = (day.toordinal() - _EPOCH_ORDINAL) * _DAY_NS - _IST_OFFSET_NS
        return Session(
            exchange=exchange, day=day, open_ns=base + opens * _MINUTE_NS, close_ns=base + close * _MINUTE_NS,
            pre_open_ns=None if pre is None else base + pre * _MINUTE_NS,
            square_off_ns=base + square_off * _MINUTE_NS, label=label,
        )  # fmt: skip

    def is_trading_day(self, exchange: str, day: dt.date) -> bool:
        """Whether ``exchange`` trades on ``day``: not a weekend or holiday, or a special session."""
        return self.session(exchange, day) is not None

    def phase(self, exchange: str, ts_ns: int) -> Phase:
        """``closed``, ``pre_open``, ``open`` or ``post_close`` at ``ts_ns`` (each starts inclusive)."""
        session = self.session(exchange, trading_day(ts_ns))
        if session is None:
            return "closed"
        if ts_ns >= session.close_ns:
            return "post_close"
        if ts_ns >= session.open_ns:
            return "open"
        if session.pre_open_ns is not None and ts_ns >= session.pre_open_ns:
            return "pre_open"
        return "closed"

    def is_open(self, exchange: str, ts_ns: int) -> bool:
        """Whether the normal session (not the pre-open) is running at ``ts_ns``."""
        return self.phase(exchange, ts_ns) == "open"

    def next_open(self, exchange: str, ts_ns: int) -> int:
        """The first session open at or after ``ts_ns`` (ConfigError if none within 400 days)."""
        day = trading_day(ts_ns)
        for offset in range(_SEARCH_DAYS):
            session = self.session(exchange, day + dt.timedelta(days=offset))
            if session is not None and session.open_ns >= ts_ns:
                return session.open_ns
        raise ConfigError(f"{exchange}: no session within {_SEARCH_DAYS} days of {day}: check the holidays")

    def square_off_ns(self, exchange: str, day: dt.date) -> int | None:
        """The MIS square-off time of ``exchange``'s segment on ``day``, or None if it does not trade."""
        session = self.session(exchange, day)
        return None if session is None else session.square_off_ns

    def may_place(
        self,
        exchange: str,
        ts_ns: int,
        *,
        variety: str,
        instrument_type: str | None = None,
        order_type: str | None = None,
        validity: str | None = None,
        symbol: str | None = None,
        months: AuctionMonths | None = None,
    ) -> tuple[bool, str]:
        """Whether an order may go out at ``ts_ns``, and why: a denial is data, never an exception.

        The normal session passes everything. The F&O pre-open (``fo_futures_pre_open``, NSE's
        call auction since 8 Dec 2025) passes a future (``instrument_type="FUT"``) given as a
        LIMIT or MARKET order that is not IOC: the auction takes nothing else (FACTS.md section
        6), so ``order_type`` and ``validity`` must be given for a future to pass; given ``months``
        and ``symbol``, only a month the auction takes (:mod:`execsvc.market.auction_months`). Any other time
        passes only ``variety="amo"`` (Zerodha's AMO windows are unconfirmed, FACTS.md section 9,
        so AMOs are not narrowed further). The reason names the exchange, the phase and the next
        open in IST.
        """
        if exchange not in SEGMENTS:
            return False, f"exchange={exchange!r}: {BAD_EXCHANGE}"
        phase = self.phase(exchange, ts_ns)
        if phase == "open":
            return True, f"{exchange} is open"
        head, upcoming = self.out_of_session(exchange, ts_ns)
        if phase == "pre_open" and instrument_type == "FUT" and exchange in FO_EXCHANGES and variety != "amo":
            if order_type not in AUCTION_ORDER_TYPES:
                return (
                    False,
                    f"{head}: the futures auction takes LIMIT and MARKET, not order_type={order_type!r}",
                )
            if validity == "IOC":
                return False, f"{head}: the futures auction takes no validity='IOC' order"
            far = (
                months.refusal(symbol, trading_day(ts_ns), self.is_trading_day) if months and symbol else None
            )
            if far is not None:
                return False, f"{head}: {far}; place it from the open {upcoming} IST or as variety='amo'"
            return True, f"{exchange} is pre_open: futures trade in the pre-open call auction"
        if variety == "amo":
            return True, f"{head}: AMO queued for the next open {upcoming} IST"
        return False, f"{head}: next open {upcoming} IST; send variety='amo' to queue an after-market order"

    def out_of_session(self, exchange: str, ts_ns: int) -> tuple[str, str]:
        """Why ``exchange`` is not in its normal session at ``ts_ns``, and its next open: e.g.
        ``("NSE is post_close (the session closed at 15:30 IST)", "2026-11-23 09:15")``.

        Raises:
            ValidationError: ``exchange`` is unknown.
        """
        phase, fo = self.phase(exchange, ts_ns), SEGMENTS[exchange] == "fo"
        day = trading_day(ts_ns)
        session, closure = self.session(exchange, day), self.holidays.closures.get((exchange, day))
        if session is None:
            why = f"holiday: {closure.name}" if closure is not None and day.weekday() < 5 else "weekend"
        elif phase == "pre_open":
            why = f"the call auction until {ist_hhmm(session.open_ns)} IST" + ("; futures only" if fo else "")
        elif phase == "post_close":
            why = f"the session closed at {ist_hhmm(session.close_ns)} IST"
        else:
            why = f"the day's session opens at {ist_hhmm(session.pre_open_ns or session.open_ns)} IST"
        upcoming = ist_datetime(self.next_open(exchange, ts_ns)).strftime("%Y-%m-%d %H:%M")
        return f"{exchange} is {phase} ({why})", upcoming
