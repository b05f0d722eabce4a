"""Reference files (the instruments dump, the holidays file) that are damaged: a ConfigError naming
the file, the line and the column, never a traceback at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from execsvc.calendar import Holidays
from execsvc.errors import ConfigError
from execsvc.market.instruments import Instruments

REPO = Path(__file__).resolve().parents[2]
HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,"
    "instrument_type,segment,exchange\n"
)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # int(float("1e400")) raised OverflowError
        ("1e400,1,INFY,x,0,,0,0.05,1,EQ,NSE,NSE", "line 2: instrument_token='1e400': not finite"),
        ("408065,1,INFY,x,0,,0,0.05,-1e999,EQ,NSE,NSE", "line 2: lot_size='-1e999': not finite"),
        # csv.DictReader fills a short row's cells with None: .strip() raised AttributeError
        ("408065,1,INFY", "line 2: exchange: missing (the row has too few cells)"),
        ("408065,1", "line 2: exchange: missing (the row has too few cells)"),
    ],
)
def test_a_damaged_instruments_row_is_a_config_error_naming_line_and_column(tmp_path, row, expected):
    path = tmp_path / "instruments.csv"
    path.write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        Instruments.from_csv(path)
    assert str(refused.value) == f"{path}: {expected}"


def test_a_holidays_file_that_is_not_utf8_is_a_config_error_naming_it(tmp_path):
    path = tmp_path / "holidays.yaml"
    text = (REPO / "configs" / "holidays-2026.yaml").read_bytes()
    path.write_bytes(text[:100] + b"\xb1" + text[100:])  # UnicodeDecodeError escaped load()
    with pytest.raises(ConfigError) as refused:
        Holidays.load(path)
    assert str(refused.value).startswith(f"{path}: cannot read holidays file: 'utf-8' codec can't decode")
