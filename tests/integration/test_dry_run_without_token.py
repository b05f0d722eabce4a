"""A dry run started with no Kite access token: it starts (it makes no broker call, and a simulator
takes any token), its WebSocket offers the placeholder ``dry-run``; a Kite that refuses it gets one
ERROR saying to run ``execsvc login``, no ticks flow, and the token file is re-read until a token
comes, with which the ticks start. The README's dry-run paragraph says exactly this."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from execsvc import Tick
from execsvc.sim import KiteSimulator
from tests.integration.test_daemon import REPO, Console, write_config

RELOAD_SECONDS = 0.2


async def test_a_dry_run_without_a_token_starts_and_takes_ticks_once_a_login_writes_one(tmp_path):
    token_file = tmp_path / "kite_access_token"
    async with KiteSimulator(heartbeat_seconds=0.05, require_access_token="real-token") as sim:
        sim.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        config = write_config(
            tmp_path,
            mode="live",
            execution={"dry_run": True},
            session={"holidays_file": str(REPO / "configs" / "holidays-2026.yaml"), "enforce": False,
                     "square_off": False},
            kite={"api_key": "simkey", "root": sim.url, "ws_root": sim.ws_url.rstrip("/"),
                  "access_token_file": str(token_file), "poll_interval_seconds": RELOAD_SECONDS},
            feed={"tokens": [408065], "mode": "full"},
            strategies=[{"spec": "tests.integration.test_daemon_one_websocket:RestingBuy", "params": {}}],
        )  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "KITE_ACCESS_TOKEN"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "execsvc", "run", "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=REPO,
            env={**env, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert proc.stderr is not None
        console = Console(proc.stderr)
        try:
            refused = await console.wait_for("run `execsvc login`")
            assert "ERROR" in refused and "HTTP 403" in refused and "re-read every 0.2 s" in refused
            assert not any("resting-buy" in line for line in console.lines)  # no tick came
            token_file.write_text("real-token\n")
            token_file.chmod(0o600)
            await console.wait_for("a new Kite access token in the token file")
            await console.wait_for("resting-buy PLACED")  # a tick reached the strategy
            assert sim.stats()["placements"] == 0  # a dry run: nothing reached the broker
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await console.task
    assert code == 0, "".join(console.lines[-30:])
