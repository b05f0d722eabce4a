"""The Kite WebSocket binary codec: frames and packets to ``Tick`` and back.

Layout (FACTS.md section 4.3), all integers big-endian::

    frame  = uint16 n_packets, then n_packets x (uint16 packet_len, packet[packet_len])
    ltp    =  8 B: token, last_price
    quote  = 44 B: token, last_price, ltq, atp, volume, tbq, tsq, open, high, low, close
    full   = 184 B: quote + last_trade_time, oi, oi_day_high, oi_day_low, exchange_timestamp,
             then 10 depth entries (5 bids, 5 offers) of int32 qty, int32 price, uint16 orders, 2 B pad
    index quote = 28 B: token, last_price, high, low, open, close, price change (ignored)
    index full  = 32 B: index quote + exchange_timestamp

Packets are told apart by length, as pykiteconnect does. Prices are int32 in the segment's unit:
``segment = token & 0xFF``; cds (3) divides by 1e7, bcd (6) and nco (12) by 1e4, everything else
by 100; segment 9 (indices) is not tradable. Integers are read signed (Kite sends int32; MCX prices
have gone negative), depth order counts unsigned; pykiteconnect reads everything unsigned, which
agrees for every non-negative value. Prices are computed as ``int / divisor`` exactly like
pykiteconnect, so both give bit-identical floats.

Error handling:
    Decoding raises :class:`~execsvc.errors.TickDataError` with path ``"<frame>"`` (or
    ``"<packet>"``), position ``"offset N"`` (the byte offset in the frame) and the reason, for
    truncated frames, unknown packet lengths and trailing bytes. Encoding raises ``ValueError`` for
    an unknown mode or a value that does not fit its wire type.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from execsvc.errors import TickDataError
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick

__all__ = [
    "MODES",
    "KiteDecoder",
    "decode_frame",
    "decode_packet",
    "encode_frame",
    "encode_packet",
    "price_divisor",
]

MODES = ("ltp", "quote", "full")
INDEX_SEGMENT = 9
_NS = 1_000_000_000
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

_U16 = struct.Struct(">H")
_LTP = struct.Struct(">ii")
_QUOTE = struct.Struct(">iiiiiiiiiii")
_FULL_HEAD = struct.Struct(">iiiiiiiiiiiiiiii")
_DEPTH = struct.Struct(">" + "iiHxx" * 10)
_FULL = struct.Struct(_FULL_HEAD.format + _DEPTH.format[1:])
_INDEX_QUOTE = struct.Struct(">iiiiiii")
_INDEX_FULL = struct.Struct(">iiiiiiii")
_LEN_LTP, _LEN_QUOTE, _LEN_FULL = _LTP.size, _QUOTE.size, _FULL.size
_LEN_INDEX_QUOTE, _LEN_INDEX_FULL = _INDEX_QUOTE.size, _INDEX_FULL.size

_DIVISORS = {3: 10_000_000.0, 6: 10_000.0, 12: 10_000.0}
_TICK_FIELDS = (
    "symbol",
    "last_price",
    "instrument_token",
    "ts_event",
    "last_traded_quantity",
    "average_traded_price",
    "volume_traded",
    "total_buy_quantity",
    "total_sell_quantity",
    "ohlc",
    "oi",
    "oi_day_high",
    "oi_day_low",
    "last_trade_time",
    "exchange_timestamp",
    "depth",
    "mode",
    "tradable",
)
if Tick.__struct_fields__[: len(_TICK_FIELDS)] != _TICK_FIELDS:  # the decoder builds Ticks positionally
    raise ImportError("kite_codec: Tick's field order changed; update KiteDecoder._decode")
_NO_OHLC = OHLC()
_EMPTY_LEVEL = DepthLevel(0, 0.0, 0)


def price_divisor(token: int) -> float:
    """The divisor that turns a wire price of ``token``'s segment into rupees (FACTS 4.4)."""
    return _DIVISORS.get(token & 0xFF, 100.0)


class KiteDecoder:
    """Decodes Kite frames into ticks, naming each instrument from an instruments dump.

    The token-to-symbol lookup is cached, so reuse one decoder for a whole stream. Symbols are
    ``EXCHANGE:TRADINGSYMBOL`` when the token is in ``instruments``, else ``"TOKEN:<n>"``.
    """

    __slots__ = ("_instruments", "_symbols")

    def __init__(self, instruments: Instruments | None = None) -> None:
        self._instruments = instruments
        self._symbols: dict[int, str] = {}

    def symbol(self, token: int) -> str:
        """The symbol for an instrument token."""
        symbol = self._symbols.get(token)
        if symbol is None:
            inst = self._instruments.by_token(token) if self._instruments is not None else None
            symbol = inst.key if inst is not None else f"TOKEN:{token}"
            self._symbols[token] = symbol
        return symbol

    def decode_frame(self, frame: bytes, recv_ns: int = 0) -> list[Tick]:
        """Decode one WebSocket binary message into its ticks.

        Args:
            frame: the message as received; fewer than 2 bytes (a heartbeat) gives ``[]``.
            recv_ns: receive time in ns; when nonzero it becomes every tick's ``ts_event``.

        Raises:
            TickDataError: ``("<frame>", "offset N", reason)`` for a truncated or inconsistent frame.
        """
        size = len(frame)
        if size < 2:
            return []
        (count,) = _U16.unpack_from(frame, 0)
        ticks: list[Tick] = []
        off = 2
        for index in range(count):
            if off + 2 > size:
                raise TickDataError(
                    "<frame>", f"offset {off}", f"truncated: packet {index + 1} of {count} has no length"
                )
            (length,) = _U16.unpack_from(frame, off)
            start = off + 2
            off = start + length
            if off > size:
                raise TickDataError(
                    "<frame>",
                    f"offset {start}",
                    f"truncated: packet {index + 1} of {count} needs {length} bytes, {size - start} left",
                )
            ticks.append(self._decode(frame, start, length, recv_ns, "<frame>"))
        if off != size:
            raise TickDataError(
                "<frame>", f"offset {off}", f"{size - off} trailing bytes after {count} packets"
            )
        return ticks

    def decode_packet(self, body: bytes, recv_ns: int = 0) -> Tick:
        """Decode one packet body (without its length prefix).

        Raises:
            TickDataError: ``("<packet>", "offset 0", reason)`` for an unknown packet length.
        """
        return self._decode(body, 0, len(body), recv_ns, "<packet>")

    def _decode(self, buf: bytes, off: int, length: int, recv_ns: int, where: str) -> Tick:
        if length == _LEN_FULL:
            (token, lp, ltq, atp, vol, tbq, tsq, op, hi, lo, cl, ltt, oi, oih, oil, ets) = (
                _FULL_HEAD.unpack_from(buf, off)
            )
            div = _DIVISORS.get(token & 0xFF, 100.0)
            d = _DEPTH.unpack_from(buf, off + 64)
            lvl = DepthLevel
            depth = Depth(
                (
                    lvl(d[0], d[1] / div, d[2]),
                    lvl(d[3], d[4] / div, d[5]),
                    lvl(d[6], d[7] / div, d[8]),
                    lvl(d[9], d[10] / div, d[11]),
                    lvl(d[12], d[13] / div, d[14]),
                ),
                (
                    lvl(d[15], d[16] / div, d[17]),
                    lvl(d[18], d[19] / div, d[20]),
                    lvl(d[21], d[22] / div, d[23]),
                    lvl(d[24], d[25] / div, d[26]),
                    lvl(d[27], d[28] / div, d[29]),
                ),
            )
            # Positional arguments in Tick's field order (checked at import): 6x faster than keywords.
            return Tick(
                self._symbols.get(token) or self.symbol(token),
                lp / div,
                token,
                recv_ns or (ets or ltt) * _NS,
                ltq,
                atp / div,
                vol,
                tbq,
                tsq,
                OHLC(op / div, hi / div, lo / div, cl / div),
                oi,
                oih,
                oil,
                ltt,
                ets,
                depth,
                "full",
                token & 0xFF != INDEX_SEGMENT,
            )
        if length == _LEN_QUOTE:
            (token, lp, ltq, atp, vol, tbq, tsq, op, hi, lo, cl) = _QUOTE.unpack_from(buf, off)
            div = _DIVISORS.get(token & 0xFF, 100.0)
            return Tick(
                self._symbols.get(token) or self.symbol(token),
                lp / div,
                token,
                recv_ns,
                ltq,
                atp / div,
                vol,
                tbq,
                tsq,
                OHLC(op / div, hi / div, lo / div, cl / div),
                0,
                0,
                0,
                0,
                0,
                None,
                "quote",
                token & 0xFF != INDEX_SEGMENT,
            )
        if length == _LEN_LTP:
            token, lp = _LTP.unpack_from(buf, off)
            sym = self._symbols.get(token) or self.symbol(token)
            tradable = token & 0xFF != INDEX_SEGMENT
            return Tick(
                sym, lp / _DIVISORS.get(token & 0xFF, 100.0), token, recv_ns, mode="ltp", tradable=tradable
            )
        if length in (_LEN_INDEX_QUOTE, _LEN_INDEX_FULL):
            if length == _LEN_INDEX_FULL:
                token, lp, hi, lo, op, cl, _change, ets = _INDEX_FULL.unpack_from(buf, off)
                mode = "full"
            else:
                token, lp, hi, lo, op, cl, _change = _INDEX_QUOTE.unpack_from(buf, off)
                ets, mode = 0, "quote"
            div = _DIVISORS.get(token & 0xFF, 100.0)
            return Tick(
                symbol=self._symbols.get(token) or self.symbol(token),
                last_price=lp / div,
                instrument_token=token,
                ts_event=recv_ns or ets * _NS,
                ohlc=OHLC(op / div, hi / div, lo / div, cl / div),
                exchange_timestamp=ets,
                mode=mode,
                tradable=token & 0xFF != INDEX_SEGMENT,
            )
        raise TickDataError(where, f"offset {off}", f"unknown packet length {length}")


_DEFAULT = KiteDecoder()


def decode_frame(frame: bytes, *, recv_ns: int = 0, instruments: Instruments | None = None) -> list[Tick]:
    """Decode one Kite WebSocket binary message into ticks.

    For a stream, build one :class:`KiteDecoder` and call its ``decode_frame`` (cached symbols).

    Args:
        frame: the message; heartbeats (1 byte) and anything shorter than 2 bytes give ``[]``.
        recv_ns: receive time in ns; if 0, ``ts_event`` is the exchange timestamp (or the last trade
            time) in ns, or 0 when the packet has neither.
        instruments: names the ticks; without it (or for unknown tokens) symbols are ``"TOKEN:<n>"``.

    Returns:
        The ticks, in packet order.

    Raises:
        TickDataError: ``("<frame>", "offset N", reason)`` for a truncated or inconsistent frame.
    """
    decoder = _DEFAULT if instruments is None else KiteDecoder(instruments)
    return decoder.decode_frame(frame, recv_ns)


def decode_packet(body: bytes, *, recv_ns: int = 0, instruments: Instruments | None = None) -> Tick:
    """Decode one packet body (no length prefix); see :func:`decode_frame`.

    Raises:
        TickDataError: ``("<packet>", "offset 0", reason)`` for an unknown packet length.
    """
    decoder = _DEFAULT if instruments is None else KiteDecoder(instruments)
    return decoder.decode_packet(body, recv_ns)


def encode_packet(tick: Tick, mode: str | None = None) -> bytes:
    """Encode a tick as the packet Kite would send in ``mode`` (the inverse of :func:`decode_packet`).

    Index tokens (segment 9) give 28-byte (quote) or 32-byte (full) index packets. Prices are
    multiplied by the segment's divisor and rounded; fields the tick lacks are sent as 0, and a
    full packet always carries 5 + 5 depth levels (missing ones are zero).

    Args:
        tick: the tick; ``instrument_token`` selects the segment.
        mode: ``"ltp"``, ``"quote"`` or ``"full"``; ``None`` uses ``tick.mode``.

    Raises:
        ValueError: an unknown mode, or a value that does not fit its wire type.
    """
    mode = tick.mode if mode is None else mode
    token = tick.instrument_token
    div = _DIVISORS.get(token & 0xFF, 100.0)
    try:
        lp = round(tick.last_price * div)
        if mode == "ltp":
            return _LTP.pack(token, lp)
        if mode != "quote" and mode != "full":
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        o = tick.ohlc or _NO_OHLC
        op, hi, lo, cl = round(o.open * div), round(o.high * div), round(o.low * div), round(o.close * div)
        if token & 0xFF == INDEX_SEGMENT:
            # The "price change" field is ignored by every decoder; clamp it so extreme prices still fit.
            change = min(max(lp - cl, _INT32_MIN), _INT32_MAX)
            if mode == "quote":
                return _INDEX_QUOTE.pack(token, lp, hi, lo, op, cl, change)
            return _INDEX_FULL.pack(token, lp, hi, lo, op, cl, change, tick.exchange_timestamp)
        head = (
            token,
            lp,
            tick.last_traded_quantity,
            round(tick.average_traded_price * div),
            tick.volume_traded,
            tick.total_buy_quantity,
            tick.total_sell_quantity,
            op,
            hi,
            lo,
            cl,
        )
        if mode == "quote":
            return _QUOTE.pack(*head)
        depth: list[int] = []
        book = tick.depth
        for side in (book.buy, book.sell) if book is not None else ((), ()):
            if len(side) > 5:
                raise ValueError(f"{len(side)} depth levels on one side; Kite sends 5")
            for level in (*side, *(_EMPTY_LEVEL,) * (5 - len(side))):
                depth += (level.quantity, round(level.price * div), level.orders)
        return _FULL.pack(
            *head,
            tick.last_trade_time,
            tick.oi,
            tick.oi_day_high,
            tick.oi_day_low,
            tick.exchange_timestamp,
            *depth,
        )
    except struct.error as exc:
        raise ValueError(f"cannot encode {tick.symbol} (token {token}) in {mode} mode: {exc}") from exc


def encode_frame(ticks: Sequence[Tick], mode: str | None = None) -> bytes:
    """Encode ticks as one Kite WebSocket binary message (the inverse of :func:`decode_frame`).

    Args:
        ticks: at most 65535 ticks, one packet each, in order.
        mode: as for :func:`encode_packet`.

    Raises:
        ValueError: too many ticks, or a tick that :func:`encode_packet` refuses.
    """
    if len(ticks) > 0xFFFF:
        raise ValueError(f"{len(ticks)} ticks do not fit one frame (max 65535)")
    parts = [_U16.pack(len(ticks))]
    for tick in ticks:
        packet = encode_packet(tick, mode)
        parts.append(_U16.pack(len(packet)))
        parts.append(packet)
    return b"".join(parts)
