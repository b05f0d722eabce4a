"""Unit tests of the Indian charges model (execsvc.costs): pure functions, no event loop."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from execsvc.costs import CostModel, Rates, RateTable, fill_charges, segment_for
from execsvc.errors import ConfigError, ValidationError
from execsvc.events import Charges

RATES_FILE = Path(__file__).resolve().parents[2] / "configs" / "charges.yaml"
DAY_2026 = datetime.date(2026, 5, 4)
COMPONENTS = ("brokerage", "stt", "exchange", "sebi", "stamp", "gst", "total")


@pytest.fixture(scope="module")
def table() -> RateTable:
    return RateTable.load(RATES_FILE)


@pytest.fixture()
def model(table: RateTable) -> CostModel:
    return CostModel(table)


def _add(charges: list[Charges]) -> dict[str, float]:
    return {name: sum(getattr(c, name) for c in charges) for name in COMPONENTS}


def _fills(rates: Rates, side: str, fills: list[tuple[float, int]]) -> list[Charges]:
    out, before = [], 0.0
    for price, qty in fills:
        out.append(fill_charges(rates, side=side, price=price, qty=qty, order_value_before=before))
        before += price * qty
    return out


# --- the FACTS section 7 worked example -------------------------------------------------------------


def test_worked_example_intraday(model: CostModel) -> None:
    common: dict[str, Any] = dict(exchange="NSE", instrument_type="EQ", product="MIS", trade_day=DAY_2026)
    buy = model.charges(side="BUY", price=1000.0, qty=100, **common)
    sell = model.charges(side="SELL", price=1010.0, qty=100, **common)

    got = _add([buy, sell])

    assert got["brokerage"] == pytest.approx(40.0, abs=1e-9)
    assert got["stt"] == pytest.approx(25.0, abs=1e-9)
    assert buy.stt == 0.0
    assert got["exchange"] == pytest.approx(5.9697, abs=1e-4)
    assert got["sebi"] == pytest.approx(0.201, abs=1e-4)
    assert got["stamp"] == pytest.approx(3.0, abs=1e-9)
    assert sell.stamp == 0.0
    assert got["gst"] == pytest.approx(8.3107, abs=1e-3)
    assert got["total"] == pytest.approx(82.48, abs=0.01)


def test_worked_example_delivery(model: CostModel) -> None:
    common: dict[str, Any] = dict(exchange="NSE", instrument_type="EQ", product="CNC", trade_day=DAY_2026)
    buy = model.charges(side="BUY", price=1000.0, qty=100, **common)
    sell = model.charges(side="SELL", price=1010.0, qty=100, **common)

    got = _add([buy, sell])

    assert (buy.stt, sell.stt) == (100.0, 101.0)
    assert got["brokerage"] == 0.0
    assert got["stamp"] == pytest.approx(15.0, abs=1e-9)
    assert got["gst"] == pytest.approx(1.1107, abs=1e-3)
    assert got["total"] == pytest.approx(223.28, abs=0.01)


def test_components_rounded_to_4dp_and_total_is_their_sum(table: RateTable) -> None:
    rates = table.rates_for("equity", "MIS", DAY_2026)

    c = fill_charges(rates, side="BUY", price=333.35, qty=7)

    for name in COMPONENTS:
        assert round(getattr(c, name), 4) == getattr(c, name)
    assert c.total == round(c.brokerage + c.stt + c.exchange + c.sebi + c.stamp + c.gst, 4)


def test_bse_equity_uses_bse_exchange_charge(model: CostModel) -> None:
    c = model.charges(
        exchange="BSE",
        instrument_type="EQ",
        product="CNC",
        side="BUY",
        price=1000.0,
        qty=100,
        trade_day=DAY_2026,
    )

    assert c.exchange == pytest.approx(3.75)  # 0.00375 % of 1 lakh, not NSE's 2.97


# --- per-order accrual: partial fills ---------------------------------------------------------------


def test_brokerage_cap_is_per_order_across_fills(table: RateTable) -> None:
    rates = table.rates_for("equity", "MIS", DAY_2026)

    parts = _fills(rates, "BUY", [(1000.0, 25)] * 4)
    whole = fill_charges(rates, side="BUY", price=1000.0, qty=100)

    assert [c.brokerage for c in parts] == [7.5, 7.5, 5.0, 0.0]
    assert whole.brokerage == 20.0
    for name in COMPONENTS:
        assert _add(parts)[name] == pytest.approx(getattr(whole, name), abs=0.001 * len(parts))


def test_stt_rounding_is_per_order_across_fills(table: RateTable) -> None:
    rates = table.rates_for("equity", "MIS", DAY_2026)

    parts = _fills(rates, "SELL", [(100.0, 334)] * 3)  # 33 400 each: 8.35 -> 8, 16.70 -> 17, 25.05 -> 25
    whole = fill_charges(rates, side="SELL", price=100.0, qty=1002)

    assert [c.stt for c in parts] == [8.0, 9.0, 8.0]
    assert whole.stt == 25.0


def test_stt_rounds_half_up(table: RateTable) -> None:
    rates = table.rates_for("options", "NRML", datetime.date(2025, 6, 2))

    c = fill_charges(rates, side="SELL", price=100.0, qty=65)  # 0.1 % of 6 500 = 6.5

    assert c.stt == 7.0


def test_options_flat_brokerage_on_first_fill_only(table: RateTable) -> None:
    rates = table.rates_for("options", "NRML", DAY_2026)

    first, second = _fills(rates, "BUY", [(100.0, 75), (100.5, 75)])

    assert first.brokerage == 20.0
    assert second.brokerage == 0.0
    assert first.gst == pytest.approx(0.18 * (20.0 + first.exchange + first.sebi), abs=1e-4)


@pytest.mark.parametrize(
    ("segment", "product"), [("equity", "MIS"), ("futures", "NRML"), ("options", "NRML")]
)
def test_auto_square_off_fee_and_its_gst_on_the_first_fill_only(
    table: RateTable, segment: str, product: str
) -> None:
    rates = table.rates_for(segment, product, DAY_2026)
    plain = fill_charges(rates, side="SELL", price=100.0, qty=75)
    first = fill_charges(rates, side="SELL", price=100.0, qty=75, auto_square_off=True)
    second = fill_charges(
        rates, side="SELL", price=100.0, qty=75, order_value_before=7500.0, auto_square_off=True
    )

    assert (plain.auto_square_off, first.auto_square_off, second.auto_square_off) == (0.0, 50.0, 0.0)
    assert first.gst == pytest.approx(plain.gst + 9.0, abs=1e-4)  # 18 % GST on the fee
    assert first.total == pytest.approx(plain.total + 59.0, abs=1e-4)
    assert msgspec.json.encode(plain) == msgspec.json.encode(
        fill_charges(rates, side="SELL", price=100.0, qty=75)
    )
    assert b"auto_square_off" not in msgspec.json.encode(plain)  # journals without it are unchanged


def test_delivery_has_no_auto_square_off_fee(table: RateTable) -> None:
    rates = table.rates_for("equity", "CNC", DAY_2026)

    assert fill_charges(rates, side="SELL", price=100.0, qty=5, auto_square_off=True).auto_square_off == 0.0


@pytest.mark.parametrize(
    ("instrument_type", "price", "qty", "stt_before", "stt_after"),
    [
        ("FUT", 20000.0, 50, 200.0, 500.0),  # 0.02 % -> 0.05 % of 10 lakh
        ("CE", 100.0, 75, 8.0, 11.0),  # 0.1 % -> 0.15 % of 7 500 premium: 7.5 -> 8, 11.25 -> 11
    ],
)
def test_fo_stt_changes_on_2026_04_01(
    model: CostModel, instrument_type: str, price: float, qty: int, stt_before: float, stt_after: float
) -> None:
    def stt(day: datetime.date) -> float:
        return model.charges(
            exchange="NFO",
            instrument_type=instrument_type,
            product="NRML",
            side="SELL",
            price=price,
            qty=qty,
            trade_day=day,
        ).stt

    assert stt(datetime.date(2026, 3, 31)) == stt_before
    assert stt(datetime.date(2026, 4, 1)) == stt_after


def test_buy_side_pays_no_fo_stt(model: CostModel) -> None:
    c = model.charges(
        exchange="NFO",
        instrument_type="FUT",
        product="MIS",
        side="BUY",
        price=20000.0,
        qty=50,
        trade_day=DAY_2026,
    )

    assert c.stt == 0.0
    assert c.stamp == pytest.approx(20.0)  # 0.002 % of 10 lakh


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"side": "HOLD", "price": 1.0, "qty": 1}, "side"),
        ({"side": "BUY", "price": float("nan"), "qty": 1}, "price"),
        ({"side": "BUY", "price": -1.0, "qty": 1}, "price"),
        ({"side": "BUY", "price": 1.0, "qty": -1}, "qty"),
        ({"side": "BUY", "price": 1.0, "qty": 1, "order_value_before": -5.0}, "order_value_before"),
    ],
)
def test_fill_charges_rejects_bad_input(table: RateTable, kwargs: dict[str, Any], field: str) -> None:
    rates = table.rates_for("equity", "MIS", DAY_2026)

    with pytest.raises(ValidationError, match=field):
        fill_charges(rates, **kwargs)


# --- segments, rows and versions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exchange", "instrument_type", "segment"),
    [
        ("NSE", "EQ", "equity"),
        ("BSE", "EQ", "equity"),
        ("NFO", "FUT", "futures"),
        ("BFO", "FUT", "futures"),
        ("NFO", "CE", "options"),
        ("BFO", "PE", "options"),
        ("CDS", "FUT", "currency"),
        ("CDS", "CE", "currency"),
        ("BCD", "PE", "currency"),
        ("MCX", "FUT", "commodity"),
        ("MCX", "CE", "commodity_options"),  # on the premium, as NFO options: not the futures' row
        ("MCX", "PE", "commodity_options"),
    ],
)
def test_segment_for(exchange: str, instrument_type: str, segment: str) -> None:
    assert segment_for(exchange, instrument_type) == segment


@pytest.mark.parametrize(
    ("exchange", "instrument_type"), [("NFO", "EQ"), ("CDS", "EQ"), ("LSE", "EQ"), ("", "")]
)
def test_segment_for_unknown_names_the_values(exchange: str, instrument_type: str) -> None:
    with pytest.raises(ConfigError, match=f"exchange={exchange!r}.*instrument_type={instrument_type!r}"):
        segment_for(exchange, instrument_type)


@pytest.mark.parametrize(
    ("product", "stt_buy_pct"), [("MIS", 0.0), ("CNC", 0.1), ("MTF", 0.1), ("NRML", 0.1)]
)
def test_equity_row_by_product(table: RateTable, product: str, stt_buy_pct: float) -> None:
    assert table.rates_for("equity", product, DAY_2026).stt_buy_pct == stt_buy_pct


def test_rates_for_version_boundaries(table: RateTable) -> None:
    assert table.rates_for("futures", "MIS", datetime.date(2024, 10, 1)).stt_sell_pct == 0.02
    assert table.rates_for("futures", "MIS", datetime.date(2026, 3, 31)).stt_sell_pct == 0.02
    assert table.rates_for("futures", "MIS", datetime.date(2026, 4, 1)).stt_sell_pct == 0.05


@pytest.mark.parametrize(
    ("segment", "product", "day", "match"),
    [
        ("equity", "MIS", datetime.date(2024, 9, 30), "trade_day=2024-09-30"),
        ("equity", "XYZ", DAY_2026, "product='XYZ'"),
        ("bonds", "MIS", DAY_2026, "segment='bonds'"),
    ],
)
def test_rates_for_errors(
    table: RateTable, segment: str, product: str, day: datetime.date, match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        table.rates_for(segment, product, day)


# --- CostModel --------------------------------------------------------------------------------------


def test_cost_model_caches_rate_lookups(table: RateTable, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    original = RateTable.rates_for

    def counting(self: RateTable, *args: Any) -> Rates:
        calls.append(args)
        return original(self, *args)

    monkeypatch.setattr(RateTable, "rates_for", counting)
    model = CostModel(table)
    kwargs: dict[str, Any] = dict(exchange="NSE", instrument_type="EQ", product="MIS", side="BUY", qty=1)

    first = model.charges(price=100.0, trade_day=DAY_2026, **kwargs)
    model.charges(price=101.0, trade_day=DAY_2026, **kwargs)
    model.charges(price=102.0, trade_day=datetime.date(2026, 5, 5), **kwargs)

    assert len(calls) == 2
    assert first.brokerage == pytest.approx(0.03)


def test_zero_model_charges_nothing() -> None:
    c = CostModel.zero().charges(
        exchange="NSE",
        instrument_type="EQ",
        product="CNC",
        side="BUY",
        price=1000.0,
        qty=100,
        trade_day=DAY_2026,
    )

    assert c == Charges()
    assert c.total == 0.0


# --- RateTable.load errors --------------------------------------------------------------------------


def _valid() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RATES_FILE.read_text(encoding="utf-8"))
    return data


def _drop(data: dict[str, Any]) -> None:
    del data["versions"][0]["futures"]["stt_sell_pct"]


def _negative(data: dict[str, Any]) -> None:
    data["versions"][1]["options"]["stt_sell_pct"] = -0.15


def _not_a_date(data: dict[str, Any]) -> None:
    data["versions"][0]["effective_from"] = "soon"


def _unsorted(data: dict[str, Any]) -> None:
    data["versions"].reverse()


def _unknown_key(data: dict[str, Any]) -> None:
    data["versions"][0]["futures"]["stt_pct"] = 0.1


def _string_rate(data: dict[str, Any]) -> None:
    data["versions"][0]["options"]["gst_pct"] = "18%"


def _bad_override(data: dict[str, Any]) -> None:
    data["versions"][0]["options"]["exchange_pct_by_exchange"] = {"BFO": -1.0}


def _no_versions(data: dict[str, Any]) -> None:
    data["versions"] = []


def _missing_segment(data: dict[str, Any]) -> None:
    del data["versions"][1]["commodity"]


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (_drop, r"missing required key 'versions\[0\]\.futures\.stt_sell_pct'"),
        (_negative, r"versions\[1\]\.options\.stt_sell_pct=-0\.15"),
        (_not_a_date, r"versions\[0\]\.effective_from='soon'"),
        (_unsorted, r"versions\[1\]\.effective_from=2024-10-01.*increasing"),
        (_unknown_key, r"unknown key 'versions\[0\]\.futures\.stt_pct'"),
        (_string_rate, r"versions\[0\]\.options\.gst_pct='18%'"),
        (_bad_override, r"exchange_pct_by_exchange.*'BFO': -1\.0"),
        (_no_versions, r"versions=\[\]"),
        (_missing_segment, r"missing required key 'versions\[1\]\.commodity'"),
    ],
)
def test_load_rejects_bad_values_naming_the_key(tmp_path: Path, mutate: Any, match: str) -> None:
    data = _valid()
    mutate(data)
    path = tmp_path / "charges.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    with pytest.raises(ConfigError, match=match) as info:
        RateTable.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("versions: [", "not valid YAML"),
        ("versions:\n  - effective_from: 2024-13-01\n", "not valid YAML"),
        ("", "top level must be a mapping"),
        ("- 1\n- 2\n", "top level must be a mapping"),
    ],
)
def test_load_rejects_bad_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "charges.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError, match=match):
        RateTable.load(path)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        RateTable.load(tmp_path / "nope.yaml")


def test_shipped_table_loads_both_fo_versions(table: RateTable) -> None:
    assert table.rates_for("options", "MIS", DAY_2026).stt_sell_pct == 0.15
    assert table.rates_for("options", "MIS", datetime.date(2025, 1, 1)).stt_sell_pct == 0.1
    assert table.rates_for("options", "MIS", DAY_2026).brokerage_flat == 20.0


def test_mcx_options_have_a_row_of_their_own(table: RateTable) -> None:
    options = table.rates_for("commodity_options", "NRML", DAY_2026)
    futures = table.rates_for("commodity", "NRML", DAY_2026)
    assert (options.brokerage_flat, options.brokerage_cap, options.stt_sell_pct) == (20.0, None, 0.05)
    assert (futures.brokerage_pct, futures.brokerage_cap, futures.stt_sell_pct) == (0.03, 20.0, 0.01)


def test_a_table_without_mcx_options_charges_them_at_the_commodity_row(tmp_path: Path) -> None:
    """``commodity_options`` came later: a table written before it still loads, as it charged."""
    data = _valid()
    for version in data["versions"]:
        version.pop("commodity_options", None)
    path = tmp_path / "charges.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    old = RateTable.load(path)
    assert old.rates_for("commodity_options", "NRML", DAY_2026) == old.rates_for(
        "commodity", "NRML", DAY_2026
    )


@pytest.mark.parametrize(
    ("day", "pct"),
    [
        (datetime.date(2024, 10, 1), 0.125),  # FACTS 7: "was 0.125 %"
        (datetime.date(2026, 3, 31), 0.125),
        (datetime.date(2026, 4, 1), 0.15),  # Budget 2026-27
    ],
)
def test_the_exercise_stt_of_options_is_versioned(table: RateTable, day: datetime.date, pct: float) -> None:
    assert table.rates_for("options", "NRML", day).stt_exercise_pct == pct
    assert table.rates_for("futures", "NRML", day).stt_exercise_pct == 0.0  # futures are not exercised


def test_a_table_without_the_exercise_rate_still_loads_and_charges_none(tmp_path: Path) -> None:
    """``stt_exercise_pct`` came later: a table written before it loads, as charging no such STT."""
    data = _valid()
    for version in data["versions"]:
        version["options"].pop("stt_exercise_pct")
    path = tmp_path / "charges.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    assert RateTable.load(path).rates_for("options", "NRML", DAY_2026).stt_exercise_pct == 0.0


def test_a_negative_exercise_rate_is_refused_naming_the_key(tmp_path: Path) -> None:
    data = _valid()
    data["versions"][1]["options"]["stt_exercise_pct"] = -0.15
    path = tmp_path / "charges.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    with pytest.raises(ConfigError, match=r"versions\[1\]\.options\.stt_exercise_pct=-0\.15"):
        RateTable.load(path)
