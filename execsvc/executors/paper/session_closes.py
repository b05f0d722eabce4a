"""The last prices of what is held on an exchange once its session has closed, journaled.

Ticks are not journaled. Between an exchange's close and the date line its instruments' last
ticks are still what the simulated broker marks and closes at: the date line squares off MIS at
them, settles the contracts that expired at them (``expiry``) and carries them as the next day's
marks (``PaperExecutor.closes``). A restart in that window (killed at 20:00 on an expiry day, no
more NFO ticks) knew none of them, and settled at the day's last fill: its entry price, not the
15:29 close. So, with the session calendar, at the first input (a tick, an intent, a cancel or a
modification) at or after an exchange's close, and on a live clock at the close itself (the
service's timer, ``execsvc.close_timer``: a daemon gets no ticks once the exchanges close), the
simulated broker journals ``SessionCloses``: the last tick of each instrument it holds a position
in on that exchange, and of the underlying of each option held there that expires that day (the
line settles it at its intrinsic value: ``expiry``) and the stock of each stock future (the line
delivers it: ``delivery``); whichever of the two comes first, the other
finds nothing changed. A working order needs no price there: with the calendar no exchange
matches after its close (``PaperExecutor.on_tick``), so it fills nothing more and the date line
ends it without one.
From then on a tick of such an instrument (a post-close tick, a feed's last tick again after a reconnect) is
journaled too whenever what the closes use of it (last price, best bid and offer) changed, so
the journal always holds the price the date line will use. A start folds them back into today's market
(``restore``): the restarted service marks, squares off, settles and carries at the same prices
and journals the same records as one that ran on. That rests on nothing becoming held on an
exchange after its close (a restart's first input would journal it, a run that went on would
not): no new order reaches an exchange then (the calendar refuses all but AMOs, an AMO goes out
only in the normal session, ``after_market``, and a change is refused, ``changes``), and an order
working at the close fills nothing, so what is held past a close was held at it. And a restart
watches what a run that went on does: a symbol watched with a close journaled is restored, and
one watched without (no tick yet) is still held, so the restart's first input from the close
watches it again (a position can only leave after the close by the broker's square-off at a
tick, which the watch journals first).

Nothing is journaled when nothing is held, nor for an instrument that has had no tick since the
service started (the journal's last fill or trigger stays its mark, the same at every start), nor
in live mode (no calendar reaches the paper executor there: the broker closes and settles).
A restart between an instrument's last tick and its exchange's close loses that tick unless the
feed sends it again: only ticks after the close are journaled, so the tick path stays cheap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from execsvc.broker_events import DayClose, DayCloses, SessionCloses
from execsvc.calendar import SEGMENTS
from execsvc.clock import trading_day
from execsvc.executors.paper.day_closes import close_tick
from execsvc.journal.codec import Record
from execsvc.market.ticks import Tick
from execsvc.market.underlyings import priced_against

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor

_NEVER = 1 << 62


class SessionCloseMarks:
    """Today's session closes still to come, and the held instruments of the closed exchanges.

    The tick path compares the tick's time with ``from_ns``: ``next_ns`` (0 until the day's first
    input works the closes out, huge once every exchange has closed or without a calendar) while
    nothing is watched, 0 once something is (every tick then looks its symbol up in ``watched``).
    """

    def __init__(self) -> None:
        self.next_ns = self.from_ns = 0
        self.watched: dict[str, DayClose | None] = {}  # held on a closed exchange: the last journaled
        self._pending: list[tuple[int, str]] = []  # (close, exchange), today's closes still to come
        self.calendar_changed = asyncio.Event()  # wakes the close timer, which sleeps to the old closes

    def new_day(self) -> None:
        """The date line: tomorrow's closes are tomorrow's."""
        self.next_ns = self.from_ns = 0
        self.watched = {}
        self._pending = []

    def recalendared(self) -> None:
        """The calendar changed: the day's closes are worked out again at the next input."""
        self.next_ns = self.from_ns = 0
        self.calendar_changed.set()

    def catch_up(self, paper: PaperExecutor, now_ns: int) -> None:
        """An input at ``now_ns`` that is no tick (a submission, the close timer's pass): the
        session-close ``step`` if an exchange may have closed since the last one (the tick path
        makes the same test in ``on_tick``)."""
        if now_ns >= self.next_ns:
            self.step(paper, now_ns)

    def step(self, paper: PaperExecutor, now_ns: int) -> None:
        """An input at ``now_ns`` (from ``next_ns`` on): journal the held instruments' last ticks on
        the exchanges whose session has closed by then."""
        calendar = paper.cutoffs.calendar
        if not self.next_ns:
            day = trading_day(now_ns)
            sessions = (calendar.session(e, day) for e in SEGMENTS) if calendar is not None else ()
            self._pending = sorted((s.close_ns, s.exchange) for s in sessions if s is not None)
        closed = {exchange for close, exchange in self._pending if close <= now_ns}
        self._pending = [(close, exchange) for close, exchange in self._pending if close > now_ns]
        self.next_ns = self.from_ns = self._pending[0][0] if self._pending else _NEVER
        if not closed:
            if self.watched:
                self.from_ns = 0
            return
        # positions only: a working order fills nothing after its exchange's close (the date line
        # ends it without a price), and watching its symbol would outlive it: cancelled after the
        # close, a run that went on still journaled a later tick that a restarted one did not
        held = dict.fromkeys(p.symbol for p in paper.state.positions.values() if p.net_qty)
        symbols = [s for s in held if s.partition(":")[0] in closed]
        symbols += _underlyings(paper, symbols, now_ns)
        for symbol in symbols:
            self.watched.setdefault(symbol, None)
        if self.watched:
            self.from_ns = 0  # from now on every tick looks its symbol up
        self._journal(paper, symbols, now_ns)

    def on_tick(self, paper: PaperExecutor, tick: Tick, now_ns: int) -> None:
        """A tick from ``from_ns`` on: journal what changed of what is held on closed exchanges."""
        if now_ns >= self.next_ns:
            self.step(paper, now_ns)  # this tick is in the market already: journaled with the rest
        elif tick.symbol in self.watched:
            self._journal(paper, [tick.symbol], now_ns)

    def _journal(self, paper: PaperExecutor, symbols: Iterable[str], now_ns: int) -> None:
        closes: list[DayClose] = []
        for symbol in symbols:
            tick = paper.market.get(symbol)
            if tick is None:
                continue
            close = _close(tick)
            if close != self.watched.get(symbol):
                closes.append(close)
                self.watched[symbol] = close
        if closes:
            paper.emit(SessionCloses(closes=closes, ts_event=now_ns))


def _underlyings(paper: PaperExecutor, symbols: Iterable[str], now_ns: int) -> list[str]:
    """The underlyings of the options among ``symbols`` that expire by today, not among them: the
    date line settles those at their intrinsic value, priced by the underlying's last tick
    (``expiry``); and the stocks of the stock futures among them, which the line delivers
    (``delivery``: the next day holds and marks them). Taken when the contract's exchange closes,
    after which no contract becomes held, whenever the underlying's own exchange closes."""
    today = trading_day(now_ns)
    out: dict[str, None] = {}
    for symbol in symbols:
        inst = paper.instruments.by_key(symbol)
        expiry = inst.expiry_date if inst is not None else None
        if inst is not None and expiry is not None and expiry <= today:
            underlying = priced_against(inst, paper.instruments.by_key)
            if underlying is not None and underlying not in symbols:
                out[underlying] = None
    return list(out)


def _close(tick: Tick) -> DayClose:
    """What the date line's closes use of ``tick``; a missing quote left out (as the default)."""
    bid, ask = tick.best_bid, tick.best_ask
    quote = {"bid": bid.price} if bid is not None else {}
    if ask is not None:
        quote["ask"] = ask.price
    return DayClose(symbol=tick.symbol, last_price=tick.last_price, **quote)


def restore(paper: PaperExecutor, records: Iterable[Record]) -> None:
    """A start on a journaled day: its session closes become the market again, as they were.

    An instrument the date line journaled a close of (``DayCloses``: a kill cut the line short)
    is left to the line's own price (``last_day.journal_marks``), so the line is not journaled twice;
    those closes are kept apart (``PaperExecutor.line_closes``) for the marks the line carries.
    """
    marks: dict[str, DayClose] = {}
    line_closes: dict[str, Tick] = {}
    for record in records:
        event = record.ev
        if type(event) is SessionCloses:
            marks.update((c.symbol, c) for c in event.closes)
        elif type(event) is DayCloses:
            line_closes.update((c.symbol, close_tick(c)) for c in event.closes)
    at_the_line = line_closes.keys()
    paper.market.update((s, close_tick(c)) for s, c in marks.items() if s not in at_the_line)
    paper.line_closes = line_closes
    paper.session_closes.watched = dict(marks)
    if marks:
        paper.session_closes.from_ns = 0
