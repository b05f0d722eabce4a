"""The simulated broker's holdings rule: a delivery (CNC) SELL needs stock the account holds.

Zerodha's RMS rejects a CNC SELL for more than the account holds (the order is REJECTED with
``RMS:Rule: Check holdings``; Kite's API names the error ``HoldingException``, "insufficient
holdings", FACTS section 1): equity delivery cannot go short, while MIS and F&O (NRML, MIS) can. A
strategy that shorted CNC on paper would meet rejections live it never saw, so paper and dry-run
refuse it too (``insufficient_holdings``).

What the account holds of a symbol, for a CNC SELL:

- its CNC net position across strategies (holdings are the account's, the state keeps positions
  per strategy): the quantity carried in from earlier days plus CNC bought today (a same-day buy
  then sell is allowed) less CNC sold today;
- less the unfilled quantity of its working CNC SELL orders (resting, stops, after-market orders
  waiting for the open): Zerodha blocks holdings for open sell orders.

Zerodha's RMS checks a modification as it checks an order: a working CNC SELL raised beyond what
is free (the holdings less the other working CNC sells; its own reservation is free for it) is
refused and stays as it was (``modify_refusal``); else placing 1 and raising it to 1,000 would get
past the rule.

An MIS position is not holdings, and product conversion is not modelled. Zerodha's holdings are
per ISIN (stock bought on NSE can be sold on BSE once delivered); here they are per symbol
(``NSE:INFY`` and ``BSE:INFY`` are held apart), so paper refuses a sale on the other exchange that
Zerodha would take from delivered stock: stricter, never looser.
"""

from __future__ import annotations

from collections.abc import Iterable

from execsvc.events import OrderAccepted, OrderIntent
from execsvc.executors.paper.fills import entry_refusal
from execsvc.market.ticks import Tick
from execsvc.order_record import OrderRecord
from execsvc.positions import Position
from execsvc.state import ServiceState

__all__ = ["HOLDINGS_REASON", "broker_refusal", "cnc_holdings", "holdings_refusal", "modify_refusal"]

HOLDINGS_REASON = "insufficient_holdings"
"""The ``reject_reason`` of a CNC SELL beyond holdings."""

DELIVERY = "CNC"


def cnc_holdings(
    symbol: str,
    positions: Iterable[Position],
    working: Iterable[OrderRecord],
    before: str = "",
    besides: str = "",
) -> tuple[int, int]:
    """The account's CNC stock in ``symbol`` and what its working CNC sells reserve of it.

    Args:
        symbol: ``EXCHANGE:TRADINGSYMBOL``.
        positions: every position of the account (all strategies, all products).
        working: the account's working orders, in the order they were accepted.
        before: the id of the order being decided when it is working already (dry-run accepts an
            order before the simulated broker takes it): only orders accepted before it reserve,
            as at the broker, which sees orders in the order they arrive.
        besides: the id of a working order being modified: its own reservation is not counted.

    Returns:
        ``(held, reserved)``: the CNC net quantity across strategies (never below 0) and the
        unfilled quantity of earlier working CNC SELL orders.
    """
    held = sum(p.net_qty for p in positions if p.symbol == symbol and p.product == DELIVERY)
    reserved = 0
    for record in working:
        order = record.order
        if order.order_id == before:
            break
        if order.order_id == besides:
            continue
        if order.symbol == symbol and order.product == DELIVERY and order.side == "SELL":
            reserved += record.remaining
    return max(held, 0), reserved


def holdings_refusal(
    order: OrderIntent | OrderAccepted,
    positions: Iterable[Position],
    working: Iterable[OrderRecord],
    before: str = "",
) -> str | None:
    """Why the broker would refuse ``order`` for want of holdings (see the module docstring), or None.

    Args:
        order: the order asked for (an intent, or an order accepted elsewhere: dry-run).
        positions: every position of the account.
        working: the account's working orders.
        before: ``order``'s own id once it is accepted (see ``cnc_holdings``).

    Returns:
        The message naming the symbol, the quantity asked and the quantity available, or None
        when the order is no CNC SELL or the holdings cover it.
    """
    if order.product != DELIVERY or order.side != "SELL":
        return None
    held, reserved = cnc_holdings(order.symbol, positions, working, before)
    return _shortfall(order.symbol, order.qty, held, reserved)


def _shortfall(symbol: str, qty: int, held: int, reserved: int) -> str | None:
    available = max(held - reserved, 0)
    if qty <= available:
        return None
    return (
        f"{symbol}: CNC SELL of {qty} exceeds the holdings available, {available} "
        f"({held} held, {reserved} reserved by working CNC sells): Zerodha's RMS rejects a delivery "
        "sale without the stock (RMS:Rule: Check holdings); only MIS may go short"
    )


def modify_refusal(record: OrderRecord, new_qty: int, state: ServiceState) -> str | None:
    """Why the broker would refuse to raise a working CNC SELL to ``new_qty``, or None.

    Only a raise is checked: a lower quantity or new prices ask for no more stock. The unfilled
    quantity it would have must fit in what is free: the holdings less the other working CNC sells
    the broker has (dry-run: one still waiting for its slot has not reached it, and has no result
    yet); what it filled already left the holdings.

    Args:
        record: the working order.
        new_qty: its quantity after the modification (filled included).
        state: the account's positions and orders.

    Returns:
        The message (as ``holdings_refusal``'s, for the unfilled quantity asked), or None.
    """
    order = record.order
    if order.product != DELIVERY or order.side != "SELL" or new_qty <= order.qty:
        return None
    results = state.latest_results
    at_broker = (r for r in state.working_orders() if r.order.intent_id in results)
    held, reserved = cnc_holdings(order.symbol, state.positions.values(), at_broker, besides=order.order_id)
    return _shortfall(order.symbol, new_qty - record.filled_qty, held, reserved)


def broker_refusal(
    order: OrderIntent | OrderAccepted,
    tick: Tick | None,
    state: ServiceState,
    before: str = "",
    *,
    at_open: bool = False,
) -> tuple[str, str] | None:
    """Why the simulated broker will not take ``order`` now, as ``(reason, message)``, or None:
    first its RMS (holdings, above), then the exchange (``fills.entry_refusal``: no tick yet, a
    stop already triggered; ``at_open``: a future taken in the F&O pre-open needs no tick)."""
    if order.product == DELIVERY and order.side == "SELL":  # only then: the day's orders are read
        refused = holdings_refusal(order, state.positions.values(), state.working_orders(), before)
        if refused is not None:
            return HOLDINGS_REASON, refused
    return entry_refusal(order, tick, at_open=at_open)
