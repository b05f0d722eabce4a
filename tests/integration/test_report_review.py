"""Review of what a trader reads to judge a strategy and a day: the replay report, ``execsvc state``
and the control API's views. Each test computes its figures by hand from the journal's fills."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from execsvc import ExecutionService, OrderIntent
from execsvc.cli import main
from execsvc.clock import ReplayClock
from execsvc.control import start_control
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import Tick
from execsvc.metrics import ServiceMetrics
from tests.conftest import OPEN_NS, SECOND, make_config, tick

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "dev.yaml"


class BuysAtTheOpen:
    """Buys 100 MIS at the first tick and holds them."""

    strategy_code = "B"

    def __init__(self) -> None:
        self.sent = False

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        if not self.sent:
            self.sent = True
            ctx.submit(OrderIntent(symbol=tick.symbol, strategy_code="B", side="BUY", qty=100))


def _replay(tmp_path: Path, ticks: list[Tick], strategy: str) -> dict[str, Any]:
    path = tmp_path / "ticks.jsonl"
    write_ticks(path, ticks)
    out = tmp_path / "run"
    out.mkdir()
    args = ["--log-level", "ERROR", "replay", "--config", str(CONFIG), "--ticks", str(path)]
    args += ["--strategy", f"{__name__}:{strategy}", "--journal-dir", str(out / "journal")]
    args += ["--report", str(out / "report.json")]
    assert main(args) == 0
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    return report


def test_the_equity_curve_ends_at_the_last_tick_and_its_drawdown_counts_the_last_minute(tmp_path):
    """The curve is sampled once a minute (and on fills): a fall in the data's last minute never
    reached it, so the curve stopped short of the replay's end and max_drawdown left the fall out."""
    crash = OPEN_NS + 30 * SECOND  # the same minute as the buy at the open
    ticks = [Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=OPEN_NS)]
    ticks.append(Tick(symbol="NSE:INFY", last_price=1400.0, ts_event=crash))

    report = _replay(tmp_path, ticks, "BuysAtTheOpen")

    (fill,) = report["fill_list"]
    final = round(-fill["charges"] + (1400.0 - fill["price"]) * 100, 2)  # -10,108.54
    assert report["equity_curve"][-1] == [crash, final]
    # observed: 108.54, the entry's slippage and charges, the only fall the minute's samples saw
    assert report["max_drawdown"] == -final


async def test_the_positions_view_has_no_unrealized_figure_for_an_open_position_it_cannot_price(journal_dir):
    """After a restart, before the first tick, an open position has no last price: its unrealized
    P&L is unknown, not zero (the live page showed 0.00 beside the open 10)."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=10))

    svc = ExecutionService(config, clock=ReplayClock(OPEN_NS + 60 * SECOND))  # a restart: no tick yet
    await svc.start()
    metrics = ServiceMetrics(svc)
    server = await start_control(svc, port=0, token="t0ken", metrics=metrics)
    try:
        auth = aiohttp.ClientSession(headers={"Authorization": "Bearer t0ken"})
        async with auth as http, http.get(server.url + "/positions") as resp:
            rows = await resp.json()
    finally:
        await server.stop()
        metrics.close()
        await svc.stop()

    assert [(p["symbol"], p["net_qty"], p["last_price"]) for p in rows] == [("NSE:INFY", 10, None)]
    assert rows[0]["unrealized"] is None  # observed: 0.0


async def test_state_names_the_days_mode_so_a_dry_run_day_does_not_read_as_a_live_one(journal_dir, capsys):
    """Live and dry-run days share a journal directory (``configs/live.yaml``), and ``execsvc state``
    shows the latest day: a dry-run day's simulated positions printed exactly as a live day's."""
    config = make_config(journal_dir, mode="live", execution={"dry_run": True})
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=10))
    capsys.readouterr()

    assert main(["state", "--dir", str(journal_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert main(["state", "--dir", str(journal_dir)]) == 0
    first_line = capsys.readouterr().out.splitlines()[0]

    assert [(p["symbol"], p["net_qty"]) for p in summary["positions"]] == [("NSE:INFY", 10)]
    assert summary.get("mode") == "dry-run"  # observed: no mode at all
    assert first_line.startswith("day 2026-11-20 dry-run (")


def _samples(metrics: ServiceMetrics) -> dict[str, float]:
    """The unlabelled samples of the metrics' Prometheus text."""
    lines = [line for line in metrics.registry.render().splitlines() if not line.startswith("#")]
    return {
        name: float(value) for name, _, value in (line.partition(" ") for line in lines) if "{" not in name
    }


async def test_metrics_count_a_fill_and_its_charges_once_when_its_result_is_published_again(journal_dir):
    """A repeated intent and a cancel of a finished order are answered with the order's result,
    published again on the bus (consumers must be idempotent): the metrics counted its filled
    quantity and charges a second time."""
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        metrics = ServiceMetrics(svc)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        buy = OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=10, intent_id="m1")
        first = await svc.execute_intent(buy)
        again = await svc.execute_intent(buy)
        refused = await svc.cancel_order(first.order_id or "")
        await svc.settle()
        await svc.bus.drain()
        figures = _samples(metrics)
        metrics.close()

    assert (first.status, again.status, refused.status) == ("FILLED", "FILLED", "FILLED")
    # observed: 20 and 12.613 (twice the order's 10 and 6.3065)
    assert figures["execsvc_filled_qty_total"] == 10
    assert figures["execsvc_charges_rupees_total"] == first.charges
    assert figures["execsvc_fills_total"] == 1
