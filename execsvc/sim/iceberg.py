"""The simulator's check of an iceberg order's legs: Kite cuts quantity / legs, each leg an order.

The rule is the engine's (:mod:`execsvc.market.iceberg`, the same pure functions, not a copy): a
placement whose legs the quantity leaves empty, or whose leg is not a whole number of lots, is
refused; so is a change of an iceberg's total whose legs (the new total over them, rounded up: a
modification names no legs) are not whole lots or leave legs empty. A change that keeps the total
cuts no leg and is not checked. UNCONFIRMED: FACTS.md 5.2 gives Kite's terms (2-50 legs, a leg of
quantity / legs) but not that Kite refuses these, when, nor its wording; the simulator refuses
them as it refuses other bad input (HTTP 400 ``InputException``, before the order book), so a
client rehearsing on it meets what the engine refuses before sending.
"""

from __future__ import annotations

from execsvc.errors import FieldError
from execsvc.market.iceberg import iceberg_errors, modified_iceberg_errors
from execsvc.market.instruments import Instrument
from execsvc.sim.envelope import ApiError

__all__ = ["iceberg_reject", "modified_iceberg_reject"]

_KITE_FIELDS = {"metadata.iceberg_legs": "iceberg_legs", "metadata.iceberg_quantity": "iceberg_quantity"}
"""The engine's names of the legs' fields, as Kite's form names them."""


def _refusal(error: FieldError) -> ApiError:
    field = _KITE_FIELDS.get(error.field, "quantity")
    return ApiError.input(f"Invalid `{field}`: {error.value}: {error.reason}.")


def _lot_size(instrument: Instrument | None) -> int:
    return instrument.lot_size if instrument is not None else 1


def iceberg_reject(
    quantity: int, legs: int, leg_quantity: int, instrument: Instrument | None
) -> ApiError | None:
    """A 400 ``InputException`` for an iceberg placement of ``quantity`` in ``legs`` legs of
    ``leg_quantity`` that Kite would not cut as asked (legs left empty, a leg off the lot grid of
    ``instrument``), or None. The legs' range is the form's check (``params.parse_place``)."""
    terms = {"iceberg_legs": legs, "iceberg_quantity": leg_quantity}
    errors = iceberg_errors(quantity, terms, _lot_size(instrument))
    return _refusal(errors[0]) if errors else None


def modified_iceberg_reject(
    quantity: int, total: int, legs: int, instrument: Instrument | None
) -> ApiError | None:
    """A 400 ``InputException`` for changing an iceberg of ``total`` in ``legs`` legs to
    ``quantity`` (a whole number of lots) when its legs would not be whole lots or some would be
    empty, or None. An unchanged total is no change of total: its legs were checked at placement."""
    if quantity == total:
        return None
    errors = modified_iceberg_errors(quantity, legs, _lot_size(instrument))
    return _refusal(errors[0]) if errors else None
