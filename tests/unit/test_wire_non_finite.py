"""A NaN or an infinity in ``metadata`` crosses the NATS wire named, not as the null JSON writes."""

from __future__ import annotations

import math

from execsvc.bus.subjects import NON_FINITE_HEADER
from execsvc.bus.wire import decode_submission, intent_message
from execsvc.engine import Submission
from execsvc.events import OrderIntent


def _intent(**metadata: object) -> OrderIntent:
    return OrderIntent(
        intent_id="nf-1", symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, metadata=dict(metadata)
    )


def test_a_non_finite_metadata_float_comes_back_from_the_wire_as_sent() -> None:
    subject, body, headers = intent_message(
        "acct1", Submission(_intent(fair=[1.0, math.nan], cap=-math.inf), "nf-1")
    )

    decoded, errors = decode_submission(body, headers, subject)

    assert errors == []
    fair = decoded.metadata["fair"]
    assert fair[0] == 1.0 and math.isnan(fair[1])
    assert decoded.metadata["cap"] == -math.inf


def test_finite_metadata_sends_no_header() -> None:
    _, _, headers = intent_message("acct1", Submission(_intent(fair=[1.0, 2.5]), "nf-1"))

    assert NON_FINITE_HEADER not in headers


def test_a_header_not_ours_is_refused_by_name() -> None:
    subject, body, headers = intent_message("acct1", Submission(_intent(fair=[math.nan]), "nf-1"))
    headers[NON_FINITE_HEADER] = '[[["price"], "nan"]]'

    decoded, errors = decode_submission(body, headers, subject)

    assert decoded is None and [e.field for e in errors] == [NON_FINITE_HEADER]
