"""What the live service journals of its Kite API session (``executors.kite.session``).

The session ending (a Kite web logout, the 6 AM expiry) and coming back (a new token from
``execsvc login``) are journaled, so the day's journal tells why intents were refused between
them and that a reconciliation followed. They are a record, not a state the fold keeps: a
restart proves its token by reconciling before any intake (or refuses to start), so nothing
carries over; and no halt is journaled, since a halt latches until someone resumes, while the new
login is that someone's act (see ``KiteSession`` and the README's operations section).
"""

from __future__ import annotations

from execsvc.event_base import Event


class BrokerSessionChanged(Event, frozen=True, tag="broker_session"):
    """The Kite session ``expired`` (with the broker's redacted reason) or was ``restored`` (with
    what the reconciliation that followed found); ``source`` is where the token is read from
    (``file``, ``env``, ``argument``). Never a token."""

    state: str
    reason: str = ""
    source: str = ""
    ts_event: int = 0
