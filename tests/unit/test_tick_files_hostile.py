"""Hostile tick files: bytes that are not UTF-8, hostile nesting, prices that never were.

Each bad line or frame must be the reader's own TickDataError naming the file and the line (or
offset) and, for a value, the field and the value; under ``on_bad="skip"`` it is skipped and the
good ticks around it are read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from execsvc.errors import TickDataError
from execsvc.market.files import CSV_COLUMNS, read_ticks, tick_problem
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick

T0 = 1_795_146_301 * 10**9
GOOD_JSON = b'{"type":"tick","symbol":"NSE:INFY","last_price":1500.0,"ts_event":1795146301000000000}\n'


def _read_both_ways(path: Path) -> tuple[TickDataError, list[Tick], list[TickDataError]]:
    """The error under "fail", then the ticks and skipped errors under "skip"."""
    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))
    skipped: list[TickDataError] = []
    ticks = list(read_ticks(path, on_bad="skip", on_skip=skipped.append))
    return info.value, ticks, skipped


def _jsonl(tmp_path: Path, bad_line: bytes) -> Path:
    path = tmp_path / "ticks.jsonl"
    path.write_bytes(GOOD_JSON + bad_line + b"\n" + GOOD_JSON)
    return path


def _csv_row(**cells: str) -> str:
    row = dict.fromkeys(CSV_COLUMNS, "")
    row.update(symbol="NSE:INFY", ts_event=str(T0), last_price="1500.0")
    row.update(cells)
    return ",".join(row[c] for c in CSV_COLUMNS)


def _csv(tmp_path: Path, bad_row: bytes) -> Path:
    path = tmp_path / "ticks.csv"
    good = _csv_row().encode()
    path.write_bytes(",".join(CSV_COLUMNS).encode() + b"\n" + good + b"\n" + bad_row + b"\n" + good + b"\n")
    return path


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (b'{"type":"tick","symbol":"NSE:\xff","last_price":5}', "not UTF-8: b'NSE:\\xff'"),
        (
            b'{"type":"tick","symbol":"NSE:INFY","last_price":5,"x":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
            "deep",
        ),
        (b'{"type":"tick","symbol":"NSE:INFY","last_price":-5}', "last_price=-5.0"),
        # JSON has no inf: msgspec refuses a number that overflows a float.
        (b'{"type":"tick","symbol":"NSE:INFY","last_price":1e999}', "Number out of range"),
        (
            b'{"type":"tick","symbol":"NSE:INFY","last_price":5,"average_traded_price":-1}',
            "average_traded_price=-1.0",
        ),
        (b'{"type":"tick","symbol":"NSE:INFY","last_price":5,"ohlc":{"low":-1}}', "ohlc.low=-1.0"),
        (
            b'{"type":"tick","symbol":"NSE:INFY","last_price":5,"depth":{"sell":[[10,5.0,1],[10,-0.05,1]]}}',
            "depth.sell[1].price=-0.05",
        ),
        (
            b'{"type":"tick","symbol":"NSE:INFY","last_price":5,"depth":{"buy":[[-10,5.0,1]]}}',
            "depth.buy[0].quantity=-10",
        ),
        (
            b'{"type":"tick","symbol":"NSE:INFY","last_price":5,"depth":{"buy":[[10,5.0,-1]]}}',
            "depth.buy[0].orders=-1",
        ),
    ],
)
def test_a_bad_json_line_names_file_line_and_value_and_can_be_skipped(tmp_path, bad_line, reason):
    path = _jsonl(tmp_path, bad_line)

    error, ticks, skipped = _read_both_ways(path)

    assert error.path == str(path) and error.position == "line 2"
    assert reason in error.reason
    assert [t.last_price for t in ticks] == [1500.0, 1500.0]
    assert [e.position for e in skipped] == ["line 2"]


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        (_csv_row(last_price="nan").encode(), "last_price=nan"),
        (_csv_row(last_price="inf").encode(), "last_price=inf"),
        (_csv_row(last_price="-5").encode(), "last_price=-5.0"),
        (_csv_row(average_traded_price="nan").encode(), "average_traded_price=nan"),
        (_csv_row(ohlc_open="1", ohlc_high="inf", ohlc_low="1", ohlc_close="1").encode(), "ohlc.high=inf"),
        (_csv_row(buy_1_qty="10", buy_1_price="nan").encode(), "depth.buy[0].price=nan"),
        (_csv_row(sell_1_qty="-10", sell_1_price="5").encode(), "depth.sell[0].quantity=-10"),
        (
            _csv_row().replace("NSE:INFY", "NSE:\udcff").encode("utf-8", "surrogateescape"),
            "symbol=b'NSE:\\xff'",
        ),
        (_csv_row(volume_traded="12x").encode(), "volume_traded='12x': not an integer"),
        (_csv_row(last_price="1500\udcff").encode("utf-8", "surrogateescape"), "last_price=b'1500\\xff'"),
    ],
)
def test_a_bad_csv_row_names_file_line_and_value_and_can_be_skipped(tmp_path, bad_row, reason):
    path = _csv(tmp_path, bad_row)

    error, ticks, skipped = _read_both_ways(path)

    assert error.path == str(path) and error.position == "line 3"
    assert reason in error.reason
    assert [t.last_price for t in ticks] == [1500.0, 1500.0]
    assert [e.position for e in skipped] == ["line 3"]


def test_a_negative_price_in_a_frame_file_is_a_bad_frame_at_its_offset(tmp_path):
    path = tmp_path / "ticks.kite"
    good = Tick("NSE:INFY", 1500.0, 408065, T0, mode="ltp")
    write_ticks(path, [good, Tick("NSE:INFY", -5.0, 408065, T0 + 1, mode="ltp"), good], mode="ltp")

    error, ticks, skipped = _read_both_ways(path)

    assert error.path == str(path) and error.position.startswith("offset ")
    assert "last_price=-5.0" in error.reason
    assert [t.last_price for t in ticks] == [1500.0, 1500.0]
    assert len(skipped) == 1


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".kite"])
def test_kite_zero_padding_and_an_untraded_zero_price_still_read(tmp_path, suffix):
    # Kite sends last_price 0 for an instrument not traded yet, and pads a short book with
    # all-zero levels; neither is a bad tick.
    padded = Depth(
        buy=(DepthLevel(10, 1499.95, 1), *([DepthLevel(0, 0.0, 0)] * 4)),
        sell=(DepthLevel(12, 1500.05, 2), *([DepthLevel(0, 0.0, 0)] * 4)),
    )
    ticks = [
        Tick("NSE:INFY", 1500.0, 408065, T0, ohlc=OHLC(1490.0, 1510.0, 1480.0, 1495.0), depth=padded),
        Tick("NSE:INFY", 0.0, 408065, T0 + 1, ohlc=OHLC(0.0, 0.0, 0.0, 1495.0), depth=Depth()),
    ]
    path = tmp_path / f"ticks{suffix}"
    write_ticks(path, ticks, mode="full")

    read = list(read_ticks(path))

    assert [t.last_price for t in read] == [1500.0, 0.0]
    assert read[0].depth is not None and read[0].depth.buy[1] == DepthLevel(0, 0.0, 0)


def test_tick_problem_accepts_a_sound_tick():
    assert tick_problem(Tick("NSE:INFY", 1500.0, ohlc=OHLC(1.0, 2.0, 0.5, 1.0))) is None
