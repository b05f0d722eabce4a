"""The printed and HTML summaries show each strategy's gross P&L and charges (not its net alone),
and the HTML fills table each fill's multiplier: ``GOLDM BUY 3 @ 130,200`` moves 39 lakh rupees,
not 3.9 lakh, and a trader checking a fill's charges against its value needs to see that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from execsvc.report import summary_table, write_html


def report() -> dict[str, Any]:
    fill = {"ts": 1, "order_id": "P1", "strategy": "mcx", "symbol": "MCX:GOLDM27FEBFUT", "side": "BUY",
            "qty": 3, "price": 130200.0, "charges": 203.1198, "multiplier": 10.0}  # fmt: skip
    nse = {**fill, "order_id": "P2", "symbol": "NSE:INFY", "price": 1500.0, "charges": 1.5}
    del nse["multiplier"]  # omitted when 1, as in build_report
    strategy = {"orders": 1, "fills": 1, "closing_orders": 0, "wins": 0, "losses": 0,
                "realized_pnl_gross": 12000.0, "charges": 720.43, "net_pnl": 11279.57}  # fmt: skip
    return {
        "ticks": 2, "intents": 2, "orders": 2, "fills": 2, "rejects_by_reason": {}, "breaker_trips": 0,
        "realized_pnl_gross": 12000.0, "charges": 720.43, "net_pnl": 11279.57, "max_drawdown": 0.0,
        "positions_left": [], "by_strategy": {"mcx": strategy}, "fill_list": [fill, nse],
        "inputs": {}, "equity_curve": [],
    }  # fmt: skip


def test_the_summary_shows_each_strategys_gross_and_charges() -> None:
    lines = summary_table(report()).splitlines()
    at = lines.index(next(line for line in lines if line.startswith("strategy mcx net P&L")))
    assert lines[at + 1].split() == ["gross", "P&L,", "charges", "12,000.00,", "720.43"]


def test_the_html_fills_show_the_multiplier(tmp_path: Path) -> None:
    write_html(report(), tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "<th>multiplier</th>" in page
    assert "<td>130200.00</td><td>10</td><td>203.12</td>" in page
    assert "<td>1500.00</td><td>1</td><td>1.50</td>" in page
