"""Hypothesis: an order's tag is the start of base64's base32 of the intent id's SHA-256, lowercased.

``tag_for`` writes the base32 itself (the standard encoder is slow on a live order's path); a tag
that changed would no longer find the orders placed before it (restarts, reconciliation).
"""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given
from hypothesis import strategies as st

from execsvc.executors.kite.mapping import tag_for


def reference_tag(intent_id: str) -> str:
    digest = hashlib.sha256(intent_id.encode("utf-8")).digest()
    return "ex" + base64.b32encode(digest).decode("ascii")[:18].lower()


@given(st.text(max_size=80))
def test_tag_is_the_standard_base32_of_the_digest(intent_id: str) -> None:
    assert tag_for(intent_id) == reference_tag(intent_id)
