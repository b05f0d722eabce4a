"""Changes to a working order on the simulated exchange: modification and cancellation.

Split out of :mod:`execsvc.sim.book` by concept: these are the book's own steps and work its
state (its private helpers included) as its methods would. ``ExchangeBook.modify`` and
``ExchangeBook.cancel`` are the entry points. Pure: each takes ``now_ns`` and returns the order
updates it caused, or an :class:`~execsvc.sim.envelope.ApiError` as data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from execsvc.executors.paper.fills import stop_triggered
from execsvc.sim.envelope import ApiError
from execsvc.sim.orders import SimOrder
from execsvc.sim.params import parse_order_modify

if TYPE_CHECKING:
    from execsvc.sim.book import ExchangeBook, Update

__all__ = ["cancel", "find", "modify"]


def find(book: ExchangeBook, order_id: str, variety: str) -> SimOrder | ApiError:
    """The order ``order_id`` of ``variety``, or the 400 naming what does not match."""
    order = book.orders.get(order_id)
    if order is None:
        return ApiError.input(f"Invalid `order_id`: {order_id!r}.")
    if order.variety != variety:
        return ApiError.input(f"Invalid `variety`: the order is {order.variety!r}, not {variety!r}.")
    return order


def modify(
    book: ExchangeBook,
    order_id: str,
    variety: str,
    form: Mapping[str, object],
    now_ns: int,
    rms: Callable[[SimOrder, int], ApiError | None] | None = None,
) -> list[Update] | ApiError:
    """Apply ``PUT /orders/{variety}/{order_id}``; a 400 when not allowed (see ``max_modifications``;
    with the session calendar, an order at the exchange out of its session), or when ``rms`` (the
    account's check of the new quantity: lot size, freeze limit, holdings) refuses it."""
    order = find(book, order_id, variety)
    if isinstance(order, ApiError):
        return order
    if not order.working:
        return ApiError.order(f"Order cannot be modified as it is {order.status.lower()}.")
    if order.modifications >= book.config.max_modifications:
        cap = book.config.max_modifications
        return ApiError.input(f"Maximum allowed order modifications ({cap}) exceeded.")
    queued = book.waits_for_open(order)
    if (closed := book.session.change_refusal(order.symbol, queued, now_ns)) is not None:
        return closed  # worked again now, it would fill at a tick no exchange matches
    req = parse_order_modify(form, order, book._tick_size(order))
    if isinstance(req, ApiError):
        return req
    if rms is not None and (refused := rms(order, req.quantity)) is not None:
        return refused  # refused before anything changes: the order stays as it was
    waiting_status = order.status
    order.modifications += 1
    order.order_ns = now_ns
    # Kite's history shows the old terms through MODIFIED; the next entry has the new ones
    order.set_status("MODIFY VALIDATION PENDING", now_ns)
    order.set_status("MODIFY PENDING", now_ns)
    order.set_status("MODIFIED", now_ns)
    order.modified = True
    order.order_type, order.quantity, order.price = req.order_type, req.quantity, req.price
    iceberg = order.meta.get("iceberg") if order.variety == "iceberg" else None
    if isinstance(iceberg, dict):  # its legs stay, each the new total over them (``sim.iceberg``)
        iceberg["leg_quantity"] = -(-order.quantity // iceberg["legs"])
    order.trigger_price, order.validity = req.trigger_price, req.validity
    order.disclosed_quantity, order.market_protection = req.disclosed_quantity, req.market_protection
    book.resting.discard(order.symbol, order_id)
    tick = book.market.get(order.symbol)
    if queued:  # still waiting for the open, in the status it waits in
        return [book._status(order, waiting_status, now_ns, notify="UPDATE")]
    if tick is None:
        return [book._status(order, "AMO REQ RECEIVED", now_ns, notify="UPDATE")]
    side = order.transaction_type
    if order.is_stop and not order.triggered:
        if stop_triggered(side, order.trigger_price, tick.last_price):
            order.triggered = True
            return [
                book._status(order, "TRIGGER PENDING", now_ns, notify="UPDATE"),
                *book._open(order, tick, now_ns),
            ]
        book.resting.add_stop(order.symbol, side, order.trigger_price, order_id)
        return [book._status(order, "TRIGGER PENDING", now_ns, notify="UPDATE")]
    if order.order_type in ("LIMIT", "SL"):
        order.limit = order.price
    updates = [book._status(order, "OPEN", now_ns, notify="UPDATE")]
    if order.order_type in ("MARKET", "SL-M"):
        return updates + book._open(order, tick, now_ns)
    return updates + book._take(order, tick, now_ns)


def cancel(book: ExchangeBook, order_id: str, variety: str, now_ns: int) -> list[Update] | ApiError:
    """Apply ``DELETE /orders/{variety}/{order_id}``; a 400 for an order that is not working. A
    cancel is taken at any hour, in the session or not."""
    order = find(book, order_id, variety)
    if isinstance(order, ApiError):
        return order
    if not order.working:
        return ApiError.order(f"Order cannot be cancelled as it is {order.status.lower()}.")
    book.leave_open_queue(order)
    order.set_status("CANCEL PENDING", now_ns)
    return [book._cancelled(order, now_ns)]
