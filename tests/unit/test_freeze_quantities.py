"""Exchange freeze quantities (execsvc.market.freeze): the table, validation's check of new orders
and of modifications, the config's errors, the square-off's slices and the simulator's refusal.
Pure functions, no event loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from execsvc.config import config_from_dict
from execsvc.errors import ConfigError, IntentValidationError
from execsvc.events import OrderIntent
from execsvc.market.freeze import FreezeQuantities, freeze_slices, read_freeze_file
from execsvc.market.instruments import Instrument
from execsvc.sim.freeze import freeze_reject
from execsvc.validation import validate_intent, validate_modify

NOW = 1_779_000_000_000_000_000  # 2026-05-17, before every contract's expiry below
REPO = Path(__file__).resolve().parents[2]
BUNDLED = FreezeQuantities.load(REPO / "configs" / "freeze-quantities.yaml", {})


def contract(symbol: str, name: str, lot: int, exchange: str = "NFO", kind: str = "FUT") -> Instrument:
    return Instrument(
        instrument_token=sum(map(ord, symbol)),
        exchange=exchange,
        tradingsymbol=symbol,
        tick_size=0.05,
        lot_size=lot,
        instrument_type=kind,
        segment=f"{exchange}-{kind}" if exchange in ("NFO", "BFO") else exchange,
        name=name,
        expiry="2026-12-29" if kind == "FUT" else "",
    )


NIFTY = contract("NIFTY26DECFUT", "NIFTY", 65)
BANKNIFTY = contract("BANKNIFTY26DECFUT", "BANKNIFTY", 30)
SENSEX = contract("SENSEX26DECFUT", "SENSEX", 20, exchange="BFO")
STOCK_FUT = contract("RELIANCE26DECFUT", "RELIANCE", 500)  # a stock derivative the table lacks
INFY = contract("INFY", "INFOSYS", 1, exchange="NSE", kind="EQ")
INSTRUMENTS = {i.key: i for i in (NIFTY, BANKNIFTY, SENSEX, STOCK_FUT, INFY)}


def intent(instrument: Instrument, qty: int) -> OrderIntent:
    return OrderIntent(symbol=instrument.key, strategy_code="s1", side="BUY", qty=qty, product="NRML")


def validate(order: OrderIntent, table: FreezeQuantities = BUNDLED) -> OrderIntent:
    return validate_intent(
        order,
        now_ns=NOW,
        default_exchange="NSE",
        default_tick_size=0.05,
        lookup=INSTRUMENTS.get,
        make_id=lambda _intent, ts: f"id-{ts}",
        freeze=table.limits,
    )


def qty_reasons(order: OrderIntent, table: FreezeQuantities = BUNDLED) -> list[str]:
    with pytest.raises(IntentValidationError) as info:
        validate(order, table)
    return [e.reason for e in info.value.errors if e.field == "qty"]


# --- the bundled table ------------------------------------------------------------------------------


def test_the_bundled_table_holds_the_nse_index_limits_of_3_nov_2025() -> None:
    assert read_freeze_file(REPO / "configs" / "freeze-quantities.yaml") == {
        "NIFTY": 1800,
        "BANKNIFTY": 600,
        "FINNIFTY": 1800,
        "MIDCPNIFTY": 2800,
        "NIFTYNXT50": 600,
    }
    assert BUNDLED.limit("NFO", "NIFTY") == 1800 and BUNDLED.limit("BFO", "NIFTY") == 1800
    assert BUNDLED.limit("NSE", "NIFTY") is None  # cash: no F&O freeze limit


# --- new orders ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "qty"),
    [(NIFTY, 1755), (NIFTY, 65), (BANKNIFTY, 600), (BANKNIFTY, 570)],
    ids=["NIFTY 27 lots", "NIFTY one lot", "BANKNIFTY at the limit", "BANKNIFTY below"],
)
def test_an_order_at_or_below_the_freeze_quantity_passes(instrument: Instrument, qty: int) -> None:
    assert validate(intent(instrument, qty)).qty == qty


@pytest.mark.parametrize(
    ("instrument", "qty", "expected"),
    [
        (
            NIFTY,
            1820,
            "exceeds NIFTY's freeze quantity 1800 (NFO); split it or use fewer lots "
            "(one order may carry at most 1755: 27 lots of 65)",
        ),
        (
            BANKNIFTY,
            630,
            "exceeds BANKNIFTY's freeze quantity 600 (NFO); split it or use fewer lots "
            "(one order may carry at most 600: 20 lots of 30)",
        ),
    ],
    ids=["NIFTY 28 lots", "BANKNIFTY one lot over"],
)
def test_an_order_above_the_freeze_quantity_is_refused_naming_qty_limit_and_underlying(
    instrument: Instrument, qty: int, expected: str
) -> None:
    assert qty_reasons(intent(instrument, qty)) == [expected]


def iceberg(qty: int, **legs: int) -> OrderIntent:
    return OrderIntent(
        symbol=NIFTY.key, strategy_code="s1", side="BUY", qty=qty, product="NRML", order_type="LIMIT",
        price=26_000.0, variety="iceberg", metadata=dict(legs),
    )  # fmt: skip


def test_an_iceberg_order_above_the_freeze_quantity_passes_when_each_leg_is_within_it() -> None:
    """Kite sends each leg of an iceberg order to the exchange as an order of its own: the legs are
    what the freeze quantity caps (Kite's own refusal says "use iceberg orders")."""
    assert validate(iceberg(3510, iceberg_legs=2)).qty == 3510  # two legs of 1755
    assert validate(iceberg(3510, iceberg_legs=3, iceberg_quantity=1170)).qty == 3510


def test_an_iceberg_order_whose_legs_exceed_the_freeze_quantity_is_refused_naming_the_leg() -> None:
    assert qty_reasons(iceberg(3900, iceberg_legs=2)) == [
        "each iceberg leg of 1950 exceeds NIFTY's freeze quantity 1800 (NFO); use more legs "
        "(one order may carry at most 1755: 27 lots of 65)"
    ]
    with pytest.raises(IntentValidationError) as info:
        validate(iceberg(5460, iceberg_legs=3, iceberg_quantity=1820))  # 84 lots in legs of 28
    assert [str(e) for e in info.value.errors] == [
        "metadata.iceberg_quantity=1820: each iceberg leg of 1820 exceeds NIFTY's freeze quantity 1800 "
        "(NFO); use more legs (one order may carry at most 1755: 27 lots of 65)"
    ]


def test_orders_off_nfo_and_bfo_and_underlyings_without_a_row_have_no_limit() -> None:
    everything_named = FreezeQuantities({"INFOSYS": 10, "NIFTY": 1800})  # a row for a cash name too

    assert validate(intent(INFY, 100_000), everything_named).qty == 100_000  # NSE cash
    assert validate(intent(STOCK_FUT, 50_000)).qty == 50_000  # RELIANCE: no row
    assert validate(intent(SENSEX, 20_000)).qty == 20_000  # SENSEX: no row


def test_a_contract_the_dump_does_not_list_has_no_limit() -> None:
    unlisted = OrderIntent(symbol="NFO:NIFTY26DEC26000CE", strategy_code="s1", side="BUY", qty=65_000)

    assert validate(unlisted).qty == 65_000  # its name is unknown without the dump


def test_a_row_overrides_the_bundled_one_and_null_lifts_it() -> None:
    tighter = FreezeQuantities({"NIFTY": 1800}, {"NIFTY": 650})
    lifted = FreezeQuantities({"NIFTY": 1800}, {"NIFTY": None})

    assert qty_reasons(intent(NIFTY, 715), tighter)[0].startswith("exceeds NIFTY's freeze quantity 650")
    assert validate(intent(NIFTY, 6500), lifted).qty == 6500


def test_an_exchange_row_wins_over_the_plain_name_on_that_exchange_only() -> None:
    table = FreezeQuantities({"SENSEX": 1000, "NFO:NIFTY": 1300, "NIFTY": 1800, "BFO:SENSEX": None})

    assert table.limit("NFO", "NIFTY") == 1300 and table.limit("BFO", "NIFTY") == 1800
    assert table.limit("NFO", "SENSEX") == 1000 and table.limit("BFO", "SENSEX") is None
    assert validate(intent(SENSEX, 2000), table).qty == 2000


def test_an_empty_table_refuses_nothing() -> None:
    assert validate(intent(NIFTY, 65_000), FreezeQuantities()).qty == 65_000


# --- modifications ------------------------------------------------------------------------------------


class _Order(msgspec.Struct, frozen=True):
    order_type: str = "LIMIT"
    price: float | None = 26_000.0
    trigger_price: float | None = None


def modify_errors(qty: int | None, price: float | None = None) -> list[str]:
    limit = BUNDLED.limit_of(NIFTY)
    assert limit is not None
    errors = validate_modify(
        _Order(),
        0,
        qty=qty,
        price=price,
        trigger_price=None,
        order_type=None,
        tick_size=0.05,
        freeze=(limit, NIFTY),
    )
    return [str(e) for e in errors]


def test_a_modification_raising_qty_above_the_freeze_quantity_is_refused() -> None:
    assert modify_errors(1820) == [
        "qty=1820: exceeds NIFTY's freeze quantity 1800 (NFO); split it or use fewer lots "
        "(one order may carry at most 1755: 27 lots of 65)"
    ]
    assert modify_errors(1755) == []
    assert modify_errors(None, price=26_010.0) == []  # the quantity unchanged: nothing to check


# --- the config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"NIFTY": -5}, "market.freeze_quantities['NIFTY']=-5: must be a positive number of units"),
        ({"NIFTY": 0}, "market.freeze_quantities['NIFTY']=0: must be a positive number of units"),
        ({"NIFTY": 1800.0}, "market.freeze_quantities['NIFTY']=1800.0: must be a whole number of units"),
        ({"NIFTY": "1800"}, "market.freeze_quantities['NIFTY']='1800': must be a whole number of units"),
        ({"NIFTY": True}, "market.freeze_quantities['NIFTY']=True: must be a whole number of units"),
        ({"MCX:GOLD": 10}, "market.freeze_quantities['MCX:GOLD']=10: the key must be NAME"),
        ({"NFO:": 10}, "market.freeze_quantities['NFO:']=10: the key must be NAME"),
        ({1: 10}, "market.freeze_quantities[1]=10: the key must be a string"),
    ],
    ids=["negative", "zero", "float", "string", "bool", "MCX key", "no name", "int key"],
)
def test_a_bad_row_is_refused_at_load_naming_key_path_and_value(table: dict[Any, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"market": {"freeze_quantities": table}}, "my.yaml")

    assert str(info.value).startswith(f"my.yaml: {message}")


def test_rows_and_a_null_file_load() -> None:
    config = config_from_dict(
        {"market": {"freeze_quantities_file": None, "freeze_quantities": {"NIFTY": 1800, "BANKNIFTY": None}}}
    )

    assert config.market.freeze_quantities == {"NIFTY": 1800, "BANKNIFTY": None}
    assert config.market.freeze_quantities_file is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("quantities:\n  NIFTY: -1\n", "quantities['NIFTY']=-1: must be a positive number of units"),
        ("quantities:\n  NIFTY: 1.5\n", "quantities['NIFTY']=1.5: must be a whole number of units"),
        ("NIFTY: 1800\n", "must be a mapping with 'quantities'"),
        ("quantities: {}\nasof: 2025\n", "unknown key 'asof'"),
    ],
    ids=["negative", "fractional", "no quantities", "unknown key"],
)
def test_a_bad_freeze_file_is_refused_naming_file_key_and_value(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "freeze.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError) as info:
        FreezeQuantities.load(path, {})

    assert str(info.value).startswith(f"{path}: {message}")


def test_a_missing_freeze_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        FreezeQuantities.load(tmp_path / "absent.yaml", {})

    assert str(info.value).endswith("set market.freeze_quantities_file, or null for none")


# --- the service's square-off ---------------------------------------------------------------------------


def test_a_square_off_above_the_limit_is_sliced_into_whole_lots_within_it() -> None:
    closing = OrderIntent(
        symbol=NIFTY.key, strategy_code="s1", side="SELL", qty=3900, product="MIS", intent_id="sqoff-1-1"
    )

    slices = freeze_slices(closing, NIFTY, BUNDLED)

    assert [(s.intent_id, s.qty) for s in slices] == [
        ("sqoff-1-1.1", 1755),
        ("sqoff-1-1.2", 1755),
        ("sqoff-1-1.3", 390),
    ]
    assert (
        freeze_slices(msgspec.structs.replace(closing, qty=1755), NIFTY, BUNDLED)[0].intent_id == "sqoff-1-1"
    )
    assert freeze_slices(closing, INFY, BUNDLED) == [closing]


# --- the simulator ----------------------------------------------------------------------------------------


def test_the_simulator_answers_400_with_kites_wording_and_the_limit() -> None:
    refused = freeze_reject(660, BANKNIFTY, BUNDLED)

    assert refused is not None and (refused.status, refused.error_type) == (400, "InputException")
    assert refused.message == (
        "The order quantity 660 (22 lots) is higher than the maximum quantity of 600 (20 lots) allowed "
        "by the exchanges. Please reduce the order quantity or use iceberg orders."
    )
    assert freeze_reject(600, BANKNIFTY, BUNDLED) is None
    assert freeze_reject(10**6, INFY, BUNDLED) is None and freeze_reject(10**6, None, BUNDLED) is None
