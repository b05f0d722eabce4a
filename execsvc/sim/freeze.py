"""The simulator's freeze-quantity check: Kite refuses an F&O order above the exchange's limit.

Kite answers such a placement with HTTP 400 and the limit in the message, before the order reaches
the order book (FACTS.md 5.2; Zerodha: "rejected before they are sent to the exchanges"). The
limits come from the same table as execsvc's validation (``execsvc.market.freeze``): by default
the repository's bundled ``configs/freeze-quantities.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from execsvc.market.freeze import FreezeQuantities, read_freeze_file
from execsvc.market.instruments import Instrument
from execsvc.sim.config import DEFAULT_FREEZE_FILE, SimConfig
from execsvc.sim.envelope import ApiError

__all__ = ["freeze_reject", "load_freeze_quantities"]


def load_freeze_quantities(config: SimConfig) -> FreezeQuantities:
    """``config.freeze_quantities`` over the bundled table (when the repository's file exists).

    Raises:
        ConfigError: the bundled file holds a bad entry.
    """
    bundled = read_freeze_file(DEFAULT_FREEZE_FILE) if Path(DEFAULT_FREEZE_FILE).exists() else {}
    return FreezeQuantities(bundled, config.freeze_quantities)


def freeze_reject(quantity: int, instrument: Instrument | None, table: FreezeQuantities) -> ApiError | None:
    """A 400 ``InputException`` for ``quantity`` above ``instrument``'s freeze quantity, or None.

    The wording is the one Kite shows for this refusal as users report it (tradingqna.com thread
    160065, 2024: "The order quantity 6300 (21 lots) is higher than the maximum quantity of 6000
    (20 lots) allowed by the exchanges. Please reduce the order quantity or use iceberg orders.");
    that the API's message is the same is not confirmed. Lots are shown when they are whole.
    """
    limit = table.limit_of(instrument)
    if limit is None or instrument is None or quantity <= limit:
        return None
    lot = instrument.lot_size

    def lots(units: int) -> str:
        return f" ({units // lot} lots)" if lot > 1 and units % lot == 0 else ""

    return ApiError.input(
        f"The order quantity {quantity}{lots(quantity)} is higher than the maximum quantity of "
        f"{limit}{lots(limit)} allowed by the exchanges. Please reduce the order quantity or use "
        "iceberg orders."
    )
