"""The base every journaled event derives from, and the charges a fill carries.

Kept apart from ``events`` so that events defined in modules of their own (``broker_events``)
derive from the same base without importing ``events``, which joins them all in one union
(``JournalEvent``).
"""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Base of every event: frozen, keyword-only, defaults omitted on the wire."""


class Charges(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Indian statutory and broker charges of one fill, in rupees."""

    brokerage: float = 0.0
    stt: float = 0.0
    exchange: float = 0.0
    sebi: float = 0.0
    stamp: float = 0.0
    gst: float = 0.0
    auto_square_off: float = 0.0  # the broker's fee for squaring an intraday position off itself
    total: float = 0.0
    # grown later (a default: older journals fold as before): the depository's charge for shares
    # taken from the demat account, a physical settlement's given shares (``paper.delivery``)
    dp: float = 0.0
