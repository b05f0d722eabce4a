"""The simulated broker's auto square-off of intraday (MIS) positions.

Zerodha closes an MIS position still open at its auto square-off time itself (15:20 for equity,
15:25 for derivatives, 16:45 for currency, 25 minutes before the close for commodities), with a
market order, charges ₹50 + GST for each such order, and takes no fresh MIS order after that time
(FACTS section 6). Paper and dry-run have no broker to do it, so the simulator does, with the
session calendar (``session.enforce``: the daemon and ``execsvc replay``; ``session_calendar``:
an embedded service):

- at the first tick of an exchange at or after its segment's time, the exchange's working MIS
  orders are cancelled (a modification of one before that tick cancels it too), and an exit
  taken since then in an instrument at that instrument's first tick; at an
  instrument's first tick from then, its MIS positions are closed at that tick's price; from
  that time a new MIS order on the exchange is rejected (``after_auto_square_off``); an
  after-market order is taken, but an MIS one goes out only in the next session (not with the
  instrument's next tick that day);
- on a live clock (the service's timer, ``execsvc.close_timer``), the same at the time itself
  with no input: each instrument held in MIS as its tick then would have (``square_off_due``), at
  its last tick's price and stamped with the broker's time;
- at the date line, whatever MIS position is still open (no calendar, or no tick since the
  time) is closed at its instrument's last price.

The broker's positions are the account's: it squares off a symbol's *net* MIS position with one
MARKET order through the fill model (the whole quantity: the broker's order takes what the book
holds), with its charges and its fee (none of either when the strategies net to flat, and no order;
above the F&O freeze quantity, orders of whole lots within it, ``freeze_sizes``, each charged its
brokerage and fee: their sum). Each strategy's position is still closed in the books, by a closing
order of its own at that order's price (the last price when there is none), so its profit or loss is
booked; the broker's charges are shared out among the positions on the side its order trades, pro
rata by quantity, and the others pay nothing (``netting``). Each closing order is journaled in the
day of the position like any order: the intent (``auto-sqoff-<day>-<n>``, the position's strategy,
in its ``metadata`` the last price the broker's order traded against), its acceptance, the fill and
a FILLED result, at that day's rates; a symbol held by more than one strategy is first journaled as
the broker's one order and its shares (``BrokerSquareOff``), and a restart after a kill in between
closes the rest with those figures. Without it a position would leave the books at the date line
with its profit or loss unbooked.

The service's own square-off (``session.square_off``, 5 minutes earlier) normally gets flat
first; this is what happens when it did not (turned off, a library caller, a replay). A position
whose instrument has had no tick since the service started (a restart late in the day) closes at
the date line at the last price the day's journal knows, as at a start after a date line the
service missed (it was down), which rolls the old day over first (``execsvc.last_day``); one the
journal knows no price of either expires with a warning, as a live one the broker closed.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

import msgspec

from execsvc.broker_events import BrokerSquareOff, SquareOffLeg
from execsvc.clock import ist_ns
from execsvc.costs import rounded_charges
from execsvc.event_base import Charges
from execsvc.events import ExecutionResult
from execsvc.executors.base import accepted, closing_intent
from execsvc.executors.paper.fills import aggressive_fills
from execsvc.executors.paper.netting import on_the_order, plan
from execsvc.market.freeze import freeze_sizes
from execsvc.market.ticks import Tick
from execsvc.positions import Position
from execsvc.state import AUTO_SQUARE_OFF_PREFIX

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor

log = logging.getLogger("execsvc.paper")

REASON = "auto square-off by the broker: an MIS position left open at its square-off time"
CANCELLED = "cancelled by the broker's auto square-off"  # a working MIS order at that time
CROSSED = (
    "auto square-off by the broker: an MIS position left open at its square-off time, absorbed by "
    "the account's opposite MIS positions in the symbol (no order at the exchange, no charges)"
)


def square_off_symbol(paper: PaperExecutor, symbol: str, now_ns: int) -> None:
    """The broker's time for ``symbol`` has come (its tick, or the clock: ``square_off_due``): close
    its MIS positions at its last tick's price; the first time on its exchange, cancel the
    exchange's working MIS orders first, and at each later one the instrument's own (an exit taken
    past the time, ``cutoffs.exits_mis``, may rest in it: left working, it would fill against the
    flat position and open a fresh one)."""
    exchange = symbol.partition(":")[0]
    whole_exchange = paper.cutoffs.done(symbol)
    for record in paper.state.working_orders():
        order = record.order
        if (
            order.product == "MIS"
            and not record.amo_waiting
            and (order.symbol == symbol or (whole_exchange and order.symbol.partition(":")[0] == exchange))
        ):
            paper.cancel(order.order_id, CANCELLED, now_ns)
    auto_square_off(paper, now_ns, symbol)


def square_off_due(paper: PaperExecutor, now_ns: int) -> None:
    """The clock has reached the broker's times of the day with no input (the service's timer on a
    live clock, ``execsvc.close_timer``): do at each time, in their order and stamped with it, what
    a tick then of each instrument held in MIS (a position, or a working order) would have done.

    So the journal holds what it would hold had the instrument ticked again at its time, at its
    last tick's price, however late the timer woke. An instrument with no tick since the start (a
    restart) is left to its first tick or the date line, as without the timer: there is no price
    of the day to close it at.
    """
    cutoffs, state, market = paper.cutoffs, paper.state, paper.market
    if cutoffs.calendar is None or not state.day:
        return
    held: dict[str, None] = {}  # in the order of their positions, then of their orders
    held.update((p.symbol, None) for p in state.positions.values() if p.product == "MIS" and p.net_qty)
    orders = state.working_orders()
    held.update((r.order.symbol, None) for r in orders if r.order.product == "MIS" and not r.amo_waiting)
    day = ist_ns(date.fromisoformat(state.day), 0, 0)  # the journal's day: the clock may be past it
    times = sorted(
        (cutoffs.time_of(symbol, day), n, symbol) for n, symbol in enumerate(held) if symbol in market
    )
    for at, _, symbol in times:
        if at > now_ns:
            break
        if cutoffs.due(symbol, at):
            square_off_symbol(paper, symbol, at)


def auto_square_off(paper: PaperExecutor, now_ns: int, symbol: str | None = None) -> list[ExecutionResult]:
    """Close every open MIS position (or ``symbol``'s) as the broker would: one order per symbol
    for the account's net position, each strategy's position closed at its price.

    Returns:
        The FILLED results of the closing orders, a symbol's together, in the order of the positions.
    """
    by_symbol: dict[str, list[Position]] = {}
    for p in paper.state.positions.values():
        if p.product == "MIS" and p.net_qty and symbol in (None, p.symbol):
            by_symbol.setdefault(p.symbol, []).append(p)
    closer = _Closer(paper, now_ns)
    for sym, positions in by_symbol.items():
        # a square-off a kill cut short: the broker's order was placed (journaled); its legs still
        # open close at its price with their shares, whether or not the instrument ticked since
        pending = paper.state.broker_square_offs.get(sym, {})
        rest: list[Position] = []
        for position in positions:
            planned = pending.get(position.strategy_code)
            if planned is not None and planned[1].net_qty == position.net_qty:
                closer.close(position, *planned)
            else:
                rest.append(position)
        if rest:
            _square_off(paper, closer, sym, rest, now_ns)
    return closer.results


def _square_off(
    paper: PaperExecutor, closer: _Closer, symbol: str, positions: list[Position], now_ns: int
) -> None:
    """The broker's one order for ``positions`` (one symbol's), then each position's close."""
    tick = paper.market.get(symbol) or _journal_mark(paper, symbol)
    if tick is None:
        for p in positions:
            log.warning("auto square-off: no price for %s since the start: %s %+d left to expire",
                        symbol, p.strategy_code, p.net_qty)  # fmt: skip
        return
    net = sum(p.net_qty for p in positions)
    price, charges = tick.last_price, Charges()
    if net:
        side = "SELL" if net > 0 else "BUY"
        whole_book = paper.model._replace(use_depth=False)
        [(qty, price)] = aggressive_fills(side, abs(net), None, tick, whole_book, paper.tick_size(symbol), {})
        # the broker squares off before the day's close: the day's rates, not the next day's (the
        # clock is past the date line here, and a new rate version may start with the new day);
        # above the freeze quantity in several orders, each with its brokerage and its fee
        slices = freeze_sizes(qty, paper.instruments.by_key(symbol), paper.freeze)
        each = [
            paper.costs.charges(
                exchange=symbol.partition(":")[0],
                instrument_type=paper.instruments.instrument_type(symbol),
                product="MIS",
                side=side,
                price=price,
                qty=size,
                trade_day=date.fromisoformat(paper.state.day),
                auto_square_off=True,
                multiplier=positions[0].multiplier,
            )
            for size in slices
        ]
        charges = (
            each[0] if len(each) == 1 else rounded_charges(*(sum(parts) for parts in zip(*map(_parts, each))))
        )
    square_off = plan(symbol, positions, price, charges, now_ns, tick.last_price)
    if len(positions) > 1:  # one position's closing order is the broker's order itself
        paper.emit(square_off)
    for position, leg in zip(positions, square_off.legs, strict=True):
        closer.close(position, square_off, leg)


class _Closer:
    """Books the closing orders of one square-off pass, each under an intent id of its own."""

    def __init__(self, paper: PaperExecutor, now_ns: int) -> None:
        self.paper = paper
        self.now_ns = now_ns
        self.results: list[ExecutionResult] = []
        self._n = 0

    def close(self, position: Position, square_off: BrokerSquareOff, leg: SquareOffLeg) -> None:
        """Close ``position`` at the square-off's price with ``leg``'s share of its charges."""
        paper, now_ns, state = self.paper, self.now_ns, self.paper.state
        day = state.day.replace("-", "")
        self._n += 1
        # an id of its own: a square-off a crash cut short was settled at the restart under its
        # id, and one done again after a same-day restart must not journal that id a second time
        while f"{AUTO_SQUARE_OFF_PREFIX}{day}-{self._n}" in state.intent_ids:
            self._n += 1
        intent = closing_intent(position, f"{AUTO_SQUARE_OFF_PREFIX}{day}-{self._n}", REASON, now_ns)
        # the price it traded against, not its (slipped) fill: the mark a restart that rolls the day
        # over settles an expired contract at, as the running service did (``last_day.journal_marks``)
        last_price = square_off.last_price or square_off.price
        intent = msgspec.structs.replace(intent, metadata={"last_price": last_price})
        paper.emit(intent)
        order_id = state.next_order_id()
        paper.emit(accepted(intent, order_id, True, now_ns, position.multiplier))
        record = state.orders[order_id]
        paper.book_fill(record, intent.qty, square_off.price, now_ns, "taker", charges=leg.charges)
        traded = on_the_order(leg, square_off)
        self.results.append(paper.result(record, "FILLED", now_ns, REASON if traded else CROSSED))
        log.warning("auto square-off of %s %s %+d at %g%s: ₹%.2f of charges",
                    position.strategy_code, position.symbol, position.net_qty, square_off.price,
                    "" if traded else " (crossed within the account)", record.charges)  # fmt: skip


def _parts(charges: Charges) -> tuple[float, ...]:
    return (charges.brokerage, charges.stt, charges.exchange, charges.sebi, charges.stamp, charges.gst,
            charges.auto_square_off)  # fmt: skip


def _journal_mark(paper: PaperExecutor, symbol: str) -> Tick | None:
    """No tick since the start (a restart that day, or one after its date line): the journal's last
    price (the last tick itself when the date line journaled it, ``day_closes``)."""
    mark = paper.journal_marks.get(symbol)
    if mark is None:
        return None
    log.warning("auto square-off of %s with no tick since the start: at the last price the "
                "journal knows, %g", symbol, mark.last_price)  # fmt: skip
    return mark
