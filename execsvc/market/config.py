"""The ``market`` block of the config: reference data and the per-underlying table beside it.

Split out of ``execsvc.config`` by concept: the instruments dump and the contract multipliers of MCX,
CDS and BCD (``execsvc.market.multipliers``). The table is checked here as read, before decoding,
since msgspec names a bad value of a mapping only as ``[...]``, not by its key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from execsvc.market.multipliers import check_multipliers

__all__ = ["MarketConfig", "market_table_problems"]


class MarketConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Reference data: the Kite instruments dump (tick size, lot size, token mapping, expiry) and the
    contract multipliers of MCX, CDS and BCD, which the dump lacks (``execsvc.market.multipliers``:
    keys ``EXCHANGE:NAME`` or ``EXCHANGE:TRADINGSYMBOL``, positive numbers)."""

    instruments_file: str | None = "configs/instruments.csv"
    default_tick_size: float = 0.05
    multipliers: dict[str, float] = msgspec.field(default_factory=dict)


def market_table_problems(data: Any) -> Iterator[tuple[str, Any, str]]:
    """``(key path, value, reason)`` for every bad entry of the market block's tables as read."""
    market = data.get("market") if isinstance(data, dict) else None
    if not isinstance(market, dict):
        return
    multipliers = market.get("multipliers")
    if isinstance(multipliers, dict):
        yield from check_multipliers({k: v for k, v in multipliers.items() if isinstance(k, str)})
