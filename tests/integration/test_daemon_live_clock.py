"""A live daemon's own timers run on its clock: the 15:15 session square-off and the stop after the
day's last close come when the clock says so, not after that long on ``asyncio.sleep``.

They used to sleep on real time (the monotonic clock, which a suspended machine stops and an NTP
step does not move), so no test could drive them with a clock. Here a paper daemon on the Kite
simulator's live ticks runs in-process on a clock that jumps when told (``JumpingClock``): nothing
sleeps for real.
"""

from __future__ import annotations

import asyncio
from typing import Any

from execsvc import OrderIntent, Tick
from execsvc.cli import build_parser
from execsvc.clock import ist_ns
from execsvc.daemon import Daemon
from execsvc.sim import KiteSimulator
from tests.conftest import DAY, journal_records
from tests.integration.test_daemon import write_config
from tests.jumping_clock import JumpingClock

TOKEN = "sim-token-123456"


class BuysMisOnce:
    """Buys 10 MIS on its first tick; notes its results."""

    strategy_code = "B1"

    def __init__(self) -> None:
        self.done = False
        self.results: list[Any] = []
        self.changed = asyncio.Event()

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        if not self.done:
            self.done = True
            buy = OrderIntent(symbol=tick.symbol, strategy_code="B1", side="BUY", qty=10, intent_id="b1")
            ctx.submit(buy)

    def on_result(self, result: Any, ctx: Any) -> None:
        self.results.append(result)
        self.changed.set()

    async def filled(self, prefix: str) -> Any:
        """The FILLED result of an intent whose id begins with ``prefix``, once it comes."""
        while True:
            for result in self.results:
                if result.intent_id.startswith(prefix) and result.status == "FILLED":
                    return result
            self.changed.clear()
            await self.changed.wait()


async def test_a_live_daemon_squares_off_at_1515_and_stops_after_the_close_on_its_clock(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KITE_ACCESS_TOKEN", TOKEN)
    strategy = BuysMisOnce()
    clock = JumpingClock(ist_ns(DAY, 10, 0))  # a Friday: every exchange trades
    async with KiteSimulator(heartbeat_seconds=0.05) as sim:
        sim.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        config = write_config(
            tmp_path,
            mode="paper",
            kite={"api_key": "simkey", "root": sim.url, "ws_root": sim.ws_url.rstrip("/")},
            feed={"tokens": [408065], "mode": "full"},
            daemon={"logs_dir": str(tmp_path / "logs"), "state_dir": str(tmp_path / "state"),
                    "after_close_seconds": 300},
        )  # fmt: skip

        class WithTheStrategy(Daemon):
            def _strategies(self) -> list[Any]:
                return [strategy]

        daemon = WithTheStrategy(build_parser().parse_args(["run", "--config", str(config)]), clock=clock)
        run = asyncio.create_task(daemon.run())
        try:
            bought = await asyncio.wait_for(strategy.filled("b1"), 30)
            await clock.asleep_until(ist_ns(DAY, 15, 15))  # the NSE group's session square-off

            clock.advance_to(ist_ns(DAY, 15, 15))
            closed = await asyncio.wait_for(strategy.filled("sqoff-"), 30)

            clock.advance_to(ist_ns(DAY, 23, 59, 59))  # MCX closed at 23:55; five minutes is midnight
            assert await asyncio.wait_for(run, 30) == 0  # stopped by itself, drained
        finally:
            if not run.done():
                daemon.stop_requested.set()
                await asyncio.wait_for(run, 30)

    assert (bought.side, closed.side, closed.filled_qty) == ("BUY", "SELL", 10)
    assert closed.ts_event == ist_ns(DAY, 15, 15)
    events = journal_records(tmp_path / "journal" / f"{DAY.isoformat()}.jsonl")
    [request] = [e for e in events if e["type"] == "square_off"]
    assert (request["by"], request["ts_event"]) == ("session", ist_ns(DAY, 15, 15))
    assert not [e for e in events if e.get("intent_id", "").startswith("auto-sqoff-")]  # not the broker's
