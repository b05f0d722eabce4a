"""The bundled sample day, replayed with both sample strategies (``make replay``), audited: every
order's charges, every position and the report's per-strategy figures agree with the independent
model (``tests/pnl_model.py``), including the two MIS positions the simulated broker squares off
at 15:20 with its ₹50 + GST an order."""

from __future__ import annotations

import json
from pathlib import Path

from execsvc.cli import main
from tests import pnl_audit as audit

REPO = Path(__file__).resolve().parents[2]


def test_the_sample_day_replay_agrees_with_the_model(tmp_path: Path) -> None:
    code = main(
        ["--log-level", "ERROR", "replay", "--config", str(REPO / "configs" / "dev.yaml"),
         "--ticks", str(REPO / "data" / "sample" / "ticks.jsonl.gz"),
         "--strategy", "execsvc.strategies.samples:MovingAverageCross",
         "--strategy", "execsvc.strategies.samples:MeanReversion",
         "--journal-dir", str(tmp_path / "journal"), "--report", str(tmp_path / "report.json")]
    )  # fmt: skip
    assert code == 0

    days = audit.check_days(sorted((tmp_path / "journal").glob("*.jsonl")))
    report = json.loads((tmp_path / "report.json").read_text())
    audit.check_report(report, days)
    # what was audited: both strategies traded, and the broker's square-off is among it
    assert sorted(report["by_strategy"]) == ["MAX", "MRV"]
    assert sorted(days[-1].square_offs) == ["NSE:HDFCBANK", "NSE:SBIN"]
    assert [float(s["auto_square_off"]) for s in days[-1].square_offs.values()] == [50.0, 50.0]
