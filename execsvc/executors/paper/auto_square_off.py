"""The simulated broker's auto square-off of intraday (MIS) positions left open at the end of the day.

Zerodha closes an MIS position still open at its auto square-off time itself (15:20 for equity,
15:25 for derivatives), with a market order, and charges ₹50 + GST for each such order (FACTS
section 6). Paper and dry-run have no broker to do it, so at the date line the simulator does:
each MIS position still open is closed at its instrument's last price through the fill model (as
a MARKET order, the whole quantity: the broker's order takes what the book holds). The fee is
the broker's, per order it places: its positions are the account's, so strategies holding one
symbol pay it once between them (on the first closing order on the side of the account's net
position), and not at all when they net to flat.
It is journaled in the day that left it open like any order: the intent (``auto-sqoff-<day>-<n>``,
the position's strategy), its acceptance, the fill and a FILLED result. Without it the position
would leave the books at the date line with its profit or loss unbooked: a multi-day replay whose
strategy ends a day holding a loser would look better than it was.

The service's own square-off (``session.square_off``, before the broker's time) normally gets
flat first; this is what happens when it did not (turned off, a library caller, a replay). A
position whose instrument has had no tick since the service started (a restart late in the day)
cannot be priced: it expires at the date line with a warning, as a live one the broker closed.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from execsvc.events import ExecutionResult, OrderIntent
from execsvc.executors.base import accepted
from execsvc.executors.paper.fills import aggressive_fills
from execsvc.positions import Position

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor

log = logging.getLogger("execsvc.paper")

REASON = "auto square-off by the broker: an MIS position left open at the end of the day"


def closing_intent(position: Position, intent_id: str, now_ns: int) -> OrderIntent:
    """The MARKET order that closes ``position`` (as validation would have normalised it)."""
    exchange = position.symbol.partition(":")[0]
    return OrderIntent(
        symbol=position.symbol,
        strategy_code=position.strategy_code,
        side="SELL" if position.net_qty > 0 else "BUY",
        qty=abs(position.net_qty),
        order_type="MARKET",
        product=position.product,
        reason=REASON,
        intent_id=intent_id,
        exchange=exchange,
        ts_init=now_ns,
    )


def auto_square_off(paper: PaperExecutor, now_ns: int) -> list[ExecutionResult]:
    """Close every open MIS position at its instrument's last price, as the broker would.

    Returns:
        The FILLED results of the closing orders, in the order of the positions.
    """
    state = paper.state
    day = state.day.replace("-", "")
    # the broker squares off before the day's close: the day's rates, not the next day's (the
    # clock is past the date line here, and a new rate version may start with the new day)
    trade_day = date.fromisoformat(state.day)
    open_intraday = [p for p in state.positions.values() if p.product == "MIS" and p.net_qty]
    # the broker's positions are the account's, one per symbol and product: it squares off each
    # symbol's net MIS with one order and one fee (none when the strategies net to flat); the
    # strategies' books are closed one by one
    account: dict[str, int] = {}
    for p in open_intraday:
        account[p.symbol] = account.get(p.symbol, 0) + p.net_qty
    results: list[ExecutionResult] = []
    n = 0
    for position in open_intraday:
        n += 1
        # an id of its own: a square-off a crash cut short was settled at the restart under its
        # id, and one done again after a same-day restart must not journal that id a second time
        while f"auto-sqoff-{day}-{n}" in state.intent_ids:
            n += 1
        tick = paper.market.get(position.symbol)
        if tick is None:
            log.warning("auto square-off: no price for %s since the start: %s %+d left to expire",
                        position.symbol, position.strategy_code, position.net_qty)  # fmt: skip
            continue
        intent = closing_intent(position, f"auto-sqoff-{day}-{n}", now_ns)
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


def _same_side(account_net: int, net_qty: int) -> bool:
    """Whether a position of ``net_qty`` is on the side of the account's net position in its symbol."""
    return account_net != 0 and (account_net > 0) == (net_qty > 0)
