"""Shared fixtures: a config on a temporary journal directory, a replay clock, tick builders."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import LOSS_COUNT_AND_RATE_BREAKERS, Config, config_from_dict
from execsvc.events import OrderIntent
from execsvc.market.ticks import Depth, DepthLevel, Tick

# ``make test`` (and CI) draws the same examples on every run: a property test that passes today
# passes on a clean machine tomorrow, so a landing never hangs on what the dice found. Exploring
# for new failures is ``make fuzz``'s job: fresh random examples each run, remembered in
# ``.hypothesis/`` when one fails so it replays first next time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DAY = dt.date(2026, 11, 20)
OPEN_NS = ist_ns(DAY, 9, 15)
SECOND = 1_000_000_000


BREAKERS_OFF: dict[str, Any] = dict.fromkeys(LOSS_COUNT_AND_RATE_BREAKERS)
"""Every loss, count and rate breaker off: what ``make_config`` starts from."""


def make_config(journal_dir: Path, **sections: Any) -> Config:
    """A config on ``journal_dir`` with breakers relaxed unless a test sets them."""
    data: dict[str, Any] = {
        "journal": {"dir": str(journal_dir), "fsync": "batch"},
        "market": {"instruments_file": None},
        "execution": {"circuit_breakers": dict(BREAKERS_OFF)},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            merged = dict(data[key])
            for k, v in value.items():
                if isinstance(v, dict) and isinstance(merged.get(k), dict):
                    merged[k] = {**merged[k], **v}
                else:
                    merged[k] = v
            data[key] = merged
        else:
            data[key] = value
    return config_from_dict(data)


def tick(
    symbol: str,
    price: float,
    ts: int,
    *,
    bid: float | None = None,
    ask: float | None = None,
    depth: Depth | None = None,
) -> Tick:
    """A tick; ``bid``/``ask`` give a one-level quote of 1000 each."""
    if depth is None and bid is not None and ask is not None:
        depth = Depth(buy=(DepthLevel(1000, bid, 5),), sell=(DepthLevel(1000, ask, 5),))
    return Tick(symbol=symbol, last_price=price, ts_event=ts, depth=depth)


def amo(intent_id: str, side: str = "BUY", qty: int = 5, **kw: Any) -> OrderIntent:
    """An after-market CNC order for NSE:INFY of strategy ``s1``."""
    return OrderIntent(
        symbol="NSE:INFY", strategy_code="s1", side=side, qty=qty, variety="amo", product="CNC",
        intent_id=intent_id, **kw,
    )  # fmt: skip


def cnc_sale_qty(state: Any, symbol: str, qty: int) -> int:
    """A random session's CNC SELL quantity: cut to the stock the account holds free (the simulated
    broker, as Zerodha, sells delivery stock only out of holdings), or ``qty`` as drawn when it
    holds none, so that refusal is exercised too. ``state`` is the service's ``ServiceState``."""
    from execsvc.executors.paper.holdings import cnc_holdings

    held, reserved = cnc_holdings(symbol, state.positions.values(), state.working_orders())
    return min(qty, held - reserved) if held > reserved else qty


def journal_records(path: Path) -> list[dict[str, Any]]:
    """The events of a journal file, as JSON objects."""
    return [json.loads(line)["ev"] for line in path.read_text().splitlines()]


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    return tmp_path / "journal"


@pytest.fixture
def clock() -> ReplayClock:
    return ReplayClock(OPEN_NS)


@pytest.fixture(autouse=True)
async def _no_task_outlives_its_test() -> AsyncIterator[None]:
    # async, so that its teardown runs on the test's loop: a plain fixture's teardown runs with no
    # loop running under pytest-asyncio 1.x, and a check written that way never checked anything
    yield
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftovers, f"tasks outlived the test: {leftovers}"
