"""The ``market`` block of the config: reference data and the per-underlying tables beside it.

Split out of ``execsvc.config`` by concept: the instruments dump, the contract multipliers of MCX,
CDS and BCD (``execsvc.market.multipliers``) and the exchange freeze quantities of NFO and BFO
(``execsvc.market.freeze``). Both tables are checked here as read, before decoding, since
msgspec names a bad value of a mapping only as ``[...]``, not by its key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from execsvc.market.freeze import DEFAULT_FREEZE_FILE_SETTING, check_freeze_quantities
from execsvc.market.multipliers import check_multipliers

__all__ = ["MarketConfig", "market_table_problems"]


class MarketConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Reference data: the Kite instruments dump (tick size, lot size, token mapping, expiry), the
    contract multipliers of MCX, CDS and BCD, which the dump lacks (``execsvc.market.multipliers``:
    keys ``EXCHANGE:NAME`` or ``EXCHANGE:TRADINGSYMBOL``, positive numbers), and the exchange freeze
    quantities of NFO and BFO (``execsvc.market.freeze``).

    ``freeze_quantities_file``: the bundled table (NSE's index derivatives, with its source date;
    UNCONFIRMED, check it against NSE's current circular), or null for none.
    ``freeze_quantities``: rows over it, ``NAME`` or ``NFO:NAME`` / ``BFO:NAME`` -> the most units
    one order may carry; null lifts a row. An underlying in neither has no limit.
    """

    instruments_file: str | None = "configs/instruments.csv"
    default_tick_size: float = 0.05
    multipliers: dict[str, float] = msgspec.field(default_factory=dict)
    freeze_quantities_file: str | None = DEFAULT_FREEZE_FILE_SETTING
    freeze_quantities: dict[str, int | None] = msgspec.field(default_factory=dict)


def market_table_problems(data: Any) -> Iterator[tuple[str, Any, str]]:
    """``(key path, value, reason)`` for every bad entry of the market block's tables as read."""
    market = data.get("market") if isinstance(data, dict) else None
    if not isinstance(market, dict):
        return
    multipliers = market.get("multipliers")
    if isinstance(multipliers, dict):
        yield from check_multipliers({k: v for k, v in multipliers.items() if isinstance(k, str)})
    freeze = market.get("freeze_quantities")
    if isinstance(freeze, dict):
        yield from check_freeze_quantities(freeze, "market.freeze_quantities")
