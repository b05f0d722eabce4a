"""Fixtures shared by the live-path tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from execsvc import Tick
from execsvc.sim import KiteSimulator


@pytest.fixture
async def sim() -> AsyncIterator[KiteSimulator]:
    """A Kite simulator on an ephemeral port, with NSE:INFY at 1,500."""
    async with KiteSimulator(heartbeat_seconds=0.05) as simulator:
        simulator.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        yield simulator
