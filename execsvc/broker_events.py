"""What the simulated broker (paper, dry-run) journals of an order it places itself.

Zerodha squares off the MIS positions still open at its auto square-off time (FACTS section 6)
per account: one MARKET order per symbol for the account's net quantity, none when the account is
flat there. The service books each strategy's position closed (its own closing order, each at
the one square-off price), but the charges are those of the broker's one order, shared out:
``BrokerSquareOff`` records that order and each strategy's share before any closing order is
journaled, so a restart after a kill in between closes the rest with the same price and figures
(``executors.paper.netting``). A symbol with one position only needs no such record: its closing
order is the broker's order.

Before it closes anything at the date line, the simulated broker journals the last prices it
closes at (``DayCloses``): ticks are not journaled, and a restart after a kill in the middle of
the date line must close the rest at those prices, not at the day's last fill. For the same
reason, once an exchange's session has closed, it journals the last prices of what is held there
(``SessionCloses``): a restart between the close and the date line marks, settles and carries at
them too.
"""

from __future__ import annotations

import msgspec

from execsvc.event_base import Charges, Event

AUTO_SQUARE_OFF_PREFIX = "auto-sqoff-"  # the intents of the paper broker's auto square-off
EXPIRY_PREFIX = "expiry-"  # the intents of the simulated exchange's expiry settlement
# its delivery of shares into (or out of) CNC holdings: inside the settlement's reserved ids, and
# apart from its closes (``expiry-<day>-<n>``), whose figures a restart reads back by that prefix
DELIVERY_PREFIX = f"{EXPIRY_PREFIX}delivery-"
# the simulated broker's and exchange's own orders: no intent from outside may take these ids
# (validation), and they are not the trader's trades (live, the broker's never reach the journal)
BROKER_PREFIXES = (AUTO_SQUARE_OFF_PREFIX, EXPIRY_PREFIX)


class SquareOffLeg(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One strategy's MIS position in a symbol's square-off, and its share of the broker's charges."""

    strategy_code: str
    net_qty: int
    """The position it closes (positive long, negative short)."""
    charges: Charges = Charges()
    """Its share of the broker's order's charges: pro rata by quantity among the positions on the
    side the order trades (the account's net side); none on the other side, whose positions the
    net-side ones absorb without any order (an internal cross)."""


class BrokerSquareOff(Event, frozen=True, tag="broker_square_off"):
    """The simulated broker's auto square-off of one symbol: the account's net MIS position closed
    by one MARKET order (``side`` and ``qty``; ``""`` and 0 when the positions net to flat and the
    broker places nothing), its ``charges`` (the fee included), and the legs that share them.

    Every leg closes at ``price``: the broker's order's fill, or the last price when it places none.
    ``last_price`` is the instrument's last price it traded against: the day's mark for a restart
    that rolls the day over with no tick (``last_day.journal_marks``), never the slipped fill.
    """

    symbol: str
    price: float
    side: str = ""
    qty: int = 0
    charges: Charges = Charges()
    legs: list[SquareOffLeg] = msgspec.field(default_factory=list)
    ts_event: int = 0
    last_price: float = 0.0  # 0: journaled before it was


class DayClose(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One instrument's last tick (at the date line, or past its exchange's close), as much of it
    as the date line's closes use."""

    symbol: str
    last_price: float
    bid: float = 0.0
    """The best bid's price (0: none): what a square-off sells at with ``use_bid_ask_spread``."""
    ask: float = 0.0
    """The best offer's price (0: none): what a square-off buys at."""


class DayCloses(Event, frozen=True, tag="day_closes"):
    """The last prices the simulated broker's date line closes positions at, journaled first there.

    Ticks are not journaled: a restart after a kill in the middle of the date line (some closes
    journaled, not all) would close the rest at the last price the journal knows, a fill's, not
    the last tick's. So before it acts, the date line journals the last tick of each instrument it
    closes a position in (an open MIS position's, an expired contract's), and a restart closes at
    these (``last_day.journal_marks``). Only prices of ticks are journaled: one the day's journal
    already knows (no tick since a restart) is the same at every start.
    """

    closes: list[DayClose] = msgspec.field(default_factory=list)
    ts_event: int = 0


class SessionCloses(Event, frozen=True, tag="session_closes"):
    """The last ticks of instruments held on an exchange whose session has closed (paper, dry-run).

    Journaled at the first input from an exchange's close (the session calendar's), for each
    instrument with an open position there that has had a tick since the start (a working order
    needs no price: nothing fills after the close; journals before this change named those too),
    and again for such an instrument whenever a later tick changes what the closes use of it. A
    start folds them back into the market (``executors.paper.session_closes``): a restart between
    the close and the date line marks, squares off, settles and carries at them, as the running
    service does, instead of at the day's last fill. Nothing when nothing is held.
    """

    closes: list[DayClose] = msgspec.field(default_factory=list)
    ts_event: int = 0
