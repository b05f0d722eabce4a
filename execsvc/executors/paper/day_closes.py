"""The last prices the simulated broker's date line closes positions at, journaled before it acts.

At the date line (``PaperExecutor.expire_all``) the simulated broker squares off the open MIS
positions at their instrument's last tick and settles the expired F&O contracts at theirs. Ticks
are not journaled, so a restart after a kill in the middle of that (the new day's file not yet
written) would close what is left at the last price the day's journal knows, its last fill: not
the uninterrupted run's price. So the date line first journals ``DayCloses``: the last tick of
each instrument it will close a position in, as much of it as the closes use (the last price, and
the best bid and offer a square-off's MARKET order may trade at). A restart folds it into the
journal's marks (``last_day.journal_marks``) and closes the rest at exactly those prices.

Only the prices of ticks are journaled: a position whose instrument has not ticked since the
service started closes at the journal's mark, which every start reads the same. Nothing is
written when the date line closes nothing priced by a tick (a replay's journal without MIS or
expired positions at its date line is unchanged), nor in live mode (the broker closes them).

What the line carries of the last ticks, as marks of the positions the new day holds
(``carried_marks``), is journaled in the new day's ``PositionsCarried.marks`` (``marks_to_carry``)
and restored by a start on that day (``restore_closes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from execsvc.broker_events import DayClose, DayCloses
from execsvc.clock import trading_day
from execsvc.market.ticks import Depth, DepthLevel, Tick
from execsvc.market.underlyings import priced_against
from execsvc.positions import Position

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor


def journal_day_closes(paper: PaperExecutor, now_ns: int) -> None:
    """Journal the last tick of each instrument the date line into ``now_ns``'s day closes a
    position in at that tick: an open MIS position's (today's tick: the square-off's price) and an
    expired contract's (today's, else the last session's: its settlement's price), and the
    underlying's of an expired option (today's, else the last session's: its intrinsic value's)
    or the stock's of an expired stock future (the mark of the shares it delivers)."""
    today = trading_day(now_ns)
    expiry_of = paper.instruments.expiry
    symbols: dict[str, bool] = {}  # the symbols to close (MIS?), in the order of their first position
    for p in paper.state.positions.values():
        if not p.net_qty:
            continue
        if p.product == "MIS":
            symbols[p.symbol] = True
        elif p.symbol not in symbols and (expiry := expiry_of(p.symbol)) is not None and expiry < today:
            symbols[p.symbol] = False
    # an expired option settles at its intrinsic value, priced by its underlying's last tick
    # (``expiry``): journaled with the rest, so a restart midway prices it as the line did; and a
    # stock future's stock, which its delivery makes held (``delivery``): a restart midway carries
    # the same mark of it; an underlying the line closes a position in keeps its own entry (MIS:
    # today's tick only)
    for symbol in list(symbols):
        inst = paper.instruments.by_key(symbol)  # an MIS one too: its NRML positions settle
        underlying = priced_against(inst, paper.instruments.by_key) if inst is not None else None
        if underlying is not None and (expiry := expiry_of(symbol)) is not None and expiry < today:
            symbols.setdefault(underlying, False)
    closes: list[DayClose] = []
    for symbol, squared_off in symbols.items():
        # an MIS symbol squares off at today's tick only (``auto_square_off``): a last session's
        # close is not its price, so it is not journaled as one
        tick = paper.market.get(symbol) or (None if squared_off else paper.closes.get(symbol))
        if tick is not None:
            closes.append(day_close(tick))
    if closes:
        paper.emit(DayCloses(closes=closes, ts_event=now_ns))


def carried_marks(paper: PaperExecutor, now_ns: int) -> dict[str, Tick]:
    """The marks the date line into ``now_ns``'s day carries (``PaperExecutor.closes``): the last
    tick (today's, else the last session's) of each instrument of a position the new day carries.

    The last ticks of instruments nothing holds are forgotten. Ticks are not journaled, and a
    service restarted after the close rebuilds only the prices of what it holds
    (``session_closes``): carried, a price it watched tick would value a new day's order placed
    before that instrument's first tick of the day (``reference_price``: the order-value cap) in a
    run that went on and not in a restarted one, and the two would decide differently. Such an
    order cannot trade before that tick anyway (``fills.entry_refusal``), so both now value it
    alike: at its own price if it names one, else at none (the cap refuses an order it cannot value).
    """
    today = trading_day(now_ns)
    expiry_of = paper.instruments.expiry
    carried = {
        p.symbol
        for p in paper.state.positions.values()
        if p.net_qty and p.product != "MIS" and ((expiry := expiry_of(p.symbol)) is None or expiry >= today)
    }
    # a start after a kill midway through the line has today's last ticks of what it closed only
    # from the line's own DayCloses (``line_closes``): a symbol held both MIS and overnight is
    # carried at that tick, as the running service carried it from ``market``
    last = paper.closes | paper.line_closes | paper.market
    return {symbol: tick for symbol, tick in last.items() if symbol in carried}


def marks_to_carry(carried: Iterable[Position], known: Mapping[str, Tick | DayClose]) -> list[DayClose]:
    """The marks a new day's ``PositionsCarried`` journals: the last tick ``known`` of each carried
    position's instrument (seen, or read back from the journal), in symbol order and with a missing
    quote left out (the default), so the bytes are the same whichever it was."""
    marks = []
    for symbol in sorted({p.symbol for p in carried}):
        last = known.get(symbol)
        if last is not None:
            close = day_close(last) if isinstance(last, Tick) else last
            quote = {side: price for side, price in (("bid", close.bid), ("ask", close.ask)) if price}
            marks.append(DayClose(symbol=symbol, last_price=close.last_price, **quote))
    return marks


def restore_closes(paper: PaperExecutor, marks: Mapping[str, DayClose]) -> None:
    """A start on a day: the marks it carried in (``PositionsCarried.marks``) become the closes
    again, as the service that met the date line kept them (``carried_marks``), but for those of
    instruments the day has journaled a price of since (``ServiceState.carried_marks``): that took
    a tick of the day, which the running service marks at and a restart does not know, and the
    restart's own last price of the day (``journal_marks``) must not be passed over for an older one.
    """
    paper.closes = {symbol: close_tick(close) for symbol, close in marks.items()}


def day_close(tick: Tick) -> DayClose:
    """The part of ``tick`` the date line's closes use."""
    bid, ask = tick.best_bid, tick.best_ask
    return DayClose(
        symbol=tick.symbol,
        last_price=tick.last_price,
        bid=bid.price if bid is not None else 0.0,
        ask=ask.price if ask is not None else 0.0,
    )


def close_tick(close: DayClose) -> Tick:
    """A tick with what ``close`` kept of the last one: the square-off's and settlement's prices
    come out the same (the square-off takes the whole book: only the best levels' prices count)."""
    depth = None
    if close.bid > 0 or close.ask > 0:
        buy = (DepthLevel(1, close.bid),) if close.bid > 0 else ()
        sell = (DepthLevel(1, close.ask),) if close.ask > 0 else ()
        depth = Depth(buy=buy, sell=sell)
    return Tick(symbol=close.symbol, last_price=close.last_price, depth=depth)
