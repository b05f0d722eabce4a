"""The Kite binary codec against the official mocks, FACTS.md 4.5 and pykiteconnect's own parser."""

from __future__ import annotations

import base64
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from execsvc.errors import TickDataError
from execsvc.market.files import iter_frames
from execsvc.market.instruments import Instrument, Instruments
from execsvc.market.kite_codec import (
    KiteDecoder,
    decode_frame,
    decode_packet,
    encode_frame,
    encode_packet,
    price_divisor,
)
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick

kiteconnect = pytest.importorskip("kiteconnect")

ROOT = Path(__file__).resolve().parents[2]
MOCKS = ROOT / "tests" / "kite_mocks"
SAMPLE_FRAMES = ROOT / "data" / "sample" / "ticks.kite.gz"
QUOTE_HEX = "00063a010002668300000001000265690011f1b20003e9ff00058037000264f30002673c000261c90002646c"
NIFTY = 256265  # segment 9: an index


def _packet(name: str) -> bytes:
    """A mock packet body (base64 text in the mocks)."""
    return base64.b64decode((MOCKS / name).read_text())


FULL = _packet("ticker_full.packet")
QUOTE = _packet("ticker_quote.packet")


def frame_of(*packets: bytes) -> bytes:
    return struct.pack(">H", len(packets)) + b"".join(struct.pack(">H", len(p)) + p for p in packets)


@pytest.fixture(scope="module")
def kite_parse() -> Any:
    return kiteconnect.KiteTicker("k", "t")._parse_binary


def _epoch(value: datetime | None) -> int:
    """pykiteconnect's naive local-time datetime back to unix seconds (inverse of fromtimestamp)."""
    assert value is not None
    return int(value.timestamp())


def assert_same_as_kiteconnect(tick: Tick, d: dict[str, Any]) -> None:
    """Field-by-field comparison with one pykiteconnect tick dict (FACTS 4.3 key names)."""
    assert set(d) <= {
        "tradable",
        "mode",
        "instrument_token",
        "last_price",
        "last_traded_quantity",
        "average_traded_price",
        "volume_traded",
        "total_buy_quantity",
        "total_sell_quantity",
        "ohlc",
        "change",
        "last_trade_time",
        "oi",
        "oi_day_high",
        "oi_day_low",
        "exchange_timestamp",
        "depth",
    }
    assert (tick.tradable, tick.mode, tick.instrument_token) == (
        d["tradable"],
        d["mode"],
        d["instrument_token"],
    )
    assert tick.last_price == d["last_price"]
    if "ohlc" in d:
        assert tick.ohlc == OHLC(**d["ohlc"])
        close = d["ohlc"]["close"]
        assert d["change"] == pytest.approx((tick.last_price - close) * 100 / close if close else 0)
    else:
        assert tick.ohlc is None
    for key in ("last_traded_quantity", "average_traded_price", "volume_traded", "total_buy_quantity"):
        assert getattr(tick, key) == d.get(key, 0), key
    for key in ("total_sell_quantity", "oi", "oi_day_high", "oi_day_low"):
        assert getattr(tick, key) == d.get(key, 0), key
    for key in ("last_trade_time", "exchange_timestamp"):
        assert getattr(tick, key) == (_epoch(d[key]) if key in d else 0), key
    if "depth" in d:
        assert tick.depth == Depth(
            buy=tuple(DepthLevel(**level) for level in d["depth"]["buy"]),
            sell=tuple(DepthLevel(**level) for level in d["depth"]["sell"]),
        )
    else:
        assert tick.depth is None


def test_full_mock_packet_has_the_documented_values(kite_parse: Any) -> None:
    tick = decode_frame(frame_of(FULL))[0]

    assert tick == Tick(
        symbol="TOKEN:408065",
        last_price=1573.7,
        instrument_token=408065,
        ts_event=1625461887 * 10**9,
        last_traded_quantity=7,
        average_traded_price=1570.37,
        volume_traded=1192471,
        total_buy_quantity=256443,
        total_sell_quantity=363009,
        ohlc=OHLC(open=1569.15, high=1575.0, low=1561.05, close=1567.8),
        last_trade_time=1625461887,
        exchange_timestamp=1625461887,
        depth=Depth(
            buy=(
                DepthLevel(5, 1573.4, 1),
                DepthLevel(140, 1573.0, 2),
                DepthLevel(2, 1572.95, 1),
                DepthLevel(219, 1572.9, 7),
                DepthLevel(50, 1572.85, 1),
            ),
            sell=(
                DepthLevel(172, 1573.7, 3),
                DepthLevel(44, 1573.75, 3),
                DepthLevel(302, 1573.85, 3),
                DepthLevel(141, 1573.9, 2),
                DepthLevel(724, 1573.95, 5),
            ),
        ),
        mode="full",
        tradable=True,
    )
    assert_same_as_kiteconnect(tick, kite_parse(frame_of(FULL))[0])


@pytest.mark.parametrize("body", [QUOTE, bytes.fromhex(QUOTE_HEX)], ids=["mock", "facts-4.5-hex"])
def test_quote_packet_has_the_documented_values(body: bytes, kite_parse: Any) -> None:
    tick = decode_packet(body)

    assert tick == Tick(
        symbol="TOKEN:408065",
        last_price=1573.15,
        instrument_token=408065,
        last_traded_quantity=1,
        average_traded_price=1570.33,
        volume_traded=1175986,
        total_buy_quantity=256511,
        total_sell_quantity=360503,
        ohlc=OHLC(1569.15, 1575.0, 1561.05, 1567.8),
        mode="quote",
    )
    assert_same_as_kiteconnect(tick, kite_parse(frame_of(body))[0])


def test_index_packets_read_high_low_open_close(kite_parse: Any) -> None:
    quote = struct.pack(">iiiiiii", NIFTY, 2_450_010, 2_460_000, 2_440_000, 2_445_000, 2_441_000, 9_010)
    full = struct.pack(
        ">iiiiiiii", NIFTY, 2_450_010, 2_460_000, 2_440_000, 2_445_000, 2_441_000, 9_010, 1_795_146_301
    )

    ticks = decode_frame(frame_of(quote, full))

    ohlc = OHLC(open=24450.0, high=24600.0, low=24400.0, close=24410.0)
    assert ticks == [
        Tick("TOKEN:256265", 24500.1, NIFTY, ohlc=ohlc, mode="quote", tradable=False),
        Tick(
            "TOKEN:256265",
            24500.1,
            NIFTY,
            ts_event=1_795_146_301 * 10**9,
            ohlc=ohlc,
            exchange_timestamp=1_795_146_301,
            mode="full",
            tradable=False,
        ),
    ]
    for tick, d in zip(ticks, kite_parse(frame_of(quote, full)), strict=True):
        assert_same_as_kiteconnect(tick, d)


@pytest.mark.parametrize(
    ("segment", "divisor", "wire", "price"),
    [
        (1, 100.0, 157_315, 1573.15),
        (3, 1e7, 831_234_500, 83.12345),
        (6, 1e4, 831_234, 83.1234),
        (12, 1e4, 5, 0.0005),
    ],
)
def test_price_divisor_follows_the_segment(
    segment: int, divisor: float, wire: int, price: float, kite_parse: Any
) -> None:
    token = (4321 << 8) | segment
    body = struct.pack(">ii", token, wire)

    tick = decode_packet(body)

    assert price_divisor(token) == divisor
    assert tick == Tick(f"TOKEN:{token}", price, token, mode="ltp")
    assert_same_as_kiteconnect(tick, kite_parse(frame_of(body))[0])
    assert encode_packet(tick) == body


def test_ltp_packet_and_recv_ns(kite_parse: Any) -> None:
    body = struct.pack(">ii", 408065, 157_315)

    [tick] = decode_frame(frame_of(body), recv_ns=123)

    assert tick == Tick("TOKEN:408065", 1573.15, 408065, ts_event=123, mode="ltp")
    assert_same_as_kiteconnect(tick, kite_parse(frame_of(body))[0])


def test_recv_ns_overrides_exchange_time_which_overrides_trade_time() -> None:
    no_exchange_time = bytearray(FULL)
    no_exchange_time[60:64] = bytes(4)

    assert decode_packet(FULL, recv_ns=5).ts_event == 5
    assert decode_packet(FULL).ts_event == 1625461887 * 10**9
    assert decode_packet(bytes(no_exchange_time)).ts_event == 1625461887 * 10**9
    assert decode_packet(QUOTE).ts_event == 0


def test_symbols_come_from_instruments() -> None:
    instruments = Instruments([Instrument(instrument_token=408065, exchange="NSE", tradingsymbol="INFY")])
    frame = frame_of(FULL, struct.pack(">ii", 779521, 88_000))

    ticks = decode_frame(frame, instruments=instruments)
    again = KiteDecoder(instruments).decode_frame(frame)

    assert [t.symbol for t in ticks] == ["NSE:INFY", "TOKEN:779521"]
    assert ticks == again


def test_mixed_frame_agrees_with_kiteconnect(kite_parse: Any) -> None:
    index_full = struct.pack(">iiiiiiii", NIFTY, 2_450_010, 2_460_000, 2_440_000, 2_445_000, 2_441_000, 0, 17)
    frame = frame_of(struct.pack(">ii", 408065, 157_315), QUOTE, FULL, index_full)

    ticks = decode_frame(frame)

    assert [t.mode for t in ticks] == ["ltp", "quote", "full", "full"]
    for tick, d in zip(ticks, kite_parse(frame), strict=True):
        assert_same_as_kiteconnect(tick, d)


@pytest.mark.parametrize("frame", [b"", b"\x00", b"\x01", struct.pack(">H", 0)])
def test_heartbeats_and_empty_frames_give_no_ticks(frame: bytes) -> None:
    assert decode_frame(frame) == []


@pytest.mark.parametrize(
    ("frame", "offset", "reason"),
    [
        (struct.pack(">H", 1), 2, "no length"),
        (struct.pack(">H", 1) + b"\x00", 2, "no length"),
        (struct.pack(">HH", 1, 44) + QUOTE[:30], 4, "needs 44 bytes, 30 left"),
        (frame_of(QUOTE)[:-1], 4, "needs 44 bytes, 43 left"),
        (frame_of(QUOTE) + b"\x00", 48, "1 trailing bytes"),
        (struct.pack(">H", 2) + frame_of(QUOTE)[2:], 48, "packet 2 of 2 has no length"),
        (frame_of(QUOTE[:20]), 4, "unknown packet length 20"),
    ],
)
def test_bad_frames_name_the_offset(frame: bytes, offset: int, reason: str) -> None:
    with pytest.raises(TickDataError) as info:
        decode_frame(frame)

    assert info.value.path == "<frame>"
    assert info.value.position == f"offset {offset}"
    assert reason in info.value.reason


def test_encode_is_the_inverse_of_decode_for_the_mocks() -> None:
    assert encode_packet(decode_packet(FULL)) == FULL
    assert encode_packet(decode_packet(QUOTE), "quote") == QUOTE
    assert encode_frame(decode_frame(frame_of(QUOTE, FULL))) == frame_of(QUOTE, FULL)
    assert encode_frame([]) == struct.pack(">H", 0)


def test_encode_in_a_smaller_mode_drops_fields() -> None:
    full = decode_packet(FULL)

    assert encode_packet(full, "quote") == FULL[:44]
    assert encode_packet(full, "ltp") == FULL[:8]


def test_encode_pads_missing_depth_with_zero_levels() -> None:
    tick = Tick("X", 10.0, 408065, depth=Depth(buy=(DepthLevel(5, 9.95, 1),)))

    decoded = decode_packet(encode_packet(tick, "full"))

    assert decoded.depth is not None
    assert decoded.depth.buy == (DepthLevel(5, 9.95, 1), *(DepthLevel(0, 0.0, 0),) * 4)
    assert decoded.depth.sell == (DepthLevel(0, 0.0, 0),) * 5


@pytest.mark.parametrize(
    ("tick", "mode", "message"),
    [
        (Tick("X", 1.0, 408065), "snapshot", "unknown mode"),
        (Tick("X", 1.0, 408065, volume_traded=2**31), "quote", "cannot encode X"),
        (Tick("X", 1e9, 408065), "ltp", "cannot encode X"),
        (Tick("X", 1.0, 408065, depth=Depth(buy=(DepthLevel(1, 1.0),) * 6)), "full", "6 depth levels"),
    ],
)
def test_encode_refuses_what_kite_cannot_send(tick: Tick, mode: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_packet(tick, mode)


def test_every_sample_frame_agrees_with_kiteconnect(kite_parse: Any) -> None:
    assert SAMPLE_FRAMES.exists(), "run: python -m scripts.gen_sample_day --out data/sample"
    decoder = KiteDecoder()
    frames = 0
    for recv_ns, frame in iter_frames(SAMPLE_FRAMES):
        ticks = decoder.decode_frame(frame, recv_ns)
        theirs = kite_parse(frame)
        assert len(ticks) == len(theirs) == 1
        for tick, d in zip(ticks, theirs, strict=True):
            assert_same_as_kiteconnect(tick, d)
            assert tick.ts_event == recv_ns
        frames += 1
    assert frames > 10_000
