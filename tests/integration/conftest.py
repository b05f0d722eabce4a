"""Fixtures shared by the integration tests: the live path's, and a paper service trading F&O."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from execsvc import ExecutionService, Tick
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config, config_from_dict
from execsvc.market.instruments import Instruments
from execsvc.sim import KiteSimulator
from tests.conftest import make_config, tick
from tests.integration.test_fno_expiry import FUT, INSTRUMENTS, MON
from tests.integration.test_live_kite import _as_dict, live_config
from tests.nats_support import NatsServer

FUT_TOKEN = 13238786  # the NIFTY future's token in that dump


@pytest.fixture
async def sim() -> AsyncIterator[KiteSimulator]:
    """A Kite simulator on an ephemeral port, with NSE:INFY at 1,500."""
    async with KiteSimulator(heartbeat_seconds=0.05) as simulator:
        simulator.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        yield simulator


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    """A real nats-server with JetStream on a free loopback port, its store under ``tmp_path``."""
    server = NatsServer(tmp_path / "nats")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def fno_instruments_csv(tmp_path: Path) -> Path:
    """An instruments dump with NIFTY futures (lot 65) and INFY, as ``test_fno_expiry`` writes it."""
    path = tmp_path / "instruments.csv"
    path.write_text(INSTRUMENTS)
    return path


@pytest.fixture
async def fno_paper(tmp_path: Path, fno_instruments_csv: Path) -> AsyncIterator[ExecutionService]:
    """A paper service on that dump (no slippage) on Monday 09:15, the NIFTY future ticked at 26,000."""
    config = make_config(
        tmp_path / "journal",
        market={"instruments_file": str(fno_instruments_csv)},
        execution={"slippage_bps": 0},
    )
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
        yield svc


@pytest.fixture
async def fno_sim(fno_instruments_csv: Path) -> AsyncIterator[KiteSimulator]:
    """A Kite simulator knowing that dump, the NIFTY future ticked at 26,000."""
    instruments = Instruments.from_csv(fno_instruments_csv)
    async with KiteSimulator(heartbeat_seconds=0.05, instruments=instruments) as simulator:
        simulator.push_tick(Tick(symbol=FUT, instrument_token=FUT_TOKEN, last_price=26_000.0))
        yield simulator


@pytest.fixture
def fno_live_config(
    tmp_path: Path, fno_sim: KiteSimulator, fno_instruments_csv: Path
) -> Callable[..., Config]:
    """Builds the config of a live service (``dry_run=True``: dry-run) on that dump against ``fno_sim``."""

    def build(dry_run: bool = False) -> Config:
        base = _as_dict(live_config(tmp_path / "journal", fno_sim))
        market = {**base["market"], "instruments_file": str(fno_instruments_csv)}
        execution = {**base["execution"], "dry_run": dry_run}
        return config_from_dict({**base, "market": market, "execution": execution})

    return build
