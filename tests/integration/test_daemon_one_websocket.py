"""The daemon on Kite's WebSocket opens one connection, the service's, for its ticks and updates.

Kite allows three WebSocket connections per api_key. A live service opens its own for its order
updates; the daemon's market data rides on it rather than on a second one. Paper on live ticks and
dry runs open it for the ticks alone. Against the simulator, which counts the connections.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import pytest

from execsvc import OrderIntent, Tick
from tests.integration.test_daemon import REPO, Console, write_config

POLL_OUT_OF_REACH = 60.0  # a fill seen within the waits below came over the WebSocket


class RestingBuy:
    """On its first tick, buys 5 at 10 below it (a LIMIT that rests); prints each result's status."""

    strategy_code = "RB"

    def __init__(self) -> None:
        self.done = False

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        if not self.done:
            self.done = True
            ctx.submit(
                OrderIntent(
                    symbol=tick.symbol, strategy_code="RB", side="BUY", qty=5, order_type="LIMIT",
                    price=tick.last_price - 10, intent_id=ctx.next_intent_id(),
                )
            )  # fmt: skip

    def on_result(self, result: Any, ctx: Any) -> None:
        print(f"resting-buy {result.status}", file=sys.stderr, flush=True)


@pytest.mark.parametrize(
    ("mode", "extra"),
    [("live", []), ("live", ["--dry-run"]), ("paper", [])],
    ids=["live", "dry-run", "paper-on-live-ticks"],
)
async def test_the_daemon_opens_one_websocket_for_its_ticks_and_order_updates(tmp_path, sim, mode, extra):
    config = write_config(
        tmp_path,
        mode=mode,
        session={"holidays_file": str(REPO / "configs" / "holidays-2026.yaml"), "enforce": False,
                 "square_off": False},
        kite={"api_key": "simkey", "root": sim.url, "ws_root": sim.ws_url.rstrip("/"),
              "poll_interval_seconds": POLL_OUT_OF_REACH},
        feed={"tokens": [408065], "mode": "full"},
        strategies=[{"spec": "tests.integration.test_daemon_one_websocket:RestingBuy", "params": {}}],
    )  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "execsvc", "run", "--config", str(config), "--mode", mode, *extra,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "KITE_ACCESS_TOKEN": "sim-token-123456"},
    )  # fmt: skip
    assert proc.stderr is not None
    console = Console(proc.stderr)
    try:
        await console.wait_for("resting-buy PLACED")  # a tick reached the strategy
        sim.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1489.0))
        await console.wait_for("resting-buy FILLED", timeout=10)
        stats = sim.stats()
        assert (stats["ws_connections"], stats["ws_open"], stats["ws_open_peak"]) == (1, 1, 1)
        assert stats["placements"] == (1 if extra == [] and mode == "live" else 0)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await console.task
    assert code == 0, "".join(console.lines[-30:])
    await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["ws_open"] == 0), 5)
    assert sim.stats()["ws_connections"] == 1
    assert "Traceback" not in "".join(console.lines)


async def test_a_strategy_that_raises_on_the_services_websocket_drains_and_exits_1(
    tmp_path, sim, capsys, monkeypatch
):
    """As on a tick file: the strategy's error ends the daemon's feed, the service drains and closes
    (its socket with it), and the daemon says why and exits 1."""
    from execsvc.cli import build_parser
    from execsvc.daemon import Daemon

    monkeypatch.setenv("KITE_ACCESS_TOKEN", "sim-token-123456")
    config = write_config(
        tmp_path,
        mode="live",
        session={"holidays_file": str(REPO / "configs" / "holidays-2026.yaml"), "enforce": False},
        kite={"api_key": "simkey", "root": sim.url, "ws_root": sim.ws_url.rstrip("/")},
        feed={"tokens": [408065]},
    )  # fmt: skip
    args = build_parser().parse_args([
        "run", "--config", str(config), "--strategy", "tests.integration.test_daemon:RaisesOnTick",
    ])  # fmt: skip
    daemon = Daemon(args)
    code = await asyncio.wait_for(daemon.run(), 30)
    assert code == 1
    assert "strategy bug" in capsys.readouterr().err
    assert daemon.svc is not None and daemon.svc._lifecycle.closed
    await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["ws_open"] == 0), 5)
    assert sim.stats()["ws_connections"] == 1
