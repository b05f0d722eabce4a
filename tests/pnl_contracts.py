"""How the independent P&L model (``tests/pnl_model.py``) reads an F&O contract, by its own means.

Standard library only, and no execsvc: a contract is read from the instruments dump the test wrote
(a plain CSV file, ``read_instruments``) when it lists the symbol, else from Kite's trading symbol
(FACTS 2.2's dump rows; Zerodha's published symbol format):

- a monthly contract: ``NAME`` ``YY`` ``MON`` then ``FUT``, or the strike and ``CE``/``PE``
  (``NIFTY26DEC26000CE``);
- a weekly option: ``NAME`` ``YY``, the month in one character (``1``-``9`` for January to
  September, ``O``, ``N``, ``D`` for October to December), the day ``DD``, the strike and
  ``CE``/``PE`` (``NIFTY26D2926000PE``: 29 Dec 2026). Its expiry is in the symbol; a monthly
  symbol names only the month.

The symbol alone is ambiguous where the name ends in digits (``NIFTYNXT50``): a known index's name
is taken whole; any other name is read as letters only, so a stock whose name holds digits needs
its dump row. NFO's underlyings are on NSE, BFO's on BSE (SENSEX, BANKEX and BSE stock options).

The freeze table (``configs/freeze-quantities.yaml``) is read by its own few lines
(``read_freeze_table``): ``NAME: units`` (every NFO and BFO contract of that name), ``NFO:NAME`` /
``BFO:NAME`` (one exchange, wins over the name), ``null`` for no limit.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FREEZE_FILE = REPO / "configs" / "freeze-quantities.yaml"
CASH_EXCHANGE = {"NFO": "NSE", "BFO": "BSE"}  # a stock derivative's stock trades on the same side
# an index's name -> its index (FACTS 4.3 names NIFTY 50's packet; the others as Kite's dump is
# remembered: unconfirmed)
INDICES = {"NIFTY": "NSE:NIFTY 50", "BANKNIFTY": "NSE:NIFTY BANK", "FINNIFTY": "NSE:NIFTY FIN SERVICE",
           "MIDCPNIFTY": "NSE:NIFTY MID SELECT", "NIFTYNXT50": "NSE:NIFTY NEXT 50",
           "SENSEX": "BSE:SENSEX", "BANKEX": "BSE:BANKEX"}  # fmt: skip
# FACTS 6: the index lots from the Jan 2026 series, for a contract the dump does not list
INDEX_LOTS = {"NIFTY": 65, "BANKNIFTY": 30, "FINNIFTY": 60, "MIDCPNIFTY": 120, "NIFTYNXT50": 25}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKLY_MONTHS = "123456789OND"
_NAME = "|".join(sorted(INDICES, key=len, reverse=True)) + r"|[A-Z&-]+"
_MONTHLY = re.compile(
    rf"(?P<name>{_NAME})(?P<yy>\d{{2}})(?P<mon>{'|'.join(_MONTHS)})"
    r"(?:FUT|(?P<strike>\d+(?:\.\d+)?)(?P<kind>CE|PE))"
)
_WEEKLY = re.compile(
    rf"(?P<name>{_NAME})(?P<yy>\d{{2}})(?P<m>[{_WEEKLY_MONTHS}])(?P<dd>\d{{2}})"
    r"(?P<strike>\d+(?:\.\d+)?)(?P<kind>CE|PE)"
)


@dataclass(frozen=True)
class Contract:
    """An NFO or BFO contract as the model reads it.

    ``kind`` is FUT, CE or PE; ``strike`` None for a future; ``expiry`` ``YYYY-MM-DD`` when known
    (the dump, a weekly symbol), else ``YYYY-MM`` (a monthly symbol names its month only); ``lot``
    the dump's, else FACTS 6's for an index, else None.
    """

    exchange: str
    name: str
    kind: str
    strike: Fraction | None
    expiry: str
    lot: int | None
    index: bool  # cash-settled: its name is an index's

    @property
    def underlying(self) -> str | None:
        """The key an option is exercised against (an index's, else its stock's on the same side);
        None for a future, or an index of the other exchange (BSE's SENSEX has no NFO options)."""
        cash = CASH_EXCHANGE[self.exchange]
        if self.kind == "FUT":
            return None
        underlying = INDICES.get(self.name, f"{cash}:{self.name}")
        return underlying if underlying.startswith(f"{cash}:") else None

    @property
    def stock(self) -> str | None:
        """The stock a physically settled contract delivers (its name on the same side's cash
        exchange); None for an index's contract, which settles in cash."""
        return None if self.index else f"{CASH_EXCHANGE[self.exchange]}:{self.name}"


Dump = dict[str, dict[str, str]]  # the instruments dump's rows by EXCHANGE:TRADINGSYMBOL


def read_instruments(path: Path | None) -> Dump:
    """The rows of an instruments dump (Kite's CSV), by ``EXCHANGE:TRADINGSYMBOL``; none for None."""
    if path is None:
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {f"{row['exchange']}:{row['tradingsymbol']}": row for row in csv.DictReader(handle)}


def contract(symbol: str, dump: Dump | None = None) -> Contract | None:
    """``symbol`` (``EXCHANGE:TRADINGSYMBOL``) as an NFO or BFO contract: from its dump row when
    ``dump`` lists it, else from the symbol; None for anything else."""
    exchange, _, tradingsymbol = symbol.partition(":")
    if exchange not in CASH_EXCHANGE:
        return None
    dump = dump or {}
    row = dump.get(symbol)
    if row is not None and row["instrument_type"] in ("FUT", "CE", "PE"):
        name, kind = row["name"], row["instrument_type"]
        strike = None if kind == "FUT" else Fraction(row["strike"])
        lot = int(row["lot_size"]) or None
        return Contract(exchange, name, kind, strike, row["expiry"], lot, _is_index(exchange, name, dump))
    if (match := _WEEKLY.fullmatch(tradingsymbol)) is not None:
        month = _WEEKLY_MONTHS.index(match["m"]) + 1
        expiry = f"20{match['yy']}-{month:02d}-{match['dd']}"
    elif (match := _MONTHLY.fullmatch(tradingsymbol)) is not None:
        expiry = f"20{match['yy']}-{_MONTHS.index(match['mon']) + 1:02d}"
    else:
        return None
    name, kind = match["name"], match["kind"] or "FUT"
    strike = Fraction(match["strike"]) if match["strike"] else None
    return Contract(
        exchange, name, kind, strike, expiry, INDEX_LOTS.get(name), _is_index(exchange, name, dump)
    )


def _is_index(exchange: str, name: str, dump: Dump) -> bool:
    """An index's contract (cash-settled): its name is a known index's, or the dump lists it on the
    cash side in the INDICES segment (a new index the table does not know)."""
    row = dump.get(f"{CASH_EXCHANGE[exchange]}:{name}")
    return name in INDICES or (row is not None and row["segment"] == "INDICES")


def read_freeze_table(path: Path = FREEZE_FILE) -> dict[str, int | None]:
    """The ``quantities:`` of a freeze-quantities file, read line by line: ``KEY: units`` or
    ``KEY: null``, indented under ``quantities:`` (comments and the other keys skipped)."""
    table: dict[str, int | None] = {}
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].rstrip()
        if not text:
            continue
        if not text.startswith((" ", "\t")):
            inside = text == "quantities:"
            continue
        if inside:
            key, _, value = text.strip().rpartition(":")
            table[key.strip().strip("\"'")] = None if value.strip() in ("null", "~", "") else int(value)
    return table


FREEZE = read_freeze_table()


def freeze_limit(c: Contract, table: dict[str, int | None] | None = None) -> int | None:
    """The most units one order of ``c`` may carry: its exchange's row, else its name's; None: no limit."""
    table = FREEZE if table is None else table
    key = f"{c.exchange}:{c.name}"
    return table[key] if key in table else table.get(c.name)
