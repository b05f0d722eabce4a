"""Hypothesis: any message body or in-process intent is a valid intent or field errors naming fields.

An intent reaches validation from NATS as raw bytes (``decode_submission``) and from the library
as an ``OrderIntent`` whose fields may be of any type. Either way the result is a normalised intent
that the journal writes and reads back unchanged, or errors each naming a field (and never an
exception that would end intake or leave a record the journal cannot hold).
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from hypothesis import example, given, settings
from hypothesis import strategies as st

from execsvc.bus.wire import decode_submission
from execsvc.errors import IntentValidationError
from execsvc.events import OrderIntent
from execsvc.journal.codec import decode_event, encode_event
from execsvc.validation import validate_intent

NOW = 1_795_147_200_000_000_000  # 2026-11-20 09:30 IST
FIELDS = sorted(OrderIntent.__struct_fields__)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=10),
    st.sampled_from(["BUY", "SELL", "LIMIT", "SL", "NSE:INFY", "INFY", "NSE", "amo", "\ud800", "1e400"]),
)
VALUE = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
BASE = {"symbol": "NSE:INFY", "strategy_code": "s1", "side": "BUY", "qty": 10}
CHANGES = st.dictionaries(st.sampled_from(FIELDS), VALUE, max_size=5)


def _valid_or_named(intent: OrderIntent) -> None:
    try:
        valid = validate_intent(
            intent,
            now_ns=NOW,
            default_exchange="NSE",
            default_tick_size=0.05,
            lookup=lambda key: None,
            make_id=lambda i, ts: "made-1",
        )
    except IntentValidationError as exc:
        # a field, or a path inside one (metadata.fair[1] for a NaN JSON would write as null)
        assert exc.errors and all(re.split(r"[.\[]", e.field)[0] in FIELDS for e in exc.errors), exc
        assert all(json.dumps(e.to_dict()).encode() for e in exc.errors)  # each can go on the wire
        return
    # the journal holds it as it is; metadata as JSON holds it (a NaN in it is refused above)
    back = decode_event(encode_event(valid))
    assert msgspec.structs.replace(back, metadata={}) == msgspec.structs.replace(valid, metadata={})


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=60),
        VALUE.map(lambda v: json.dumps(v).encode()),
        CHANGES.map(lambda v: json.dumps({**BASE, **v}).encode()),
    )
)
@example(b'{"symbol":"NSE:INFY","strategy_code":"s1","side":"BUY","qty":1,"reason":"\\ud800"}')
def test_any_message_body_is_an_intent_or_field_errors(data: bytes) -> None:
    intent, errors = decode_submission(data, {"Nats-Msg-Id": "m1"}, "execsvc.acct1.intents.s1")
    if errors:
        # an unknown key is named as sent, even "" (the only error that may name no field)
        assert intent is None and all(e.field or e.reason == "unknown field" for e in errors), errors
        return
    if isinstance(intent, OrderIntent):
        _valid_or_named(intent)


@settings(max_examples=200, deadline=None)
@given(CHANGES)
@example({"reason": "\ud800"})
@example({"metadata": {"a": "\udcff"}})
@example({"metadata": {"a": float("nan")}})
def test_any_in_process_intent_is_valid_or_refused_by_field(changes: dict[str, Any]) -> None:
    _valid_or_named(OrderIntent(**{**BASE, **changes}))
