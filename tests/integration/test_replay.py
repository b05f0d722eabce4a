"""Replays of recorded ticks: determinism, a stable sample day, bad input, gaps and late ticks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execsvc.cli import main
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import Tick
from tests.conftest import OPEN_NS, SECOND

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
CONFIG = REPO / "configs" / "dev.yaml"
MA = "execsvc.strategies.samples:MovingAverageCross"
MR = "execsvc.strategies.samples:MeanReversion"


def replay(tmp: Path, ticks: list[str], *strategies: str, extra: list[str] | None = None) -> tuple[int, Path]:
    out = tmp
    out.mkdir(parents=True, exist_ok=True)
    args = ["--log-level", "ERROR", "replay", "--config", str(CONFIG), "--ticks", *ticks]
    for spec in strategies or (MA,):
        args += ["--strategy", spec]
    args += [
        "--journal-dir",
        str(out / "journal"),
        "--report",
        str(out / "report.json"),
        "--html",
        str(out / "r.html"),
    ]
    return main(args + (extra or [])), out


def test_two_replays_write_byte_identical_journals_and_reports(tmp_path):
    ticks = [str(SAMPLE / "ticks.jsonl.gz")]
    code_a, a = replay(tmp_path / "a", ticks, MA, MR)
    code_b, b = replay(tmp_path / "b", ticks, MA, MR)
    assert code_a == code_b == 0
    journal_a = sorted((a / "journal").glob("*.jsonl"))
    assert journal_a and [p.read_bytes() for p in journal_a] == [
        p.read_bytes() for p in sorted((b / "journal").glob("*.jsonl"))
    ]
    assert (a / "report.json").read_bytes() == (b / "report.json").read_bytes()
    assert (a / "r.html").read_bytes() == (b / "r.html").read_bytes()


def test_the_three_file_formats_replay_to_the_same_journal(tmp_path):
    journals = []
    for name in ("ticks.jsonl.gz", "ticks.csv.gz", "ticks.kite.gz"):
        code, out = replay(tmp_path / name, [str(SAMPLE / name)], MA)
        assert code == 0
        journals.append((out / "journal" / "2026-11-20.jsonl").read_bytes())
    assert journals[0] == journals[1] == journals[2]


def test_the_sample_day_replays_to_a_stable_summary(tmp_path, capsys):
    code, out = replay(tmp_path, [str(SAMPLE / "ticks.jsonl.gz")], MA, MR)
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    summary = {
        k: report[k] for k in ("ticks", "intents", "orders", "fills", "breaker_trips", "rejects_by_reason")
    }
    assert summary == {
        "ticks": 30286,
        "intents": 20,  # two of them the broker's auto square-off at 15:20 (MRV's HDFCBANK and SBIN)
        "orders": 18,
        "fills": 16,
        "breaker_trips": 1,
        "rejects_by_reason": {"breaker:max_loss_streak": 2},
    }
    assert report["net_pnl"] == pytest.approx(report["realized_pnl_gross"] - report["charges"], abs=0.01)
    assert (report["realized_pnl_gross"], report["charges"]) == (-261.0, 251.69)
    printed = capsys.readouterr().out
    assert "ticks/s" in printed and "net P&L" in printed
    html = (out / "r.html").read_text()
    assert "<svg" in html and "http" not in html.replace("http-equiv", "")


def _write(path: Path, ticks: list[Tick]) -> str:
    write_ticks(path, ticks)
    return str(path)


def test_a_bad_tick_fails_with_its_position_or_is_skipped(tmp_path, capsys):
    good = [Tick(symbol="NSE:INFY", last_price=1500.0 + i, ts_event=OPEN_NS + i * SECOND) for i in range(5)]
    path = tmp_path / "bad.jsonl"
    _write(path, good)
    lines = path.read_text().splitlines()
    lines.insert(2, '{"symbol": "NSE:INFY", "last_price": "not a price"}')
    path.write_text("\n".join(lines) + "\n")

    code, _ = replay(tmp_path / "fail", [str(path)])
    assert code == 2
    assert f"{path}: line 3" in capsys.readouterr().err

    code, out = replay(tmp_path / "skip", [str(path)], extra=["--on-bad-tick", "skip"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["ticks"], report["skipped_ticks"]) == (5, 1)


class BuyOnFirstTick:
    """Buys once at the first tick; used to see which clock the journal carries."""

    strategy_code = "T"

    def __init__(self) -> None:
        self.sent = False

    def on_tick(self, tick, ctx):
        if not self.sent:
            self.sent = True
            from execsvc import OrderIntent

            ctx.submit(
                OrderIntent(
                    symbol=tick.symbol,
                    strategy_code="T",
                    side="BUY",
                    qty=1,
                    order_type="LIMIT",
                    price=1490.0,
                    intent_id="t1",
                )
            )

    def on_result(self, result, ctx):
        pass


def test_gaps_are_skipped_and_late_ticks_apply_at_the_current_clock(tmp_path):
    ticks = [
        Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=OPEN_NS),
        Tick(symbol="NSE:INFY", last_price=1499.0, ts_event=OPEN_NS + 3600 * SECOND),  # a one-hour gap
        Tick(
            symbol="NSE:INFY", last_price=1489.0, ts_event=OPEN_NS + 10 * SECOND
        ),  # late: before the gap's end
        Tick(symbol="NSE:INFY", last_price=1495.0, ts_event=OPEN_NS + 3601 * SECOND),
    ]
    path = _write(tmp_path / "gap.jsonl", ticks)
    code, out = replay(tmp_path / "run", [path], "tests.integration.test_replay:BuyOnFirstTick")
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["out_of_order_ticks"] == 1
    records = [json.loads(line) for line in (out / "journal" / "2026-11-20.jsonl").read_text().splitlines()]
    stamps = [r["ts"] for r in records]
    assert stamps == sorted(stamps)  # the clock never went back
    fill = next(r["ev"] for r in records if r["ev"]["type"] == "fill")
    # the late tick crossed the resting BUY at 1490 and filled it, stamped at the clock's time (after the gap)
    assert (fill["price"], fill["ts_event"]) == (1490.0, OPEN_NS + 3600 * SECOND)


class RoundTripOnFirstDay:
    """Buys 100 on the first tick and sells them on the third: a profit on day one, then nothing."""

    strategy_code = "RT"

    def __init__(self) -> None:
        self.ticks = 0

    def on_tick(self, tick, ctx):
        from execsvc import OrderIntent

        self.ticks += 1
        if self.ticks in (1, 3):
            side = "BUY" if self.ticks == 1 else "SELL"
            ctx.submit(OrderIntent(symbol=tick.symbol, strategy_code="RT", side=side, qty=100))


def test_a_multi_day_replay_carries_earlier_days_pnl_in_the_equity_curve(tmp_path):
    day_before = OPEN_NS - 86_400 * SECOND
    ticks = [
        Tick(symbol="NSE:INFY", last_price=price, ts_event=start + i * 60 * SECOND)
        for start, prices in ((day_before, (1500.0, 1550.0, 1600.0, 1600.0)), (OPEN_NS, (1600.0, 1600.0)))
        for i, price in enumerate(prices)
    ]
    path = _write(tmp_path / "two-days.jsonl", ticks)

    code, out = replay(tmp_path / "run", [path], "tests.integration.test_replay:RoundTripOnFirstDay")

    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["journal_files"] == ["2026-11-19.jsonl", "2026-11-20.jsonl"]
    assert report["net_pnl"] > 9_000  # bought about 1500, sold about 1600, less charges
    curve = [value for _, value in report["equity_curve"]]
    # the second day starts from the first day's P&L instead of falling back to zero ...
    assert curve[-2:] == [report["net_pnl"]] * 2
    # ... so the only drawdown is the entry's slippage and charges at the very start
    assert curve[0] < 0
    assert report["max_drawdown"] == -curve[0]


def test_replay_refuses_a_journal_dir_that_holds_files(tmp_path, capsys):
    replay(tmp_path, [str(SAMPLE / "ticks.jsonl.gz")])
    code, _ = replay(tmp_path, [str(SAMPLE / "ticks.jsonl.gz")])
    assert code == 2
    assert "--overwrite" in capsys.readouterr().err
