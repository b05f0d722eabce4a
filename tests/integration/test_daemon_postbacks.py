"""The live daemon takes Kite's postbacks at ``POST /kite/postback`` on its control server.

The handler existed (checksum verified, bad checksum refused and logged) but nothing served it:
a Kite app's postback URL pointed at the daemon got 404 for every order update.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import aiohttp

from execsvc import Tick
from execsvc.executors.kite.mapping import postback_checksum
from execsvc.journal.inspect import fold_file, verify_file
from execsvc.sim import KiteSimulator
from tests.integration.test_daemon import REPO, Console, write_config
from tests.nats_support import free_port

SECRET = "postback-secret-9876"
TOKEN = "control-token-abcdef0123456789"


async def test_the_live_daemon_takes_signed_postbacks_without_the_bearer_token(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with KiteSimulator(
        heartbeat_seconds=0.2, api_secret=SECRET, postback_url=f"{url}/kite/postback"
    ) as sim:
        sim.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        config = write_config(
            tmp_path,
            mode="live",
            session={"holidays_file": str(REPO / "configs" / "holidays-2026.yaml"), "enforce": False,
                     "square_off": False},
            kite={"api_key": "simkey", "root": sim.url, "ws_root": sim.ws_url.rstrip("/"),
                  "poll_interval_seconds": 5.0},
            feed={"tokens": [408065], "mode": "full"},
            strategies=[{"spec": "tests.integration.test_daemon:BuyOnce", "params": {}}],
            control={"port": port},
        )  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "KITE_ACCESS_TOKEN": "sim-token-123456",
            "KITE_API_SECRET": SECRET,
            "EXECSVC_CONTROL_TOKEN": TOKEN,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "execsvc", "run", "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=REPO, env=env,
        )  # fmt: skip
        assert proc.stderr is not None
        console = Console(proc.stderr)
        try:
            await console.wait_for("execsvc started")
            answered = lambda: sim.stats()["postbacks_sent"] + sim.stats()["postbacks_failed"] >= 1  # noqa: E731
            await asyncio.wait_for(sim.wait_until(answered), 30)
            forged = {"order_id": "1", "order_timestamp": "2026-11-20 10:00:00", "status": "COMPLETE"}
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{url}/kite/postback", json={**forged, "checksum": "0" * 64}) as resp:
                    refused = (resp.status, await resp.json())
                async with http.get(f"{url}/status") as resp:
                    status_without_token = resp.status
            proc.terminate()
            code = await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await console.task
        stats = sim.stats()
    assert code == 0, "".join(console.lines[-20:])
    assert (stats["postbacks_sent"], stats["postbacks_failed"]) == (1, 0), stats
    assert refused == (403, {"error": "checksum: does not match"})
    assert status_without_token == 401, "only the postback path goes without the token"
    assert any("postback refused: bad checksum" in line for line in console.lines)
    assert postback_checksum("1", "2026-11-20 10:00:00", SECRET) != "0" * 64
    [path] = list((tmp_path / "journal").glob("*.jsonl"))
    verify_file(path)
    fills = [json.loads(line)["ev"] for line in path.read_text().splitlines()]
    assert sum(1 for e in fills if e["type"] == "fill") == 1, "the postback and the WebSocket booked it once"
    assert [p.net_qty for p in fold_file(path).positions.values()] == [10]
    assert SECRET not in "".join(console.lines)
