"""Each segment's daily hours from the config (``SessionConfig``), and MCX's evening close, which
follows US daylight saving time (``mcx_close_minutes``). Pure: no clock, no tz database.

MCX (non-agricultural commodities: bullion, metals, energy) trades 09:00-23:30 IST while the US is
on daylight saving ("summer") time and 09:00-23:55 IST while it is not, following the US markets
its contracts track. The US goes onto summer time at 2 AM local on the second Sunday of March and
back at 2 AM on the first Sunday of November (its rule since 2007). That is Sunday from about noon
in India, so MCX moves with the next trading day: from Monday 10 Mar 2025 it closes at 23:30, from
Monday 3 Nov 2025 at 23:55.
``session.mcx_close: auto`` (the default) gives each day its close by this rule; an explicit
``"HH:MM"`` overrides it on every day, and a holiday entry's ``closes`` on its own day.

Agricultural commodities close earlier in the day (their own hours by contract) and are not
modelled: their MIS would be squared off after their close.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from itertools import pairwise
from typing import Final, Literal, NamedTuple

import msgspec

from execsvc.errors import ConfigError

Segment = Literal["equity", "fo", "cds", "mcx"]
MCX_AUTO: Final = "auto"
MCX_SUMMER_CLOSE: Final = "23:30"  # while the US is on daylight saving time
MCX_WINTER_CLOSE: Final = "23:55"
_HHMM = re.compile(r"(\d\d):(\d\d)")
SEGMENTS: Final[Mapping[str, Segment]] = {
    "NSE": "equity", "BSE": "equity", "NFO": "fo", "BFO": "fo", "CDS": "cds", "BCD": "cds", "MCX": "mcx",
}  # fmt: skip
"""Each exchange's segment: the exchanges that share one set of hours."""
BAD_EXCHANGE = f"unknown exchange (one of {', '.join(SEGMENTS)})"
BAD_TIME = "not a time of day as a quoted 'HH:MM' (YAML reads an unquoted 17:00 as a number)"
_BAD_MCX_CLOSE = (
    f"neither {MCX_AUTO!r} (each day's close by US daylight saving: {MCX_SUMMER_CLOSE} or {MCX_WINTER_CLOSE})"
    " nor a time of day as a quoted 'HH:MM' (YAML reads an unquoted 23:55 as a number)"
)


def parse_hhmm(key: str, value: object) -> int:
    """Minutes after midnight of an ``"HH:MM"`` string; else ConfigError naming ``key`` and ``value``."""
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ConfigError(f"{key}={value!r}: {BAD_TIME}")
    return int(match[1]) * 60 + int(match[2])


_SUMMER_MINUTES: Final = parse_hhmm("summer", MCX_SUMMER_CLOSE)
_WINTER_MINUTES: Final = parse_hhmm("winter", MCX_WINTER_CLOSE)


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def us_switch_sundays(year: int) -> tuple[dt.date, dt.date]:
    """The Sundays of ``year`` on which the US goes onto daylight saving time (the second of
    March) and back to standard time (the first of November), each at 2 AM local."""
    return _nth_sunday(year, 3, 2), _nth_sunday(year, 11, 1)


def mcx_summer_hours(day: dt.date) -> bool:
    """Whether MCX keeps its US-summer hours (the 23:30 close) on the IST trading day ``day``.

    The US switches at 2 AM local on a Sunday, hours after that Sunday's IST morning, so MCX's
    hours change with the day after each switch Sunday: summer from the Monday after the March
    switch through the November switch Sunday, winter otherwise.
    """
    to_summer, to_winter = us_switch_sundays(day.year)
    return to_summer < day <= to_winter


def mcx_close_minutes(day: dt.date) -> int:
    """MCX's close on the IST trading day ``day`` by the US rule: minutes after midnight IST
    (23:30 in the US summer, 23:55 in its winter)."""
    return _SUMMER_MINUTES if mcx_summer_hours(day) else _WINTER_MINUTES


class SessionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Session hours per segment (IST, ``"HH:MM"``), MIS square-off times and the holidays file.

    Square-off sits 5 minutes before Zerodha's charged auto square-off (equity 15:20, F&O 15:25,
    currency 16:45, commodities 25 minutes before the close). A bad time, or hours out of the order
    ``pre-open < open < square-off < close``, raise :class:`ConfigError` naming the key and value.
    """

    holidays_file: str = "configs/holidays-2026.yaml"
    # the daemon refuses orders outside the session (AMOs excepted) and squares off MIS in time;
    # off for rehearsals against the simulator at any hour
    enforce: bool = True
    square_off: bool = True
    equity_pre_open: str = "09:00"
    equity_open: str = "09:15"
    equity_close: str = "15:30"
    fo_futures_pre_open: bool = True  # NSE's futures call auction, since 8 Dec 2025
    fo_pre_open: str = "09:00"
    fo_open: str = "09:15"
    fo_close: str = "15:30"
    cds_open: str = "09:00"
    cds_close: str = "17:00"
    mcx_open: str = "09:00"
    # "auto": each day's close by US daylight saving (mcx_close_minutes), so nobody has to remember
    # to change it in March and November; an "HH:MM" holds on every day
    mcx_close: str = MCX_AUTO
    square_off_equity: str = "15:15"
    square_off_fo: str = "15:20"
    square_off_cds: str = "16:40"
    square_off_mcx_minutes_before_close: int = 30

    def __post_init__(self) -> None:
        segment_hours(self)


class SegmentHours(NamedTuple):
    """One segment's usual hours, in minutes after midnight IST."""

    pre_open: int | None
    open: int
    close: int | None  # None: MCX's "auto", the day's close from mcx_close_minutes
    margin: int  # the square-off's minutes before the close

    def close_on(self, day: dt.date) -> int:
        """The close on the IST date ``day`` (before any holiday entry or special session)."""
        return mcx_close_minutes(day) if self.close is None else self.close


def _ordered(config: SessionConfig, *keys: str) -> list[int]:
    values = [parse_hhmm(f"session.{key}", getattr(config, key)) for key in keys]
    for (k1, v1), (k2, v2) in pairwise(zip(keys, values)):
        if v1 >= v2:
            raise ConfigError(f"session.{k2}={getattr(config, k2)!r}: must be after session.{k1}")
    return values


def _mcx_hours(c: SessionConfig) -> SegmentHours:
    opens = parse_hhmm("session.mcx_open", c.mcx_open)
    if c.mcx_close == MCX_AUTO:
        close, earliest = None, _SUMMER_MINUTES  # the hours must fit the shorter, summer day
    else:
        try:
            close = earliest = parse_hhmm("session.mcx_close", c.mcx_close)
        except ConfigError:
            raise ConfigError(f"session.mcx_close={c.mcx_close!r}: {_BAD_MCX_CLOSE}") from None
    if opens >= earliest:
        shown = f"{c.mcx_close!r}" + (f" ({MCX_SUMMER_CLOSE} in the US summer)" if close is None else "")
        raise ConfigError(f"session.mcx_close={shown}: must be after session.mcx_open")
    margin = c.square_off_mcx_minutes_before_close
    if not 0 < margin < earliest - opens:
        raise ConfigError(f"session.square_off_mcx_minutes_before_close={margin!r}: not inside the session")
    return SegmentHours(None, opens, close, margin)


def segment_hours(c: SessionConfig) -> dict[Segment, SegmentHours]:
    """Each segment's usual hours from ``c``.

    Raises:
        ConfigError: a bad time or hours out of order, naming the key and value.
    """
    pre, opens, sq, close = _ordered(c, "equity_pre_open", "equity_open", "square_off_equity", "equity_close")
    equity = SegmentHours(pre, opens, close, close - sq)
    pre, opens, sq, close = _ordered(c, "fo_pre_open", "fo_open", "square_off_fo", "fo_close")
    fo = SegmentHours(pre if c.fo_futures_pre_open else None, opens, close, close - sq)
    opens, sq, close = _ordered(c, "cds_open", "square_off_cds", "cds_close")
    cds = SegmentHours(None, opens, close, close - sq)
    return {"equity": equity, "fo": fo, "cds": cds, "mcx": _mcx_hours(c)}
