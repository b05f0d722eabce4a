"""The simulator's lot-size check: Kite refuses a quantity that is not a whole number of lots.

An F&O order's quantity is in units, a whole number of the instruments dump's ``lot_size``
(FACTS.md 6); Kite answers an order or a modification off that grid with HTTP 400 before it
reaches the order book. The wording of Kite's message is not confirmed; this one names the value
and the lot size the way the simulator's other ``quantity`` refusals do. On MCX, CDS and BCD the
dump's ``lot_size`` is 1 (quantity counts lots), so nothing there is refused.
"""

from __future__ import annotations

from execsvc.market.instruments import Instrument
from execsvc.sim.envelope import ApiError

__all__ = ["lot_reject"]


def lot_reject(quantity: int, instrument: Instrument | None) -> ApiError | None:
    """A 400 ``InputException`` for ``quantity`` off ``instrument``'s lot grid, or None (an
    instrument the simulator does not know has no lot size to keep)."""
    if instrument is None or instrument.lot_size <= 1 or quantity % instrument.lot_size == 0:
        return None
    return ApiError.input(
        f"Invalid `quantity`: {quantity} is not a multiple of the lot size {instrument.lot_size} "
        f"({instrument.key})."
    )
