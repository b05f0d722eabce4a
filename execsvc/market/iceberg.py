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
from typing import Any, Final

from execsvc.errors import FieldError, ValidationError

__all__ = ["ICEBERG_LEGS", "iceberg_errors", "iceberg_terms"]

ICEBERG_LEGS: Final = (2, 50)
"""The fewest and most legs Kite takes."""
_LEGS, _LEG_QTY = "metadata.iceberg_legs", "metadata.iceberg_quantity"


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def iceberg_errors(qty: int, metadata: Mapping[str, Any], lot_size: int = 1) -> list[FieldError]:
    """What is wrong with an iceberg order of ``qty`` (a valid positive quantity) and the legs its
    ``metadata`` names: empty when Kite would take it. At most one error, naming the field (as
    ``metadata.iceberg_legs`` or ``metadata.iceberg_quantity``) and its value.

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
        leg = -(-qty // legs)
        if lot_size > 1 and leg % lot_size:
            return [
                FieldError(
                    _LEGS,
                    legs,
                    f"qty {qty} in {legs} legs makes legs of {leg}, not a multiple of the lot size "
                    f"{lot_size}: give metadata.iceberg_quantity in whole lots",
                )
            ]
        return []
    if not _whole(leg):
        return [FieldError(_LEG_QTY, leg, "must be an integer")]
    if not (0 < leg <= qty and leg * legs >= qty):
        return [FieldError(_LEG_QTY, leg, f"must be at most qty ({qty}) and cover it in {legs} legs")]
    if lot_size > 1 and leg % lot_size:
        why = f"must be a multiple of the lot size {lot_size} (each leg is an exchange order of its own)"
        return [FieldError(_LEG_QTY, leg, why)]
    return []


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
