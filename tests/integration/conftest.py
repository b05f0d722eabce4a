"""Fixtures shared by the live-path tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from execsvc import Tick
from execsvc.sim import KiteSimulator
from tests.nats_support import NatsServer


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
