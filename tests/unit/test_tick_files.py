"""Tick file readers and writers: round trips, gzip, bad lines and frames, suffixes."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import msgspec
import pytest

from execsvc.errors import TickDataError
from execsvc.market.files import CSV_COLUMNS, iter_frames, read_ticks, tick_format
from execsvc.market.instruments import Instrument, Instruments
from execsvc.market.kite_codec import encode_frame
from execsvc.market.tick_writers import open_writer, write_ticks
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
INFY, SBIN, NIFTY = 408065, 779521, 256265
INSTRUMENTS = Instruments(
    [
        Instrument(instrument_token=INFY, exchange="NSE", tradingsymbol="INFY"),
        Instrument(instrument_token=SBIN, exchange="NSE", tradingsymbol="SBIN"),
        Instrument(instrument_token=NIFTY, exchange="NSE", tradingsymbol="NIFTY 50", instrument_type="INDEX"),
    ]
)
ALL_SUFFIXES = [".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".kite", ".kite.gz", ".bin", ".bin.gz"]
T0 = 1_795_146_300 * 10**9


def _depth(base: int) -> Depth:
    return Depth(
        buy=tuple(DepthLevel(10 + i, (base - 5 * i) / 100, 1 + i) for i in range(5)),
        sell=tuple(DepthLevel(20 + i, (base + 5 + 5 * i) / 100, 2 + i) for i in range(5)),
    )


def sample_ticks(n: int = 30) -> list[Tick]:
    """Ticks as the frame decoder returns them (so every format round-trips them exactly)."""
    out: list[Tick] = []
    for i in range(n):
        ts = T0 + i * 1_234_567
        paise = 157_000 + 5 * (i % 7)
        ohlc = OHLC(1569.15, 1575.0, 1561.05, 1567.8)
        if i % 4 == 0:
            out.append(
                Tick(
                    "NSE:INFY",
                    paise / 100,
                    INFY,
                    ts,
                    last_traded_quantity=i + 1,
                    average_traded_price=1570.37,
                    volume_traded=1000 + i,
                    total_buy_quantity=5000,
                    total_sell_quantity=6000,
                    ohlc=ohlc,
                    last_trade_time=ts // 10**9 - 1,
                    exchange_timestamp=ts // 10**9,
                    depth=_depth(paise),
                    mode="full",
                )
            )
        elif i % 4 == 1:
            out.append(Tick("NSE:SBIN", 880.05, SBIN, ts, 3, 880.0, 77, 1, 2, ohlc, mode="quote"))
        elif i % 4 == 2:
            out.append(Tick("NSE:INFY", paise / 100, INFY, ts, mode="ltp"))
        else:
            out.append(
                Tick("NSE:NIFTY 50", 24500.1, NIFTY, ts, ohlc=ohlc, exchange_timestamp=7, tradable=False)
            )
    return out


@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
def test_each_format_round_trips(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"ticks{suffix}"
    ticks = sample_ticks()

    written = write_ticks(path, ticks, mode=None)
    read = list(read_ticks(path, instruments=INSTRUMENTS))

    assert written == len(ticks)
    assert read == ticks
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == suffix.endswith(".gz")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv.gz"])
def test_text_formats_keep_partial_depth_and_missing_ohlc(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"ticks{suffix}"
    ticks = [
        Tick("NSE:A", 1.5, 0, depth=Depth(buy=(DepthLevel(1, 1.45, 0),), sell=())),
        Tick("NSE:B", 2.5, 12, depth=Depth(buy=(), sell=(DepthLevel(3, 2.55, 2), DepthLevel(4, 2.6, 1)))),
        Tick("NSE:C", 3.5, 13, ohlc=None, depth=None, mode="quote"),
    ]

    with open_writer(path) as writer:
        for tick in ticks:
            writer.write(tick)

    assert list(read_ticks(path)) == ticks


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_text_formats_fill_an_empty_symbol_from_instruments(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"ticks{suffix}"
    write_ticks(path, [Tick("", 1.0, INFY), Tick("", 1.0, 42)])

    assert [t.symbol for t in read_ticks(path, instruments=INSTRUMENTS)] == ["NSE:INFY", "TOKEN:42"]
    assert [t.symbol for t in read_ticks(path)] == ["", ""]


def test_frame_writer_modes_and_raw_frames(tmp_path: Path) -> None:
    path = tmp_path / "ticks.kite"
    full = sample_ticks(1)[0]

    with open_writer(path, mode="ltp") as writer:
        writer.write(full)
        writer.write_frame(T0 + 1, b"\x00")  # heartbeat
        writer.write_frame(T0 + 2, encode_frame([full, full], "quote"))

    frames = list(iter_frames(path))
    ticks = list(read_ticks(path))

    assert [recv for recv, _ in frames] == [full.ts_event, T0 + 1, T0 + 2]
    assert frames[1][1] == b"\x00"
    assert [(t.mode, t.ts_event) for t in ticks] == [
        ("ltp", full.ts_event),
        ("quote", T0 + 2),
        ("quote", T0 + 2),
    ]
    assert ticks[0].symbol == "TOKEN:408065"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_text_writers_store_the_ticks_of_a_raw_frame(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    ticks = sample_ticks(3)

    with open_writer(path, instruments=INSTRUMENTS) as writer:
        writer.write_frame(T0, encode_frame(ticks, None))
        writer.write_frame(T0 + 1, b"\x00")  # heartbeat: nothing to store

    assert list(read_ticks(path)) == [msgspec.structs.replace(t, ts_event=T0) for t in ticks]


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"

    write_ticks(a, sample_ticks())
    write_ticks(b, sample_ticks())
    header = a.read_bytes()[:10]

    assert a.read_bytes() == b.read_bytes()
    assert header[3] & 0x08 == 0  # no FNAME
    assert header[4:8] == bytes(4)  # mtime 0


def _skipping(path: Path) -> tuple[list[Tick], list[TickDataError]]:
    errors: list[TickDataError] = []
    return list(read_ticks(path, instruments=INSTRUMENTS, on_bad="skip", on_skip=errors.append)), errors


def _fail(path: Path) -> TickDataError:
    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))
    return info.value


@pytest.mark.parametrize("gz", [False, True])
def test_bad_json_line(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("t.jsonl.gz" if gz else "t.jsonl")
    good = tmp_path / "good.jsonl"
    write_ticks(good, sample_ticks(4))
    lines = good.read_bytes().splitlines(keepends=True)
    data = b"".join([*lines[:2], b'{"type":"tick","symbol":"X"}\n', b"\n", *lines[2:]])
    path.write_bytes(gzip.compress(data) if gz else data)

    error = _fail(path)
    ticks, errors = _skipping(path)

    assert (error.path, error.position) == (str(path), "line 3")
    assert "last_price" in error.reason
    assert ticks == sample_ticks(4)
    assert [e.position for e in errors] == ["line 3"]


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [("NSE:X,1,2,abc" + "," * (len(CSV_COLUMNS) - 4), "bad row"), ("NSE:X,1,2", "3 columns")],
)
def test_bad_csv_row(tmp_path: Path, bad_row: str, reason: str) -> None:
    path = tmp_path / "t.csv"
    write_ticks(path, sample_ticks(4))
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines[:3], bad_row + "\n", *lines[3:]]))

    error = _fail(path)
    ticks, errors = _skipping(path)

    assert (error.path, error.position) == (str(path), "line 4")
    assert reason in error.reason
    assert ticks == sample_ticks(4)
    assert [e.position for e in errors] == ["line 4"]


def test_csv_with_a_foreign_header_fails_even_when_skipping(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("date,open,high,low,close\n2026-11-20,1,2,3,4\n")

    with pytest.raises(TickDataError, match="line 1: header"):
        _skipping(path)


@pytest.mark.parametrize("gz", [False, True])
def test_bad_frame_is_reported_at_its_offset(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("t.kite.gz" if gz else "t.kite")
    ticks = sample_ticks(3)
    with open_writer(path, mode=None) as writer:
        writer.write(ticks[0])
        writer.write_frame(T0, struct.pack(">HH", 1, 5) + b"12345")  # no 5-byte packet exists
        writer.write(ticks[1])
        writer.write(ticks[2])
    bad_offset = 12 + len(encode_frame([ticks[0]], None))

    error = _fail(path)
    read, errors = _skipping(path)

    assert (error.path, error.position) == (str(path), f"offset {bad_offset}")
    assert error.reason == "frame offset 4: unknown packet length 5"
    assert read == ticks
    assert [e.position for e in errors] == [f"offset {bad_offset}"]


@pytest.mark.parametrize("cut", [3, 20])  # inside the record header; inside the frame
def test_truncated_last_record_is_a_bad_frame(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "t.bin"
    write_ticks(path, sample_ticks(3), mode=None)
    data = path.read_bytes()
    path.write_bytes(data[: _third_record(data) + cut])

    error = _fail(path)
    read, errors = _skipping(path)

    assert error.position == f"offset {_third_record(data)}"
    assert "truncated" in error.reason
    assert read == sample_ticks(2)
    assert len(errors) == 1
    assert list(iter_frames(path, on_bad="skip")) == [
        (t.ts_event, encode_frame([t], None)) for t in sample_ticks(2)
    ]


def _third_record(data: bytes) -> int:
    offset = 0
    for _ in range(2):
        (length,) = struct.unpack_from(">I", data, offset + 8)
        offset += 12 + length
    return offset


def test_truncated_gzip_stream_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    write_ticks(path, sample_ticks(200))
    path.write_bytes(path.read_bytes()[:-30])

    error = _fail(path)
    _ticks, errors = _skipping(path)

    assert error.path == str(path)
    assert "unreadable" in error.reason
    assert len(errors) == 1


@pytest.mark.parametrize("name", ["ticks.parquet", "ticks.gz", "ticks", "ticks.json"])
def test_unknown_suffix_names_the_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / name

    with pytest.raises(TickDataError, match="unknown tick file suffix") as info:
        read_ticks(path)
    with pytest.raises(TickDataError):
        open_writer(path)

    assert info.value.path == str(path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.JSONL", ("jsonl", False)),
        ("a.csv.gz", ("csv", True)),
        ("a.bin", ("kite", False)),
        ("x.kite.gz", ("kite", True)),
    ],
)
def test_tick_format(name: str, expected: tuple[str, bool]) -> None:
    assert tick_format(name) == expected


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TickDataError, match="cannot read"):
        list(read_ticks(tmp_path / "nope.csv"))


def test_the_sample_day_reads_the_same_in_every_format() -> None:
    instruments = Instruments.from_csv(SAMPLE / "instruments.csv")
    readers = [
        read_ticks(SAMPLE / f"ticks{s}", instruments=instruments)
        for s in (".jsonl.gz", ".csv.gz", ".kite.gz")
    ]

    count = 0
    symbols: set[str] = set()
    last_ts = 0
    for from_json, from_csv, from_frames in zip(*readers, strict=True):
        assert from_json == from_csv == from_frames
        assert from_json.ts_event >= last_ts
        last_ts = from_json.ts_event
        symbols.add(from_json.symbol)
        count += 1

    assert count > 20_000
    assert symbols == {"NSE:INFY", "NSE:RELIANCE", "NSE:HDFCBANK", "NSE:SBIN"}
