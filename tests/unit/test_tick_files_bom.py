"""Tick files that begin with a UTF-8 byte-order mark (EF BB BF), as Excel and Windows tools write them.

A BOM at the very start of a JSON-lines or CSV file (plain or gzipped) is skipped: every reader of
tick files (``read_ticks``, the replay, the daemon's file feed, the simulator's feed) reads the
same ticks as from the file without it. A BOM anywhere else is still a bad line, named as such.
The instruments dump that names ticks by token loads with one as without.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from execsvc.cli import main
from execsvc.errors import ConfigError, TickDataError
from execsvc.feeds import replay_ticks
from execsvc.market.files import CSV_COLUMNS, read_ticks
from execsvc.market.instruments import Instruments
from execsvc.market.replay import iter_files
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick
from execsvc.sim.feed import TickFeed
from tests.unit.test_replay_inputs_hostile import CONFIG, T0, own_log_handlers  # noqa: F401 - a fixture

BOM = b"\xef\xbb\xbf"
SUFFIXES = ["jsonl", "jsonl.gz", "csv", "csv.gz"]
TICKS = [
    Tick(
        "NSE:INFY",
        1500.0 + i,
        408065,
        T0 + i * 10**9,
        last_traded_quantity=5,
        volume_traded=1000 + i,
        ohlc=OHLC(1490.0, 1510.0, 1480.0, 1495.0),
        depth=Depth((DepthLevel(10, 1499.5 + i, 2),), (DepthLevel(7, 1500.5 + i, 1),)),
    )
    for i in range(4)
]


def _plain_and_bom(tmp_path: Path, suffix: str) -> tuple[Path, Path]:
    """The same ticks written twice: as ``write_ticks`` writes them, and with a BOM in front."""
    plain, bom = tmp_path / f"plain.{suffix}", tmp_path / f"bom.{suffix}"
    write_ticks(plain, TICKS)
    if suffix.endswith(".gz"):
        bom.write_bytes(gzip.compress(BOM + gzip.decompress(plain.read_bytes())))
    else:
        bom.write_bytes(BOM + plain.read_bytes())
    return plain, bom


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_bom_at_the_start_of_a_tick_file_is_skipped(tmp_path, suffix):
    plain, bom = _plain_and_bom(tmp_path, suffix)
    skipped: list[TickDataError] = []

    # was: JSON lines "line 1: JSON is malformed: invalid character (byte 0)" (under "skip" the
    # first tick was lost); CSV "line 1: header is not the 49 tick columns: ['\ufeffsymbol', ...]"
    assert list(read_ticks(bom)) == list(read_ticks(plain)) == TICKS
    assert list(read_ticks(bom, on_bad="skip", on_skip=skipped.append)) == TICKS
    assert skipped == []


def _through_every_reader(path: Path) -> tuple[tuple[int, list[Tick]], list[Tick], list[Tick]]:
    """What the daemon's file feed, the replay and the simulator's feed read from ``path``."""
    instruments = Instruments()
    first_ts, ticks = replay_ticks([str(path)], instruments)
    pushed: list[Tick] = []
    TickFeed(path, instruments, pushed.append, speed=0).step(len(TICKS) + 1)
    return (first_ts, list(ticks)), list(iter_files([path], instruments, "fail", None)), pushed


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_daemon_feed_the_replay_and_the_simulator_read_a_bom_file_like_the_plain_one(tmp_path, suffix):
    plain, bom = _plain_and_bom(tmp_path, suffix)

    # the daemon's file feed skips bad lines: it lost the first JSON tick and started its clock late
    assert _through_every_reader(bom) == _through_every_reader(plain) == ((T0, TICKS), TICKS, TICKS)


@pytest.mark.parametrize("suffix", ["jsonl.gz", "csv"])
def test_a_replay_of_a_bom_file_reports_what_the_plain_file_reports(tmp_path, capsys, suffix):
    reports = []
    for path in _plain_and_bom(tmp_path, suffix):
        report = tmp_path / f"{path.name}.report.json"
        code = main(["replay", "--config", CONFIG, "--ticks", str(path), "--strategy",
                     "tests.unit.test_tick_inputs_hostile:BuyThenSell", "--journal-dir",
                     str(tmp_path / f"{path.name}.journal"), "--report", str(report)])  # fmt: skip
        assert code == 0, capsys.readouterr().err
        loaded = json.loads(report.read_text())
        del loaded["inputs"]  # names the tick file
        reports.append(loaded)

    plain, bom = reports
    assert bom == plain
    assert (bom["ticks"], bom["fills"]) == (len(TICKS), 2)  # BuyThenSell's buy and sell


# -- a BOM that does not begin the file -----------------------------------------------------------

JSON_LINE = b'{"type":"tick","symbol":"NSE:INFY","last_price":1500.0,"ts_event":%d}\n' % T0


def _csv_line() -> bytes:
    row = dict.fromkeys(CSV_COLUMNS, "")
    row.update(symbol="NSE:INFY", ts_event=str(T0), last_price="1500.0")
    return ",".join(row[c] for c in CSV_COLUMNS).encode() + b"\n"


@pytest.mark.parametrize(
    ("content", "position"),
    [
        (JSON_LINE + BOM + JSON_LINE + JSON_LINE, "line 2"),  # two files joined with cat
        (BOM + BOM + JSON_LINE + JSON_LINE + JSON_LINE, "line 1"),  # only one BOM begins a file
    ],
)
def test_a_bom_inside_a_json_lines_file_is_a_bad_line_named_as_a_bom(tmp_path, content, position):
    path = tmp_path / "ticks.jsonl"
    path.write_bytes(content)

    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))
    skipped: list[TickDataError] = []
    ticks = list(read_ticks(path, on_bad="skip", on_skip=skipped.append))

    assert info.value.position == position
    assert "byte-order mark" in info.value.reason  # was: "JSON is malformed: invalid character (byte 0)"
    assert len(ticks) == 2 and [e.position for e in skipped] == [position]


def test_a_bom_inside_a_csv_file_is_a_bad_row_naming_the_cell(tmp_path):
    path = tmp_path / "ticks.csv"
    row = _csv_line()
    path.write_bytes(",".join(CSV_COLUMNS).encode() + b"\n" + row + BOM + row + row)

    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))
    skipped: list[TickDataError] = []
    ticks = list(read_ticks(path, on_bad="skip", on_skip=skipped.append))

    # was: read, as a tick for the symbol "\ufeffNSE:INFY", which no order or position ever matches
    assert info.value.position == "line 3"
    assert "symbol='\\ufeffNSE:INFY'" in info.value.reason and "byte-order mark" in info.value.reason
    assert [t.symbol for t in ticks] == ["NSE:INFY", "NSE:INFY"] and len(skipped) == 1


def test_a_csv_file_with_two_boms_names_the_header(tmp_path):
    path = tmp_path / "ticks.csv"
    path.write_bytes(BOM + BOM + ",".join(CSV_COLUMNS).encode() + b"\n" + _csv_line())

    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))

    assert info.value.position == "line 1" and "\\ufeffsymbol" in info.value.reason


# -- the instruments dump that names the ticks ----------------------------------------------------


def test_an_instruments_dump_saved_with_a_bom_loads_like_the_plain_one(tmp_path):
    sample = Path(__file__).resolve().parents[2] / "data" / "sample" / "instruments.csv"
    bom = tmp_path / "instruments.csv"
    bom.write_bytes(BOM + sample.read_bytes())

    # was: ConfigError "instruments dump lacks column(s) instrument_token" (its name read as
    # "\ufeffinstrument_token")
    loaded = Instruments.from_csv(bom)
    assert list(loaded) == list(Instruments.from_csv(sample))
    assert len(loaded) == 4 and loaded.by_token(408065).key == "NSE:INFY"


def test_an_instruments_dump_in_another_encoding_names_its_line_and_byte(tmp_path):
    sample = Path(__file__).resolve().parents[2] / "data" / "sample" / "instruments.csv"
    latin1 = tmp_path / "instruments.csv"
    latin1.write_bytes(sample.read_bytes() + b"999,1,CAF\xc9,Caf\xe9,0,,0.05,1,EQ,NSE,NSE\n")

    # was: a bare UnicodeDecodeError out of the config loader, naming neither file nor line
    with pytest.raises(ConfigError) as info:
        Instruments.from_csv(latin1)
    line = sample.read_bytes().count(b"\n") + 1
    assert (
        str(info.value) == f"{latin1}: line {line}: byte b'\\xc9' (invalid continuation byte): not UTF-8 text"
    )
