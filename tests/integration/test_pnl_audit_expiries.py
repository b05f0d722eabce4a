"""The independent P&L model audits the expiry settlements it used to be blind to.

``tests/pnl_model.py`` read only monthly NFO option symbols, sliced an exercise's exit by NIFTY's
freeze quantity alone and took the exercise STT rate of the day journaled. Here contracts held to
expiry on paper are settled by execsvc and held to the model (``check_days``), with and without the
instruments dump the service ran with (the model reads weekly and BFO symbols by itself):

- a weekly NIFTY put (``NIFTY26D2226000PE``, expiring Tuesday 22 Dec 2026) and call;
- a weekly BFO SENSEX call and a BSE stock (RELIANCE) call, expiring Thursday 24 Dec 2026;
- a BANKNIFTY call held above its freeze quantity (630 against 600): its exercise exits in two
  orders, ₹20 each.

Each audit can fail: a journaled settlement figure corrupted by one rupee (the file re-chained, as
a careful hand edit would be) is caught.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from tests.conftest import journal_records, make_config, tick
from tests.integration.test_journal_hostile import chain
from tests.pnl_audit import check_days
from tests.pnl_model import Day

INSTRUMENTS = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE
260105,1016,NIFTY BANK,NIFTY BANK,0,,0,0,0,EQ,INDICES,NSE
265,1,SENSEX,SENSEX,0,,0,0,0,EQ,INDICES,BSE
738561,2885,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.05,1,EQ,BSE,BSE
10700034,41797,NIFTY26D2226000PE,NIFTY,0,2026-12-22,26000,0.05,65,PE,NFO-OPT,NFO
10700290,41798,NIFTY26D2225800CE,NIFTY,0,2026-12-22,25800,0.05,65,CE,NFO-OPT,NFO
10700546,41799,BANKNIFTY26DEC60000CE,BANKNIFTY,0,2026-12-29,60000,0.05,30,CE,NFO-OPT,NFO
287506181,1123071,SENSEX26D2485000CE,SENSEX,0,2026-12-24,85000,0.05,20,CE,BFO-OPT,BFO
287506437,1123072,RELIANCE26DEC1400CE,RELIANCE,0,2026-12-24,1400,0.05,500,CE,BFO-OPT,BFO
"""
WEEKLY_PUT, WEEKLY_CALL = "NFO:NIFTY26D2226000PE", "NFO:NIFTY26D2225800CE"
BANKNIFTY_CALL, SENSEX_CALL, RELIANCE_CALL = (
    "NFO:BANKNIFTY26DEC60000CE",
    "BFO:SENSEX26D2485000CE",
    "BFO:RELIANCE26DEC1400CE",
)


@dataclass(frozen=True)
class Expiry:
    """Contracts bought the day before ``expiry`` at their ``opens``; ``closes`` are the expiry
    day's last ticks (the underlyings' too); the first tick of ``after`` meets the date line."""

    before: dt.date
    expiry: dt.date
    after: dt.date
    buys: tuple[tuple[str, str, str, int], ...]  # (strategy, symbol, side, qty)
    opens: dict[str, float]
    closes: dict[str, float]

    @property
    def files(self) -> list[str]:
        return [f"{d.isoformat()}.jsonl" for d in (self.before, self.expiry, self.after)]


# NIFTY 50 at 25,900: the 26000 PE is 100 in the money (s1 long), the 25800 CE 100 (s2 short)
WEEKLY = Expiry(
    dt.date(2026, 12, 21), dt.date(2026, 12, 22), dt.date(2026, 12, 23),
    (("s1", WEEKLY_PUT, "BUY", 65), ("s2", WEEKLY_CALL, "SELL", 65)),
    {WEEKLY_PUT: 120.0, WEEKLY_CALL: 150.0},
    {WEEKLY_PUT: 101.0, WEEKLY_CALL: 99.5, "NSE:NIFTY 50": 25_900.0},
)  # fmt: skip
# SENSEX at 85,500: the 85000 CE is 500 in the money; RELIANCE (BSE) at 1,430: 30 in the money
BFO = Expiry(
    dt.date(2026, 12, 23), dt.date(2026, 12, 24), dt.date(2026, 12, 28),
    (("s1", SENSEX_CALL, "BUY", 40), ("s2", RELIANCE_CALL, "BUY", 500)),
    {SENSEX_CALL: 300.0, RELIANCE_CALL: 20.0},
    {SENSEX_CALL: 502.0, RELIANCE_CALL: 31.0, "BSE:SENSEX": 85_500.0, "BSE:RELIANCE": 1_430.0},
)  # fmt: skip
# NIFTY BANK at 60,200: the 60000 CE is 200 in the money; 630 is above BANKNIFTY's freeze of 600,
# so it is bought in two orders and its exercise exits in two (600 and 30)
BANKNIFTY = Expiry(
    dt.date(2026, 12, 28), dt.date(2026, 12, 29), dt.date(2026, 12, 30),
    (("s1", BANKNIFTY_CALL, "BUY", 600), ("s1", BANKNIFTY_CALL, "BUY", 30)),
    {BANKNIFTY_CALL: 150.0},
    {BANKNIFTY_CALL: 201.0, "NSE:NIFTY BANK": 60_200.0},
)  # fmt: skip


async def hold_to_expiry(tmp_path: Path, journal_dir: Path, case: Expiry) -> tuple[list[Path], Path]:
    """Run ``case`` on paper (no slippage, the shipped rates and freeze table): the journal files of
    its three days, and the instruments dump the service ran with."""
    instruments = tmp_path / "instruments.csv"
    instruments.write_text(INSTRUMENTS)
    config = make_config(
        journal_dir, market={"instruments_file": str(instruments)}, execution={"slippage_bps": 0}
    )
    async with ExecutionService(config, clock=ReplayClock(ist_ns(case.before, 9, 15))) as svc:
        for symbol, price in case.opens.items():
            await svc.on_tick(tick(symbol, price, ist_ns(case.before, 9, 16)))
        for n, (strategy, symbol, side, qty) in enumerate(case.buys):
            intent = OrderIntent(symbol=symbol, strategy_code=strategy, side=side, qty=qty,
                                 product="NRML", intent_id=f"o{n}")  # fmt: skip
            assert (await svc.execute_intent(intent)).status == "FILLED"
        for n, (symbol, price) in enumerate(case.closes.items()):
            await svc.on_tick(tick(symbol, price, ist_ns(case.expiry, 15, 29, n)))
        await svc.on_tick(tick("NSE:NIFTY 50", 26_000.0, ist_ns(case.after, 9, 15)))
        # every contract settled; a stock option in the money delivered its shares into holdings
        assert [p for p in svc.positions() if p.net_qty and p.product != "CNC"] == []
    return [journal_dir / name for name in case.files], instruments


def settled(day: Day) -> dict[str, tuple[float, dict[str, float]]]:
    """The model's settlements of a day by symbol: its price, and its charges (the parts charged)."""
    out = {}
    for order in day.orders.values():
        if order.settlement:
            charges = {k: float(v) for k, v in day.model_charges[order.order_id].items() if v}
            [(_, price)] = order.fills
            out[order.symbol] = (float(price), charges)
    return out


def audited(files: list[Path], instruments: Path) -> Day:
    """The expiry day as the model audits it, by the symbols alone and by the dump: both agree."""
    by_symbol = check_days(files)[1]
    by_dump = check_days(files, instruments)[1]
    assert settled(by_symbol) == settled(by_dump)
    return by_dump


async def test_a_weekly_nifty_option_settlement_is_audited(tmp_path, journal_dir):
    files, instruments = await hold_to_expiry(tmp_path, journal_dir, WEEKLY)

    expiry = audited(files, instruments)

    assert settled(expiry) == {
        # STT 0.15 % of 100 x 65 = 9.75, to the rupee 10; one order's ₹20 and 18 % GST on it
        WEEKLY_PUT: (100.0, {"brokerage": 20.0, "stt": 10.0, "gst": 3.6, "total": 33.6}),
        WEEKLY_CALL: (100.0, {"brokerage": 20.0, "gst": 3.6, "total": 23.6}),  # the writer: no STT
    }


async def test_a_bfo_sensex_option_and_a_bse_stock_option_settlement_are_audited(tmp_path, journal_dir):
    files, instruments = await hold_to_expiry(tmp_path, journal_dir, BFO)

    expiry = audited(files, instruments)

    assert settled(expiry) == {
        # STT 0.15 % of 500 x 40 = 30; one order's ₹20 and GST
        SENSEX_CALL: (500.0, {"brokerage": 20.0, "stt": 30.0, "gst": 3.6, "total": 53.6}),
        # physically settled against BSE:RELIANCE: 0.1 % STT and 0.25 % brokerage of 1,400 x 500
        RELIANCE_CALL: (30.0, {"brokerage": 1750.0, "stt": 700.0, "gst": 315.0, "total": 2765.0}),
    }


async def test_a_banknifty_exercise_above_its_freeze_quantity_is_audited_as_two_orders(tmp_path, journal_dir):
    files, instruments = await hold_to_expiry(tmp_path, journal_dir, BANKNIFTY)

    expiry = audited(files, instruments)

    # two orders (600 + 30) at ₹20 and GST on 40; STT 0.15 % of 200 x 630 = 189
    assert settled(expiry) == {
        BANKNIFTY_CALL: (200.0, {"brokerage": 40.0, "stt": 189.0, "gst": 7.2, "total": 236.2}),
    }


@pytest.mark.parametrize(
    ("case", "symbol", "part"),
    [
        (WEEKLY, WEEKLY_PUT, "stt"),
        (WEEKLY, WEEKLY_CALL, "brokerage"),
        (BFO, SENSEX_CALL, "stt"),
        (BFO, RELIANCE_CALL, "stt"),
        (BANKNIFTY, BANKNIFTY_CALL, "brokerage"),
    ],
    ids=["weekly-put-stt", "weekly-call-brokerage", "sensex-stt", "bse-stock-stt", "banknifty-brokerage"],
)
async def test_a_settlement_figure_off_by_a_rupee_fails_the_audit(tmp_path, journal_dir, case, symbol, part):
    files, instruments = await hold_to_expiry(tmp_path, journal_dir, case)
    path = files[1]
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    [fill] = [r for r in lines if r["ev"]["type"] == "fill" and r["ev"]["symbol"] == symbol]
    fill["ev"]["charges"][part] += 1.0
    fill["ev"]["charges"]["total"] += 1.0
    path.write_bytes(chain(lines))
    assert [e for e in journal_records(path) if e["type"] == "fill" and e["symbol"] == symbol]

    for dump in (None, instruments):
        with pytest.raises(AssertionError, match=f"{symbol} NRML (BUY|SELL) {part}"):
            check_days(files, dump)
