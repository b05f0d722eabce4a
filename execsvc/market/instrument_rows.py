"""One row of a Kite instruments dump, read strictly: every column checked, each error naming the
file, the line, the column and the value.

Validation of an order rests on this data: its quantity must be a multiple of ``lot_size``, its
price on the ``tick_size`` grid, its contract not past ``expiry``, its charges picked by
``instrument_type``. A value read wrongly (``lot_size`` 0.5 truncated to 0, then taken as 1; a tick
of 0) would pass orders the exchange refuses, or refuse good ones. So a tradable row with a bad value
stops start-up: the dump is regenerated every morning (FACTS.md 2.2), and a damaged one is fixed by
downloading it again, not by guessing.

Two kinds of rows in Kite's real dump are not orders' instruments, and are read leniently:

- the ``INDICES`` segment (NIFTY 50, SENSEX, ...): an index is not tradable (its WebSocket packets
  say ``tradable: False``, segment 9: FACTS.md 4.3, 4.4) and its row carries ``tick_size`` and
  ``lot_size`` 0. It is kept (its token names its ticks) with those zeros; validation refuses an
  order for it.
- rows of exchanges execsvc does not trade (the full dump, ``GET /instruments``, also lists NCO,
  NSEIX and others): skipped and counted, since no order can name them.
"""

from __future__ import annotations

import math
from datetime import date

from execsvc.errors import ConfigError

__all__ = ["INDEX_SEGMENT", "INSTRUMENT_TYPES", "TRADED_EXCHANGES", "RowReader"]

INDEX_SEGMENT = "INDICES"
"""The dump's segment of indices: not tradable, ``tick_size`` and ``lot_size`` 0."""

INSTRUMENT_TYPES = ("EQ", "FUT", "CE", "PE")
"""Kite's instrument types: an index is ``EQ`` too."""

TRADED_EXCHANGES = frozenset({"NSE", "BSE", "NFO", "BFO", "MCX", "CDS", "BCD"})
"""The exchanges an intent may name (``events.EXCHANGES``)."""

_UNIT_EXCHANGES = frozenset({"NSE", "BSE"})  # cash: instrument_type EQ; every other traded one is F&O
_MAX_TOKEN = 2**32 - 1  # the WebSocket packet carries the token as 4 bytes (FACTS.md 4.3)
_SEGMENT_KIND = {"FUT": "FUT", "CE": "OPT", "PE": "OPT"}  # NFO-FUT, NFO-OPT, MCX-OPT, ...


class RowReader:
    """Reads one row (a ``csv.DictReader`` dict) of ``source`` at ``line`` into checked values.

    Raises (from every method):
        ConfigError: ``"<source>: line <n>: <column>=<value>: <why>"``.
    """

    def __init__(self, row: dict[str, str], source: str, line: int) -> None:
        self.row, self.source, self.line = row, source, line

    def fail(self, column: str, raw: object, why: str) -> ConfigError:
        """The error for ``column``'s value ``raw``."""
        return ConfigError(f"{self.source}: line {self.line}: {column}={raw!r}: {why}")

    def raw(self, column: str) -> str:
        """The cell, stripped (``""`` when the header has no such column)."""
        return (self.row.get(column) or "").strip()

    def text(self, column: str, *, required: bool = False) -> str:
        """A text cell; ``required``: it must not be empty."""
        raw = self.row.get(column)
        if raw is None and column in self.row:  # DictReader's None: the row has fewer cells than the header
            raise ConfigError(
                f"{self.source}: line {self.line}: {column}: missing (the row has too few cells)"
            )
        value = (raw or "").strip()
        if required and not value:
            raise self.fail(column, value, "empty")
        return value

    def number(self, column: str, default: float) -> float:
        """A finite float; ``default`` for an empty cell."""
        raw = self.raw(column)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError as exc:
            raise self.fail(column, raw, "not a number") from exc
        if not math.isfinite(value):  # checked before int(): int(inf) raises OverflowError
            raise self.fail(column, raw, "not finite")
        return value

    def whole(self, column: str, default: int, *, low: int, high: int = _MAX_TOKEN) -> int:
        """A whole number in ``[low, high]`` (``75`` or ``75.0``, never ``0.5``: truncated it would be
        another lot size); ``default`` for an empty cell."""
        raw = self.raw(column)
        value = self.number(column, default)
        if not value.is_integer():
            raise self.fail(column, raw, "not a whole number")
        if not low <= value <= high:
            raise self.fail(column, raw, f"must be {low} to {high:,}")
        return int(value)

    def expiry(self, kind: str) -> str:
        """``expiry``: ``YYYY-MM-DD``; required of a future or option, empty for a stock or index."""
        raw = self.raw("expiry")
        if raw and (len(raw) != 10 or not _is_date(raw)):  # read wrongly, a contract trades past it
            raise self.fail("expiry", raw, "not a date (YYYY-MM-DD)")
        if kind in _SEGMENT_KIND and not raw:  # one without would never be refused as expired
            raise self.fail("expiry", raw, f"a {kind} contract needs its last trading day")
        if kind == "EQ" and raw:
            raise self.fail("expiry", raw, "a stock or index (EQ) does not expire")
        return raw

    def instrument_type(self, exchange: str, segment: str) -> str:
        """``instrument_type``, consistent with the exchange (it picks the charges' segment): EQ on
        NSE, BSE and for an index; FUT, CE or PE on the derivative exchanges and MCX."""
        raw = self.raw("instrument_type") or "EQ"
        if raw not in INSTRUMENT_TYPES:
            raise self.fail("instrument_type", raw, f"must be one of {', '.join(INSTRUMENT_TYPES)}")
        if segment == INDEX_SEGMENT:
            if raw != "EQ":
                raise self.fail("instrument_type", raw, "an index (segment INDICES) is EQ")
        elif exchange in _UNIT_EXCHANGES and raw != "EQ":
            raise self.fail(
                "instrument_type", raw, f"{exchange} lists stocks (EQ); its F&O is on another exchange"
            )
        elif exchange not in _UNIT_EXCHANGES and raw == "EQ":
            raise self.fail("instrument_type", raw, f"{exchange} lists futures and options (FUT, CE, PE)")
        return raw

    def segment(self, exchange: str) -> str:
        """``segment``: empty, ``INDICES``, the exchange, or ``EXCHANGE-FUT`` / ``EXCHANGE-OPT``."""
        raw = self.raw("segment")
        base, dash, kind = raw.partition("-")
        if raw and raw != INDEX_SEGMENT and (base != exchange or (dash and kind not in ("FUT", "OPT"))):
            raise self.fail("segment", raw, f"not a segment of exchange {exchange!r}")
        return raw

    def check_segment_kind(self, segment: str, kind: str) -> None:
        """A ``-FUT`` segment holds futures, an ``-OPT`` one options."""
        _, dash, seg_kind = segment.partition("-")
        if dash and _SEGMENT_KIND.get(kind) != seg_kind:
            raise self.fail("segment", segment, f"does not hold instrument_type {kind}")

    def strike(self, kind: str) -> float:
        """``strike``: positive for an option, else 0 (or empty)."""
        raw = self.raw("strike")
        value = self.number("strike", 0.0)
        if kind in ("CE", "PE") and value <= 0:
            raise self.fail("strike", raw, f"a {kind} option needs a positive strike")
        if kind not in ("CE", "PE") and value != 0:
            raise self.fail("strike", raw, f"only an option has a strike, not {kind}")
        return value

    def tick_and_lot(self, index: bool) -> tuple[float, int]:
        """``tick_size`` (positive) and ``lot_size`` (a positive whole number); an index's may be 0."""
        raw_tick = self.raw("tick_size")
        tick = self.number("tick_size", 0.05)
        lot = self.whole("lot_size", 1, low=0 if index else 1, high=10**9)
        if tick < 0 or (tick == 0 and not index):
            raise self.fail("tick_size", raw_tick, "must be positive")
        return tick, lot


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
