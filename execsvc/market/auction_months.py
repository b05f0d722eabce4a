"""Which futures NSE's F&O pre-open call auction takes on a day: the current month's.

FACTS.md section 6 (NSE circular of 4 Nov 2025): the auction (09:00-09:15, since 8 Dec 2025)
takes current-month stock and index futures only, and the next month's "in the last 5 days before
expiry". The public reports of the circular say *trading* days and that the next month joins the
current one then (it "extends to" it, to help the roll-over); execsvc reads it so: the expiry day
and the four trading days before it count, and the current month stays eligible through its
expiry day. A far-month future is never taken.

"Current month" is the nearest expiry of the underlying's futures on that exchange on or after
the day, read from the instruments dump's ``expiry`` column (never a weekday rule: FACTS.md
section 6); the underlying is the dump's ``name``. A contract the dump does not know, or one with
no expiry, is not refused here: there is nothing to tell its month by (the exchange decides).

The index of expiries is built once, at the first question, and each underlying's eligible
expiries once per day: an order costs two dictionary look-ups, never a scan of the dump.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from execsvc.market.instruments import Instruments

__all__ = ["ROLL_OVER_TRADING_DAYS", "AuctionMonths"]

ROLL_OVER_TRADING_DAYS = 5
"""The last trading days of a current-month contract (its expiry day included) in which the
auction takes the next month's too (FACTS.md section 6)."""

TradingDay = Callable[[str, dt.date], bool]
"""``(exchange, day) -> whether it trades``: the session calendar's ``is_trading_day``."""

_MAX_DAYS_TO_COUNT = 31  # a current month expires within a month: no need to look further
_Underlying = tuple[str, str]  # (exchange, name)


class AuctionMonths:
    """The futures the F&O pre-open call auction takes, by the dump's expiries; see the module
    docstring.

    Args:
        instruments: the day's instruments dump (read at the first question, then kept).
    """

    def __init__(self, instruments: Instruments) -> None:
        self._instruments = instruments
        self._expiries: dict[_Underlying, list[dt.date]] | None = None
        self._day: dt.date | None = None
        self._eligible: dict[_Underlying, tuple[dt.date, ...]] = {}

    def refusal(self, key: str, day: dt.date, trades: TradingDay) -> str | None:
        """Why the auction on ``day`` does not take the future ``key``, or None if it does (or the
        dump cannot tell: an unknown contract, no expiry).

        Args:
            key: ``EXCHANGE:TRADINGSYMBOL`` of a future.
            day: the IST trading day of the auction.
            trades: the calendar's ``is_trading_day``, to count the last days before an expiry.
        """
        inst = self._instruments.by_key(key)
        expiry = inst.expiry_date if inst is not None else None
        if inst is None or expiry is None or inst.instrument_type != "FUT":
            return None
        underlying = (inst.exchange, _underlying_name(inst.name, inst.tradingsymbol))
        eligible = self._eligible_on(underlying, day, trades)
        if expiry in eligible:
            return None
        if not eligible:  # the dump has no live contract of it: nothing to compare with
            return None
        months = " and the next month's (expiry " + eligible[1].isoformat() + ")" if len(eligible) > 1 else ""
        return (
            f"tradingsymbol={inst.tradingsymbol!r} (expiry {expiry.isoformat()}) is not a contract the "
            f"futures call auction takes: only {underlying[1]}'s current month (expiry "
            f"{eligible[0].isoformat()}){months}"
        )

    def _eligible_on(self, underlying: _Underlying, day: dt.date, trades: TradingDay) -> tuple[dt.date, ...]:
        if day != self._day:
            self._day, self._eligible = day, {}
        eligible = self._eligible.get(underlying)
        if eligible is None:
            live = [e for e in self._index().get(underlying, ()) if e >= day][:2]
            if len(live) == 2 and not _in_last_days(underlying[0], day, live[0], trades):
                live = live[:1]
            eligible = self._eligible[underlying] = tuple(live)
        return eligible

    def _index(self) -> dict[_Underlying, list[dt.date]]:
        if self._expiries is None:
            expiries: dict[_Underlying, set[dt.date]] = {}
            for inst in self._instruments:
                expiry = inst.expiry_date
                if inst.instrument_type == "FUT" and expiry is not None:
                    name = _underlying_name(inst.name, inst.tradingsymbol)
                    expiries.setdefault((inst.exchange, name), set()).add(expiry)
            self._expiries = {underlying: sorted(days) for underlying, days in expiries.items()}
        return self._expiries


def _underlying_name(name: str, tradingsymbol: str) -> str:
    """The dump's ``name``; for a row without one, the symbol less its ``YYMONFUT`` suffix."""
    return name or tradingsymbol[:-8]


def _in_last_days(exchange: str, day: dt.date, expiry: dt.date, trades: TradingDay) -> bool:
    """Whether ``day`` is among the last :data:`ROLL_OVER_TRADING_DAYS` trading days up to
    ``expiry`` (the expiry day included)."""
    if (expiry - day).days > _MAX_DAYS_TO_COUNT:
        return False
    left = 0
    current = day
    while current <= expiry:
        left += trades(exchange, current)
        if left > ROLL_OVER_TRADING_DAYS:
            return False
        current += dt.timedelta(days=1)
    return True
