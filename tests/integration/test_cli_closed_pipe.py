"""A command whose reader has gone (``execsvc state --json | head``) ends quietly with exit 1:
before, the lost pipe surfaced as a BrokenPipeError traceback."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock
from tests.conftest import OPEN_NS, SECOND, make_config, tick

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [["state", "--json"], ["journal", "verify"]])
async def test_a_closed_stdout_is_not_a_traceback(journal_dir: Path, command: list[str]):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1))
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: as `| head` once it has its lines
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "execsvc", *command, "--dir", str(journal_dir),
            stdout=write_end, stderr=asyncio.subprocess.PIPE, cwd=REPO,
        )  # fmt: skip
    finally:
        os.close(write_end)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()[-2000:]
    assert proc.returncode == 1


@pytest.mark.parametrize("command", [["state", "--json"], ["journal", "verify"]])
async def test_a_closed_stdout_is_no_error(journal_dir: Path, command: list[str]):
    """Started with no stdout at all (``>&-``: Python's ``sys.stdout`` is None), a command prints
    nothing and ends as it would have: the flush that notices a reader that went away must not
    fail on the stdout that is not there."""
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "execsvc", *command, "--dir", str(journal_dir),
        stderr=asyncio.subprocess.PIPE, cwd=REPO, preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert b"Traceback" not in err, err.decode()[-2000:]
    assert proc.returncode == 0
