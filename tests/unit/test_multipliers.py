"""Contract multipliers (MCX, CDS, BCD): where they come from, how they are checked, what they scale."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from execsvc.breakers.rules import BreakerView, check_modify, check_order
from execsvc.config import CircuitBreakerConfig, load_config
from execsvc.costs import RateTable, fill_charges, segment_for
from execsvc.errors import ConfigError, IntentValidationError, ValidationError
from execsvc.events import OrderIntent
from execsvc.executors.kite.models import KitePosition
from execsvc.executors.kite.portfolio import (
    booked_at_other_multipliers,
    broker_multipliers,
    multiplier_mismatches,
)
from execsvc.market.instruments import Instrument, Instruments
from execsvc.market.multipliers import Multipliers, multiplier_of, underlying_name
from execsvc.positions import Position, apply_fill
from execsvc.sim.positions import PositionBook
from execsvc.validation import validate_intent

RATES_FILE = Path(__file__).resolve().parents[2] / "configs" / "charges.yaml"
LEAD = "MCX:LEADMINI26DECFUT"
CRUDE = "MCX:CRUDEOIL26DECFUT"
TABLE = {"MCX:CRUDEOIL": 100.0, LEAD: 1000.0, "CDS:USDINR": 1000.0}


def _dump() -> Instruments:
    # the dump's name of a contract is its underlying, whatever its trading symbol looks like
    return Instruments(
        [Instrument(instrument_token=1, exchange="MCX", tradingsymbol="ODD1", name="CRUDEOIL")]
    )


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("NSE:INFY", 1.0),  # units: never configured
        ("NFO:NIFTY26DECFUT", 1.0),
        (CRUDE, 100.0),  # by the underlying read from the symbol
        ("MCX:CRUDEOIL26DEC6000CE", 100.0),
        ("MCX:ODD1", 100.0),  # by the dump's name
        (LEAD, 1000.0),  # by the symbol itself
        ("MCX:LEADMINI27JANFUT", None),  # its sibling has no entry of its own, nor its name
        ("CDS:USDINR26DECFUT", 1000.0),
        ("MCX:GOLDM26DECFUT", None),  # not configured: unknown, never 1
        ("BCD:USDINR26DECFUT", None),
    ],
)
def test_a_contract_multiplier_comes_from_its_symbol_or_its_underlying(symbol: str, expected: Any) -> None:
    assert multiplier_of(symbol, TABLE, _dump()) == expected


def test_the_symbols_entry_wins_over_its_underlyings() -> None:
    table = {"MCX:CRUDEOIL": 100.0, CRUDE: 10.0}

    assert multiplier_of(CRUDE, table, Instruments()) == 10.0
    assert multiplier_of("MCX:CRUDEOIL27JANFUT", table, Instruments()) == 100.0


def test_the_underlying_is_the_dumps_name_else_the_letters_before_the_expiry() -> None:
    assert underlying_name("MCX:ODD1", _dump().by_key) == "CRUDEOIL"
    assert underlying_name("CDS:USDINR26D1183CE", Instruments().by_key) == "USDINR"
    assert underlying_name("MCX:NOEXPIRY", Instruments().by_key) is None


def test_an_open_position_keeps_its_journaled_multiplier_when_the_config_lost_it() -> None:
    held = Position(strategy_code="s1", symbol="MCX:GOLDM26DECFUT", net_qty=2, multiplier=10.0)
    multipliers = Multipliers({}, Instruments(), lambda: [held])

    assert multipliers.configured("MCX:GOLDM26DECFUT") is None
    assert multipliers.of("MCX:GOLDM26DECFUT") == 10.0  # so it can still be closed
    with pytest.raises(ValidationError, match=r"market\.multipliers\['MCX:SILVERM'\]"):
        multipliers.for_order("MCX:SILVERM26DECFUT")


# -- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("MCX:CRUDEOIL: -100", "market.multipliers['MCX:CRUDEOIL']=-100: must be a positive number"),
        ("MCX:CRUDEOIL: 0", "market.multipliers['MCX:CRUDEOIL']=0: must be a positive number"),
        ("MCX:CRUDEOIL: .nan", "market.multipliers['MCX:CRUDEOIL']=nan: must be a positive number"),
        ("MCX:CRUDEOIL: .inf", "market.multipliers['MCX:CRUDEOIL']=inf: must be a positive number"),
        ("MCX:CRUDEOIL: lots", "market.multipliers['MCX:CRUDEOIL']='lots': must be a positive number"),
        ("MCX:CRUDEOIL: true", "market.multipliers['MCX:CRUDEOIL']=True: must be a positive number"),
        ("MCX:CRUDEOIL: null", "market.multipliers['MCX:CRUDEOIL']=None: must be a positive number"),
        ("MCX:CRUDEOIL: 1.0e+300", "market.multipliers['MCX:CRUDEOIL']=1e+300: must be at most 1,000,000"),
        ("CRUDEOIL: 100", "market.multipliers['CRUDEOIL']=100: the key must be EXCHANGE:NAME"),
        ("XYZ:CRUDEOIL: 100", "market.multipliers['XYZ:CRUDEOIL']=100: the key must be EXCHANGE:NAME"),
        ("NSE:INFY: 2", "market.multipliers['NSE:INFY']=2: NSE quantities are in units: its multiplier is 1"),
    ],
)
def test_a_bad_multiplier_is_refused_at_load_naming_its_key_and_value(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"market:\n  multipliers:\n    {entry}\n")

    with pytest.raises(ConfigError) as exc:
        load_config(path)

    assert str(exc.value).startswith(f"{path}: {message}")


def test_good_multipliers_load(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "market:\n  multipliers:\n    MCX:CRUDEOIL: 100\n    CDS:USDINR: 1000.0\n    NSE:INFY: 1\n"
    )

    assert load_config(path).market.multipliers == {
        "MCX:CRUDEOIL": 100.0,
        "CDS:USDINR": 1000.0,
        "NSE:INFY": 1.0,
    }


# -- validation -------------------------------------------------------------------------------------


def _validate(symbol: str, table: dict[str, float]) -> OrderIntent:
    return validate_intent(
        OrderIntent(symbol=symbol, strategy_code="s1", side="BUY", qty=1, product="NRML"),
        now_ns=0,
        default_exchange="NSE",
        default_tick_size=0.05,
        lookup=lambda _key: None,
        make_id=lambda _intent, _ts: "id",
        multiplier=lambda key: multiplier_of(key, table, Instruments()),
    )


def test_an_intent_for_a_contract_of_unknown_multiplier_is_refused_naming_the_setting() -> None:
    with pytest.raises(IntentValidationError) as exc:
        _validate("MCX:GOLDM26DECFUT", {})

    [error] = exc.value.errors
    assert (error.field, error.value) == ("symbol", "MCX:GOLDM26DECFUT")
    assert "no contract multiplier known for MCX:GOLDM26DECFUT" in error.reason
    assert "set market.multipliers['MCX:GOLDM']" in error.reason
    assert _validate("MCX:GOLDM26DECFUT", {"MCX:GOLDM": 10.0}).symbol == "MCX:GOLDM26DECFUT"
    assert _validate("NSE:INFY", {}).symbol == "NSE:INFY"  # NSE needs no configuration


# -- the maths ----------------------------------------------------------------------------------------


def test_a_round_trip_in_leadmini_realises_a_thousand_times_the_price_move() -> None:
    flat = Position(strategy_code="s1", symbol=LEAD, product="NRML")

    long, opened = apply_fill(flat, "BUY", 2, 161.05, multiplier=1000.0)
    closed, realized = apply_fill(long, "SELL", 2, 160.05, multiplier=1000.0)

    assert opened == 0.0
    assert long.unrealized(162.05) == pytest.approx(2000.0)
    assert long.buy_value == pytest.approx(322_100.0)  # Kite's buy_value: qty * price * multiplier
    assert realized == pytest.approx(-2000.0)
    assert closed.realized_gross == pytest.approx(closed.sell_value - closed.buy_value)
    assert (closed.net_qty, closed.avg_price, closed.multiplier) == (0, 0.0, 1000.0)


def test_charges_are_on_the_turnover_with_the_multiplier() -> None:
    """One lot of CRUDEOIL at 6,000 is a turnover of 6 lakh: charged as that, not as 6,000."""
    rates = RateTable.load(RATES_FILE).rates_for(
        segment_for("MCX", "FUT"), "NRML", datetime.date(2026, 5, 4), "MCX"
    )
    for side in ("BUY", "SELL"):
        lot = fill_charges(rates, side=side, price=6000.0, qty=1, multiplier=100.0)
        same_turnover = fill_charges(rates, side=side, price=6000.0, qty=100)
        assert lot == same_turnover
        assert lot.exchange == pytest.approx(
            100 * fill_charges(rates, side=side, price=6000.0, qty=1).exchange
        )
    # the order's earlier fills count at their turnover too (brokerage's cap, STT's rounding)
    second = fill_charges(
        rates, side="SELL", price=6000.0, qty=1, order_value_before=6000.0, multiplier=100.0
    )
    assert second == fill_charges(rates, side="SELL", price=6000.0, qty=100, order_value_before=600_000.0)
    with pytest.raises(ValidationError, match=r"multiplier=0\.0"):
        fill_charges(rates, side="BUY", price=1.0, qty=1, multiplier=0.0)


def test_the_order_value_cap_counts_the_multiplier() -> None:
    limits = CircuitBreakerConfig(max_order_value_rupees=500_000.0)
    args: dict[str, Any] = {"strategy_code": "s1", "side": "BUY", "qty": 1, "reducing": False}

    assert check_order(**args, ref_price=6000.0, view=BreakerView(), limits=limits) is None
    denial = check_order(**args, ref_price=6000.0, view=BreakerView(), limits=limits, multiplier=100.0)
    assert denial is not None
    assert (denial.breaker, denial.value) == ("max_order_value", 600_000.0)
    assert denial.message == "max_order_value: 600,000.00 > 500,000.00"
    grown = check_modify(
        strategy_code="s1", side="BUY", old_qty=1, new_qty=2, filled_qty=0, widening=True, reducing=False,
        old_ref_price=3000.0, new_ref_price=3000.0, view=BreakerView(), limits=limits, multiplier=100.0,
    )  # fmt: skip
    assert grown is not None and grown.value == 600_000.0


# -- the simulator and reconciliation -------------------------------------------------------------------


def test_the_simulators_positions_show_kites_leadmini_example() -> None:
    """FACTS.md 2.2: LEADMINI17DECFUT, 1 bought at 161.05, multiplier 1000: buy_value 161050."""
    book = PositionBook({LEAD: 1000.0}, Instruments())
    book.apply("MCX", "LEADMINI26DECFUT", 53496327, "NRML", "BUY", 1, 161.05)
    book.apply("NSE", "INFY", 408065, "MIS", "BUY", 2, 1500.0)

    lead, infy = book.to_dict({})["net"]
    assert lead["multiplier"] == 1000 and infy["multiplier"] == 1
    assert (lead["buy_value"], lead["value"], lead["buy_price"], lead["pnl"]) == (
        161050.0,
        -161050.0,
        161.05,
        0.0,
    )
    assert infy["buy_value"] == 3000.0


def test_a_multiplier_the_broker_does_not_share_is_a_mismatch() -> None:
    rows = [
        KitePosition(
            tradingsymbol="LEADMINI26DECFUT", exchange="MCX", product="NRML", quantity=1, multiplier=1000.0
        ),
        KitePosition(tradingsymbol="INFY", exchange="NSE", product="MIS", quantity=0),
        KitePosition(
            tradingsymbol="GOLDM26DECFUT", exchange="MCX", product="NRML", quantity=1, multiplier=10.0
        ),
    ]
    journal = [Position(strategy_code="s1", symbol=LEAD, net_qty=1, buy_qty=1, multiplier=100.0)]
    configured = {LEAD: 100.0, "NSE:INFY": 1.0}

    mismatches = multiplier_mismatches(configured.get, journal, broker_multipliers(rows))

    assert mismatches == [
        f"{LEAD}: market.multipliers gives 100, the broker 1000",
    ]  # GOLDM: neither configured nor traded here: not ours to judge
    assert multiplier_mismatches({LEAD: 1000.0}.get, [], broker_multipliers(rows)) == []
    # no config for it: the next order would be valued at the journal's 100
    assert multiplier_mismatches({}.get, journal, broker_multipliers(rows)) == [
        f"{LEAD}: the journal valued its fills at 100, the broker's is 1000, "
        "and market.multipliers has none for it"
    ]
    # the config fixed to the broker's: fills booked at 100 before are reported, not halted on
    assert multiplier_mismatches({LEAD: 1000.0}.get, journal, broker_multipliers(rows)) == []
    [booked] = booked_at_other_multipliers({LEAD: 1000.0}.get, [(LEAD, 100.0)], broker_multipliers(rows))
    assert booked.startswith(f"{LEAD}: the journal booked fills at multiplier 100 before market.multipliers")
    assert "realized P&L are 0.1x the broker's" in booked
    assert booked_at_other_multipliers(configured.get, [(LEAD, 100.0)], broker_multipliers(rows)) == []
