"""Streaming tick files: JSON lines, flat CSV and raw Kite frames, each optionally gzipped.

The format follows the suffix:

- ``.jsonl`` / ``.jsonl.gz``: one msgspec-encoded :class:`Tick` per line.
- ``.csv`` / ``.csv.gz``: the flat columns of :data:`CSV_COLUMNS`; empty depth columns mean no
  depth, empty OHLC columns no OHLC. ``tradable`` is not stored: it is ``segment != 9``.
- ``.kite`` / ``.bin`` (and ``.gz``): records of ``uint64 recv_ns, uint32 length`` (big-endian),
  then one WebSocket binary frame exactly as Kite sends it (FACTS.md section 8). Ticks read back
  have ``ts_event = recv_ns``.

Readers hold one line or record at a time, so memory stays constant for any file size. The
writers of these formats are in :mod:`execsvc.market.tick_writers`. A UTF-8 byte-order mark
(EF BB BF, as Excel and Windows tools write) that begins a JSON-lines or CSV file is skipped; one
anywhere else makes its line bad.

Error handling:
    A bad line or frame is a :class:`~execsvc.errors.TickDataError` naming the file and
    ``line N`` (JSON lines, CSV; 1-based) or ``offset N`` (frames: the record's byte offset in the
    uncompressed stream). A line is bad when it does not parse (bytes that are not UTF-8, JSON nested
    too deeply, a cell that is not a number) and when a tick parses but :func:`tick_problem` finds a
    price that never was (NaN, infinite, negative or above 1 crore, the order price ceiling; the
    reason names the field and the value).
    With ``on_bad="fail"`` it is raised; with ``"skip"`` it is passed to ``on_skip`` and reading
    goes on. A truncated last record or gzip stream is reported the same
    way and ends the file. A missing file or unknown suffix always raises.

Resource handling:
    Readers are generators: the file is closed when the generator is exhausted or closed.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Literal, cast

import msgspec

from execsvc.errors import TickDataError
from execsvc.market.csv_rows import CSV_COLUMNS, row_to_tick
from execsvc.market.instruments import Instruments
from execsvc.market.kite_codec import KiteDecoder
from execsvc.market.ticks import Depth, Tick
from execsvc.validation import MAX_PRICE, MAX_QTY

__all__ = [
    "CSV_COLUMNS",
    "RECORD",
    "OnBad",
    "check_readable",
    "iter_frames",
    "read_ticks",
    "tick_format",
    "tick_problem",
]

OnBad = Literal["fail", "skip"]
SkipHandler = Callable[[TickDataError], None]
Format = Literal["jsonl", "csv", "kite"]

RECORD = struct.Struct(">QI")
"""A raw frame's record header: ``uint64 recv_ns, uint32 length``, big-endian."""
_CHUNK = 1 << 20
_MAX_FRAME = 2 + 0xFFFF * (2 + 184)  # uint16 packets, each at most a full quote (184 bytes) and its length
_SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".csv": "csv", ".kite": "kite", ".bin": "kite"}

_DECODER = msgspec.json.Decoder(Tick)
_BOM = b"\xef\xbb\xbf"  # UTF-8 byte-order mark
_BOM_INSIDE = "a byte-order mark (EF BB BF) begins this line; only the file's first line may carry one"


def tick_format(path: str | Path) -> tuple[Format, bool]:
    """The format of a tick file and whether it is gzipped, from its suffix.

    Raises:
        TickDataError: the suffix is none of ``.jsonl``, ``.csv``, ``.kite``, ``.bin`` (+ ``.gz``).
    """
    name = Path(path).name.lower()
    gz = name.endswith(".gz")
    stem = name[:-3] if gz else name
    for suffix, fmt in _SUFFIXES.items():
        if stem.endswith(suffix):
            return fmt, gz
    reason = "unknown tick file suffix; use .jsonl, .csv, .kite or .bin (+ .gz)"
    raise TickDataError(str(path), "offset 0", reason)


def read_ticks(
    path: str | Path,
    *,
    instruments: Instruments | None = None,
    on_bad: OnBad = "fail",
    on_skip: SkipHandler | None = None,
) -> Iterator[Tick]:
    """Stream the ticks of a file, in file order.

    Args:
        path: a ``.jsonl``, ``.csv``, ``.kite`` or ``.bin`` file, optionally ``.gz``.
        instruments: names ticks by token (frames always; JSON lines and CSV when ``symbol`` is empty).
        on_bad: ``"fail"`` raises on the first bad line or frame; ``"skip"`` skips it.
        on_skip: called with each skipped error (``on_bad="skip"``).

    Raises:
        TickDataError: unknown suffix, unreadable file, or (``"fail"``) a bad line or frame.
    """
    fmt, gz = tick_format(path)
    if fmt == "jsonl":
        return _read_jsonl(path, gz, instruments, on_bad, on_skip)
    if fmt == "csv":
        return _read_csv(path, gz, instruments, on_bad, on_skip)
    return _read_frames(path, gz, instruments, on_bad, on_skip)


def check_readable(path: str | Path) -> None:
    """Check that ``path`` has a tick file suffix and opens for reading, without reading it.

    Raises:
        TickDataError: unknown suffix, or the file cannot be opened.
    """
    _fmt, _gz = tick_format(path)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise TickDataError(str(path), "offset 0", f"cannot read: {exc.strerror or exc}") from exc


def iter_frames(
    path: str | Path, *, on_bad: OnBad = "fail", on_skip: SkipHandler | None = None
) -> Iterator[tuple[int, bytes]]:
    """Stream the ``(recv_ns, frame)`` records of a raw frame file (``.kite``/``.bin``, optionally gz).

    Frames are not decoded, so only a truncated last record (reported, then the end) is bad here.

    Raises:
        TickDataError: unknown suffix, unreadable file, or (``"fail"``) a truncated record.
    """
    fmt, gz = tick_format(path)
    if fmt != "kite":
        raise TickDataError(str(path), "offset 0", "not a raw frame file (.kite or .bin)")
    for _offset, recv_ns, frame in _records(path, gz, on_bad, on_skip):
        yield recv_ns, frame


_INF = MAX_PRICE  # inclusive below: the most an order may name (a MARKET order would fill at 1e300)
_NOT_A_PRICE = "not a price (must be 0 to 1 crore, the most an order may name)"
_MAX_TS = 2**63 - 1  # int64 nanoseconds: 2262-04-11; the clock and the journal's day need a real date


def tick_problem(tick: Tick) -> str | None:
    """Why ``tick`` carries a price or size that never was, or ``None`` when it is sound.

    ``ts_event`` must be an int64 time that is not negative (a later one has no calendar date), and
    ``symbol`` name its exchange, as ``EXCHANGE:TRADINGSYMBOL``.
    ``last_price`` must be 0 to ``MAX_PRICE`` (1 crore, the most an order may name). Kite sends 0 for
    an instrument that has not traded yet, so 0 is sound (the paper executor ignores such a tick);
    NaN, infinity and negative prices are not (the codec reads Kite's int32 prices signed, but
    nothing downstream can trade at a negative price), nor is one above the ceiling (a MARKET order
    would fill there; the paper executor would ignore it, but the file is where it is found).
    ``average_traded_price``, OHLC and depth prices must be in the same range, depth quantities 0 to
    ``MAX_QTY`` (a level larger than any order may be is a damaged feed, and the paper fill model
    takes liquidity from it) and order counts not negative: Kite pads a book with fewer than five
    levels with all-zero levels, so a zero level is sound.

    Returns:
        ``"<field>=<value>: <why>"`` for the first bad field, e.g. ``"last_price=nan: ..."``.
    """
    # The sound case is checked in as few comparisons as possible (this runs on every tick read);
    # only a bad tick pays for finding and naming the field.
    last, average, ohlc, depth = tick.last_price, tick.average_traded_price, tick.ohlc, tick.depth
    if not 0 <= tick.ts_event <= _MAX_TS:
        return f"ts_event={tick.ts_event!r}: not a time (must be 0 to 2**63-1 ns since the epoch)"
    if (
        tick.symbol and ":" not in tick.symbol
    ):  # an intent's "INFY" is read as "NSE:INFY": a tick must say so too
        return f"symbol={tick.symbol!r}: must be EXCHANGE:TRADINGSYMBOL (e.g. 'NSE:INFY')"
    if not 0.0 <= last <= _INF:  # NaN fails every comparison
        return f"last_price={last!r}: {_NOT_A_PRICE}"
    if not 0.0 <= average <= _INF:
        return f"average_traded_price={average!r}: {_NOT_A_PRICE}"
    if ohlc is not None and not (
        0.0 <= ohlc.open <= _INF
        and 0.0 <= ohlc.high <= _INF
        and 0.0 <= ohlc.low <= _INF
        and 0.0 <= ohlc.close <= _INF
    ):
        for name in ("open", "high", "low", "close"):
            value = getattr(ohlc, name)
            if not 0.0 <= value <= _INF:
                return f"ohlc.{name}={value!r}: {_NOT_A_PRICE}"
    if depth is not None:
        for level in (*depth.buy, *depth.sell):
            if not (0.0 <= level.price <= _INF and 0 <= level.quantity <= MAX_QTY and level.orders >= 0):
                return _depth_problem(depth)
    return None


def _depth_problem(depth: Depth) -> str | None:
    """The first bad level of ``depth``, named ``depth.<side>[<i>].<field>``."""
    for side, levels in (("buy", depth.buy), ("sell", depth.sell)):
        for i, level in enumerate(levels):
            if not 0.0 <= level.price <= _INF:
                return f"depth.{side}[{i}].price={level.price!r}: {_NOT_A_PRICE}"
            if not 0 <= level.quantity <= MAX_QTY:
                return f"depth.{side}[{i}].quantity={level.quantity!r}: must be 0 to {MAX_QTY:,}"
            if level.orders < 0:
                return f"depth.{side}[{i}].orders={level.orders!r}: must not be negative"
    return None


def _bad(error: TickDataError, on_bad: OnBad, on_skip: SkipHandler | None) -> None:
    if on_bad == "fail":
        raise error
    if on_skip is not None:
        on_skip(error)


def _open_read(path: str | Path, gz: bool) -> IO[bytes]:
    try:
        return cast("IO[bytes]", gzip.open(path, "rb")) if gz else open(path, "rb")
    except OSError as exc:
        raise TickDataError(str(path), "offset 0", f"cannot read: {exc.strerror or exc}") from exc


def _read_jsonl(
    path: str | Path, gz: bool, instruments: Instruments | None, on_bad: OnBad, on_skip: SkipHandler | None
) -> Iterator[Tick]:
    source = str(path)
    decode = _DECODER.decode
    namer = KiteDecoder(instruments) if instruments is not None else None
    lineno = 0
    with _open_read(path, gz) as handle:
        try:
            # Excel and Windows tools begin a UTF-8 file with a byte-order mark; only there is it no data.
            first = handle.readline().removeprefix(_BOM)
            for line in itertools.chain((first,), handle) if first else ():
                lineno += 1
                try:
                    tick = decode(line)
                except msgspec.DecodeError as exc:
                    if not line.strip():
                        continue
                    reason = _BOM_INSIDE if line.startswith(_BOM) else str(exc)
                    _bad(TickDataError(source, f"line {lineno}", reason), on_bad, on_skip)
                    continue
                except UnicodeDecodeError as exc:  # msgspec checks UTF-8 itself, outside DecodeError
                    reason = f"not UTF-8: {bytes(exc.object[:80])!r} ({exc.reason})"
                    _bad(TickDataError(source, f"line {lineno}", reason), on_bad, on_skip)
                    continue
                except RecursionError:  # hostile nesting; the stack is whole again once it unwinds
                    _bad(TickDataError(source, f"line {lineno}", "JSON nested too deeply"), on_bad, on_skip)
                    continue
                problem = tick_problem(tick)
                if problem is not None:
                    _bad(TickDataError(source, f"line {lineno}", problem), on_bad, on_skip)
                    continue
                if namer is not None and not tick.symbol:
                    tick = msgspec.structs.replace(tick, symbol=namer.symbol(tick.instrument_token))
                yield tick
        except (OSError, EOFError) as exc:
            _bad(TickDataError(source, f"line {lineno + 1}", f"unreadable: {exc}"), on_bad, on_skip)


def _read_csv(
    path: str | Path, gz: bool, instruments: Instruments | None, on_bad: OnBad, on_skip: SkipHandler | None
) -> Iterator[Tick]:
    source = str(path)
    namer = KiteDecoder(instruments) if instruments is not None else None
    # surrogateescape: a byte that is not UTF-8 reaches row_to_tick, which names its line and column,
    # instead of failing the decoder at a chunk boundary that no line number can be put on.
    # utf-8-sig: a byte-order mark that begins the file (Excel's "CSV UTF-8") is dropped, not read
    # into the header's first name; one anywhere else stays, and row_to_tick names its cell.
    with (
        _open_read(path, gz) as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="") as text,
    ):
        reader = csv.reader(text)
        try:
            header = next(reader, None)
            if header is None:
                return
            if tuple(header) != CSV_COLUMNS:
                reason = f"header is not the {len(CSV_COLUMNS)} tick columns: {header[:4]}..."
                raise TickDataError(source, "line 1", reason)
            for row in reader:
                try:
                    tick = row_to_tick(row)
                except (ValueError, IndexError) as exc:
                    if not row:
                        continue
                    _bad(TickDataError(source, f"line {reader.line_num}", f"bad row: {exc}"), on_bad, on_skip)
                    continue
                problem = tick_problem(tick)
                if problem is not None:
                    _bad(TickDataError(source, f"line {reader.line_num}", problem), on_bad, on_skip)
                    continue
                if namer is not None and not tick.symbol:
                    tick = msgspec.structs.replace(tick, symbol=namer.symbol(tick.instrument_token))
                yield tick
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
            _bad(TickDataError(source, f"line {reader.line_num + 1}", f"unreadable: {exc}"), on_bad, on_skip)


def _records(
    path: str | Path, gz: bool, on_bad: OnBad, on_skip: SkipHandler | None
) -> Iterator[tuple[int, int, bytes]]:
    """Yield ``(offset, recv_ns, frame)`` per record, reading 1 MiB at a time."""
    source = str(path)
    buf = b""
    pos = 0  # next record in buf
    base = 0  # file offset of buf[0]
    with _open_read(path, gz) as handle:
        while True:
            avail = len(buf) - pos
            need = RECORD.size
            if avail >= need:
                recv_ns, length = RECORD.unpack_from(buf, pos)
                if length > _MAX_FRAME:  # a damaged header: nothing after it can be found again
                    reason = f"record length {length} is more than any Kite frame ({_MAX_FRAME} bytes)"
                    _bad(TickDataError(source, f"offset {base + pos}", reason), on_bad, on_skip)
                    return
                need += length
                if avail >= need:
                    yield base + pos, recv_ns, buf[pos + RECORD.size : pos + need]
                    pos += need
                    continue
            try:
                chunk = handle.read(max(_CHUNK, need - avail))
            except (OSError, EOFError) as exc:
                error = TickDataError(source, f"offset {base + len(buf)}", f"unreadable: {exc}")
                _bad(error, on_bad, on_skip)
                return
            if not chunk:
                if avail:
                    what = f"record needs {need} bytes, {avail} left" if avail >= RECORD.size else "header"
                    _bad(TickDataError(source, f"offset {base + pos}", f"truncated {what}"), on_bad, on_skip)
                return
            buf = buf[pos:] + chunk
            base += pos
            pos = 0


def _read_frames(
    path: str | Path, gz: bool, instruments: Instruments | None, on_bad: OnBad, on_skip: SkipHandler | None
) -> Iterator[Tick]:
    source = str(path)
    decode = KiteDecoder(instruments).decode_frame
    for offset, recv_ns, frame in _records(path, gz, on_bad, on_skip):
        try:
            ticks = decode(frame, recv_ns)
        except TickDataError as exc:
            error = TickDataError(source, f"offset {offset}", f"frame {exc.position}: {exc.reason}")
            _bad(error, on_bad, on_skip)
            continue
        for tick in ticks:
            problem = tick_problem(tick)
            if problem is None:
                yield tick
            else:
                _bad(TickDataError(source, f"offset {offset}", f"{tick.symbol}: {problem}"), on_bad, on_skip)
