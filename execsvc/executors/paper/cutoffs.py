"""The simulated broker's auto square-off times: when it takes no more fresh MIS orders, cancels
the working ones and closes the positions (``auto_square_off``), per exchange and day.

Zerodha's times (FACTS section 6): 15:20 for equity, 15:25 for derivatives, 16:45 for currency,
25 minutes before the close for commodities, read from the session calendar; without one the
broker never squares off in the day (only at the date line).
"""

from __future__ import annotations

from collections.abc import Callable

from execsvc.calendar import BROKER_SQUARE_OFF_MINUTES, FO_EXCHANGES, SEGMENTS, MarketCalendar, Session
from execsvc.clock import ist_hhmm, trading_day
from execsvc.events import OrderAccepted, OrderIntent

_MINUTE_NS = 60_000_000_000
_NEVER = 1 << 62
_CLOSED = _NEVER + 1  # the exchange has no session that day (a weekend, a holiday): no time either


class BrokerCutoffs:
    """Each instrument's auto square-off time today, from the session calendar (none without one).

    The tick path compares the tick's time with ``earliest``, the day's first square-off time of
    any exchange (huge without a calendar, or on a day without a session): before it there is
    nothing to look up. From then ``due`` looks the instrument's time up; once its square-off is
    done that answers "never" for the rest of the day. ``new_day`` forgets everything.
    """

    def __init__(self) -> None:
        self._calendar: MarketCalendar | None = None
        self.earliest = 0  # 0: not worked out yet for the day (``due`` does)
        self._pending: dict[str, int] = {}  # by symbol: the time, or _NEVER once done (or none)
        self._times: dict[str, int] = {}
        self._hours: dict[str, tuple[int, int]] = {}  # by symbol: its exchange's open and close today
        self._exchanges_done: set[str] = set()  # their working MIS orders cancelled

    @property
    def calendar(self) -> MarketCalendar | None:
        """The session calendar the times come from (None: the broker never squares off in the day)."""
        return self._calendar

    @calendar.setter
    def calendar(self, calendar: MarketCalendar | None) -> None:
        self._calendar = calendar
        self.new_day()  # times worked out without it (or with another) are not its

    def time_of(self, symbol: str, now_ns: int) -> int:
        """The auto square-off time of ``symbol`` on ``now_ns``'s day (a huge number for none)."""
        cutoff = self._times.get(symbol)
        if cutoff is None:
            cutoff = self._times[symbol] = self._pending[symbol] = self._compute(symbol, now_ns)
        return cutoff

    def in_session(self, symbol: str, now_ns: int) -> bool:
        """Whether ``symbol``'s exchange is in its normal session at ``now_ns`` (always without a
        calendar): only then does it take its queued after-market orders (``after_market``) and
        match resting orders (``PaperExecutor.on_tick``). A tick before the open, after the close,
        or on a day it does not trade (a weekend, a holiday) is no open: an exchange matches
        nothing then."""
        hours = self._hours.get(symbol)
        if hours is None:
            hours = self._hours[symbol] = self._session_hours(symbol, now_ns)
        return hours[0] <= now_ns < hours[1]

    def waits_for_auction(self, intent: OrderIntent, now_ns: int) -> bool:
        """Whether ``intent`` is taken in the F&O pre-open: a future the session calendar let into
        NSE's call auction (``MarketCalendar.may_place``; the engine refuses any other order out of
        the session but an AMO). The simulated exchange runs no auction, so such an order waits
        and meets the market at the open, as an AMO does (``OrderAccepted.at_open``); it is not
        refused as out of the session (``session_refusal``). Equity orders look nothing up."""
        return (
            intent.exchange in FO_EXCHANGES
            and self._calendar is not None
            and intent.variety != "amo"
            and not self.in_session(intent.symbol, now_ns)
        )

    def session_refusal(self, symbol: str, now_ns: int) -> str | None:
        """Why ``symbol``'s exchange takes no order or change at ``now_ns`` (out of its normal
        session, ``in_session``), or None: e.g. ``NSE is post_close (the session closed at 15:30
        IST): next open 2026-11-23 09:15 IST``."""
        if self._calendar is None or self.in_session(symbol, now_ns):
            return None
        head, upcoming = self._calendar.out_of_session(symbol.partition(":")[0], now_ns)
        return f"{head}: next open {upcoming} IST"

    def due(self, symbol: str, now_ns: int) -> bool:
        """Whether ``symbol``'s square-off is due at ``now_ns`` and not done yet (the tick path, from
        ``earliest`` on)."""
        if not self.earliest:
            self.earliest = self._earliest(now_ns)
            if now_ns < self.earliest:
                return False
        cutoff = self._pending.get(symbol)
        if cutoff is None:
            cutoff = self.time_of(symbol, now_ns)
        return now_ns >= cutoff

    def done(self, symbol: str) -> bool:
        """``symbol`` was squared off: no more today. Whether it is the first of its exchange (whose
        working MIS orders are then cancelled, all at once as the broker does, with no price needed)."""
        self._pending[symbol] = _NEVER
        exchange = symbol.partition(":")[0]
        first = exchange not in self._exchanges_done
        self._exchanges_done.add(exchange)
        return first

    def refusal(
        self,
        intent: OrderIntent | OrderAccepted,
        now_ns: int,
        *,
        reducing: bool = False,
        net_qty: Callable[[str, str], int] | None = None,
    ) -> str | None:
        """Why the broker would refuse an order now (a fresh MIS order after the time), or None.

        An order that only closes (part of) the account's open MIS position in its symbol
        (``exits_mis``: ``reducing`` its strategy's, and the account's net by ``net_qty(symbol,
        product)``) is no fresh order: until the broker has squared that symbol off it goes
        through, as at Zerodha; the square-off then closes what is left.
        """
        if intent.product != "MIS" or intent.variety == "amo":
            return None
        cutoff = self.time_of(intent.symbol, now_ns)
        if now_ns < cutoff:
            return None
        squared_off = self._pending.get(intent.symbol) == _NEVER
        if reducing and net_qty is not None and not squared_off:
            exits = exits_mis(intent.side, intent.qty, reducing, net_qty(intent.symbol, "MIS"))
            if exits:
                return None
        exchange = intent.symbol.partition(":")[0]
        return f"{exchange} takes no MIS order after the broker's auto square-off at {ist_hhmm(cutoff)} IST"

    def new_day(self) -> None:
        """The date line: tomorrow's times are tomorrow's."""
        self.earliest = 0
        self._pending.clear()
        self._times.clear()
        self._hours.clear()
        self._exchanges_done.clear()

    def _earliest(self, now_ns: int) -> int:
        calendar, day = self._calendar, trading_day(now_ns)
        if calendar is None:
            return _NEVER
        sessions = (calendar.session(exchange, day) for exchange in SEGMENTS)
        return min((broker_time(s) for s in sessions if s is not None), default=_NEVER)

    def _compute(self, symbol: str, now_ns: int) -> int:
        exchange = symbol.partition(":")[0]
        if self._calendar is None or exchange not in SEGMENTS:
            return _NEVER
        session = self._calendar.session(exchange, trading_day(now_ns))
        return _CLOSED if session is None else broker_time(session)

    def _session_hours(self, symbol: str, now_ns: int) -> tuple[int, int]:
        exchange = symbol.partition(":")[0]
        if self._calendar is None or exchange not in SEGMENTS:
            return 0, _NEVER
        session = self._calendar.session(exchange, trading_day(now_ns))
        return (0, 0) if session is None else (session.open_ns, session.close_ns)


def exits_mis(side: str, qty: int, reducing: bool, account_mis_net: int) -> bool:
    """Whether an MIS order only exits: it reduces its strategy's position (``reducing``, working
    orders counted) and the account's MIS net in the symbol too, by no more than that net (the
    broker sees the account, where one strategy's exit can be another's fresh position)."""
    if not reducing or account_mis_net == 0:
        return False
    return (account_mis_net > 0) == (side == "SELL") and qty <= abs(account_mis_net)


def broker_time(session: Session) -> int:
    """The broker's auto square-off time in ``session``: its segment's minutes before the close."""
    margin = BROKER_SQUARE_OFF_MINUTES[SEGMENTS[session.exchange]] * _MINUTE_NS
    return max(session.open_ns, session.close_ns - margin)
