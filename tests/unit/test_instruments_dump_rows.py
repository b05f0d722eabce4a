"""The instruments dump read strictly: a tradable row with a value that validation would misuse
(a fractional or zero lot size, a zero tick, a future without expiry, a type its exchange does not
list, a symbol given twice) is a ConfigError naming file, line, column and value; Kite's index rows
(tick and lot 0) are kept as untradable, rows of exchanges execsvc does not trade are skipped."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from execsvc.errors import ConfigError, IntentValidationError
from execsvc.events import OrderIntent
from execsvc.market.instruments import Instruments
from execsvc.validation import validate_intent

HEADER = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,"
    "instrument_type,segment,exchange\n"
)
INFY = "408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE"
FUT = "13874690,54198,NIFTY26NOVFUT,NIFTY,0,2026-11-24,0,0.1,65,FUT,NFO-FUT,NFO"
CALL = "13874946,54199,NIFTY26NOV24000CE,NIFTY,0,2026-11-24,24000,0.05,65,CE,NFO-OPT,NFO"
# Kite's real index rows: tick_size and lot_size 0 (segment INDICES, not tradable)
NIFTY = "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE"
SENSEX = "265,1,SENSEX,SENSEX,0,,0,0,0,EQ,INDICES,BSE"


def dump(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "instruments.csv"
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def test_a_real_dumps_rows_load(tmp_path: Path) -> None:
    instruments = Instruments.from_csv(dump(tmp_path, INFY, FUT, CALL, NIFTY, SENSEX))

    assert len(instruments) == 5
    fut = instruments.by_key("NFO:NIFTY26NOVFUT")
    assert fut is not None and (fut.lot_size, fut.tick_size, fut.tradable) == (65, 0.1, True)
    nifty = instruments.by_token(256265)
    assert nifty is not None and nifty.key == "NSE:NIFTY 50" and not nifty.tradable


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # int(0.5) truncated to 0, then max(1, 0) made it 1: NIFTY taken as lot 1
        (FUT.replace(",65,", ",0.5,"), "lot_size='0.5': not a whole number"),
        (FUT.replace(",65,", ",65.5,"), "lot_size='65.5': not a whole number"),
        (FUT.replace(",65,", ",0,"), "lot_size='0': must be 1 to 1,000,000,000"),
        (FUT.replace(",65,", ",-65,"), "lot_size='-65': must be 1 to 1,000,000,000"),
        (INFY.replace(",0.05,", ",0,"), "tick_size='0': must be positive"),
        (INFY.replace(",0.05,", ",-0.05,"), "tick_size='-0.05': must be positive"),
        (INFY.replace("408065,", "408065.5,"), "instrument_token='408065.5': not a whole number"),
        (INFY.replace("408065,", "0,"), "instrument_token='0': must be 1 to 4,294,967,295"),
        (INFY.replace("408065,", "4294967296,"), "instrument_token='4294967296': must be 1 to 4,294,967,295"),
        (INFY.replace(",1594,", ",-1,"), "exchange_token='-1': must be 0 to 4,294,967,295"),
        (FUT.replace("2026-11-24", ""), "expiry='': a FUT contract needs its last trading day"),
        (INFY.replace(",,", ",2026-11-24,"), "expiry='2026-11-24': a stock or index (EQ) does not expire"),
        (CALL.replace(",24000,", ",0,"), "strike='0': a CE option needs a positive strike"),
        (CALL.replace(",24000,", ",-5,"), "strike='-5': a CE option needs a positive strike"),
        (FUT.replace(",0,0.1", ",24000,0.1"), "strike='24000': only an option has a strike, not FUT"),
        (INFY.replace(",EQ,", ",XX,"), "instrument_type='XX': must be one of EQ, FUT, CE, PE"),
        (INFY.replace(",EQ,", ",FUT,"), "instrument_type='FUT': NSE lists stocks (EQ)"),
        (FUT.replace(",FUT,", ",EQ,"), "instrument_type='EQ': NFO lists futures and options (FUT, CE, PE)"),
        (FUT.replace("NFO-FUT", "NFO-OPT"), "segment='NFO-OPT': does not hold instrument_type FUT"),
        (FUT.replace("NFO-FUT", "BFO-FUT"), "segment='BFO-FUT': not a segment of exchange 'NFO'"),
        (INFY.replace(",NSE,NSE", ",BSE,NSE"), "segment='BSE': not a segment of exchange 'NSE'"),
        (NIFTY.replace(",EQ,", ",FUT,"), "instrument_type='FUT': an index (segment INDICES) is EQ"),
        (INFY.replace(",INFY,", ",,"), "tradingsymbol='': empty"),
    ],
)
def test_a_bad_tradable_row_is_refused_naming_line_column_and_value(
    tmp_path: Path, row: str, expected: str
) -> None:
    path = dump(tmp_path, NIFTY, row)

    with pytest.raises(ConfigError) as refused:
        Instruments.from_csv(path)

    assert str(refused.value).startswith(f"{path}: line 3: {expected}")


def test_a_symbol_or_token_given_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    again = INFY.replace("408065,1594", "408066,1595")
    with pytest.raises(ConfigError, match=r"line 4: tradingsymbol='NSE:INFY': also on line 2"):
        Instruments.from_csv(dump(tmp_path, INFY, FUT, again))
    with pytest.raises(ConfigError, match=r"line 3: instrument_token=408065: also on line 2"):
        Instruments.from_csv(dump(tmp_path, INFY, INFY.replace("INFY,INFOSYS", "INFY2,INFOSYS")))


def test_rows_of_exchanges_not_traded_are_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = "1,1,GOLDM26NOVFUT,GOLDM,0,2026-11-28,0,1,1,FUT,NCO-FUT,NCO"
    with caplog.at_level(logging.INFO, "execsvc.instruments"):
        instruments = Instruments.from_csv(dump(tmp_path, INFY, other, other.replace("1,1,", "2,2,")))

    assert [i.key for i in instruments] == ["NSE:INFY"]
    assert "skipped 2 row(s) of exchanges execsvc does not trade (NCO 2)" in caplog.text


def test_an_order_for_an_index_is_refused(tmp_path: Path) -> None:
    instruments = Instruments.from_csv(dump(tmp_path, SENSEX))
    intent = OrderIntent(symbol="BSE:SENSEX", strategy_code="s", side="BUY", qty=1, order_type="MARKET")

    with pytest.raises(IntentValidationError, match="BSE:SENSEX is an index: the exchange takes no order"):
        validate_intent(
            intent,
            now_ns=time.time_ns(),
            default_exchange="NSE",
            default_tick_size=0.05,
            lookup=instruments.by_key,
            make_id=lambda _i, _n: "x",
        )
