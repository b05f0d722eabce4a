"""An intent for an F&O contract past its expiry is refused at validation, naming the symbol and
the expiry (before, it was accepted and, on paper and dry-run, filled at the contract's last price;
Kite rejects it). The expiry is the instruments dump's ``expiry`` column, the last trading day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from execsvc.clock import ist_ns
from execsvc.errors import ConfigError, IntentValidationError
from execsvc.events import OrderIntent
from execsvc.market.instruments import Instrument, Instruments
from execsvc.validation import validate_intent

EXPIRY = dt.date(2026, 11, 24)  # a Tuesday: NSE's monthly expiry
FUTURE = Instrument(
    instrument_token=1, exchange="NFO", tradingsymbol="NIFTY26NOVFUT", lot_size=65,
    instrument_type="FUT", expiry="2026-11-24",
)  # fmt: skip
CALL = Instrument(
    instrument_token=2, exchange="NFO", tradingsymbol="NIFTY26NOV26000CE", lot_size=65,
    instrument_type="CE", expiry="2026-11-24", strike=26000.0,
)  # fmt: skip
STOCK = Instrument(instrument_token=3, exchange="NSE", tradingsymbol="INFY")
INSTRUMENTS = Instruments([FUTURE, CALL, STOCK])


def _validate(symbol: str, now_ns: int, qty: int = 65, **kw: object) -> OrderIntent:
    intent = OrderIntent(symbol=symbol, strategy_code="s1", side="BUY", qty=qty, product="NRML", **kw)  # type: ignore[arg-type]
    return validate_intent(
        intent,
        now_ns=now_ns,
        default_exchange="NSE",
        default_tick_size=0.05,
        lookup=INSTRUMENTS.by_key,
        make_id=lambda i, ts: f"id-{ts}",
    )


@pytest.mark.parametrize(
    ("symbol", "now", "expired"),
    [
        ("NFO:NIFTY26NOVFUT", ist_ns(EXPIRY - dt.timedelta(days=1), 10, 0), False),
        ("NFO:NIFTY26NOVFUT", ist_ns(EXPIRY, 9, 15), False),  # it trades on its expiry day
        ("NFO:NIFTY26NOVFUT", ist_ns(EXPIRY, 23, 59, 59), False),  # still its day, IST
        ("NFO:NIFTY26NOVFUT", ist_ns(EXPIRY + dt.timedelta(days=1), 0, 0), True),  # the IST date line
        ("NFO:NIFTY26NOVFUT", ist_ns(EXPIRY + dt.timedelta(days=1), 9, 15), True),
        ("NFO:NIFTY26NOV26000CE", ist_ns(EXPIRY + dt.timedelta(days=30), 10, 0), True),
        ("NFO:NIFTY26NOV26000CE", ist_ns(EXPIRY, 15, 29), False),
        ("NSE:INFY", ist_ns(EXPIRY + dt.timedelta(days=400), 10, 0), False),  # no expiry: never
        ("NFO:NIFTY26DECFUT", ist_ns(EXPIRY + dt.timedelta(days=400), 10, 0), False),  # unknown: no expiry
    ],
)
def test_a_contract_past_its_expiry_is_refused_naming_the_symbol_and_the_expiry(
    symbol: str, now: int, expired: bool
) -> None:
    qty = 1 if symbol == "NSE:INFY" else 65

    if not expired:
        assert _validate(symbol, now, qty).symbol == symbol
        return
    with pytest.raises(IntentValidationError) as caught:
        _validate(symbol, now, qty)
    errors = caught.value.errors
    assert [(e.field, e.value) for e in errors] == [("symbol", symbol)]
    assert f"{symbol} expired on 2026-11-24" in errors[0].reason
    assert f"{symbol} expired on 2026-11-24" in str(caught.value)


def test_an_expired_contract_is_refused_with_the_other_errors_of_the_intent() -> None:
    with pytest.raises(IntentValidationError) as caught:
        _validate("NFO:NIFTY26NOVFUT", ist_ns(EXPIRY + dt.timedelta(days=1), 10, 0), qty=64)
    assert [e.field for e in caught.value.errors] == ["symbol", "qty"]


@pytest.mark.parametrize(
    ("expiry", "why"),
    [
        ("2026-11-24", None),
        # a future with no expiry would never be refused as expired
        ("", "a FUT contract needs its last trading day"),
        ("24-11-2026", "not a date"),
        ("2026-11-31", "not a date"),
        ("soon", "not a date"),
    ],
)
def test_the_dump_refuses_an_expiry_that_is_not_a_date(tmp_path: Path, expiry: str, why: str | None) -> None:
    path = tmp_path / "instruments.csv"
    path.write_text(
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,"
        "instrument_type,segment,exchange\n"
        f"1,1,NIFTY26NOVFUT,NIFTY,0,{expiry},0,0.05,65,FUT,NFO-FUT,NFO\n"
    )

    if why is None:
        loaded = Instruments.from_csv(path).expiry("NFO:NIFTY26NOVFUT")
        assert loaded == dt.date.fromisoformat(expiry)
        return
    with pytest.raises(ConfigError, match=rf"line 2: expiry='{expiry}': {why}"):
        Instruments.from_csv(path)
