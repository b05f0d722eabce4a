"""The recorder's frame filter and the CSV cells of what a mode does not carry, checked against
kiteconnect's own parser (FACTS.md 4.3)."""

from __future__ import annotations

import struct
from typing import Any

import kiteconnect
import pytest

from execsvc.errors import TickDataError
from execsvc.market.csv_rows import CSV_COLUMNS, row_to_tick, tick_to_row
from execsvc.market.kite_codec import KiteDecoder, encode_packet
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick
from execsvc.recorder import frame_in_mode, packet_mode

INFY, NIFTY = 408065, 256265


def tick(token: int, price: float) -> Tick:
    return Tick(
        symbol=f"TOKEN:{token}", instrument_token=token, last_price=price, last_traded_quantity=3,
        average_traded_price=price, volume_traded=10, total_buy_quantity=4, total_sell_quantity=5,
        ohlc=OHLC(price, price + 1, price - 1, price), oi=7, last_trade_time=1_795_000_000,
        exchange_timestamp=1_795_000_001,
        depth=Depth((DepthLevel(1, price - 0.05, 1),) * 5, (DepthLevel(2, price + 0.05, 1),) * 5),
    )  # fmt: skip


def frame(*packets: bytes) -> bytes:
    return struct.pack(">H", len(packets)) + b"".join(struct.pack(">H", len(p)) + p for p in packets)


def parse(data: bytes) -> list[dict[str, Any]]:
    packets: list[dict[str, Any]] = kiteconnect.KiteTicker("k", "t")._parse_binary(data)
    return packets


PACKETS = [
    encode_packet(tick(token, 100.0 + i), mode)
    for i, token in enumerate((INFY, NIFTY))
    for mode in ("ltp", "quote", "full")
]


@pytest.mark.parametrize("mode", ["ltp", "quote", "full"])
def test_a_mixed_frame_keeps_the_packets_of_its_mode_byte_for_byte(mode):
    mixed = frame(*PACKETS)

    kept, left_out = frame_in_mode(mixed, mode)

    assert kept is not None and left_out == 4
    assert [p["mode"] for p in parse(kept)] == [mode, mode]
    assert [p["instrument_token"] for p in parse(kept)] == [INFY, NIFTY]
    assert kept == frame(*(p for p in PACKETS if packet_mode(len(p)) == mode))


def test_a_frame_all_in_the_mode_is_kept_as_received_and_one_with_none_is_left_out():
    ltp = frame(PACKETS[0], PACKETS[3])
    assert frame_in_mode(ltp, "ltp")[0] is ltp
    assert frame_in_mode(ltp, "full") == (None, 2)
    assert frame_in_mode(b"\x00", "ltp") == (None, 0)  # a heartbeat


@pytest.mark.parametrize("cut", [3, 5, 20])
def test_a_truncated_frame_is_refused(cut):
    with pytest.raises(TickDataError, match="truncated"):
        frame_in_mode(frame(*PACKETS)[:cut], "ltp")


def test_trailing_bytes_are_refused():
    with pytest.raises(TickDataError, match="trailing"):
        frame_in_mode(frame(PACKETS[0]) + b"\x00", "ltp")


@pytest.mark.parametrize(
    ("mode", "token", "empty"),
    [
        (
            "ltp",
            INFY,
            {"last_traded_quantity", "volume_traded", "oi", "last_trade_time", "exchange_timestamp"},
        ),
        ("quote", INFY, {"oi", "oi_day_high", "last_trade_time", "exchange_timestamp"}),
        ("quote", NIFTY, {"last_traded_quantity", "volume_traded", "oi", "exchange_timestamp"}),
        ("full", NIFTY, {"last_traded_quantity", "volume_traded", "oi", "last_trade_time"}),
    ],
)
def test_a_csv_row_leaves_empty_what_its_mode_does_not_carry(mode, token, empty):
    """An ltp row wrote 0 for the volumes and timestamps its packet never carried: they read as values."""
    sent = KiteDecoder().decode_packet(encode_packet(tick(token, 100.0), mode), recv_ns=5)
    row = dict(zip(CSV_COLUMNS, tick_to_row(sent), strict=True))

    assert {name for name in empty if row[name] == ""} == empty
    assert row_to_tick([str(cell) for cell in row.values()]) == sent


def test_a_csv_row_of_a_full_tick_writes_its_zeros():
    full = Tick(symbol="NSE:INFY", instrument_token=INFY, last_price=1.0, ts_event=5)  # mode full, oi 0
    row = dict(zip(CSV_COLUMNS, tick_to_row(full), strict=True))
    assert (row["oi"], row["volume_traded"], row["exchange_timestamp"]) == (0, 0, 0)


def test_a_csv_row_keeps_a_value_its_mode_does_not_carry():
    odd = Tick(symbol="NSE:INFY", instrument_token=INFY, last_price=1.0, volume_traded=9, mode="ltp")
    assert row_to_tick([str(c) for c in tick_to_row(odd)]) == odd


@pytest.mark.parametrize("suffix", [".kite", ".jsonl"])
def test_an_unreadable_frame_is_kept_raw_or_left_out_and_the_recording_goes_on(tmp_path, suffix):
    from execsvc.market.files import iter_frames, read_ticks
    from execsvc.market.tick_writers import open_writer
    from execsvc.recorder import Recording

    out = tmp_path / f"rec{suffix}"
    bad, good = frame(PACKETS[0])[:-1], frame(PACKETS[0])
    with open_writer(out, mode=None) as writer:
        recording = Recording(writer, "ltp")
        recording.on_frame(1, bad)
        recording.on_frame(2, good)

    assert (recording.unreadable, recording.ticks) == (1, 1)
    if suffix == ".kite":
        assert [f for _, f in iter_frames(out)] == [bad, good]
    else:
        assert [t.ts_event for t in read_ticks(out)] == [2]
