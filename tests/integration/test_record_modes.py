"""``execsvc record`` against the Kite simulator: each mode into each format holds that mode's packets
only, as kiteconnect's own parser reads them, and reads back to the same ticks.

The client subscribes, then sets the mode (FACTS.md 4.2); until the mode message is read the
subscription is Kite's default, quote, and the simulator's snapshot of each token came as a quote
packet: an ``ltp`` recording began with a tick carrying OHLC and volumes, a ``full`` one with a tick
without depth or timestamps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import os
import signal
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kiteconnect import KiteTicker

from execsvc.cli import _record, build_parser
from execsvc.clock import LiveClock
from execsvc.executors.kite.ticker import KiteTickerClient
from execsvc.market.files import iter_frames, read_ticks
from execsvc.market.instruments import Instruments
from execsvc.market.kite_codec import KiteDecoder, encode_packet
from execsvc.market.tick_writers import open_writer
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick
from execsvc.recorder import Recording
from execsvc.sim import KiteSimulator

REPO = Path(__file__).resolve().parents[2]
INSTRUMENTS = Instruments.from_csv(REPO / "data" / "sample" / "instruments.csv")
INFY, SBIN, NIFTY = 408065, 779521, 256265  # NIFTY 50: an index (segment 9), not in the instruments
GUARD = 10.0
SUFFIXES = (".kite", ".kite.gz", ".jsonl", ".jsonl.gz", ".csv", ".csv.gz")
# what kiteconnect's parser gives for each mode's tradable packet (FACTS.md 4.3, 4.5)
LTP_KEYS = {"tradable", "mode", "instrument_token", "last_price"}
QUOTE_KEYS = LTP_KEYS | {"last_traded_quantity", "average_traded_price", "volume_traded"} | {
    "total_buy_quantity", "total_sell_quantity", "ohlc", "change",
}  # fmt: skip
FULL_KEYS = QUOTE_KEYS | {"last_trade_time", "oi", "oi_day_high", "oi_day_low", "exchange_timestamp", "depth"}


def full_tick(symbol: str, token: int, price: float, second: int) -> Tick:
    """A tick with every field the full packet carries."""
    return Tick(
        symbol=symbol,
        instrument_token=token,
        last_price=price,
        last_traded_quantity=7,
        average_traded_price=price - 1.25,
        volume_traded=1_192_471,
        total_buy_quantity=256_443,
        total_sell_quantity=363_009,
        ohlc=OHLC(open=price - 5, high=price + 3, low=price - 8, close=price - 6),
        oi=10,
        oi_day_high=12,
        oi_day_low=9,
        last_trade_time=1_795_000_000 + second,
        exchange_timestamp=1_795_000_000 + second,
        depth=Depth(
            buy=tuple(DepthLevel(100 + i, price - 0.05 * (i + 1), i + 1) for i in range(5)),
            sell=tuple(DepthLevel(200 + i, price + 0.05 * (i + 1), i + 2) for i in range(5)),
        ),
    )


def as_sent(tick: Tick, mode: str) -> Tick:
    """The tick a packet of ``mode`` carries, without its receive time."""
    return KiteDecoder(INSTRUMENTS).decode_packet(encode_packet(tick, mode))


def without_time(ticks: list[Tick]) -> list[Tick]:
    return [msgspec.structs.replace(t, ts_event=0) for t in ticks]


def parse_binary(frame: bytes) -> list[dict[str, Any]]:
    packets: list[dict[str, Any]] = KiteTicker("k", "t")._parse_binary(frame)
    return packets


def client_for(sim: KiteSimulator, recording: Recording, mode: str) -> KiteTickerClient:
    return KiteTickerClient(
        ws_root=f"ws://{sim.host}:{sim.port}", api_key="sim", access_token="t", tokens=[INFY, SBIN, NIFTY],
        mode=mode, decoder=KiteDecoder(INSTRUMENTS), on_ticks=lambda ticks: None,
        on_frame=recording.on_frame, now_ns=LiveClock().now_ns, backoff_initial=0.01,
    )  # fmt: skip


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("mode", ["ltp", "quote", "full"])
async def test_a_recording_holds_what_its_mode_carries_and_reads_back_to_the_same_ticks(
    tmp_path, mode, suffix
):
    out = tmp_path / f"rec{suffix}"
    async with KiteSimulator() as sim:
        # stored before the recorder subscribes: each comes as a snapshot, after a reconnect again
        pushed = [
            sim.push_tick(full_tick("NSE:INFY", INFY, 1500.0, 1)),
            sim.push_tick(full_tick("NSE:SBIN", SBIN, 800.0, 1)),
            sim.push_tick(full_tick("NSE:NIFTY 50", NIFTY, 24_000.0, 1)),
        ]
        stop = asyncio.Event()
        with open_writer(out, mode=None, instruments=INSTRUMENTS) as writer:
            recording = Recording(writer, mode)
            client = client_for(sim, recording, mode)
            task = asyncio.ensure_future(recording.run(client, duration=None, stop=stop))
            try:
                await asyncio.wait_for(recording.written(3), GUARD)  # the mode is in force now
                live = [
                    sim.push_tick(full_tick("NSE:INFY", INFY, 1501.5, 2)),
                    sim.push_tick(full_tick("NSE:NIFTY 50", NIFTY, 24_010.0, 2)),
                ]
                await asyncio.wait_for(recording.written(5), GUARD)
                sim.disconnect_websockets()  # the resubscription's quote snapshots come again
                await asyncio.wait_for(recording.written(8), GUARD)
            finally:
                stop.set()
                await task

    latest = (live[0], pushed[1], live[1])  # each token's snapshot after the reconnect
    expected = [as_sent(t, mode) for t in (*pushed, *live, *latest)]
    by_token = sorted(without_time(expected), key=lambda t: (t.instrument_token, t.last_price))
    recorded = list(read_ticks(out, instruments=INSTRUMENTS))
    assert sorted(without_time(recorded), key=lambda t: (t.instrument_token, t.last_price)) == by_token
    assert {t.mode for t in recorded} == {mode}
    assert all(t.ts_event > 0 for t in recorded)
    assert recording.left_out == (6 if mode != "quote" else 0) and recording.unreadable == 0
    if suffix.startswith(".kite"):  # the frames themselves, as kiteconnect reads them
        packets = [p for _, frame in iter_frames(out) for p in parse_binary(frame)]
        tradable = [p for p in packets if p["tradable"]]
        assert len(packets) == 8 and {p["mode"] for p in packets} == {mode}
        assert {frozenset(p) for p in tradable} == {
            frozenset({"ltp": LTP_KEYS, "quote": QUOTE_KEYS, "full": FULL_KEYS}[mode])
        }
        if mode == "full":
            assert all(len(p["depth"]["buy"]) == 5 for p in tradable)
            stamps = {p["exchange_timestamp"] for p in packets}
            assert stamps == {dt.datetime.fromtimestamp(1_795_000_000 + s) for s in (1, 2)}


def sim_config(tmp_path: Path, sim: KiteSimulator) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"kite: {{api_key: sim, root: '{sim.url}', ws_root: 'ws://{sim.host}:{sim.port}'}}\n"
        f"market: {{instruments_file: '{REPO / 'data' / 'sample' / 'instruments.csv'}'}}\n"
    )
    return config


async def test_record_ltp_into_csv_writes_last_prices_only(tmp_path, monkeypatch, capsys):
    """What the README audit saw: `record --mode ltp` began with a quote tick (OHLC, volumes), and
    each ltp row wrote 0 for the volumes and timestamps an ltp packet does not carry."""
    monkeypatch.setenv("KITE_ACCESS_TOKEN", "secret-token-123")
    async with KiteSimulator() as sim:
        sim.push_tick(full_tick("NSE:INFY", INFY, 1500.0, 1))  # the snapshot of the subscription
        out = tmp_path / "rec.csv"
        argv = [
            "record",
            "--config",
            str(sim_config(tmp_path, sim)),
            "--out",
            str(out),
            "--tokens",
            str(INFY),
        ]
        args = build_parser().parse_args([*argv, "--mode", "ltp", "--duration", "1.5"])
        assert await _record(args) == 0

    header, *rows = (line.split(",") for line in out.read_text().splitlines())
    assert rows and {row[header.index("mode")] for row in rows} == {"ltp"}
    empty = ("last_traded_quantity", "volume_traded", "ohlc_open", "exchange_timestamp", "buy_1_qty")
    assert all(row[header.index(name)] == "" for row in rows for name in empty)
    assert [t.last_price for t in read_ticks(out)] == [1500.0] * len(rows)
    assert "(1 ltp ticks)" in capsys.readouterr().out


async def test_record_stopped_by_sigint_or_sigterm_closes_its_file_and_says_what_it_wrote(tmp_path):
    """Recording until interrupted (no --duration) ended with a KeyboardInterrupt traceback on
    Ctrl-C, and SIGTERM cut a .gz file off without its buffered tail and trailer."""
    async with KiteSimulator() as sim:
        sim.push_tick(full_tick("NSE:INFY", INFY, 1500.0, 1))
        config = sim_config(tmp_path, sim)
        for sig in (signal.SIGINT, signal.SIGTERM):
            out = tmp_path / f"rec-{sig.name}.jsonl.gz"
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "execsvc", "record", "--config", str(config), "--out", str(out),
                "--tokens", str(INFY), "--mode", "full",
                env={**os.environ, "KITE_ACCESS_TOKEN": "t"}, cwd=REPO,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                # a child of a shell without job control would start with SIGINT ignored
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )  # fmt: skip
            try:
                await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["ws_open"] == 1), 30)
                proc.send_signal(sig)
                stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            assert proc.returncode == 0, stderr.decode()[-800:]
            assert "Traceback" not in stderr.decode()
            assert stdout.decode().startswith("recorded ")
            with gzip.open(out) as file:
                file.read()  # the whole stream and its trailer (EOFError if cut off)
            await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["ws_open"] == 0), 30)
