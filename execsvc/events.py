"""The events that flow through execsvc and are written to its journal.

Every event is a frozen, keyword-only, tagged msgspec Struct. Journaled schemas only grow: a new
field always has a default, nothing is renamed or retyped. Timestamps are integer nanoseconds since
the epoch (``ts_event`` when it happened, ``ts_init`` when execsvc first saw it), read from the
injected clock, so a replay gives the same values every time.

Statuses of an :class:`ExecutionResult`:

- ``PLACED``: the order is working (a resting LIMIT, an SL waiting for its trigger, a live order
  acknowledged by the broker).
- ``FILLED``: fully filled.
- ``PARTIAL``: part filled; the rest is still working, was not fillable or was refused (an
  iceberg's later leg rejected by the broker: REJECTED is kept for orders nothing of which filled).
- ``CANCELLED``: cancelled (by request, or the unfilled rest of an IOC).
- ``REJECTED``: refused by validation, a breaker, the simulator or the broker; nothing works.
- ``UNKNOWN``: live only: the broker call's outcome is not known yet; reconciliation resolves it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from execsvc.broker_events import BrokerSquareOff as BrokerSquareOff  # re-exported: one place
from execsvc.broker_events import DayClose as DayClose
from execsvc.broker_events import DayCloses as DayCloses
from execsvc.broker_events import SessionCloses as SessionCloses
from execsvc.broker_events import SquareOffLeg as SquareOffLeg
from execsvc.event_base import Charges as Charges
from execsvc.event_base import Event as _Event
from execsvc.operator_events import BreakersReset as BreakersReset
from execsvc.operator_events import BreakerTripped as BreakerTripped
from execsvc.operator_events import LimitsChanged as LimitsChanged
from execsvc.operator_events import SquareOffRequested as SquareOffRequested
from execsvc.operator_events import TradingHalted as TradingHalted
from execsvc.operator_events import TradingResumed as TradingResumed
from execsvc.positions import Position
from execsvc.session_events import BrokerSessionChanged as BrokerSessionChanged

SIDES = ("BUY", "SELL")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("MIS", "NRML", "CNC", "MTF")
VALIDITIES = ("DAY", "IOC")
VARIETIES = ("regular", "amo", "iceberg")
EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "MCX", "CDS", "BCD")
RESULT_STATUSES = ("PLACED", "FILLED", "PARTIAL", "CANCELLED", "REJECTED", "UNKNOWN")
TERMINAL_STATUSES = frozenset({"FILLED", "CANCELLED", "REJECTED"})


class OrderIntent(_Event, frozen=True, tag="intent"):
    """A strategy's wish to trade, before any check.

    ``symbol`` is a trading symbol (``INFY``) or Kite's ``EXCHANGE:TRADINGSYMBOL`` (``NSE:INFY``);
    validation normalises it to the latter. ``intent_id`` is the idempotency key: leave it empty and
    the service generates one. The enum-like fields are plain strings so that a bad value reaches
    validation and comes back as a named error instead of a decoder exception.
    """

    symbol: str
    strategy_code: str
    side: str
    qty: int
    order_type: str = "MARKET"
    product: str = "MIS"
    validity: str = "DAY"
    price: float | None = None
    trigger_price: float | None = None
    tag: str | None = None
    reason: str = ""
    confidence: float = 1.0
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    intent_id: str = ""
    exchange: str | None = None
    ts_init: int = 0
    variety: str = "regular"

    @property
    def tradingsymbol(self) -> str:
        """The symbol without its exchange prefix."""
        return self.symbol.partition(":")[2] or self.symbol


class CancelIntent(_Event, frozen=True, tag="cancel_intent"):
    """A request to cancel a working order, by order id or by the intent that placed it."""

    order_id: str = ""
    intent_id: str = ""
    strategy_code: str = ""
    reason: str = ""
    ts_init: int = 0
    key: str = ""  # its submission key, once handled for a known order (see ``order_changes``)
    deferred: bool = False  # held until the order is found at the broker (``OrderRecord.pending_cancel``)
    attempt: int = 0  # sends before this one (refused while being processed, or a restart: ``cancel_retry``)
    refused: str = ""  # the broker's refusal of its last send: held again (``deferred``) or given up


class ModifyIntent(_Event, frozen=True, tag="modify_intent"):
    """A request to change a working order's quantity, price, trigger or type (None keeps it)."""

    order_id: str
    qty: int | None = None
    price: float | None = None
    trigger_price: float | None = None
    order_type: str | None = None
    reason: str = ""
    ts_init: int = 0
    key: str = ""  # as ``CancelIntent.key``: a change is done once per key, across restarts


class ExecutionResult(_Event, frozen=True, tag="result"):
    """The outcome of an intent, and every later change to it (a resting order filling, a cancel).

    ``filled_qty``, ``avg_price`` and ``charges`` are cumulative over the order's fills so far;
    ``raw`` carries the executor's details (the simulator's fills, the broker's response, the
    exact request a dry run would have sent).
    """

    intent_id: str
    strategy_code: str
    status: str
    symbol: str
    side: str
    qty: int
    order_id: str | None = None
    filled_qty: int = 0
    avg_price: float | None = None
    message: str | None = None
    reject_reason: str | None = None
    raw: dict[str, Any] | None = None
    timestamp: str | None = None
    ts_event: int = 0
    mode: str = "paper"
    charges: float = 0.0


class OrderAccepted(_Event, frozen=True, tag="order_accepted"):
    """An executor took an order: from here it counts as a trade and may fill."""

    order_id: str
    intent_id: str
    strategy_code: str
    symbol: str
    side: str
    qty: int
    order_type: str
    product: str
    validity: str
    price: float | None = None
    trigger_price: float | None = None
    reducing: bool = False
    ts_event: int = 0
    variety: str = "regular"
    """Kite's variety (``regular``, ``amo``, ``iceberg``): its cancel and modify paths name it."""
    multiplier: float = 1.0  # the contract's (MCX, CDS, BCD): its fills' value is qty * price * this
    at_open: bool = False
    """A future paper or dry-run took in the F&O pre-open (the call auction, which they do not
    simulate): like an AMO it waits for the open, where ``OrderReleased`` sends it to the book; a
    DAY order all the same, ended at the date line if no tick of the session met it."""
    iceberg_legs: int | None = None
    """An iceberg adopted by reconciliation (no journaled intent names its legs): the broker's
    ``meta.iceberg.legs``, against which a change of its total is checked. None otherwise."""


class OrderAcknowledged(_Event, frozen=True, tag="order_acknowledged"):
    """The broker took a live order: its own order id for our ``order_id`` (the order's tag)."""

    order_id: str
    intent_id: str
    broker_order_id: str
    adopted: bool = False
    ts_event: int = 0
    reopened: bool = False
    """The order had been closed as not found at the broker and turned up after all: it works again."""


class OrderReleased(_Event, frozen=True, tag="order_released"):
    """An after-market order (AMO) went to the exchange: from here it is a DAY order like any other
    (so did a future taken in the F&O pre-open, ``OrderAccepted.at_open``, at the open).

    Paper and dry-run journal it when their simulated exchange takes the order with its
    instrument's first tick after it was placed; live, when the broker first shows it at the
    exchange. Until then the order waits for an open, across date lines.
    """

    order_id: str
    intent_id: str
    ts_event: int = 0


class OrderUnknown(_Event, frozen=True, tag="order_unknown"):
    """A live placement whose outcome is unknown (timeout, dropped connection, 5xx).

    It is resolved by finding the order's tag in the broker's order book, never by sending blindly.
    """

    order_id: str
    intent_id: str
    reason: str
    attempt: int = 1
    ts_event: int = 0


class Reconciled(_Event, frozen=True, tag="reconciled"):
    """What start-up reconciliation with the broker found and did."""

    orders_checked: int = 0
    orders_updated: list[str] = msgspec.field(default_factory=list)
    orders_not_placed: list[str] = msgspec.field(default_factory=list)
    orders_adopted: list[str] = msgspec.field(default_factory=list)
    position_mismatches: list[str] = msgspec.field(default_factory=list)
    halted: bool = False
    ts_event: int = 0
    orders_failed: list[str] = msgspec.field(default_factory=list)  # could not be applied: halted
    orders_gone: list[str] = msgspec.field(default_factory=list)  # acknowledged, not in the book now
    multiplier_mismatches: list[str] = msgspec.field(default_factory=list)  # config vs the broker's
    cancels_resent: list[str] = msgspec.field(default_factory=list)  # journaled as sent, unanswered
    multipliers_booked: list[str] = msgspec.field(default_factory=list)  # at an old multiplier: reported


class Fill(_Event, frozen=True, tag="fill"):
    """A (partial) execution of an order."""

    fill_id: str
    order_id: str
    intent_id: str
    strategy_code: str
    symbol: str
    side: str
    qty: int
    price: float
    product: str = "MIS"
    charges: Charges = Charges()
    liquidity: str = "taker"
    ts_event: int = 0
    multiplier: float = 1.0  # its order's: P&L and turnover are qty * price * multiplier


class OrderTriggered(_Event, frozen=True, tag="order_triggered"):
    """A stop order's trigger was hit: an SL now works as a LIMIT, an SL-M as a MARKET."""

    order_id: str
    intent_id: str
    last_price: float
    ts_event: int = 0


class OrderModified(_Event, frozen=True, tag="order_modified"):
    """A working order now has these terms (the executor, or the broker, accepted the change)."""

    order_id: str
    intent_id: str
    qty: int
    order_type: str
    price: float | None = None
    trigger_price: float | None = None
    ts_event: int = 0


class OrderCancelled(_Event, frozen=True, tag="order_cancelled"):
    """The unfilled rest of an order is no longer working."""

    order_id: str
    intent_id: str
    strategy_code: str
    symbol: str
    cancelled_qty: int
    reason: str = ""
    ts_event: int = 0


class JournalOpened(_Event, frozen=True, tag="journal_opened"):
    """The first record of a day's journal file."""

    day: str
    version: int = 1
    mode: str = "paper"
    ts_event: int = 0
    dry_run: bool | None = None  # a live day whose orders went to the paper simulator, not the
    # broker; written either way since it exists (None: a day from before, whose results tell)
    capital: float | None = None  # the drawdown breaker's capital when the day opened

    @property
    def result_mode(self) -> str:
        """The day's mode as its results name it: paper, live or dry-run."""
        return "dry-run" if self.dry_run else self.mode


class PositionsCarried(_Event, frozen=True, tag="positions_carried"):
    """Open positions brought into a new trading day (their day P&L starts again at zero).

    ``expired`` are the intraday (MIS) positions the last day left open (the broker squares those
    off itself before the close and never carries one overnight) and positions in F&O contracts
    that expired before the new day (the exchange settled them): recorded, not carried.

    ``marks`` (paper, dry-run) are the last ticks of the carried positions' instruments, in symbol
    order, that the simulated broker marks them at until their first tick of the new day
    (``PaperExecutor.closes``): ticks are not journaled, so a start on the new day restores them
    from here. None in live (the feed gives the prices) nor in a day written before they were.
    """

    positions: list[Position]
    from_day: str = ""
    ts_event: int = 0
    expired: list[Position] = msgspec.field(default_factory=list)
    marks: list[DayClose] = msgspec.field(default_factory=list)


class CarriedOrder(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """An after-market order still waiting for the next open when its day ended, as far as it got
    (``broker_order_id`` is None while a live placement's answer is on its way or was lost)."""

    order: OrderAccepted
    broker_order_id: str | None = None
    filled_qty: int = 0
    filled_value: float = 0.0
    triggered: bool = False
    unknown: bool = False  # its placement's outcome is still being looked up at the broker
    fill_ids: list[str] = msgspec.field(default_factory=list)
    first_result: ExecutionResult | None = None  # its intent's answers: a repeat of the intent is
    latest_result: ExecutionResult | None = None  # answered on any later day, never placed again
    change_keys: list[str] = msgspec.field(default_factory=list)  # of its cancels and modifications
    pending_cancel: CancelIntent | None = None  # held: not acknowledged, refused or unanswered
    cancel_sent: CancelIntent | None = None  # sent, unanswered: a restart sends it (``hold_unanswered``)


class OrdersCarried(_Event, frozen=True, tag="orders_carried"):
    """After-market (AMO) orders brought into a new trading day: they go out at its open.

    Folded as working orders of the new day (not new trades: the day's counters do not move), so
    their updates are applied and they can be cancelled or modified like the day's own.
    """

    orders: list[CarriedOrder]
    from_day: str = ""
    ts_event: int = 0


JournalEvent = (
    OrderIntent
    | CancelIntent
    | ExecutionResult
    | OrderAccepted
    | Fill
    | OrderCancelled
    | ModifyIntent
    | OrderModified
    | OrderTriggered
    | OrderReleased
    | OrderAcknowledged
    | OrderUnknown
    | Reconciled
    | BreakerTripped
    | TradingHalted
    | TradingResumed
    | BreakersReset
    | JournalOpened
    | PositionsCarried
    | OrdersCarried
    | LimitsChanged
    | SquareOffRequested
    | BrokerSquareOff
    | DayCloses
    | BrokerSessionChanged
    | SessionCloses
)
"""Every event that may appear in a journal record."""
