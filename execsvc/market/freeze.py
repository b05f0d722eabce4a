"""Exchange freeze quantities: the most units one F&O order may carry, per underlying.

NSE and BSE refuse a derivatives order above its underlying's freeze quantity, and Kite answers
such a placement with HTTP 400 before it reaches the exchange (FACTS.md 5.2). There is no API to
ask for the limits, so they are configured: a bundled table of NSE's index derivatives
(``configs/freeze-quantities.yaml``, ``market.freeze_quantities_file``) under the overrides of
``market.freeze_quantities``::

    market:
      freeze_quantities:
        NIFTY: 1800          # every NFO and BFO contract whose `name` (the dump's column) is NIFTY
        BFO:SENSEX: 1000     # one exchange only (wins over a plain NAME)
        BANKNIFTY: null      # lift a bundled row

An underlying in neither (most stock derivatives) has no limit here, and neither has a contract
the instruments dump does not list (its ``name`` is unknown). A limit is the largest quantity
accepted: an order of exactly the freeze quantity passes, one unit more is refused.

The table is resolved once into ``(exchange, name) -> limit`` so that validation, on the hot path,
pays one dict lookup for an F&O order and none for any other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from execsvc.errors import ConfigError
from execsvc.events import OrderIntent
from execsvc.market.instruments import Instrument

__all__ = [
    "BUNDLED_FREEZE_FILE",
    "DEFAULT_FREEZE_FILE_SETTING",
    "FREEZE_EXCHANGES",
    "FreezeQuantities",
    "check_freeze_quantities",
    "freeze_refusal",
    "freeze_sizes",
    "freeze_slices",
    "iceberg_leg",
    "read_freeze_file",
    "slice_sizes",
]

FREEZE_EXCHANGES = frozenset({"NFO", "BFO"})
"""The derivative exchanges whose orders are capped per underlying (NSE's and BSE's F&O)."""

DEFAULT_FREEZE_FILE_SETTING = "configs/freeze-quantities.yaml"
"""``market.freeze_quantities_file``'s default: the repository's table, relative to where it runs."""

BUNDLED_FREEZE_FILE = Path(__file__).resolve().parents[2] / DEFAULT_FREEZE_FILE_SETTING
"""That table beside the package: what the default means when the service runs elsewhere."""

_MAX_FREEZE = 1_000_000_000  # validation's MAX_QTY: a limit above it refuses nothing


def check_freeze_quantities(table: Mapping[Any, Any], where: str) -> Iterator[tuple[str, Any, str]]:
    """``(key path, value, reason)`` for every bad entry of a freeze table as read (before decoding).

    Args:
        table: ``NAME`` or ``NFO:NAME`` / ``BFO:NAME`` -> a positive whole number of units, or None
            (no limit for that underlying).
        where: the key path of the table, e.g. ``market.freeze_quantities``.
    """
    for key, value in table.items():
        path = f"{where}[{key!r}]"
        if not isinstance(key, str):
            yield path, value, "the key must be a string: NAME or EXCHANGE:NAME"
            continue
        exchange, colon, name = key.rpartition(":")
        if not name.strip() or name != name.strip() or (colon and exchange not in FREEZE_EXCHANGES):
            yield path, value, "the key must be NAME (the instruments dump's `name`) or NFO:NAME / BFO:NAME"
        elif value is None:
            continue
        elif isinstance(value, bool) or not isinstance(value, int):
            yield path, value, "must be a whole number of units, or null for no limit"
        elif not 0 < value <= _MAX_FREEZE:
            reason = f"must be a positive number of units up to {_MAX_FREEZE:,}, or null for no limit"
            yield path, value, reason


def read_freeze_file(path: str | Path) -> dict[str, int | None]:
    """The table of a freeze-quantities file: ``quantities:``, a mapping like ``market.freeze_quantities``.

    Raises:
        ConfigError: naming the file, and the key and value of a bad entry.
    """
    source = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{source}: cannot read freeze quantities ({exc.strerror}): "
            "set market.freeze_quantities_file, or null for none"
        ) from exc
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("quantities"), dict):
        raise ConfigError(f"{source}: must be a mapping with 'quantities' (NAME: units)")
    unknown = sorted(str(k) for k in data if k not in ("quantities", "as_of", "source"))
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r} (allowed: quantities, as_of, source)")
    table: dict[Any, Any] = data["quantities"]
    for key_path, value, reason in check_freeze_quantities(table, "quantities"):
        raise ConfigError(f"{source}: {key_path}={value!r}: {reason}")
    return table


class FreezeQuantities:
    """The resolved freeze table: ``limit(exchange, name)`` for every NFO and BFO underlying listed.

    Args:
        rows: ``NAME`` or ``EXCHANGE:NAME`` -> units, or None for no limit; later mappings win,
            and within the resolved result an ``EXCHANGE:NAME`` row wins over a plain ``NAME``.
    """

    __slots__ = ("limits",)

    def __init__(self, *rows: Mapping[str, int | None]) -> None:
        merged: dict[str, int | None] = {}
        for table in rows:
            merged.update(table)
        limits: dict[tuple[str, str], int] = {}
        for exchange in sorted(FREEZE_EXCHANGES):
            for key, value in merged.items():
                if ":" not in key and value is not None:
                    limits[(exchange, key)] = value
            for key, value in merged.items():
                prefix, _, name = key.rpartition(":")
                if prefix == exchange:
                    if value is None:
                        limits.pop((exchange, name), None)
                    else:
                        limits[(exchange, name)] = value
        self.limits = limits
        """``(exchange, name) -> units``: what validation looks up (a plain dict, for speed)."""

    @classmethod
    def load(cls, file: str | Path | None, overrides: Mapping[str, int | None]) -> FreezeQuantities:
        """The table of ``file`` (None: no bundled table) under ``overrides``.

        Raises:
            ConfigError: the file cannot be read or holds a bad entry.
        """
        return cls(read_freeze_file(file) if file is not None else {}, overrides)

    def limit(self, exchange: str, name: str) -> int | None:
        """The freeze quantity of ``name``'s contracts on ``exchange``, or None for no limit."""
        return self.limits.get((exchange, name))

    def limit_of(self, instrument: Instrument | None) -> int | None:
        """The freeze quantity of ``instrument`` (None: not F&O, unknown, or no limit listed)."""
        if instrument is None or instrument.exchange not in FREEZE_EXCHANGES:
            return None
        return self.limits.get((instrument.exchange, instrument.name))


def iceberg_leg(qty: int, metadata: Any) -> tuple[str, int] | None:
    """What caps an iceberg order of ``qty`` against the freeze quantity: its leg, as
    ``("metadata.iceberg_quantity", units)`` when the intent names it, else ``("qty", units)``, the
    quantity over ``metadata.iceberg_legs`` rounded up (``executors.kite.mapping.order_params``
    sends the same). Kite sends each leg to the exchange as an order of its own, so a leg, not the
    total, must be within the limit: that is what iceberg orders are for. None when the legs are not
    usable whole numbers (the mapping refuses those, naming them): then the total is checked."""
    if not isinstance(metadata, dict):
        return None
    leg, legs = metadata.get("iceberg_quantity"), metadata.get("iceberg_legs")
    if isinstance(leg, int) and not isinstance(leg, bool) and leg > 0:
        return "metadata.iceberg_quantity", leg
    if isinstance(legs, int) and not isinstance(legs, bool) and legs > 0:
        return "qty", -(-qty // legs)
    return None


def freeze_refusal(limit: int, instrument: Instrument, *, leg: int | None = None) -> str:
    """Why a ``qty`` above ``limit`` of ``instrument`` is refused (a ``FieldError`` reason: the field
    and value come before it): the underlying, the limit, and the most one order of whole lots may
    carry, so the trader knows how to split it. ``leg``: an iceberg order's leg is above it."""
    lot = instrument.lot_size
    most = ""
    if lot > 1:
        whole = limit // lot
        most = f" (one order may carry at most {whole * lot}: {whole} lots of {lot})"
    what, fix = ("exceeds", "split it or use fewer lots") if leg is None else (
        f"each iceberg leg of {leg} exceeds", "use more legs"
    )  # fmt: skip
    return f"{what} {instrument.name}'s freeze quantity {limit} ({instrument.exchange}); {fix}{most}"


def slice_sizes(qty: int, limit: int, lot: int) -> list[int]:
    """``qty`` as the sizes of orders of at most ``limit`` units each: as many of the most whole
    lots of ``lot`` one order may carry as fit, then the rest (``[qty]`` when it is within the limit,
    or when one lot alone is above it: no order of whole lots could carry any of it).

    The rest is whole lots when ``qty`` is; when it is not, validation refuses that slice, as it
    would the order.
    """
    most = limit // lot * lot
    if qty <= limit or most <= 0:
        return [qty]
    return [most] * (qty // most) + ([qty % most] if qty % most else [])


def freeze_sizes(qty: int, instrument: Instrument | None, freeze: FreezeQuantities | None) -> list[int]:
    """``qty`` of ``instrument`` as the sizes of the orders the exchange takes (:func:`slice_sizes`):
    ``[qty]`` within its freeze quantity or with none (the paper broker's square-off, charged an
    order a slice)."""
    limit = freeze.limit_of(instrument) if freeze is not None else None
    if limit is None or instrument is None:
        return [qty]
    return slice_sizes(qty, limit, max(instrument.lot_size, 1))


def freeze_slices(
    intent: OrderIntent, instrument: Instrument | None, freeze: FreezeQuantities
) -> list[OrderIntent]:
    """``intent`` as orders the exchange takes: itself when within its freeze quantity (or with
    none), else slices of the most whole lots one order may carry (:func:`slice_sizes`), each an
    intent of its own with the id ``<intent_id>.1``, ``.2``, ... in order, the rest last.

    The ids are derived from the intent's alone, so a retry of the same intent derives the same
    ones and its slices already journaled are answered, not placed again. Both the square-off of a
    position above the limit and ``ExecutionService.execute_sliced`` slice with this.
    """
    sizes = freeze_sizes(intent.qty, instrument, freeze)
    if len(sizes) == 1:
        return [intent]
    return [
        msgspec.structs.replace(intent, qty=size, intent_id=f"{intent.intent_id}.{k}")
        for k, size in enumerate(sizes, start=1)
    ]
