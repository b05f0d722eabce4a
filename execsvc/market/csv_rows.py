"""The CSV tick format: flat columns, depth as ``buy_1_qty, buy_1_price, buy_1_orders ... sell_5_*``.

Empty depth cells mean no level; a row with every depth cell empty has no depth at all.
"""

from __future__ import annotations

from execsvc.market.kite_codec import INDEX_SEGMENT
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick

_BASE_NAMES = """symbol instrument_token ts_event last_price last_traded_quantity average_traded_price
    volume_traded total_buy_quantity total_sell_quantity ohlc_open ohlc_high ohlc_low ohlc_close oi
    oi_day_high oi_day_low last_trade_time exchange_timestamp mode"""
_BASE_COLUMNS = tuple(_BASE_NAMES.split())
CSV_COLUMNS: tuple[str, ...] = _BASE_COLUMNS + tuple(
    f"{side}_{level}_{field}"
    for side in ("buy", "sell")
    for level in range(1, 6)
    for field in ("qty", "price", "orders")
)
_NB = len(_BASE_COLUMNS)
_NCOL = len(CSV_COLUMNS)
_EMPTY_DEPTH = ("",) * 15
_BUY = range(_NB, _NB + 15, 3)
_SELL = range(_NB + 15, _NCOL, 3)


_INT_NAMES = """instrument_token ts_event last_traded_quantity volume_traded total_buy_quantity
    total_sell_quantity oi oi_day_high oi_day_low last_trade_time exchange_timestamp"""
_TEXT_COLUMNS = ("symbol", "mode")
_INT_COLUMNS = frozenset(_INT_NAMES.split()) | {c for c in CSV_COLUMNS if c.endswith(("_qty", "_orders"))}


_BOM = "\ufeff"  # the byte-order mark; the reader drops the one that begins the file
_BOM_INSIDE = "a byte-order mark (U+FEFF); only the file's first line may carry one"

_REQUIRED = frozenset({"last_price"})
_OHLC = frozenset({"ohlc_high", "ohlc_low", "ohlc_close"})  # required once ohlc_open is given
_OHLC_OPEN = CSV_COLUMNS.index("ohlc_open")
_DEPTH_PRICES = frozenset(CSV_COLUMNS[i + 1] for i in (*_BUY, *_SELL))  # required once its _qty is given


def _cell_error(row: list[str]) -> str | None:
    """``"<column>=<cell>: <why>"`` for the first cell of ``row`` that cannot be read, else ``None``."""
    for i, (name, cell) in enumerate(zip(CSV_COLUMNS, row, strict=True)):
        if name in _TEXT_COLUMNS:
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:  # a byte that was not UTF-8, kept by surrogateescape
                return f"{name}={cell.encode('utf-8', 'surrogateescape')!r}: not UTF-8"
            if _BOM in cell:
                return f"{name}={cell!r}: {_BOM_INSIDE}"
            continue
        if not cell:
            if (
                name in _REQUIRED
                or (name in _OHLC and row[_OHLC_OPEN])
                or (name in _DEPTH_PRICES and row[i - 1])
            ):
                return f"{name}='': empty, but required"
            continue
        try:
            int(cell) if name in _INT_COLUMNS else float(cell)
        except ValueError:
            kind = "an integer" if name in _INT_COLUMNS else "a number"
            raw = cell.encode("utf-8", "surrogateescape")
            shown = raw.decode("utf-8") if raw.isascii() else raw
            return f"{name}={shown!r}: not {kind}"
    return None


def row_to_tick(row: list[str]) -> Tick:
    """A tick from one CSV row.

    Text may carry surrogate escapes (bytes that were not UTF-8, read with ``surrogateescape``):
    such a cell is an error.

    Raises:
        ValueError: a bad column count, or a cell that is not UTF-8 or not a number (naming the
            column and the cell).
    """
    if len(row) != _NCOL:
        raise ValueError(f"{len(row)} columns, expected {_NCOL}")
    try:
        return _row_to_tick(row)
    except ValueError as exc:
        raise ValueError(_cell_error(row) or str(exc)) from exc


def _row_to_tick(row: list[str]) -> Tick:
    (sym, tok, ts, lp, ltq, atp, vol, tbq, tsq, op, hi, lo, cl, oi, oih, oil, ltt, ets, mode) = row[:_NB]
    if not (sym.isascii() and mode.isascii()):
        sym.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a byte that was not UTF-8
        mode.encode("utf-8")
        if _BOM in sym or _BOM in mode:  # a row of a second file joined on: not part of the symbol
            raise ValueError(_BOM_INSIDE)
    token = int(tok) if tok else 0
    depth = None
    if "".join(row[_NB:]):
        # A level is present when its quantity cell is not empty.
        buy = [DepthLevel(int(row[i]), float(row[i + 1]), int(row[i + 2] or 0)) for i in _BUY if row[i]]
        sell = [DepthLevel(int(row[i]), float(row[i + 1]), int(row[i + 2] or 0)) for i in _SELL if row[i]]
        depth = Depth(tuple(buy), tuple(sell))
    return Tick(
        sym,
        float(lp),
        token,
        int(ts) if ts else 0,
        int(ltq) if ltq else 0,
        float(atp) if atp else 0.0,
        int(vol) if vol else 0,
        int(tbq) if tbq else 0,
        int(tsq) if tsq else 0,
        OHLC(float(op), float(hi), float(lo), float(cl)) if op else None,
        int(oi) if oi else 0,
        int(oih) if oih else 0,
        int(oil) if oil else 0,
        int(ltt) if ltt else 0,
        int(ets) if ets else 0,
        depth,
        mode or "full",
        token & 0xFF != INDEX_SEGMENT,
    )


# The cells of what a packet does not carry (FACTS.md 4.3), by mode and index-ness: an ltp tick's
# volume is unknown, not 0, and its row says so with an empty cell (read back as the same 0).
_TRADE_CELLS = range(4, 9)  # last_traded_quantity .. total_sell_quantity
_OI_CELLS = range(13, 17)  # oi, oi_day_high, oi_day_low, last_trade_time
_ETS_CELL = 17
_NOT_CARRIED: dict[tuple[str, bool], tuple[int, ...]] = {
    ("ltp", False): (*_TRADE_CELLS, *_OI_CELLS, _ETS_CELL),
    ("quote", False): (*_OI_CELLS, _ETS_CELL),
    ("ltp", True): (*_TRADE_CELLS, *_OI_CELLS, _ETS_CELL),
    ("quote", True): (*_TRADE_CELLS, *_OI_CELLS, _ETS_CELL),
    ("full", True): (*_TRADE_CELLS, *_OI_CELLS),
}


def tick_to_row(tick: Tick) -> list[object]:
    """The CSV row of a tick (depth flattened to five levels a side).

    A field the tick's mode does not carry (an ltp tick's volume, a quote tick's timestamps, an
    index's quantities) is an empty cell while it is 0: what the packet did not say is not written
    as a value. Any other value is written, whatever the mode.
    """
    t, o = tick, tick.ohlc
    row: list[object] = [t.symbol, t.instrument_token, t.ts_event, t.last_price, t.last_traded_quantity]
    row += (t.average_traded_price, t.volume_traded, t.total_buy_quantity, t.total_sell_quantity)
    row += (o.open, o.high, o.low, o.close) if o is not None else ("", "", "", "")
    row += (t.oi, t.oi_day_high, t.oi_day_low, t.last_trade_time, t.exchange_timestamp, t.mode)
    for cell in _NOT_CARRIED.get((t.mode, t.instrument_token & 0xFF == INDEX_SEGMENT), ()):
        if not row[cell]:
            row[cell] = ""
    depth = tick.depth
    if depth is None:
        row += _EMPTY_DEPTH
        row += _EMPTY_DEPTH
        return row
    for side in (depth.buy, depth.sell):
        if len(side) > 5:
            raise ValueError(f"{tick.symbol}: {len(side)} depth levels on one side; CSV holds 5")
        for level in side:
            row += (level.quantity, level.price, level.orders)
        row += ("", "", "") * (5 - len(side))
    return row
