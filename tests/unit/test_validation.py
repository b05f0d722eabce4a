"""Unit tests of intent validation (execsvc.validation): pure functions, no event loop."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from execsvc.errors import FieldError, IntentValidationError
from execsvc.events import OrderIntent
from execsvc.journal.codec import decode_event, encode_event
from execsvc.journal_safe import salvage_identity
from execsvc.market.instruments import Instrument
from execsvc.validation import InstrumentLookup, validate_intent, validate_modify

NOW = 1_777_000_000_123_456_789
NIFTY_FUT = Instrument(
    instrument_token=13_238_786,
    exchange="NFO",
    tradingsymbol="NIFTY26MAYFUT",
    tick_size=0.05,
    lot_size=65,
    instrument_type="FUT",
)
PENNY = Instrument(instrument_token=1_111, exchange="NSE", tradingsymbol="IDEA", tick_size=0.01)


def _intent(**overrides: Any) -> OrderIntent:
    fields: dict[str, Any] = {"symbol": "INFY", "strategy_code": "S1", "side": "BUY", "qty": 1}
    fields.update(overrides)
    return OrderIntent(**fields)


def _make_id(intent: OrderIntent, ts: int) -> str:
    return f"gen-{intent.symbol}-{ts}"


def _no_instruments(key: str) -> Instrument | None:
    return None


def _lookup_of(*instruments: Instrument) -> InstrumentLookup:
    table = {inst.key: inst for inst in instruments}
    return table.get


def _validate(intent: OrderIntent, lookup: InstrumentLookup = _no_instruments) -> OrderIntent:
    return validate_intent(
        intent,
        now_ns=NOW,
        default_exchange="NSE",
        default_tick_size=0.05,
        lookup=lookup,
        make_id=_make_id,
    )


def _errors(intent: OrderIntent, lookup: InstrumentLookup = _no_instruments) -> IntentValidationError:
    with pytest.raises(IntentValidationError) as info:
        _validate(intent, lookup)
    return info.value


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type; NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


# --- each bad field is named, with its value ----------------------------------------------------------

BAD_FIELDS = [
    ("qty zero", {"qty": 0}, "qty", 0),
    ("qty negative", {"qty": -1}, "qty", -1),
    ("qty fractional", {"qty": 1.5}, "qty", 1.5),
    ("qty bool", {"qty": True}, "qty", True),
    ("LIMIT without price", {"order_type": "LIMIT"}, "price", None),
    ("LIMIT price NaN", {"order_type": "LIMIT", "price": math.nan}, "price", math.nan),
    ("LIMIT price inf", {"order_type": "LIMIT", "price": math.inf}, "price", math.inf),
    ("LIMIT price negative", {"order_type": "LIMIT", "price": -100.0}, "price", -100.0),
    ("LIMIT price zero", {"order_type": "LIMIT", "price": 0.0}, "price", 0.0),
    ("LIMIT price a string", {"order_type": "LIMIT", "price": "100"}, "price", "100"),
    ("SL without trigger", {"order_type": "SL", "price": 100.0}, "trigger_price", None),
    ("SL without price", {"order_type": "SL", "trigger_price": 99.0}, "price", None),
    ("SL-M without trigger", {"order_type": "SL-M"}, "trigger_price", None),
    ("MARKET with trigger", {"trigger_price": 100.0}, "trigger_price", 100.0),
    ("price off the 0.05 grid", {"order_type": "LIMIT", "price": 100.03}, "price", 100.03),
    (
        "trigger off the 0.05 grid",
        {"order_type": "SL-M", "trigger_price": 99.99},
        "trigger_price",
        99.99,
    ),
    ("tag of 21 characters", {"tag": "A" * 21}, "tag", "A" * 21),
    ("tag with a space", {"tag": "my tag"}, "tag", "my tag"),
    ("confidence above 1", {"confidence": 1.5}, "confidence", 1.5),
    ("confidence below 0", {"confidence": -0.1}, "confidence", -0.1),
    ("confidence NaN", {"confidence": math.nan}, "confidence", math.nan),
    ("unknown side", {"side": "HOLD"}, "side", "HOLD"),
    ("lower-case side", {"side": "buy"}, "side", "buy"),
    ("unknown order_type", {"order_type": "STOP"}, "order_type", "STOP"),
    ("unknown product", {"product": "BO"}, "product", "BO"),
    ("unknown validity", {"validity": "GTC"}, "validity", "GTC"),
    ("unknown variety", {"variety": "bracket"}, "variety", "bracket"),
    ("unknown exchange", {"exchange": "NYSE"}, "exchange", "NYSE"),
    ("unknown prefix", {"symbol": "XYZ:INFY"}, "symbol", "XYZ:INFY"),
    ("exchange contradicts prefix", {"symbol": "NSE:INFY", "exchange": "BSE"}, "exchange", "BSE"),
    ("symbol with a space", {"symbol": "IN FY"}, "symbol", "IN FY"),
    ("empty trading symbol", {"symbol": "NSE:"}, "symbol", "NSE:"),
    ("strategy_code with a space", {"strategy_code": "my strat"}, "strategy_code", "my strat"),
    ("empty strategy_code", {"strategy_code": ""}, "strategy_code", ""),
    ("intent_id with a space", {"intent_id": "id 1"}, "intent_id", "id 1"),
    ("reason too long", {"reason": "r" * 513}, "reason", "r" * 513),
    (
        "SL BUY trigger above price",
        {"order_type": "SL", "price": 100.0, "trigger_price": 101.0},
        "trigger_price",
        101.0,
    ),
    (
        "SL SELL trigger below price",
        {"order_type": "SL", "side": "SELL", "price": 100.0, "trigger_price": 99.0},
        "trigger_price",
        99.0,
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [case[1:] for case in BAD_FIELDS],
    ids=[case[0] for case in BAD_FIELDS],
)
def test_bad_field_is_named_with_its_value(overrides: dict[str, Any], field: str, value: Any) -> None:
    intent = _intent(**overrides)

    exc = _errors(intent)

    assert [e.field for e in exc.errors] == [field]
    assert _same(exc.errors[0].value, value), exc.errors[0]
    assert exc.errors[0].reason
    assert f"{field}={value!r}" in str(exc)


def test_metadata_too_large_is_named() -> None:
    intent = _intent(metadata={"blob": "x" * 5000})

    exc = _errors(intent)

    assert [(e.field, e.value) for e in exc.errors] == [("metadata", "<...>")]
    assert "4096" in exc.errors[0].reason


def test_unserialisable_metadata_is_named() -> None:
    intent = _intent(metadata={"when": object()})

    exc = _errors(intent)

    assert [e.field for e in exc.errors] == ["metadata"]
    assert "not JSON-serialisable" in exc.errors[0].reason


@pytest.mark.parametrize(
    ("qty", "ok"),
    [(65, True), (130, True), (650, True), (64, False), (100, False), (66, False)],
)
def test_lot_size_multiple(qty: int, ok: bool) -> None:
    intent = _intent(symbol="NFO:NIFTY26MAYFUT", qty=qty, product="NRML")
    lookup = _lookup_of(NIFTY_FUT)

    if ok:
        assert _validate(intent, lookup).qty == qty
    else:
        exc = _errors(intent, lookup)
        assert [(e.field, e.value) for e in exc.errors] == [("qty", qty)]
        assert "lot size 65" in exc.errors[0].reason


def test_lot_size_is_ignored_for_unknown_instruments() -> None:
    intent = _intent(symbol="NFO:NIFTY26MAYFUT", qty=100)

    assert _validate(intent).qty == 100


@pytest.mark.parametrize(
    ("qty", "ok"),
    [(65, True), (130, True), (650, True), (64, False), (100, False), (131, False)],
)
def test_a_modification_keeps_qty_a_multiple_of_the_lot_size(qty: int, ok: bool) -> None:
    """Kite refuses a modification off the lot grid as it refuses such a placement."""
    order = _intent(symbol="NFO:NIFTY26MAYFUT", qty=65, order_type="LIMIT", price=26_000.0)

    errors = validate_modify(
        order, 0, qty=qty, price=None, trigger_price=None, order_type=None, tick_size=0.05, lot_size=65
    )

    if ok:
        assert errors == []
    else:
        assert [(e.field, e.value, e.reason) for e in errors] == [
            ("qty", qty, "must be a multiple of the lot size 65")
        ]


def test_a_modification_leaving_qty_alone_is_not_checked_against_the_lot_size() -> None:
    order = _intent(symbol="NFO:NIFTY26MAYFUT", qty=65, order_type="LIMIT", price=26_000.0)

    errors = validate_modify(
        order, 0, qty=None, price=26_010.0, trigger_price=None, order_type=None, tick_size=0.05, lot_size=65
    )

    assert errors == []


@pytest.mark.parametrize(
    ("symbol", "ok"),
    [
        ("NFO:NIFTY26DEC24000CE", True),
        ("BFO:SENSEX26DEC80000PE", True),
        ("CDS:USDINR26DECFUT", True),
        ("NSE:ANYTHING", True),
        ("MCX:GOLDM26DECFUT", True),
        ("NFO:NIFTY", False),
        ("BFO:SENSEX26DEC80000", False),
    ],
)
def test_an_unknown_derivative_must_name_its_type(symbol: str, ok: bool) -> None:
    """Its charges depend on it: a symbol the instruments file does not know has to end in FUT, CE or PE."""
    intent = _intent(symbol=symbol, qty=1, product="NRML")

    if ok:
        assert _validate(intent).symbol == symbol
    else:
        exc = _errors(intent)
        assert [(e.field, e.value) for e in exc.errors] == [("symbol", symbol)]
        assert "(FUT, CE or PE)" in exc.errors[0].reason


@pytest.mark.parametrize(
    ("price", "ok"),
    [(100.03, True), (100.01, True), (0.01, True), (100.005, False), (100.0349, False)],
)
def test_price_on_a_001_grid_instrument(price: float, ok: bool) -> None:
    intent = _intent(symbol="IDEA", order_type="LIMIT", price=price)
    lookup = _lookup_of(PENNY)

    if ok:
        assert _validate(intent, lookup).price == price
    else:
        exc = _errors(intent, lookup)
        assert [(e.field, e.value) for e in exc.errors] == [("price", price)]
        assert "0.01" in exc.errors[0].reason


@pytest.mark.parametrize(
    ("price", "ok"),
    [(100.05, True), (0.05, True), (12345.65, True), (100.03, False), (100.049, False), (0.07, False)],
)
def test_price_on_the_default_005_grid(price: float, ok: bool) -> None:
    intent = _intent(order_type="LIMIT", price=price)

    if ok:
        assert _validate(intent).price == price
    else:
        assert [e.field for e in _errors(intent).errors] == ["price"]


@pytest.mark.parametrize(
    ("side", "price", "trigger", "ok"),
    [
        ("BUY", 100.0, 99.0, True),
        ("BUY", 100.0, 100.0, True),
        ("BUY", 100.0, 100.05, False),
        ("SELL", 100.0, 101.0, True),
        ("SELL", 100.0, 100.0, True),
        ("SELL", 100.0, 99.95, False),
    ],
)
def test_sl_trigger_against_limit(side: str, price: float, trigger: float, ok: bool) -> None:
    intent = _intent(side=side, order_type="SL", price=price, trigger_price=trigger)

    if ok:
        assert _validate(intent).trigger_price == trigger
    else:
        assert [(e.field, e.value) for e in _errors(intent).errors] == [("trigger_price", trigger)]


# --- normalisation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "exchange", "want_symbol", "want_exchange"),
    [
        ("INFY", None, "NSE:INFY", "NSE"),
        ("NSE:INFY", None, "NSE:INFY", "NSE"),
        ("NSE:INFY", "NSE", "NSE:INFY", "NSE"),
        ("INFY", "BSE", "BSE:INFY", "BSE"),
        ("BSE:INFY", None, "BSE:INFY", "BSE"),
        ("M&M", None, "NSE:M&M", "NSE"),
    ],
)
def test_symbol_is_normalised(
    symbol: str, exchange: str | None, want_symbol: str, want_exchange: str
) -> None:
    intent = _intent(symbol=symbol, exchange=exchange)

    got = _validate(intent)

    assert (got.symbol, got.exchange) == (want_symbol, want_exchange)
    assert got.tradingsymbol == want_symbol.partition(":")[2]


def test_lookup_sees_the_normalised_key() -> None:
    seen: list[str] = []

    def lookup(key: str) -> Instrument | None:
        seen.append(key)
        return None

    _validate(_intent(symbol="INFY"), lookup)

    assert seen == ["NSE:INFY"]


def test_empty_intent_id_is_generated_from_the_normalised_intent() -> None:
    intent = _intent(intent_id="")

    got = _validate(intent)

    assert got.intent_id == f"gen-NSE:INFY-{NOW}"


def test_given_intent_id_is_kept() -> None:
    got = _validate(_intent(intent_id="strat-1:abc_2.x"))

    assert got.intent_id == "strat-1:abc_2.x"


@pytest.mark.parametrize(("ts_init", "want"), [(0, NOW), (42, 42)])
def test_ts_init_is_filled_only_when_missing(ts_init: int, want: int) -> None:
    got = _validate(_intent(ts_init=ts_init))

    assert got.ts_init == want


def test_valid_intent_keeps_its_other_fields() -> None:
    intent = _intent(
        side="SELL",
        qty=7,
        order_type="SL",
        price=100.0,
        trigger_price=100.5,
        product="CNC",
        validity="IOC",
        tag="abc123",
        confidence=0.25,
        reason="why not",
        metadata={"k": [1, 2]},
    )

    got = _validate(intent)

    assert got == msgspec.structs.replace(
        intent, symbol="NSE:INFY", exchange="NSE", ts_init=NOW, intent_id=f"gen-NSE:INFY-{NOW}"
    )


def test_several_errors_are_all_reported_in_field_order() -> None:
    intent = _intent(side="HOLD", qty=0, tag="bad tag", confidence=2.0, order_type="LIMIT")

    exc = _errors(intent)

    assert [(e.field, e.value) for e in exc.errors] == [
        ("side", "HOLD"),
        ("qty", 0),
        ("price", None),
        ("tag", "bad tag"),
        ("confidence", 2.0),
    ]
    assert all(isinstance(e, FieldError) for e in exc.errors)
    for e in exc.errors:
        assert str(e) in str(exc)


# --- garbage field types: the journal must be able to hold whatever validation lets through ----------


def test_non_string_intent_id_is_a_field_error() -> None:
    exc = _errors(_intent(intent_id=5))

    assert [(e.field, e.value) for e in exc.errors] == [("intent_id", 5)]


def test_non_string_symbol_with_exchange_is_a_field_error() -> None:
    exc = _errors(_intent(symbol=123, exchange="NSE"))

    assert [(e.field, e.value) for e in exc.errors] == [("symbol", 123)]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(
            {"ts_init": "yesterday"},
            id="ts_init str",
        ),
        pytest.param(
            {"ts_init": True},
            id="ts_init bool",
        ),
        pytest.param({"metadata": [1, 2]}, id="metadata list"),
        pytest.param({"price": 100}, id="int price"),
        pytest.param({"confidence": 1}, id="int confidence"),
    ],
)
def test_accepted_intent_round_trips_through_the_journal_codec(overrides: dict[str, Any]) -> None:
    """The engine journals the normalised intent; a field the decoder refuses poisons the replay."""
    intent = _intent(**overrides)

    try:
        got = _validate(intent)
    except IntentValidationError as exc:
        assert {e.field for e in exc.errors} == set(overrides)
        return

    assert decode_event(encode_event(got)) == got


# --- salvage_identity ------------------------------------------------------------------------------------

GARBAGE = [
    pytest.param({}, id="valid"),
    pytest.param(
        {
            "symbol": 123,
            "strategy_code": None,
            "side": ["BUY"],
            "qty": "ten",
            "order_type": 5,
            "product": None,
            "validity": 1.5,
            "reason": b"bytes",
            "intent_id": 7,
            "ts_init": "yesterday",
            "price": "abc",
            "trigger_price": object(),
            "tag": 99,
            "confidence": "high",
            "metadata": {"x": object()},
            "exchange": 3,
            "variety": None,
        },
        id="every field garbage",
    ),
    pytest.param({"qty": True, "ts_init": -5, "reason": "r" * 2000}, id="bool qty, negative ts, long reason"),
    pytest.param({"qty": 2.5, "intent_id": "i" * 100}, id="float qty, long id"),
    pytest.param(
        {"ts_init": True},
        id="bool ts_init",
    ),
]


@pytest.mark.parametrize("overrides", GARBAGE)
def test_salvage_identity_is_journal_safe(overrides: dict[str, Any]) -> None:
    intent = _intent(**overrides)

    safe = salvage_identity(intent, _make_id, NOW)
    data = msgspec.json.encode(safe)
    back = msgspec.json.decode(data, type=OrderIntent)

    assert back == safe
    assert decode_event(encode_event(safe)) == safe
    assert isinstance(safe.intent_id, str) and 0 < len(safe.intent_id) <= 64
    assert type(safe.ts_init) is int and safe.ts_init > 0
    assert type(safe.qty) is int
    assert len(safe.reason) <= 512


def test_salvage_identity_coerces_values() -> None:
    intent = _intent(symbol=123, side=["BUY"], qty="ten", intent_id=7, ts_init="yesterday", reason=b"x")

    safe = salvage_identity(intent, _make_id, NOW)

    assert safe.symbol == "123"
    assert safe.side == "['BUY']"
    assert safe.qty == 0
    assert safe.reason == "b'x'"
    assert safe.ts_init == NOW
    assert safe.intent_id == f"gen-123-{NOW}"


def test_salvage_identity_keeps_a_good_identity() -> None:
    intent = _intent(intent_id="keep-me", ts_init=17, qty=-3)

    safe = salvage_identity(intent, _make_id, NOW)

    assert (safe.intent_id, safe.ts_init, safe.qty) == ("keep-me", 17, -3)
