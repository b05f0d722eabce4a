"""Unit tests of the journal line format (execsvc.journal.codec): hash-chained JSON lines."""

from __future__ import annotations

import hashlib
import json
import typing
from pathlib import Path

import msgspec
import pytest

from execsvc.events import (
    BreakersReset,
    BreakerTripped,
    BrokerSessionChanged,
    BrokerSquareOff,
    CancelIntent,
    CarriedOrder,
    Charges,
    DayClose,
    DayCloses,
    ExecutionResult,
    Fill,
    JournalEvent,
    JournalOpened,
    LimitsChanged,
    ModifyIntent,
    OrderAccepted,
    OrderAcknowledged,
    OrderCancelled,
    OrderIntent,
    OrderModified,
    OrderReleased,
    OrdersCarried,
    OrderTriggered,
    OrderUnknown,
    PositionsCarried,
    Reconciled,
    SessionCloses,
    SquareOffLeg,
    SquareOffRequested,
    TradingHalted,
    TradingResumed,
)
from execsvc.journal.codec import (
    GENESIS,
    Record,
    body_of,
    decode_event,
    decode_record,
    encode_event,
    encode_record,
    hash_of,
)
from execsvc.journal.reader import read_journal
from execsvc.positions import Position

TS = 1_777_000_000_000_000_000

EVENTS: list[JournalEvent] = [
    JournalOpened(day="2026-05-04", ts_event=TS, mode="live", dry_run=True, capital=250_000.0),
    OrderIntent(
        symbol="NSE:INFY",
        strategy_code="S1",
        side="BUY",
        qty=10,
        order_type="LIMIT",
        price=1500.05,
        tag="t1",
        reason='quote " and \\ and ₹ and \n',
        metadata={"signal": [1, 2.5, None, {"k": "v"}]},
        intent_id="i-1",
        exchange="NSE",
        ts_init=TS,
    ),
    ExecutionResult(
        intent_id="i-1",
        strategy_code="S1",
        status="FILLED",
        symbol="NSE:INFY",
        side="BUY",
        qty=10,
        order_id="20260504P0000001",
        filled_qty=10,
        avg_price=1500.05,
        raw={"fills": [[10, 1500.05]]},
        ts_event=TS,
        charges=12.34,
    ),
    Fill(
        fill_id="f-1",
        order_id="20260504P0000001",
        intent_id="i-1",
        strategy_code="S1",
        symbol="NSE:INFY",
        side="BUY",
        qty=10,
        price=1500.05,
        charges=Charges(
            brokerage=4.5, stt=0.0, exchange=0.4455, sebi=0.015, stamp=0.45, gst=0.89, total=6.3005
        ),
        ts_event=TS,
    ),
    BreakerTripped(breaker="max_daily_loss", message="max_daily_loss: x", value=-5120.0, limit=-5000.0),
    TradingHalted(reason="operator"),
    PositionsCarried(
        positions=[
            Position(strategy_code="S1", symbol="NSE:INFY", product="CNC", net_qty=10, avg_price=1500.05)
        ],
        from_day="2026-05-01",
        expired=[Position(strategy_code="S1", symbol="NSE:SBIN", net_qty=-3, avg_price=801.5)],
        marks=[DayClose(symbol="NSE:INFY", last_price=1510.0, bid=1509.95)],
    ),
    OrdersCarried(
        orders=[
            CarriedOrder(
                order=OrderAccepted(
                    order_id="exabc",
                    intent_id="i-2",
                    strategy_code="S1",
                    symbol="NSE:INFY",
                    side="BUY",
                    qty=5,
                    order_type="LIMIT",
                    product="CNC",
                    validity="DAY",
                    price=1490.0,
                    variety="amo",
                ),
                unknown=True,
                first_result=ExecutionResult(
                    intent_id="i-2",
                    strategy_code="S1",
                    status="UNKNOWN",
                    symbol="NSE:INFY",
                    side="BUY",
                    qty=5,
                ),
            )
        ],
        from_day="2026-05-01",
    ),
    OrderReleased(order_id="exabc", intent_id="i-2", ts_event=TS),
    OrderAccepted(
        order_id="exabc",
        intent_id="i-2",
        strategy_code="S1",
        symbol="NSE:INFY",
        side="SELL",
        qty=5,
        order_type="SL-M",
        product="NRML",
        validity="DAY",
        trigger_price=1480.0,
        reducing=True,
        ts_event=TS,
        variety="iceberg",
    ),
    CancelIntent(order_id="exabc", intent_id="c-1", strategy_code="S1", reason="flat", ts_init=TS),
    ModifyIntent(order_id="exabc", qty=3, price=1491.5, order_type="LIMIT", reason="chase", ts_init=TS),
    OrderAcknowledged(order_id="exabc", intent_id="i-2", broker_order_id="250504000000001", reopened=True),
    OrderUnknown(order_id="exabc", intent_id="i-2", reason="HTTP 503", attempt=2, ts_event=TS),
    OrderTriggered(order_id="exabc", intent_id="i-2", last_price=1489.95, ts_event=TS),
    OrderModified(
        order_id="exabc", intent_id="i-2", qty=3, order_type="SL", price=1490.0, trigger_price=1489.0
    ),
    OrderCancelled(order_id="exabc", intent_id="i-2", strategy_code="S1", symbol="NSE:INFY", cancelled_qty=3),
    Reconciled(
        orders_checked=2, orders_gone=["exabc"], position_mismatches=["NSE:INFY CNC: journal 5, broker 0"]
    ),
    TradingResumed(reason="checked", by="operator", ts_event=TS),
    BreakersReset(reason="new capital", ts_event=TS),
    LimitsChanged(limits={"capital_rupees": 250000.0, "max_trades_per_day": None}, by="sighup"),
    SquareOffRequested(strategy_code="S1", reason="15:15", by="session", ts_event=TS),
    BrokerSquareOff(
        symbol="NSE:INFY",
        price=1489.25,
        side="SELL",
        qty=6,
        charges=Charges(brokerage=2.68, stt=2.0, gst=9.48, auto_square_off=50.0, total=64.16),
        legs=[
            SquareOffLeg(strategy_code="S1", net_qty=10, charges=Charges(brokerage=2.68, total=2.68)),
            SquareOffLeg(strategy_code="S2", net_qty=-4),
        ],
        ts_event=TS,
    ),
    DayCloses(
        closes=[
            DayClose(symbol="NSE:INFY", last_price=1489.5, bid=1489.45, ask=1489.55),
            DayClose(symbol="NFO:NIFTY26NOVFUT", last_price=26250.0),
        ],
        ts_event=TS,
    ),
    BrokerSessionChanged(state="expired", reason="Kite GET /orders: HTTP 403 TokenException", source="file"),
    SessionCloses(
        closes=[DayClose(symbol="NFO:NIFTY26DECFUT", last_price=26020.0, bid=26015.0)], ts_event=TS
    ),
]
IDS = [type(e).__name__ for e in EVENTS]


def test_every_journaled_event_type_has_a_round_trip_case() -> None:
    assert {type(e) for e in EVENTS} == set(typing.get_args(JournalEvent))


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_encode_decode_record_round_trip(event: JournalEvent) -> None:
    line, digest = encode_record(3, TS, "ab" * 32, event)

    record = decode_record(line)

    assert record == Record(seq=3, ts=TS, prev="ab" * 32, ev=event, h=digest)
    assert line.endswith(b"\n") and line.count(b"\n") == 1


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_hash_of_line_equals_its_h_member(event: JournalEvent) -> None:
    line, digest = encode_record(0, TS, GENESIS, event)

    assert hash_of(line) == digest
    assert decode_record(line).h == digest
    assert json.loads(line)["h"] == digest
    assert len(digest) == 64 and int(digest, 16) >= 0


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_body_of_strips_the_h_member(event: JournalEvent) -> None:
    line, digest = encode_record(0, TS, GENESIS, event)

    body = body_of(line)

    parsed = json.loads(body)
    assert "h" not in parsed
    assert parsed == {k: v for k, v in json.loads(line).items() if k != "h"}
    assert list(parsed) == ["seq", "ts", "prev", "ev"]
    assert hashlib.sha256(body).hexdigest() == digest
    assert body_of(line.rstrip(b"\n")) == body


def test_line_layout_is_body_then_h() -> None:
    line, digest = encode_record(0, TS, GENESIS, TradingHalted(reason="x"))

    assert line == body_of(line)[:-1] + b',"h":"' + digest.encode() + b'"}\n'
    assert line.startswith(
        b'{"seq":0,"ts":' + str(TS).encode() + b',"prev":"' + GENESIS.encode() + b'","ev":{'
    )


def test_an_edited_line_no_longer_hashes_to_its_h() -> None:
    line, digest = encode_record(0, TS, GENESIS, TradingHalted(reason="operator"))

    edited = line.replace(b"operator", b"operatoR")

    assert decode_record(edited).h == digest
    assert hash_of(edited) != digest


def test_seq_ts_and_prev_are_part_of_the_hash() -> None:
    event = TradingHalted(reason="x")

    base = encode_record(0, TS, GENESIS, event)[1]
    others = {
        encode_record(1, TS, GENESIS, event)[1],
        encode_record(0, TS + 1, GENESIS, event)[1],
        encode_record(0, TS, "1" * 64, event)[1],
    }

    assert base not in others and len(others) == 3


def test_records_chain_and_pass_the_reader(tmp_path: Path) -> None:
    prev, lines = GENESIS, []
    for seq, event in enumerate(EVENTS):
        line, prev = encode_record(seq, TS + seq, prev, event)
        lines.append(line)
    path = tmp_path / "2026-05-04.jsonl"
    path.write_bytes(b"".join(lines))

    result = read_journal(path)

    assert [r.ev for r in result.records] == EVENTS
    assert [r.seq for r in result.records] == list(range(len(EVENTS)))
    assert result.records[0].prev == GENESIS
    assert all(b.prev == a.h for a, b in zip(result.records, result.records[1:]))
    assert result.last_hash == prev
    assert result.good_bytes == path.stat().st_size


@pytest.mark.parametrize("event", EVENTS, ids=IDS)
def test_encode_decode_event_round_trip(event: JournalEvent) -> None:
    data = encode_event(event)

    assert decode_event(data) == event
    assert type(decode_event(data)) is type(event)


def test_events_are_tagged_and_omit_defaults() -> None:
    data = json.loads(encode_event(TradingHalted(reason="x")))

    assert data == {"type": "halted", "reason": "x"}


@pytest.mark.parametrize(
    "line",
    [b"", b"not json\n", b'{"seq":0}\n', b'{"seq":0,"ts":1,"prev":"x","ev":{"type":"nope"},"h":""}\n'],
)
def test_decode_record_refuses_non_records(line: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_record(line)
