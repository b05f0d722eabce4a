"""Hypothesis: whatever the broker answers, the adapter's readers give a value or one of our errors.

Kite's REST envelope, its order/trade/position/holding rows and its binary tick frames are read at
the edge; any bytes or JSON there must come back as data or as an execsvc error naming what was
wrong (a ``BrokerError``, a ``TickDataError``), never as a library exception that would fail an
order task as a bug and halt trading.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from execsvc.errors import BrokerDataError, BrokerError, TickDataError
from execsvc.executors.kite import models
from execsvc.executors.kite.envelope import read_envelope
from execsvc.market.kite_codec import KiteDecoder, encode_frame
from execsvc.market.ticks import Tick

LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["nan", "inf", "-1", "1e400", "", "10.5", "COMPLETE"]),
)
JSON = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
ROW_KEYS = sorted(
    {*models.KiteOrder.__struct_fields__, *models.KiteTrade.__struct_fields__}
    | {*models.KitePosition.__struct_fields__, *models.KiteHolding.__struct_fields__}
)
ROW = st.dictionaries(st.sampled_from(ROW_KEYS), JSON, max_size=10)
BODY = st.one_of(
    st.binary(max_size=60),
    JSON.map(lambda v: json.dumps(v).encode()),
    ROW.map(lambda v: json.dumps({"status": "error", **v}).encode()),
)


def _no_redaction(text: str) -> str:
    return text


@settings(max_examples=150, deadline=None)
@given(
    status=st.integers(100, 599),
    ctype=st.sampled_from(["application/json", "text/html", ""]),
    raw=BODY,
    placement=st.booleans(),
)
@example(status=200, ctype="application/json", raw=b'{"status": "success", "data": "\xff"}', placement=False)
@example(status=200, ctype="application/json", raw=b'{"status": "success", "data": "\xff"}', placement=True)
@example(status=200, ctype="application/json", raw=b"[" * 100_000, placement=False)
@example(status=400, ctype="application/json", raw=b"[" * 100_000, placement=True)
def test_any_answer_is_data_or_a_broker_error(status: int, ctype: str, raw: bytes, placement: bool) -> None:
    try:
        read_envelope("GET", "/orders", status, ctype, raw, placement=placement, redact=_no_redaction)
    except BrokerError:
        pass


READERS = [
    models.parse_order,
    models.parse_orders,
    models.parse_trade,
    models.split_trades,
    models.parse_positions,
    models.parse_holdings,
    lambda data: models.parse_order_book(data, lambda tag: tag.startswith("ex")),
]


@pytest.mark.parametrize("read", READERS)
@settings(max_examples=60, deadline=None)
@given(data=st.one_of(ROW, JSON, st.lists(ROW, max_size=3), st.fixed_dictionaries({"net": st.lists(ROW)})))
def test_any_row_is_read_or_refused_by_name(read: Any, data: Any) -> None:
    try:
        read(data)
    except BrokerDataError as exc:
        assert str(exc).startswith("Kite ")


GOOD_FRAME = encode_frame([Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0)], mode="full")


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.tuples(st.integers(0, len(GOOD_FRAME)), st.binary(max_size=8)).map(
            lambda cut: GOOD_FRAME[: cut[0]] + cut[1] + GOOD_FRAME[cut[0] + len(cut[1]) :]
        ),
    )
)
def test_any_frame_decodes_or_names_its_offset(frame: bytes) -> None:
    try:
        KiteDecoder().decode_frame(frame, recv_ns=1)
    except TickDataError as exc:
        assert "offset" in str(exc) or "frame" in str(exc)
