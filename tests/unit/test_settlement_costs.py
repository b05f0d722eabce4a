"""Unit tests of the charges of a contract the exchange settles at expiry (execsvc.settlement_costs).

Pure functions on a row of the shipped rate table (the 2026-27 version: exercise STT 0.15 %, Rs 20
an order for an index option settled in the money, physical settlement STT 0.1 % and brokerage
0.25 % of the contract value, GST 18 %), and the rate table's new fields on an old file.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from execsvc.costs import Rates, RateTable
from execsvc.errors import ConfigError
from execsvc.events import Charges
from execsvc.settlement_costs import index_exercise_charges, physical_settlement_charges

RATES_FILE = Path(__file__).resolve().parents[2] / "configs" / "charges.yaml"
EXPIRY = datetime.date(2026, 12, 29)
NEW_FIELDS = ("exercise_brokerage_per_order", "physical_stt_pct", "physical_brokerage_pct")


@pytest.fixture(scope="module")
def table() -> RateTable:
    return RateTable.load(RATES_FILE)


@pytest.fixture(scope="module")
def options(table: RateTable) -> Rates:
    return table.rates_for("options", "NRML", EXPIRY)


def test_a_long_index_option_pays_exercise_stt_and_brokerage_per_order_with_gst(options: Rates) -> None:
    # 1,820 NIFTY (28 lots) above the 1,800 freeze: 1,755 + 65, two orders at Rs 20
    charges = index_exercise_charges(options, value=400.0 * 1820, long=True, orders=2)

    # STT 0.15 % of 728,000 = 1,092; GST 18 % of 40 = 7.2
    assert charges == Charges(brokerage=40.0, stt=1092.0, gst=7.2, total=1139.2)


def test_a_short_index_option_pays_the_brokerage_and_its_gst_but_no_stt(options: Rates) -> None:
    charges = index_exercise_charges(options, value=200.0 * 65, long=False, orders=1)

    assert charges == Charges(brokerage=20.0, gst=3.6, total=23.6)


@pytest.mark.parametrize("segment", ["options", "futures"])
def test_a_physical_settlement_pays_delivery_stt_and_brokerage_with_gst(
    table: RateTable, segment: str
) -> None:
    rates = table.rates_for(segment, "NRML", EXPIRY)

    # 400 INFY delivered at the strike 1,500: STT 0.1 % of 600,000, brokerage 0.25 %, GST on it
    charges = physical_settlement_charges(rates, contract_value=1500.0 * 400)

    assert charges == Charges(brokerage=1500.0, stt=600.0, gst=270.0, total=2370.0)


def test_physical_settlement_stt_rounds_to_the_rupee_half_up(options: Rates) -> None:
    charges = physical_settlement_charges(options, contract_value=1562.0 * 400)  # 624,800

    assert (charges.stt, charges.brokerage, charges.gst, charges.total) == (625.0, 1562.0, 281.16, 2468.16)


def test_nothing_settled_pays_nothing(options: Rates) -> None:
    assert index_exercise_charges(options, value=0.0, long=True, orders=1) == Charges()
    assert physical_settlement_charges(options, contract_value=0.0) == Charges()


@pytest.mark.parametrize("day", [datetime.date(2024, 10, 1), datetime.date(2026, 4, 1)])
def test_the_shipped_table_carries_the_settlement_rates_in_every_version(
    table: RateTable, day: datetime.date
) -> None:
    options = table.rates_for("options", "NRML", day)
    futures = table.rates_for("futures", "NRML", day)

    assert (
        options.exercise_brokerage_per_order,
        options.physical_stt_pct,
        options.physical_brokerage_pct,
    ) == (
        20.0,
        0.1,
        0.25,
    )
    assert (
        futures.exercise_brokerage_per_order,
        futures.physical_stt_pct,
        futures.physical_brokerage_pct,
    ) == (
        0.0,  # a future is not exercised
        0.1,
        0.25,
    )


def test_an_old_table_without_the_settlement_rates_loads_and_charges_as_before(tmp_path: Path) -> None:
    """The three fields came later: a table written before them loads; physical settlement is
    unknown to it (None: a stock option is charged the exercise STT as before) and an index option
    settled in the money pays no brokerage."""
    data = yaml.safe_load(RATES_FILE.read_text(encoding="utf-8"))
    for version in data["versions"]:
        for segment in ("options", "futures"):
            for name in NEW_FIELDS:
                version[segment].pop(name, None)
    path = tmp_path / "charges.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    options = RateTable.load(path).rates_for("options", "NRML", EXPIRY)

    assert (
        options.exercise_brokerage_per_order,
        options.physical_stt_pct,
        options.physical_brokerage_pct,
    ) == (
        0.0,
        None,
        0.0,
    )
    assert index_exercise_charges(options, value=400.0 * 65, long=True, orders=1) == Charges(
        stt=39.0, total=39.0
    )
    assert index_exercise_charges(options, value=200.0 * 65, long=False, orders=1) == Charges()


def test_a_negative_physical_rate_is_refused_naming_the_key(tmp_path: Path) -> None:
    data = yaml.safe_load(RATES_FILE.read_text(encoding="utf-8"))
    data["versions"][1]["futures"]["physical_stt_pct"] = -0.1
    path = tmp_path / "charges.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    with pytest.raises(ConfigError, match=r"versions\[1\]\.futures\.physical_stt_pct=-0\.1"):
        RateTable.load(path)
