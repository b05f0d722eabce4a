"""The simulated exchange's settlement of F&O contracts at their expiry (paper and dry-run).

A futures or options contract trades up to its expiry, its last trading day (the ``expiry`` column
of the instruments dump, ``market/instruments.py``); the exchange then settles every position still
open in it and ends its orders. Live, the broker does that and reconciliation reads it; paper and
dry-run have no broker to do it, so at the date line after the expiry day (``expire_all``, after
the MIS auto square-off) the simulated broker:

- ends the orders still working for a contract that has expired, such as an after-market order
  placed after the expiry day's close (every other order has ended with the day already);
- closes each position in it at its last price: the day's last tick (else the last session's,
  else, after a restart that day or at a start after a missed date line, the last price that day's
  journal knows, ``last_day.journal_marks``). That approximates the exchange's final settlement price for a
  future and the last traded premium for an option.

Each close is journaled in the day being closed (the expiry day, or the last day journaled before
it when the service skipped it) like any order, so its profit or loss is booked there: the intent
(``expiry-<day>-<n>``, the position's strategy and product, the expiry and the price in its
``metadata``), its acceptance, one fill of the whole quantity at that price (``liquidity``
``settlement``, no charges: a settlement is no trade) and a FILLED result whose message names the
contract and its expiry.

Not modelled: the exchange's own final settlement price (the underlying's closing value for an
index future) and the exercise of in-the-money options (settlement at intrinsic value, with STT of
0.15 % of it on the buyer, FACTS section 7): the simulator has no price of the underlying, so an
option closes at its last premium, charge-free. Physical delivery of stock derivatives is not
modelled either.

A position that cannot be priced (no tick of its contract since the service started, and none in
the journal) is not closed: it is left out of the next day (``PositionsCarried.expired``) with a
warning, unbooked, as a live one the broker settled. A restart after a kill in the middle of this
goes on where it stopped: positions already closed are flat, a close cut short was settled at the
start (``execsvc.interrupted``), a new close takes an id not journaled yet, and the price of a
contract whose close was journaled (its intent carries the price) stays the same.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

import msgspec

from execsvc.clock import trading_day
from execsvc.events import Charges, ExecutionResult
from execsvc.executors.base import accepted, closing_intent
from execsvc.state import EXPIRY_PREFIX

if TYPE_CHECKING:
    from execsvc.executors.paper.executor import PaperExecutor

log = logging.getLogger("execsvc.paper")

SETTLEMENT = "settlement"  # the fills' liquidity: a settlement, not a trade against the book


def settlement_reason(symbol: str, expiry: date, price: float) -> str:
    """The message of a settlement's intent and result."""
    return (f"expiry settlement: {symbol} expired on {expiry.isoformat()}; closed at its last price "
            f"{price:g} (the exchange's final settlement, approximated)")  # fmt: skip


def ended_reason(symbol: str, expiry: date) -> str:
    """Why an order for an expired contract stopped working."""
    return f"{symbol} expired on {expiry.isoformat()}: its orders end with the contract"


def settle_expired(paper: PaperExecutor, now_ns: int) -> list[ExecutionResult]:
    """At the date line into ``now_ns``'s day: end the orders for contracts that expired before it,
    then close the positions in them at their last price (see the module docstring).

    Returns:
        The FILLED results of the closes, in the order of the positions.
    """
    state = paper.state
    today = trading_day(now_ns)
    expiry_of = paper.instruments.expiry
    for record in state.working_orders():
        symbol = record.order.symbol
        expiry = expiry_of(symbol)
        if expiry is not None and expiry < today:
            paper.cancel_working(record, now_ns, ended_reason(symbol, expiry))
    results: list[ExecutionResult] = []
    day = state.day.replace("-", "")
    n = 0
    for position in list(state.positions.values()):
        expiry = expiry_of(position.symbol) if position.net_qty else None
        if expiry is None or expiry >= today:
            continue
        price = _last_price(paper, position.symbol)
        if price is None:
            log.warning("expiry of %s on %s: no price since the start: %s %s %+d left unsettled "
                        "(not carried)", position.symbol, expiry, position.strategy_code,
                        position.product, position.net_qty)  # fmt: skip
            continue
        n += 1
        # an id of its own: one journaled before a crash stays that close's (settled at the restart)
        while f"{EXPIRY_PREFIX}{day}-{n}" in state.intent_ids:
            n += 1
        reason = settlement_reason(position.symbol, expiry, price)
        intent = closing_intent(position, f"{EXPIRY_PREFIX}{day}-{n}", reason, now_ns)
        intent = msgspec.structs.replace(intent, metadata={"expiry": expiry.isoformat(), "last_price": price})
        paper.emit(intent)
        order_id = state.next_order_id()
        paper.emit(accepted(intent, order_id, True, now_ns, position.multiplier))
        record = state.orders[order_id]
        paper.book_fill(record, intent.qty, price, now_ns, SETTLEMENT, charges=Charges())  # settled free
        results.append(paper.result(record, "FILLED", now_ns, reason))
        log.warning("expiry settlement of %s %s %s %+d at its last price %g",
                    position.strategy_code, position.symbol, position.product,
                    position.net_qty, price)  # fmt: skip
    return results


def _last_price(paper: PaperExecutor, symbol: str) -> float | None:
    tick = paper.market.get(symbol) or paper.closes.get(symbol)
    if tick is not None:
        return tick.last_price
    mark = paper.journal_marks.get(symbol)
    return mark.last_price if mark is not None else None
