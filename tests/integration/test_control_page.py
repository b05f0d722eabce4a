"""The control page in headless Chromium: rendered from /status, /positions, /results, then live via /events.

Chromium loads ``/?token=...`` with ``--dump-dom`` (the DOM after the page's scripts ran, within a
virtual-time budget) and once more with ``--screenshot``. The screenshot is written to this test's
``tmp_path`` as ``page.png`` (its path is printed; run with ``-s`` to see it).
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock
from execsvc.control import ControlServer, start_control
from execsvc.control.keys import SSE_HUB
from execsvc.control.sse import SseClient
from execsvc.metrics import ServiceMetrics
from tests.conftest import OPEN_NS, SECOND, make_config, tick

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "page-test-token"
BROWSER_TIMEOUT = 45.0  # hang guard for one Chromium run


async def chromium(profile: Path, *args: str) -> bytes:
    """Run headless Chromium with ``args``; its stdout. Killed (and awaited) if it hangs."""
    proc = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), BROWSER_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


def row(dom: str, intent_id: str) -> list[str]:
    """The cells of the results row of ``intent_id``."""
    match = re.search(rf'<tr data-intent="{re.escape(intent_id)}">(.*?)</tr>', dom, re.DOTALL)
    assert match, f"no results row for {intent_id}"
    return [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", match[1])]


@pytest.fixture
async def served(
    journal_dir: Path, clock: ReplayClock
) -> AsyncIterator[tuple[ExecutionService, ControlServer]]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install chromium to run the browser test of the control page")
    svc = ExecutionService(make_config(journal_dir, journal={"fsync": "never"}), clock=clock)
    await svc.start()
    metrics = ServiceMetrics(svc)
    server = await start_control(svc, port=0, token=TOKEN, metrics=metrics)
    try:
        yield svc, server
    finally:
        await server.stop()
        metrics.close()
        await svc.stop()


async def test_page_renders_state_and_follows_events(
    served: tuple[ExecutionService, ControlServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, server = served
    await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
    await svc.execute_intent(
        OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=10, intent_id="pg-1")
    )
    await svc.execute_intent(
        OrderIntent(symbol="NSE:TCS", strategy_code="s1", side="HOLD", qty=1, intent_id="pg-2")
    )

    # Each time the page opens its event stream, place one more intent: it can only reach the
    # page through /events, so the dumped DOM shows whether the stream works.
    hub = server.app[SSE_HUB]
    connect = hub.connect
    live: list[str] = []
    placed: list[asyncio.Task[object]] = []

    def connect_and_trade() -> SseClient:
        client = connect()
        live.append(f"pg-live-{len(live) + 1}")
        order = OrderIntent(symbol="NSE:INFY", strategy_code="s2", side="BUY", qty=3, intent_id=live[-1])
        placed.append(asyncio.ensure_future(svc.execute_intent(order)))
        return client

    monkeypatch.setattr(hub, "connect", connect_and_trade)
    url = f"{server.url}/?token={TOKEN}"

    # The dump ends on Chromium's own (virtual) clock, which on a loaded machine can run out before
    # the streamed result is painted: look up to three times; each look places a fresh intent that
    # can only arrive through the stream, so a page whose stream is broken never passes.
    for attempt in range(3):
        profile = tmp_path / f"profile-dom-{attempt}"
        dom = (await chromium(profile, "--virtual-time-budget=10000", "--dump-dom", url)).decode()
        if f'data-intent="{live[-1]}"' in dom:
            break

    assert 'id="mode">paper<' in dom
    assert 'class="badge ok"' in dom and ">trading<" in dom
    assert 'id="conn">live<' in dom
    assert row(dom, "pg-1")[2:9] == ["s1", "NSE:INFY", "BUY", "10", "10", "1500.75", "FILLED"]
    assert row(dom, "pg-2")[8:10] == ["REJECTED", "validation"]
    assert row(dom, live[-1])[2:9] == ["s2", "NSE:INFY", "BUY", "3", "3", "1500.75", "FILLED"]
    positions = re.search(r'<table id="positions">.*?</table>', dom, re.DOTALL)
    assert positions and "NSE:INFY" in positions[0] and ">1500.75<" in positions[0]
    assert TOKEN not in dom  # the token left the address bar and is nowhere in the page

    shot = tmp_path / "page.png"
    await chromium(
        tmp_path / "profile-shot",
        "--virtual-time-budget=5000",
        "--window-size=1200,900",
        f"--screenshot={shot}",
        url,
    )
    assert shot.exists() and shot.stat().st_size > 1000
    print(f"\ncontrol page screenshot: {shot}")
    await asyncio.wait_for(asyncio.gather(*placed), 10)
