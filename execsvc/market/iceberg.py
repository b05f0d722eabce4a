"""Iceberg orders (``variety="iceberg"``): Kite's terms, one rule for intake and the live mapping.

Kite takes ``iceberg_legs`` from 2 to 50 (FACTS.md 5.2; older libraries say 2-10; ``iceberg_legs=1``
is a 400 ``InputException``) and ``iceberg_quantity``, each leg's quantity (quantity / legs). An
intent carries them in ``metadata`` under those names; the leg quantity is optional and, when
absent, is the quantity over the legs rounded up (what ``order_params`` sends). Kite sends each leg
to the exchange as an order of its own, so on an exchange with lots (F&O) a leg must be a whole
number of lots, as any order's quantity must. Pure: checked at intake (``validate_intent``) for
every mode, so paper and dry-run refuse what live would, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from execsvc.errors import FieldError, ValidationError

__all__ = [
    "ICEBERG_LEGS",
    "BrokerIceberg",
    "broker_iceberg",
    "broker_iceberg_legs",
    "iceberg_errors",
    "iceberg_filled_total",
    "iceberg_leg_of_change",
    "iceberg_legs_to_come",
    "iceberg_terms",
    "modified_iceberg_errors",
]

ICEBERG_LEGS: Final = (2, 50)
"""The fewest and most legs Kite takes."""
_LEGS, _LEG_QTY = "metadata.iceberg_legs", "metadata.iceberg_quantity"


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _empty_legs(qty: int, legs: int, leg: int) -> str | None:
    """Why ``legs`` legs of ``leg`` are more than ``qty`` takes (some would carry nothing), or None."""
    needed = -(-qty // leg)
    if needed >= legs:
        return None
    return (
        f"legs of {leg}, which fill it in {needed}: {legs - needed} legs would be empty "
        "(Kite's leg is qty / legs)"
    )


def _rounded_leg(qty: int, legs: int, lot_size: int) -> str | None:
    """What is wrong with ``qty`` in ``legs`` legs of ``qty / legs`` rounded up, or None."""
    leg = -(-qty // legs)
    if lot_size > 1 and leg % lot_size:
        return f"legs of {leg}, not a multiple of the lot size {lot_size}"
    return _empty_legs(qty, legs, leg)


def iceberg_errors(qty: int, metadata: Mapping[str, Any], lot_size: int = 1) -> list[FieldError]:
    """What is wrong with an iceberg order of ``qty`` (a valid positive quantity) and the legs its
    ``metadata`` names: empty when Kite would take it. At most one error, naming the field (as
    ``metadata.iceberg_legs`` or ``metadata.iceberg_quantity``) and its value.

    Kite cuts ``qty / legs``: legs that the quantity leaves empty (the extra legs of a leg
    quantity too large for them, or of a rounded-up leg that fills the order in fewer) are
    refused, as the legs Kite counts would not be the ones asked for.

    Args:
        qty: the order's quantity.
        metadata: the intent's metadata (a mapping).
        lot_size: the instrument's lot size (1 when it has none or is unknown): each leg must be a
            multiple of it.
    """
    low, high = ICEBERG_LEGS
    legs = metadata.get("iceberg_legs")
    if legs is not None and not _whole(legs):
        return [FieldError(_LEGS, legs, "must be an integer")]
    if legs is None or not low <= legs <= high:
        return [FieldError(_LEGS, legs, f"iceberg orders need {low}..{high} legs")]
    leg = metadata.get("iceberg_quantity")
    if leg is None:  # rounded up, as the mapping sends it
        why = _rounded_leg(qty, legs, lot_size)
        if why is None:
            return []
        off_lots = lot_size > 1 and -(-qty // legs) % lot_size
        fix = ": give metadata.iceberg_quantity in whole lots" if off_lots else ""
        return [FieldError(_LEGS, legs, f"qty {qty} in {legs} legs makes {why}{fix}")]
    if not _whole(leg):
        return [FieldError(_LEG_QTY, leg, "must be an integer")]
    if not (0 < leg <= qty and leg * legs >= qty):
        return [FieldError(_LEG_QTY, leg, f"must be at most qty ({qty}) and cover it in {legs} legs")]
    if leg * (legs - 1) >= qty:  # the last leg (or more) would carry nothing
        empty, fewest, most = legs - -(-qty // leg), -(-qty // legs), -(-qty // (legs - 1)) - 1
        why = f"in {legs} legs, qty {qty} takes legs of {fewest} to {most} (Kite's leg is qty / legs)"
        return [FieldError(_LEG_QTY, leg, f"{legs} legs of {leg} leave {empty} empty: {why}")]
    if lot_size > 1 and leg % lot_size:
        why = f"must be a multiple of the lot size {lot_size} (each leg is an exchange order of its own)"
        return [FieldError(_LEG_QTY, leg, why)]
    return []


def modified_iceberg_errors(qty: int, legs: int, lot_size: int = 1) -> list[FieldError]:
    """What is wrong with changing an iceberg order of ``legs`` legs to ``qty`` in all (a valid
    quantity of whole lots): empty when Kite would take it, else one error naming ``qty``.

    Kite's modification names no legs (``quantity`` only): the legs stay, and each becomes the new
    total over them rounded up (the simulator's reading, ``sim.kite_server.modify_order``). Its legs
    are checked as a new iceberg's are (``iceberg_errors``): whole lots, none left empty. The
    freeze quantity caps such a leg (``iceberg_leg_of_change``), checked by the caller that
    knows the instrument.
    """
    why = _rounded_leg(qty, legs, lot_size)
    return [] if why is None else [FieldError("qty", qty, f"as an iceberg of {legs} legs: {why}")]


def iceberg_leg_of_change(qty: int, legs: int) -> int:
    """The leg of an iceberg order of ``legs`` legs changed to ``qty`` in all (see
    ``modified_iceberg_errors``): what the freeze quantity caps."""
    return -(-qty // legs)


def iceberg_terms(qty: int, metadata: Mapping[str, Any]) -> tuple[int, int]:
    """``(legs, leg quantity)`` to send for an iceberg order of ``qty``.

    Raises:
        ValidationError: the terms ``iceberg_errors`` refuses (the first, naming field and value).
    """
    errors = iceberg_errors(qty, metadata)
    if errors:
        raise ValidationError(str(errors[0]))
    legs = metadata["iceberg_legs"]
    leg = metadata.get("iceberg_quantity")
    return legs, -(-qty // legs) if leg is None else leg


def broker_iceberg_legs(meta: object) -> int | None:
    """The legs of a broker's iceberg order, from its order JSON's ``meta`` (``{"iceberg": {"legs":
    5, ...}}``, FACTS.md 5.2), or None where ``meta`` names none Kite takes (``{}``, a string, a
    count that is no whole number from 2 to 50): such an order gets no leg checks, as before."""
    iceberg = meta.get("iceberg") if isinstance(meta, dict) else None
    legs = iceberg.get("legs") if isinstance(iceberg, dict) else None
    low, high = ICEBERG_LEGS
    return legs if isinstance(legs, int) and _whole(legs) and low <= legs <= high else None


class BrokerIceberg(NamedTuple):
    """An iceberg order's progress as Kite's order JSON states it in ``meta.iceberg`` (FACTS.md 2.1,
    5.2). Kite's sample (``mocks/orders.json``, order 220524001859672) is leg 1 of 5 legs of 200,
    total 1000, remaining 800, with the order's ``quantity`` 200 and ``filled_quantity`` 0: the
    order's ``quantity`` (and, UNCONFIRMED, its filled and pending quantities and its status) is
    the current leg's, and ``remaining_quantity`` is what the legs after it hold (the sample's 800
    with nothing filled: not the unfilled quantity, which would be 1000)."""

    leg: int
    legs: int
    leg_quantity: int
    total_quantity: int
    remaining_quantity: int


def broker_iceberg(meta: object) -> BrokerIceberg | None:
    """A broker iceberg order's ``meta.iceberg``, or None where it is missing or does not hold
    together (a field that is no whole number, a leg outside its legs, legs Kite does not take, a
    total of nothing, a remainder beyond the total): such an order's total is not known."""
    iceberg = meta.get("iceberg") if isinstance(meta, dict) else None
    if not isinstance(iceberg, dict) or broker_iceberg_legs(meta) is None:
        return None
    values = [iceberg.get(name) for name in BrokerIceberg._fields]
    if not all(isinstance(value, int) and _whole(value) for value in values):
        return None
    read = BrokerIceberg(*(int(value) for value in values if isinstance(value, int)))
    if not (1 <= read.leg <= read.legs and read.leg_quantity > 0 and read.total_quantity > 0):
        return None
    return read if 0 <= read.remaining_quantity <= read.total_quantity else None


def iceberg_filled_total(iceberg: BrokerIceberg, quantity: int, filled_quantity: int) -> int:
    """What the whole iceberg has filled: its legs before the current one, in full (Kite sends the
    next leg when the previous fills), and the current leg's ``filled_quantity``.

    The legs before this one hold ``total - remaining - quantity`` (``quantity``: the order JSON's,
    the current leg's; its ``leg_quantity`` when that is missing). UNCONFIRMED beyond Kite's one
    sample: that ``filled_quantity`` is the leg's alone, and that a cancelled or modified iceberg
    keeps ``remaining_quantity`` as the legs not sent. Held within what the leg's own figures
    prove and the total.
    """
    leg = quantity if quantity > 0 else iceberg.leg_quantity
    earlier = max(iceberg.total_quantity - iceberg.remaining_quantity - leg, 0)
    return min(max(earlier + filled_quantity, filled_quantity), iceberg.total_quantity)


def iceberg_legs_to_come(iceberg: BrokerIceberg) -> bool:
    """Whether legs of the iceberg are still to be sent after the current one: a COMPLETE status is
    then the leg's, not the order's (the sample's leg 1 of 5, remaining 800). Either figure says
    so (UNCONFIRMED which Kite keeps up to date): an order read as working that has ended only
    keeps a cancel being sent, which Kite refuses; one read as ended that works would not be
    cancelled."""
    return iceberg.remaining_quantity > 0 or iceberg.leg < iceberg.legs
