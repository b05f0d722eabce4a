"""A paper daemon whose tick file holds a bad line: it names the line and keeps serving.

``execsvc run`` read its ``--ticks`` with ``on_bad="fail"``: one bad line in the middle of a day's
file ended the daemon with an ExceptionGroup traceback and exit 1, without the drain (no state
snapshot) and with the ticks after it never replayed.
"""

from __future__ import annotations

import asyncio

from execsvc.clock import ist_ns
from execsvc.journal.inspect import verify_file
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import Tick
from tests.integration.test_daemon import DAY, SECOND, run_daemon, write_config


async def test_a_bad_line_in_the_paper_feed_is_skipped_and_named_and_the_daemon_drains(tmp_path):
    ticks = [
        Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0 + i,
             ts_event=ist_ns(DAY, 10, 0) + i * SECOND)
        for i in range(6)
    ]  # fmt: skip
    path = tmp_path / "ticks.jsonl"
    write_ticks(path, ticks)
    lines = path.read_text().splitlines()
    lines.insert(3, '{"type":"tick","symbol":"NSE:INFY","last_price":-1.0}')
    path.write_text("\n".join(lines) + "\n")
    config = write_config(tmp_path)
    log = tmp_path / "console.log"

    proc = await run_daemon(
        "--config", str(config), "--mode", "paper", "--ticks", str(path), "--speed", "100000",
        "--strategy", "tests.integration.test_daemon:BuyOnce", "--exit-at-end", log=log,
    )  # fmt: skip
    await asyncio.wait_for(proc.communicate(), 60)

    console = log.read_text()
    assert proc.returncode == 0, console[-2000:]
    assert "Traceback" not in console
    assert f"{path}: line 4" in console and "last_price=-1.0" in console
    assert "feed ended after 6 ticks" in console  # the ticks after the bad line were replayed
    verify_file(tmp_path / "journal" / f"{DAY.isoformat()}.jsonl")
    assert (tmp_path / "state" / f"{DAY.isoformat()}.json").exists()  # drained
