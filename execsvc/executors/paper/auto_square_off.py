"""The simulated broker's auto square-off of intraday (MIS) positions.

Zerodha closes an MIS position still open at its auto square-off time itself (15:20 for equity,
15:25 for derivatives, 16:45 for currency, 25 minutes before the close for commodities), with a
market order, charges ₹50 + GST for each such order, and takes no fresh MIS order after that time
(FACTS section 6). Paper and dry-run have no broker to do it, so the simulator does, with the
session calendar (``session.enforce``: the daemon and ``execsvc replay``):

- at the first tick of an exchange at or after its segment's time, the exchange's working MIS
  orders are cancelled (a modification of one before that tick cancels it too); at an
  instrument's first tick from then, its MIS positions are closed at that tick's price; from
  that time a new MIS order on the exchange is rejected (``after_auto_square_off``); an
  after-market order is taken, but an MIS one goes out only in the next session (not with the
  instrument's next tick that day);
- at the date line, whatever MIS position is still open (no calendar, or no tick since the
  time) is closed at its instrument's last price.

Each close goes through the fill model as a MARKET order for the whole quantity (the broker's
order takes what the book holds). The fee is the broker's, per order it places: its positions
are the account's, so strategies holding one symbol pay it once between them (on the first
closing order on the side of the account's net position), and not at all when they net to flat.
It is journaled in the day of the position like any order: the intent (``auto-sqoff-<day>-<n>``,
the position's strategy), its acceptance, the fill and a FILLED result, at that day's rates.
Without it a position would leave the books at the date line with its profit or loss unbooked.

The service's own square-off (``session.square_off``, 5 minutes earlier) normally gets flat
first; this is what happens when it did not (turned off, a library caller, a replay). A position
whose instrument has had no tick since the service started (a restart late in the day) cannot
be priced: it expires at the date line with a warning, as a live one the broker closed. A start
after a date line the service missed (it was down) rolls the old day over first, closing at the
last price that day's journal knows (``execsvc.last_day``).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from execsvc.events import ExecutionResult
from execsvc.executors.base import accepted, closing_intent
from execsvc.executors.paper.fills import aggressive_fills
from execsvc.market.ticks import Tick
from execsvc.state import AUTO_SQUARE_OFF_PREFIX

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor

log = logging.getLogger("execsvc.paper")

REASON = "auto square-off by the broker: an MIS position left open at its square-off time"
CANCELLED = "cancelled by the broker's auto square-off"  # a working MIS order at that time


def square_off_symbol(paper: PaperExecutor, tick: Tick, now_ns: int) -> None:
    """The broker's time for ``tick``'s instrument has come: close its MIS positions at this tick's
    price; at the first such tick of its exchange, cancel the exchange's working MIS orders first
    (one pass over the day's orders per exchange, not per instrument)."""
    symbol = tick.symbol
    if paper.cutoffs.done(symbol):
        exchange = symbol.partition(":")[0]
        for record in paper.state.working_orders():
            order = record.order
            if (
                order.product == "MIS"
                and not record.waits_for_open
                and order.symbol.partition(":")[0] == exchange
            ):
                paper.cancel(order.order_id, CANCELLED, now_ns)
    auto_square_off(paper, now_ns, symbol)


def auto_square_off(paper: PaperExecutor, now_ns: int, symbol: str | None = None) -> list[ExecutionResult]:
    """Close every open MIS position (or ``symbol``'s) at its instrument's last price, as the broker
    would.

    Returns:
        The FILLED results of the closing orders, in the order of the positions.
    """
    state = paper.state
    day = state.day.replace("-", "")
    # the broker squares off before the day's close: the day's rates, not the next day's (the
    # clock is past the date line here, and a new rate version may start with the new day)
    trade_day = date.fromisoformat(state.day)
    open_intraday = [
        p for p in state.positions.values() if p.product == "MIS" and p.net_qty and symbol in (None, p.symbol)
    ]
    # the broker's positions are the account's, one per symbol and product: it squares off each
    # symbol's net MIS with one order and one fee (none when the strategies net to flat); the
    # strategies' books are closed one by one
    account: dict[str, int] = {}
    for p in open_intraday:
        account[p.symbol] = account.get(p.symbol, 0) + p.net_qty
    # a square-off a crash cut short and a restart goes on with: the broker's one order is the
    # account's position before it began, its fee charged already or not
    for sym, net in account.items():
        closed, fee_charged = state.broker_square_offs.get(sym, (0, False))
        account[sym] = 0 if fee_charged else net + closed
    results: list[ExecutionResult] = []
    n = 0
    for position in open_intraday:
        n += 1
        # an id of its own: a square-off a crash cut short was settled at the restart under its
        # id, and one done again after a same-day restart must not journal that id a second time
        while f"{AUTO_SQUARE_OFF_PREFIX}{day}-{n}" in state.intent_ids:
            n += 1
        tick = paper.market.get(position.symbol) or _journal_mark(paper, position.symbol, now_ns)
        if tick is None:
            log.warning("auto square-off: no price for %s since the start: %s %+d left to expire",
                        position.symbol, position.strategy_code, position.net_qty)  # fmt: skip
            continue
        intent = closing_intent(position, f"{AUTO_SQUARE_OFF_PREFIX}{day}-{n}", REASON, now_ns)
        paper.emit(intent)
        order_id = state.next_order_id()
        paper.emit(accepted(intent, order_id, True, now_ns))
        record = state.orders[order_id]
        whole_book = paper.model._replace(use_depth=False)
        # the broker's one order for the symbol, with its fee: on the first position on its side
        brokers_order = _same_side(account.get(position.symbol, 0), position.net_qty)
        if brokers_order:
            del account[position.symbol]
        for qty, price in aggressive_fills(
            intent.side, intent.qty, None, tick, whole_book, paper.tick_size(intent.symbol), {}
        ):
            paper.book_fill(
                record, qty, price, now_ns, "taker", auto_square_off=brokers_order, trade_day=trade_day
            )
        results.append(paper.result(record, "FILLED", now_ns, REASON))
        log.warning("auto square-off of %s %s %+d at the last price %g: ₹%.2f of charges",
                    position.strategy_code, position.symbol, position.net_qty,
                    tick.last_price, record.charges)  # fmt: skip
    return results


def _journal_mark(paper: PaperExecutor, symbol: str, now_ns: int) -> Tick | None:
    """A day rolled over at a start after its date line has no tick: its journal's last price."""
    mark = paper.journal_marks.get(symbol)
    if mark is None:
        return None
    log.warning("auto square-off of %s at a start after the date line: at the last price the "
                "journal knows, %g", symbol, mark)  # fmt: skip
    return Tick(symbol=symbol, last_price=mark, ts_event=now_ns)


def _same_side(account_net: int, net_qty: int) -> bool:
    """Whether a position of ``net_qty`` is on the side of the account's net position in its symbol."""
    return account_net != 0 and (account_net > 0) == (net_qty > 0)
