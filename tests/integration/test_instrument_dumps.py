"""Kite's instruments dump as execsvc writes it (the sample data) and as the simulator serves it:
both in the dump's columns, and both read back by the strict loader as the instruments they were."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import aiohttp

from execsvc.clock import ReplayClock
from execsvc.market.instruments import DUMP_COLUMNS, Instruments
from execsvc.market.ticks import Tick
from execsvc.sim import KiteSimulator
from tests.conftest import OPEN_NS

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "instruments.csv"
KITE_HEADERS = {"Authorization": "token k:t", "X-Kite-Version": "3"}


def test_writing_the_sample_dump_back_reproduces_it_byte_for_byte(tmp_path: Path) -> None:
    written = tmp_path / "instruments.csv"

    Instruments.from_csv(SAMPLE).write_csv(written)

    assert written.read_bytes() == SAMPLE.read_bytes()


async def test_the_simulators_dump_carries_last_prices_and_reads_back(tmp_path: Path) -> None:
    sample = Instruments.from_csv(SAMPLE)
    async with KiteSimulator(clock=ReplayClock(OPEN_NS), instruments=sample) as sim:
        sim.push_tick(Tick(symbol="NSE:INFY", last_price=1512.5, ts_event=OPEN_NS))
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{sim.url}/instruments/NSE", headers=KITE_HEADERS) as resp,
        ):
            assert resp.status == 200
            text = await resp.text()
    served = tmp_path / "served.csv"
    served.write_text(text)

    rows = list(csv.reader(io.StringIO(text)))
    prices = {row[2]: row[4] for row in rows[1:]}
    assert tuple(rows[0]) == DUMP_COLUMNS
    assert prices["INFY"] == "1512.5"
    assert {price for symbol, price in prices.items() if symbol != "INFY"} == {"0.0"}
    assert sorted(i.key for i in Instruments.from_csv(served)) == sorted(
        i.key for i in sample if i.exchange == "NSE"
    )
