"""Instrument reference data from a Kite instruments dump (CSV).

The dump's columns are ``instrument_token, exchange_token, tradingsymbol, name, last_price, expiry,
strike, tick_size, lot_size, instrument_type, segment, exchange`` (``GET /instruments``). The dump
is authoritative for tick size and lot size on its day, and for a contract's expiry, its last
trading day (FACTS.md section 6: take the ``expiry`` column, never a weekday rule).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import msgspec

from execsvc.errors import ConfigError

_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """One tradable (or index) instrument."""

    instrument_token: int
    exchange: str
    tradingsymbol: str
    tick_size: float = 0.05
    lot_size: int = 1
    instrument_type: str = "EQ"
    segment: str = ""
    name: str = ""
    expiry: str = ""
    strike: float = 0.0
    exchange_token: int = 0

    @property
    def key(self) -> str:
        """``EXCHANGE:TRADINGSYMBOL``, the key used everywhere in execsvc."""
        return f"{self.exchange}:{self.tradingsymbol}"

    @property
    def expiry_date(self) -> date | None:
        """The contract's last trading day (``expiry``, ``YYYY-MM-DD``); None for one that does not
        expire (stock, index) or whose expiry does not read as a date (the dump loader refuses those)."""
        return parse_expiry(self.expiry)


def parse_expiry(text: str) -> date | None:
    """``YYYY-MM-DD`` as a date; None for an empty or unreadable one."""
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


DERIVATIVE_EXCHANGES = frozenset({"NFO", "BFO", "CDS", "BCD"})
"""Exchanges where the instrument type (FUT, CE, PE) picks the charges: every other is one segment."""


def instrument_type_of(exchange: str, tradingsymbol: str) -> str | None:
    """The instrument type of a symbol the instruments file does not know, as Kite spells it.

    On the derivative exchanges a trading symbol ends in its type (``NIFTY26DEC24000CE``,
    ``NIFTY26DECFUT``); elsewhere the type changes nothing and is ``EQ``.

    Returns:
        ``FUT``, ``CE``, ``PE`` or ``EQ``; None for a derivative-exchange symbol that is none of them.
    """
    if exchange not in DERIVATIVE_EXCHANGES:
        return "EQ"
    for kind in ("FUT", "CE", "PE"):
        if tradingsymbol.endswith(kind):
            return kind
    return None


class Instruments:
    """Lookup by ``EXCHANGE:TRADINGSYMBOL`` and by instrument token."""

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_key: dict[str, Instrument] = {}
        self._by_token: dict[int, Instrument] = {}
        for inst in instruments:
            self.add(inst)

    def add(self, inst: Instrument) -> None:
        """Add or replace one instrument."""
        self._by_key[inst.key] = inst
        self._by_token[inst.instrument_token] = inst

    def by_key(self, key: str) -> Instrument | None:
        """The instrument for ``EXCHANGE:TRADINGSYMBOL``, if known."""
        return self._by_key.get(key)

    def instrument_type(self, key: str) -> str:
        """The instrument type of ``EXCHANGE:TRADINGSYMBOL`` (what picks its charges): the dump's,
        else read from the symbol (``EQ`` when even that cannot tell)."""
        inst = self._by_key.get(key)
        if inst is not None:
            return inst.instrument_type
        exchange, _, tradingsymbol = key.partition(":")
        return instrument_type_of(exchange, tradingsymbol) or "EQ"

    def expiry(self, key: str) -> date | None:
        """The expiry of ``EXCHANGE:TRADINGSYMBOL`` per the dump; None when it has none or is unknown."""
        inst = self._by_key.get(key)
        return inst.expiry_date if inst is not None else None

    def by_token(self, token: int) -> Instrument | None:
        """The instrument for a Kite instrument token, if known."""
        return self._by_token.get(token)

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_key.values())

    @classmethod
    def from_csv(cls, path: str | Path) -> Instruments:
        """Load a Kite instruments dump.

        Raises:
            ConfigError: the file is missing, lacks a column, or a row has a bad number (the
                message names the file, the line and the column).
        """
        source = str(path)
        try:
            # utf-8-sig: a dump saved from Excel begins with a byte-order mark, which would otherwise
            # be read into the first column's name ("lacks column instrument_token")
            handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read instruments: {exc.strerror}") from exc
        with handle:
            reader = csv.DictReader(handle)
            try:
                missing = [
                    c
                    for c in ("instrument_token", "tradingsymbol", "exchange")
                    if c not in (reader.fieldnames or ())
                ]
                if missing:
                    raise ConfigError(f"{source}: instruments dump lacks column(s) {', '.join(missing)}")
                out = cls()
                for row in reader:
                    out.add(_parse_row(row, source, reader.line_num))
            except UnicodeDecodeError as exc:  # a dump saved in another encoding, or a damaged one
                raise ConfigError(f"{source}: {_first_non_utf8(Path(path))}: not UTF-8 text") from exc
            except csv.Error as exc:  # a NUL byte, a quote left open at the end of the file
                raise ConfigError(f"{source}: line {reader.line_num}: not CSV: {exc}") from exc
        return out

    def write_csv(self, path: str | Path) -> None:
        """Write the instruments in Kite's dump format (for bundled sample data)."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(_COLUMNS)
            for i in sorted(self, key=lambda i: i.instrument_token):
                writer.writerow(
                    [
                        i.instrument_token,
                        i.exchange_token,
                        i.tradingsymbol,
                        i.name,
                        0.0,
                        i.expiry,
                        i.strike,
                        i.tick_size,
                        i.lot_size,
                        i.instrument_type,
                        i.segment,
                        i.exchange,
                    ]
                )


def _first_non_utf8(path: Path) -> str:
    """Where a file stops being UTF-8: its line and byte (the text reader decodes in chunks)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"line {line}: byte {data[exc.start : exc.start + 1]!r} ({exc.reason})"
    return "somewhere (the file changed while it was read)"


def _parse_row(row: dict[str, str], source: str, line: int) -> Instrument:
    def number(column: str, kind: type[int] | type[float], default: float) -> float:
        raw = (row.get(column) or "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError as exc:
            raise ConfigError(f"{source}: line {line}: {column}={raw!r}: not a number") from exc
        if not math.isfinite(value):  # checked before int(): int(inf) raises OverflowError
            raise ConfigError(f"{source}: line {line}: {column}={raw!r}: not finite")
        return int(value) if kind is int else value

    def text(column: str) -> str:
        raw = row.get(column)
        if raw is None:  # csv.DictReader fills the cells of a row shorter than the header with None
            raise ConfigError(f"{source}: line {line}: {column}: missing (the row has too few cells)")
        return raw.strip()

    tick_size = number("tick_size", float, 0.05)
    if tick_size <= 0:
        raise ConfigError(f"{source}: line {line}: tick_size={tick_size!r}: must be positive")
    expiry = (row.get("expiry") or "").strip()
    if expiry and parse_expiry(expiry) is None:  # read wrongly, a contract would trade on past it
        raise ConfigError(f"{source}: line {line}: expiry={expiry!r}: not a date (YYYY-MM-DD)")
    return Instrument(
        instrument_token=int(number("instrument_token", int, 0)),
        exchange_token=int(number("exchange_token", int, 0)),
        exchange=text("exchange"),
        tradingsymbol=text("tradingsymbol"),
        name=(row.get("name") or "").strip(),
        expiry=expiry,
        strike=number("strike", float, 0.0),
        tick_size=tick_size,
        lot_size=max(1, int(number("lot_size", int, 1))),
        instrument_type=(row.get("instrument_type") or "EQ").strip(),
        segment=(row.get("segment") or "").strip(),
    )
