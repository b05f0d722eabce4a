"""A paced replay (``--speed N``) waits out a gap in the data for at most ``max_wait_s`` of wall time,
as the README says, and then goes on at speed. Before, the cap applied to each sleep rather than to
the gap: every tick after a long gap slept the cap again until the schedule caught up, so a
multi-day tick file at ``--speed 50`` crawled at a tick a second for 20 minutes after each night."""

from __future__ import annotations

import time
from pathlib import Path

from execsvc import ExecutionService, Tick
from execsvc.clock import ReplayClock, ist_ns
from execsvc.market.replay import Replayer
from tests.conftest import DAY, SECOND, make_config

MILLISECOND = SECOND // 1000


async def test_a_long_gap_costs_one_capped_wait_not_one_per_tick(journal_dir: Path):
    start = ist_ns(DAY, 10, 0)
    after_gap = start + 1000 * SECOND  # 1000 s of data with no tick: at speed 1, 1000 s due
    times = [start] + [after_gap + i * MILLISECOND for i in range(40)]
    ticks = [Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=ts) for ts in times]
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(start)) as svc:
        replayer = Replayer(svc, [], speed=1.0, max_wait_s=0.05)
        began = time.perf_counter()
        stats = await replayer.run(ticks)
        wall = time.perf_counter() - began
    assert stats.ticks == 41
    # one capped wait (0.05 s) and 39 ms of data at real time; before the fix 40 waits of 0.05 s (2 s)
    assert wall < 1.0, f"the replay took {wall:.2f} s of wall time"
