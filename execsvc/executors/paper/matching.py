"""Matching at the paper broker: the resting orders a tick crosses (``PaperExecutor.on_tick``).

It runs only in the instrument's exchange's normal session (the caller checks), after the tick has
become the instrument's last price; each trigger and fill is journaled through the executor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from execsvc.events import OrderTriggered
from execsvc.executors.paper.fills import resting_fills
from execsvc.market.ticks import Tick

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor


def match_resting(paper: PaperExecutor, tick: Tick, now_ns: int) -> None:
    """Trigger the stops and fill the LIMIT orders resting on ``tick``'s instrument that it crosses.

    Stops trigger on the last price and are then worked as new orders (``PaperExecutor.work``); a
    LIMIT fills against the quote with ``use_bid_ask_spread`` or ``use_depth`` (else the last
    price), at its limit or better, sharing the liquidity earlier orders took from this tick
    (``fills.resting_fills``); what it cannot fill rests again in time priority.
    """
    symbol = tick.symbol
    last = tick.last_price
    book = paper.book
    orders = paper.state.orders
    for order_id in book.buy_stops_at_or_below(symbol, last) + book.sell_stops_at_or_above(symbol, last):
        record = orders[order_id]
        book.discard(symbol, order_id)
        if not record.working:  # closed elsewhere and left in the book: nothing to trigger
            continue
        paper.emit(
            OrderTriggered(
                order_id=order_id, intent_id=record.order.intent_id, last_price=last, ts_event=now_ns
            )
        )
        paper.work(record, tick, now_ns)
    ask = bid = last
    if paper.quote_refs:
        best_ask, best_bid = tick.best_ask, tick.best_bid
        ask = best_ask.price if best_ask is not None else last
        bid = best_bid.price if best_bid is not None else last
    crossed = book.buy_limits_at_or_above(symbol, ask) + book.sell_limits_at_or_below(symbol, bid)
    consumed = paper.consumed.setdefault(symbol, {})
    for order_id in crossed:
        record = orders[order_id]
        if not record.working:  # closed elsewhere and left in the book: nothing to fill
            book.discard(symbol, order_id)
            continue
        order = record.order
        limit = order.price or 0.0
        for qty, price in resting_fills(order.side, record.remaining, limit, tick, paper.model, consumed):
            paper.book_fill(record, qty, price, now_ns, "maker")
        if record.remaining == 0:
            book.discard(symbol, order_id)
            paper.result(record, "FILLED", now_ns)
        else:
            book.reinsert_limit(symbol, order.side, limit, order_id)
            if record.filled_qty:
                paper.result(record, "PARTIAL", now_ns, "filled in part against the book")
