"""How the simulator reports an iceberg order: leg by leg, as Kite's sample does (FACTS.md 2.1, 5.2).

Kite's sample (``mocks/orders.json``, order 220524001859672) shows an iceberg of 1000 in 5 legs of
200 as ``"quantity": 200`` with ``meta.iceberg`` ``{"leg": 1, "legs": 5, "leg_quantity": 200,
"total_quantity": 1000, "remaining_quantity": 800}``: the order JSON is its current leg's, the
total in ``meta``, and ``remaining_quantity`` is what the legs after the current one hold.

The simulator keeps the whole order (its quantity the total, filled as one order: ``sim.book``) and
shows it through :func:`leg_view`: the leg holding the next unit to fill, that leg's quantity and
fills, and the legs after it. The legs are ``leg_quantity`` each but the last, which holds the
rest (Kite's leg is quantity / legs). A leg that fills in full with legs to come is reported
COMPLETE on its own (:func:`ended_legs`), as Kite sends the next leg only when the previous one
filled, and each trade belongs to one leg (:func:`leg_parts`), as each leg is an exchange order.

UNCONFIRMED (the sample is one REJECTED leg 1): that ``filled_quantity``, ``pending_quantity``,
``cancelled_quantity`` and the status are the leg's; that a leg's COMPLETE is reported; that a
cancelled iceberg keeps ``remaining_quantity`` as the legs not sent; that every leg keeps the
first leg's order id (here it does: separate ids per leg would be a bigger change, and the live
path follows an iceberg's legs by its tag either way, ``order_state.record_for``).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["LegView", "ended_legs", "leg_parts", "leg_view"]


class LegView(NamedTuple):
    """One leg of an iceberg as its order JSON shows it."""

    leg: int
    """Which leg, from 1."""
    quantity: int
    """The leg's quantity: the order JSON's ``quantity``."""
    filled: int
    """What the leg filled: the order JSON's ``filled_quantity``."""
    remaining: int
    """What the legs after it hold: ``meta.iceberg.remaining_quantity``."""


def leg_view(total: int, legs: int, leg_quantity: int, filled: int, ended: int | None = None) -> LegView:
    """The leg of an iceberg of ``total`` in ``legs`` legs of ``leg_quantity`` that has ``filled``
    in all: the leg the next unit fills in (the last leg once all filled); or leg ``ended``, filled
    in full (its COMPLETE, before the next leg is sent)."""
    leg = ended if ended is not None else min(filled // leg_quantity + 1, legs)
    start = (leg - 1) * leg_quantity
    quantity = max(leg_quantity if leg < legs else total - start, 0)
    leg_filled = min(max(filled - start, 0), quantity)
    return LegView(leg, quantity, leg_filled, max(total - start - quantity, 0))


def ended_legs(legs: int, leg_quantity: int, before: int, after: int) -> range:
    """The legs, all but the last, that fills from ``before`` to ``after`` in all filled in full:
    each is reported COMPLETE (the last leg's COMPLETE is the order's)."""
    return range(before // leg_quantity + 1, min(after // leg_quantity, legs - 1) + 1)


def leg_parts(legs: int, leg_quantity: int, before: int, qty: int) -> list[int]:
    """A fill of ``qty`` after ``before`` filled in all, cut where one leg ends and the next begins:
    a trade each (the last leg takes whatever is left)."""
    parts: list[int] = []
    while qty > 0:
        leg = min(before // leg_quantity + 1, legs)
        room = leg * leg_quantity - before if leg < legs else qty
        part = min(qty, room)
        parts.append(part)
        before, qty = before + part, qty - part
    return parts
