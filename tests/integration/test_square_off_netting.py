"""The paper broker squares off the account's net MIS position per symbol with one order.

Zerodha sees one account: strategies long 10 and short 10 in NSE:INFY are flat there, and its auto
square-off places nothing and charges nothing; long 10 and short 4 is long 6, closed by one SELL 6
(one brokerage, STT on 6, one fee). Each strategy's position is still closed in the books, all at
the one square-off price; the charges of the broker's order fall on the positions on its side, pro
rata by quantity, and the others pay nothing. Observed before: each position was closed by a
MARKET order of its own with full charges (SELL 10 and BUY 4, or SELL 10 and BUY 10 for a flat
account), and paper P&L came out worse than the broker's contract note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.costs import RateTable, fill_charges, segment_for
from execsvc.events import Charges
from execsvc.executors.paper.auto_square_off import CROSSED, REASON
from execsvc.journal.inspect import fold_file, verify_file
from tests.conftest import DAY, OPEN_NS, SECOND, journal_records, make_config, tick
from tests.integration.test_paper_auto_square_off import DAY_FILE, NEXT_DAY, NEXT_OPEN, with_calendar

REPO = Path(__file__).resolve().parents[2]
RATES = RateTable.load(REPO / "configs" / "charges.yaml").rates_for(
    segment_for("NSE", "EQ"), "MIS", DAY, "NSE"
)
INFY = "NSE:INFY"
CUTOFF = "cut-off"
DATE_LINE = "date line"
PARTS = ("brokerage", "stt", "exchange", "sebi", "stamp", "gst", "auto_square_off", "total")


def units(rupees: float) -> int:
    return round(rupees * 10_000)


async def hold_into_the_square_off(journal_dir: Path, holdings: dict[str, int], when: str) -> None:
    """Each strategy opens its MIS position in INFY at 1500 and holds it into the broker's
    square-off: at the cut-off (15:20 with the session calendar, INFY at 1490 then) or at the date
    line (no calendar; INFY's last price 1490)."""
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        if when == CUTOFF:
            with_calendar(svc)
        await svc.on_tick(tick(INFY, 1500.0, OPEN_NS + SECOND))
        for code, qty in holdings.items():
            side = "BUY" if qty > 0 else "SELL"
            placed = await svc.execute_intent(
                OrderIntent(
                    symbol=INFY, strategy_code=code, side=side, qty=abs(qty), intent_id=f"open-{code}"
                )
            )
            assert placed.status == "FILLED"
        if when == CUTOFF:
            await svc.on_tick(tick(INFY, 1490.0, ist_ns(DAY, 15, 20)))
        else:
            await svc.on_tick(tick(INFY, 1490.0, ist_ns(DAY, 15, 29)))
            await svc.on_tick(tick(INFY, 1510.0, NEXT_OPEN))  # the date line


def square_off_of(journal_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The day's ``broker_square_off`` records and the fills of the square-off's closing orders."""
    day = journal_records(journal_dir / DAY_FILE)
    plans = [e for e in day if e["type"] == "broker_square_off"]
    fills = [e for e in day if e["type"] == "fill" and e["intent_id"].startswith("auto-sqoff")]
    return plans, fills


def entry_price(journal_dir: Path, code: str) -> float:
    day = journal_records(journal_dir / DAY_FILE)
    price: float = next(e["price"] for e in day if e["type"] == "fill" and e["intent_id"] == f"open-{code}")
    return price


def brokers_order(side: str, qty: int, price: float) -> Charges:
    """What Zerodha charges for its one auto square-off order: the cost model's, with the fee."""
    return fill_charges(RATES, side=side, price=price, qty=qty, auto_square_off=True)


@pytest.mark.parametrize("when", [CUTOFF, DATE_LINE])
async def test_opposite_positions_netting_to_flat_cost_nothing_and_each_books_its_pnl(journal_dir, when):
    await hold_into_the_square_off(journal_dir, {"s1": 10, "s2": -10}, when)

    plans, fills = square_off_of(journal_dir)
    assert [(f["strategy_code"], f["side"], f["qty"], f["price"]) for f in fills] == [
        ("s1", "SELL", 10, 1490.0),  # the broker trades nothing: the last price, no slippage
        ("s2", "BUY", 10, 1490.0),
    ]
    assert [units(f["charges"].get("total", 0.0)) for f in fills] == [0, 0]  # observed: about 77 and 80
    assert [(p["price"], p.get("side"), p.get("qty")) for p in plans] == [(1490.0, None, None)]
    state = fold_file(journal_dir / DAY_FILE)
    for code, qty in (("s1", 10), ("s2", -10)):
        position = state.position(code, INFY, "MIS")
        assert position is not None and position.net_qty == 0
        assert position.realized_gross == pytest.approx((1490.0 - entry_price(journal_dir, code)) * qty)
    results = [e for e in journal_records(journal_dir / DAY_FILE) if e["type"] == "result"]
    assert [r["message"] for r in results if r["intent_id"].startswith("auto-sqoff")] == [CROSSED, CROSSED]
    verify_file(journal_dir / DAY_FILE)


@pytest.mark.parametrize("when", [CUTOFF, DATE_LINE])
async def test_partial_netting_charges_the_one_net_order_to_the_side_that_trades(journal_dir, when):
    """Long 10 and short 4: the broker sells 6 at 1489.25 (1490 less 5 bps, down to the tick);
    both positions close there, s1 pays that order's charges, fee included, s2 nothing."""
    await hold_into_the_square_off(journal_dir, {"s1": 10, "s2": -4}, when)

    plans, fills = square_off_of(journal_dir)
    order = brokers_order("SELL", 6, 1489.25)
    assert [(f["strategy_code"], f["side"], f["qty"], f["price"]) for f in fills] == [
        ("s1", "SELL", 10, 1489.25),
        ("s2", "BUY", 4, 1489.25),
    ]
    assert Charges(**fills[0]["charges"]) == order  # observed: a SELL 10's, and the BUY 4 charged too
    assert fills[1].get("charges", {}).get("total", 0.0) == 0.0
    assert [(p["side"], p["qty"], p["price"], Charges(**p["charges"])) for p in plans] == [
        ("SELL", 6, 1489.25, order)
    ]
    state = fold_file(journal_dir / DAY_FILE)
    s1, s2 = state.position("s1", INFY, "MIS"), state.position("s2", INFY, "MIS")
    assert s1 is not None and s2 is not None and s1.net_qty == s2.net_qty == 0
    assert s1.realized_gross == pytest.approx((1489.25 - entry_price(journal_dir, "s1")) * 10)
    assert s2.realized_gross == pytest.approx((entry_price(journal_dir, "s2") - 1489.25) * 4)
    # the account's P&L is the broker's: its one order and the two entries
    entries = [e for e in journal_records(journal_dir / DAY_FILE) if e["type"] == "fill"][:2]
    charged = sum(e["charges"]["total"] for e in entries) + order.total
    assert s1.realized_net + s2.realized_net == pytest.approx(s1.realized_gross + s2.realized_gross - charged)


@pytest.mark.parametrize("when", [CUTOFF, DATE_LINE])
async def test_three_strategies_share_the_net_orders_charges_pro_rata_to_the_paisa(journal_dir, when):
    """s1 long 10, s2 long 5, s3 short 9: the broker sells 6; s1 pays two thirds of that order's
    charges, s2 one third (each part to ₹0.0001, adding up exactly), s3 nothing."""
    await hold_into_the_square_off(journal_dir, {"s1": 10, "s2": 5, "s3": -9}, when)

    _, fills = square_off_of(journal_dir)
    order = brokers_order("SELL", 6, 1489.25)
    assert [(f["strategy_code"], f["qty"], f["price"]) for f in fills] == [
        ("s1", 10, 1489.25), ("s2", 5, 1489.25), ("s3", 9, 1489.25)
    ]  # fmt: skip
    shares = [Charges(**f.get("charges", {})) for f in fills]
    for part in PARTS:
        whole = units(getattr(order, part))
        got = [units(getattr(share, part)) for share in shares]
        assert sum(got) == whole and got[2] == 0, part
        if part != "total":  # each part within ₹0.0001 of two thirds and one third; a total sums them
            assert abs(got[0] - whole * 2 / 3) < 1 and abs(got[1] - whole / 3) < 1, part
    assert units(order.auto_square_off) == units(50.0)  # the fee once, shared: 33.3334 and 16.6666


async def test_the_same_inputs_give_the_same_bytes(tmp_path):
    for run in ("a", "b"):
        await hold_into_the_square_off(tmp_path / run, {"s1": 10, "s2": 5, "s3": -9}, DATE_LINE)
    for name in (DAY_FILE, f"{NEXT_DAY.isoformat()}.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def _closes(journal_dir: Path) -> list[tuple[str, int, float, dict[str, float]]]:
    _, fills = square_off_of(journal_dir)
    return [(f["strategy_code"], f["qty"], f["price"], f.get("charges", {})) for f in fills]


def _books(journal_dir: Path) -> dict[str, tuple[int, float, float]]:
    state = fold_file(journal_dir / DAY_FILE)
    return {
        p.strategy_code: (p.net_qty, round(p.realized_gross, 6), round(p.realized_net, 6))
        for p in state.positions.values()
    }


@pytest.mark.parametrize("when", [CUTOFF, DATE_LINE])
@pytest.mark.parametrize(
    "after", ["broker_square_off", "order_accepted", "fill", "result"], ids=lambda a: f"kill-after-{a}"
)
async def test_a_kill_mid_square_off_restarts_to_the_same_books(tmp_path, when, after):
    """kill -9 inside the square-off of s1 long 10, s2 long 5, s3 short 9 (the journal keeps the
    broker's order and, of the first closing order, up to its ``after`` record), then a start at
    another price: the rest closes at the broker's order's price with the same shares, nothing is
    booked twice, and the fold holds the same positions and P&L as a run without the kill.
    At the date line the start comes after it, with no tick: the day is rolled over at the start."""
    holdings = {"s1": 10, "s2": 5, "s3": -9}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    await hold_into_the_square_off(straight, holdings, when)
    await hold_into_the_square_off(killed, holdings, when)
    day_file = killed / DAY_FILE
    lines = day_file.read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if '"type":"intent"' in line and "auto-sqoff" in line)
    if after == "broker_square_off":  # the broker's order journaled, no closing order yet
        cut = first - 1
    else:
        cut = next(i for i, line in enumerate(lines) if i > first and f'"type":"{after}"' in line)
    day_file.write_text("".join(lines[: cut + 1]))
    (killed / f"{NEXT_DAY.isoformat()}.jsonl").unlink(missing_ok=True)

    if when == CUTOFF:
        async with ExecutionService(make_config(killed), clock=ReplayClock(ist_ns(DAY, 15, 21))) as svc:
            with_calendar(svc)
            await svc.on_tick(tick(INFY, 1480.0, ist_ns(DAY, 15, 21)))
    else:
        async with ExecutionService(make_config(killed), clock=ReplayClock(NEXT_OPEN + SECOND)) as svc:
            await svc.on_tick(tick(INFY, 1480.0, NEXT_OPEN + 2 * SECOND))

    assert _closes(killed) == _closes(straight)  # observed: s2 and s3 charged as orders of their own
    assert _books(killed) == _books(straight)
    day = journal_records(day_file)
    intents = [e["intent_id"] for e in day if e["type"] == "intent"]
    assert len(intents) == len(set(intents))
    assert len([e for e in day if e["type"] == "broker_square_off"]) == 1
    verify_file(day_file)


async def test_one_strategy_alone_in_a_symbol_is_the_brokers_order_itself(journal_dir):
    """One position in a symbol: its closing order is the broker's one order, journaled as before
    (no ``broker_square_off`` record), its charges the whole order's."""
    await hold_into_the_square_off(journal_dir, {"s1": 10}, CUTOFF)

    plans, fills = square_off_of(journal_dir)
    assert plans == []
    assert [Charges(**f["charges"]) for f in fills] == [brokers_order("SELL", 10, 1489.25)]
    day = journal_records(journal_dir / DAY_FILE)
    assert [e["message"] for e in day if e["type"] == "result" and e["intent_id"] != "open-s1"] == [REASON]
