"""Instrument reference data from a Kite instruments dump (CSV).

The dump's columns are ``instrument_token, exchange_token, tradingsymbol, name, last_price, expiry,
strike, tick_size, lot_size, instrument_type, segment, exchange`` (``GET /instruments``). The dump
is authoritative for tick size and lot size on its day, and for a contract's expiry, its last
trading day (FACTS.md section 6: take the ``expiry`` column, never a weekday rule).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import msgspec

from execsvc.errors import ConfigError
from execsvc.market.instrument_rows import INDEX_SEGMENT, TRADED_EXCHANGES, RowReader

log = logging.getLogger("execsvc.instruments")

DUMP_COLUMNS = (
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
"""The columns of Kite's instruments dump (``GET /instruments``), in its order."""


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
    def tradable(self) -> bool:
        """False for an index (segment ``INDICES``): the exchange takes no order for it."""
        return self.segment != INDEX_SEGMENT

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


def dump_row(instrument: Instrument, *, last_price: float = 0.0, segment: str | None = None) -> list[object]:
    """``instrument`` as a row of the dump (:data:`DUMP_COLUMNS`), with ``last_price`` and
    ``segment`` (None: the instrument's own)."""
    i = instrument
    return [
        i.instrument_token,
        i.exchange_token,
        i.tradingsymbol,
        i.name,
        last_price,
        i.expiry,
        i.strike,
        i.tick_size,
        i.lot_size,
        i.instrument_type,
        i.segment if segment is None else segment,
        i.exchange,
    ]


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
            ConfigError: the file is missing, lacks a column, a row has a bad value (the message
                names the file, the line, the column and the value: see
                :mod:`execsvc.market.instrument_rows`), or two rows name one symbol or token.
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
                lines: dict[object, int] = {}  # key or token -> the line that gave it
                skipped: dict[str, int] = {}
                for row in reader:
                    inst = _parse_row(row, source, reader.line_num)
                    if inst is None:
                        exchange = (row.get("exchange") or "").strip()
                        skipped[exchange] = skipped.get(exchange, 0) + 1
                        continue
                    _check_unique(inst, lines, source, reader.line_num)
                    out.add(inst)
            except UnicodeDecodeError as exc:  # a dump saved in another encoding, or a damaged one
                raise ConfigError(f"{source}: {_first_non_utf8(Path(path))}: not UTF-8 text") from exc
            except csv.Error as exc:  # a NUL byte, a quote left open at the end of the file
                raise ConfigError(f"{source}: line {reader.line_num}: not CSV: {exc}") from exc
        if skipped:
            log.info(
                "%s: skipped %d row(s) of exchanges execsvc does not trade (%s)",
                source,
                sum(skipped.values()),
                ", ".join(f"{name} {n}" for name, n in sorted(skipped.items())),
            )
        return out

    def write_csv(self, path: str | Path) -> None:
        """Write the instruments in Kite's dump format (for bundled sample data)."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(DUMP_COLUMNS)
            for i in sorted(self, key=lambda i: i.instrument_token):
                writer.writerow(dump_row(i))


def _check_unique(inst: Instrument, lines: dict[object, int], source: str, line: int) -> None:
    """Refuse a second row for a symbol or a token: one would silently replace the other's tick
    size, lot size and expiry (a day's dump names each once; tokens are reused only across days)."""
    for what, value in (("tradingsymbol", inst.key), ("instrument_token", inst.instrument_token)):
        first = lines.setdefault(value, line)
        if first != line:
            raise ConfigError(f"{source}: line {line}: {what}={value!r}: also on line {first}")


def _first_non_utf8(path: Path) -> str:
    """Where a file stops being UTF-8: its line and byte (the text reader decodes in chunks)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"line {line}: byte {data[exc.start : exc.start + 1]!r} ({exc.reason})"
    return "somewhere (the file changed while it was read)"


def _parse_row(row: dict[str, str], source: str, line: int) -> Instrument | None:
    """The row's instrument; None for a row of an exchange execsvc does not trade.

    Raises:
        ConfigError: a bad cell, naming the file, the line, the column and the value.
    """
    read = RowReader(row, source, line)
    exchange = read.text("exchange", required=True)
    if exchange not in TRADED_EXCHANGES:
        return None
    tradingsymbol = read.text("tradingsymbol", required=True)
    segment = read.segment(exchange)
    index = segment == INDEX_SEGMENT
    kind = read.instrument_type(exchange, segment)
    read.check_segment_kind(segment, kind)
    tick_size, lot_size = read.tick_and_lot(index)
    return Instrument(
        instrument_token=read.whole("instrument_token", 0, low=1),
        exchange_token=read.whole("exchange_token", 0, low=0),
        exchange=exchange,
        tradingsymbol=tradingsymbol,
        name=read.raw("name"),
        expiry=read.expiry(kind),
        strike=read.strike(kind),
        tick_size=tick_size,
        lot_size=lot_size,
        instrument_type=kind,
        segment=segment,
    )
