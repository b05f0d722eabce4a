"""The P&L audit model's own reading of contracts, freeze quantities and the exercise STT rate.

``tests/pnl_model.py`` shares no code with execsvc; these hold its readings to the rules (and, for
the freeze table, to execsvc's reading of the same file, which is what the model must agree with).
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest

from execsvc.costs import RateTable, fill_charges
from execsvc.market.freeze import BUNDLED_FREEZE_FILE, FreezeQuantities, freeze_sizes, read_freeze_file
from execsvc.market.instruments import Instrument
from tests import pnl_model as model
from tests.pnl_contracts import Contract, contract, read_freeze_table, read_instruments


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        # weekly: YY, the month in one character (1-9, O, N, D), DD
        ("NFO:NIFTY26D2926000PE", ("NIFTY", "PE", 26000, "2026-12-29", True)),
        ("NFO:NIFTY2610626000CE", ("NIFTY", "CE", 26000, "2026-01-06", True)),
        ("NFO:BANKNIFTY26O2059500.5CE", ("BANKNIFTY", "CE", Fraction("59500.5"), "2026-10-20", True)),
        ("NFO:NIFTYNXT5026N1769000PE", ("NIFTYNXT50", "PE", 69000, "2026-11-17", True)),  # digits in the name
        ("BFO:SENSEX2640275000CE", ("SENSEX", "CE", 75000, "2026-04-02", True)),
        ("BFO:BANKEX26D2460000PE", ("BANKEX", "PE", 60000, "2026-12-24", True)),
        # monthly: the month only
        ("NFO:NIFTY26DEC26000CE", ("NIFTY", "CE", 26000, "2026-12", True)),
        ("BFO:SENSEX26DEC85000PE", ("SENSEX", "PE", 85000, "2026-12", True)),
        ("BFO:RELIANCE26DEC1400CE", ("RELIANCE", "CE", 1400, "2026-12", False)),
        ("NFO:M&M26DECFUT", ("M&M", "FUT", None, "2026-12", False)),
        ("NFO:NIFTY26DECFUT", ("NIFTY", "FUT", None, "2026-12", True)),
    ],
)
def test_the_model_reads_weekly_monthly_and_bfo_symbols_alone(symbol, expected):
    c = contract(symbol)

    assert c is not None
    assert (c.name, c.kind, c.strike, c.expiry, c.index) == expected


@pytest.mark.parametrize(
    "symbol", ["MCX:CRUDEOIL26DECFUT", "NSE:INFY", "NFO:NIFTY26DEC26000XX", "CDS:USDINR26DECFUT"]
)
def test_anything_but_an_nfo_or_bfo_contract_is_none(symbol):
    assert contract(symbol) is None


def test_the_dump_row_wins_where_the_symbol_is_ambiguous(tmp_path: Path) -> None:
    """A stock whose name ends in digits reads wrong from the symbol alone; its dump row says."""
    dump = tmp_path / "instruments.csv"
    dump.write_text(
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,"
        "instrument_type,segment,exchange\n"
        "1,1,ABC1002612530CE,ABC100,0,2026-01-25,30,0.05,700,CE,NFO-OPT,NFO\n"
        "2,2,NEWIDX26DEC5000CE,NEWIDX,0,2026-12-29,5000,0.05,40,CE,NFO-OPT,NFO\n"
        "3,3,NEWIDX,NEWIDX,0,,0,0,0,EQ,INDICES,NSE\n"
    )

    rows = read_instruments(dump)

    assert contract("NFO:ABC1002612530CE", rows) == Contract(
        "NFO", "ABC100", "CE", Fraction(30), "2026-01-25", 700, False
    )
    new_index = contract("NFO:NEWIDX26DEC5000CE", rows)
    assert new_index is not None and (new_index.index, new_index.expiry) == (True, "2026-12-29")
    assert contract("NFO:NEWIDX26DEC5000CE") == Contract(  # without the dump: a stock's, by month
        "NFO", "NEWIDX", "CE", Fraction(5000), "2026-12", None, False
    )


def test_the_model_reads_the_bundled_freeze_table_as_execsvc_does():
    assert read_freeze_table() == read_freeze_file(BUNDLED_FREEZE_FILE)
    assert len(read_freeze_table()) == 5


@pytest.mark.parametrize(
    ("symbol", "name", "lot"),
    [
        ("NFO:NIFTY26DEC26000CE", "NIFTY", 65),
        ("NFO:BANKNIFTY26DEC60000CE", "BANKNIFTY", 30),
        ("NFO:FINNIFTY26DEC28000CE", "FINNIFTY", 60),
        ("NFO:MIDCPNIFTY26DEC14000CE", "MIDCPNIFTY", 120),
        ("NFO:NIFTYNXT5026DEC70000CE", "NIFTYNXT50", 25),
    ],
)
def test_the_model_slices_every_bundled_index_above_its_freeze_as_execsvc(symbol, name, lot):
    exchange, _, tradingsymbol = symbol.partition(":")
    row = Instrument(instrument_token=1, exchange=exchange, tradingsymbol=tradingsymbol, name=name,
                     instrument_type="CE", lot_size=lot, expiry="2026-12-29", strike=1.0)  # fmt: skip
    freeze = FreezeQuantities.load(BUNDLED_FREEZE_FILE, {})
    limit = freeze.limit("NFO", name)
    assert limit is not None
    for qty in (lot, limit // lot * lot, (limit // lot + 1) * lot, 3 * limit + lot):
        assert model.broker_orders(symbol, qty) == freeze_sizes(qty, row, freeze), qty
    assert len(model.broker_orders(symbol, (limit // lot + 1) * lot)) == 2


@pytest.mark.parametrize(
    ("expiry", "pct"),
    [
        ("2026-03-30", Fraction("0.125")),
        ("2026-03-31", Fraction("0.125")),
        ("2026-04-01", Fraction("0.15")),
        ("2026-04-02", Fraction("0.15")),
        ("2026-03", Fraction("0.125")),  # a monthly symbol's: the month decides
        ("2026-04", Fraction("0.15")),
    ],
)
def test_the_exercise_stt_rate_is_picked_by_the_expiry_across_1_april_2026(expiry, pct):
    assert model.exercise_stt_pct(expiry) == pct


def exercised(journal_day: str, symbol: str) -> dict[str, Fraction]:
    """The model's charges of a long 40 of ``symbol`` exercised 500 in the money, journaled on
    ``journal_day`` (the last day the service ran before the contract's expiry)."""
    day = model.Day(journal_day, {}, {}, {}, {}, [], [], {}, closes={"BSE:SENSEX": Fraction(75_500)})
    order = model.Order("o1", "expiry-1", "s1", symbol, "NRML", "SELL", Fraction(1), [(40, Fraction(500))])
    return model.settlement_charges(day, order)


def test_a_settlement_journaled_before_1_april_2026_pays_its_april_expirys_stt():
    """The service ran on Monday 30 Mar 2026 and next after the SENSEX weekly of Thursday 2 Apr
    expired: the settlement is journaled in 30 Mar's file, at the expiry day's rate (0.15 %)."""
    charges = exercised("2026-03-30", "BFO:SENSEX2640275000CE")

    assert charges["stt"] == 30  # 0.15 % of 500 x 40 = 30 (0.125 % would be 25)
    assert exercised("2026-03-26", "BFO:SENSEX2632675000CE")["stt"] == 25  # expired 26 Mar


@pytest.mark.parametrize("product", ["MIS", "CNC"])
@pytest.mark.parametrize("exchange", ["NSE", "BSE"])
def test_the_model_charges_cash_trades_each_exchanges_transaction_charge(exchange: str, product: str) -> None:
    """BSE's cash transaction charge is 0.00375 %, NSE's 0.00297 % (FACTS 7): the model and
    execsvc's bundled table agree on a 1,00,000 buy and sell on either."""
    table = RateTable.load(Path(__file__).resolve().parents[2] / "configs" / "charges.yaml")
    rates = table.rates_for("equity", product, dt.date(2026, 11, 20), exchange=exchange)
    for side in ("BUY", "SELL"):
        ours = fill_charges(rates, side=side, price=1000.0, qty=100)
        row = model.row_for(f"{exchange}:INFY", product, "2026-11-20")
        theirs = model.order_charges(row, side, Fraction(100_000))
        assert ours.exchange == float(round(theirs["exchange"], 4))
        assert ours.total == float(round(theirs["total"], 4))
