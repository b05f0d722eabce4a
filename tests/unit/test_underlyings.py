"""An option's underlying (the instrument it is exercised against) and its intrinsic value."""

from __future__ import annotations

import pytest

from execsvc.errors import ValidationError
from execsvc.market.instruments import Instrument
from execsvc.market.underlyings import intrinsic_value, physically_settled, underlying_of


def option(exchange: str, name: str, kind: str = "CE") -> Instrument:
    return Instrument(
        instrument_token=1, exchange=exchange, tradingsymbol=f"{name}26DEC100{kind}", name=name,
        instrument_type=kind, expiry="2026-12-29", strike=100.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("exchange", "name", "kind", "underlying"),
    [
        ("NFO", "NIFTY", "CE", "NSE:NIFTY 50"),
        ("NFO", "BANKNIFTY", "PE", "NSE:NIFTY BANK"),
        ("NFO", "FINNIFTY", "CE", "NSE:NIFTY FIN SERVICE"),
        ("NFO", "MIDCPNIFTY", "CE", "NSE:NIFTY MID SELECT"),
        ("NFO", "NIFTYNXT50", "CE", "NSE:NIFTY NEXT 50"),
        ("BFO", "SENSEX", "CE", "BSE:SENSEX"),
        ("BFO", "BANKEX", "PE", "BSE:BANKEX"),
        ("NFO", "INFY", "CE", "NSE:INFY"),  # a stock option: its stock on the same side
        ("BFO", "RELIANCE", "PE", "BSE:RELIANCE"),
        ("NFO", "SENSEX", "CE", None),  # a BSE index has no NSE options
        ("NFO", "NIFTY", "FUT", None),  # a future is not exercised
        ("MCX", "CRUDEOIL", "CE", None),  # exercised into a future: not modelled
        ("CDS", "USDINR", "CE", None),  # against the RBI reference rate: not modelled
        ("NFO", "", "CE", None),  # no name: nothing to price it by
    ],
)
def test_underlying_of(exchange: str, name: str, kind: str, underlying: str | None) -> None:
    assert underlying_of(option(exchange, name, kind)) == underlying


@pytest.mark.parametrize(
    ("exchange", "name", "kind", "delivered"),
    [
        ("NFO", "INFY", "CE", True),  # stock F&O is physically settled: options and futures
        ("NFO", "INFY", "PE", True),
        ("NFO", "INFY", "FUT", True),
        ("BFO", "RELIANCE", "FUT", True),
        ("NFO", "NIFTY", "CE", False),  # an index settles in cash
        ("NFO", "BANKNIFTY", "FUT", False),
        ("BFO", "SENSEX", "PE", False),
        ("MCX", "CRUDEOIL", "FUT", False),
        ("CDS", "USDINR", "FUT", False),
        ("NSE", "INFY", "EQ", False),  # a stock is no contract
        ("NFO", "", "FUT", False),  # no name: nothing says it is a stock's
    ],
)
def test_physically_settled(exchange: str, name: str, kind: str, delivered: bool) -> None:
    assert physically_settled(option(exchange, name, kind)) is delivered


@pytest.mark.parametrize(
    ("kind", "strike", "spot", "value"),
    [
        ("CE", 26_000.0, 26_400.0, 400.0),
        ("CE", 26_000.0, 26_237.35, 237.35),  # to the paisa, without the subtraction's noise
        ("CE", 26_800.0, 26_400.0, 0.0),
        ("CE", 26_400.0, 26_400.0, 0.0),  # at the money: nothing to exercise
        ("PE", 26_600.0, 26_400.0, 200.0),
        ("PE", 26_000.0, 26_400.0, 0.0),
    ],
)
def test_intrinsic_value(kind: str, strike: float, spot: float, value: float) -> None:
    assert intrinsic_value(kind, strike, spot) == value


def test_intrinsic_value_of_a_future_is_refused_naming_the_type() -> None:
    with pytest.raises(ValidationError, match="instrument_type='FUT'"):
        intrinsic_value("FUT", 0.0, 26_400.0)


def test_an_index_the_table_does_not_list_is_known_by_its_row_in_the_dump() -> None:
    """A new index's derivatives (say BSE's SENSEX50) are cash-settled when the dump has the
    index's row (segment INDICES) under their name; a stock's row, or none, leaves them delivered."""
    index_row = Instrument(
        instrument_token=2, exchange="BSE", tradingsymbol="SENSEX50", name="SENSEX50", segment="INDICES"
    )
    stock_row = Instrument(instrument_token=3, exchange="BSE", tradingsymbol="INFY", name="INFOSYS")
    rows = {"BSE:SENSEX50": index_row, "BSE:INFY": stock_row}
    assert physically_settled(option("BFO", "SENSEX50", "FUT"), rows.get) is False
    assert physically_settled(option("BFO", "SENSEX50", "CE"), rows.get) is False
    assert physically_settled(option("BFO", "INFY", "PE"), rows.get) is True
    assert physically_settled(option("BFO", "TCS", "CE"), rows.get) is True  # no row: a stock's
