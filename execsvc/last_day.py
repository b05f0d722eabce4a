"""The last journaled day of the service's mode: what a new day takes from, and a missed date line.

``previous_day`` finds and folds the last journaled day of the service's mode (days of another
mode hand nothing on). ``missed_day`` tells when that day is a paper day whose date line passed
while the service was down, to be rolled over at the next start:

A running paper (or dry-run) service meets the IST date line with its first tick or intent after
midnight: the simulated broker ends the day's working DAY orders, squares off the MIS positions
still open and settles the F&O contracts that expired (``PaperExecutor.expire_all``), in the old
day's journal, before the new day's opens (``day_rollover.roll_over``). A service stopped before
midnight and started after it never met that line; folded as a plain new day, the old day's MIS
positions were only listed as expired (never closed, their P&L never booked) and its DAY orders
were never ended. So a start with no journal for today looks at the last journaled day of its mode:
when that day left such business open (an expired contract's position included), the engine opens
that day's journal instead (folded as any restart folds it), and the start rolls it over before
intake begins (``Lifecycle.open``), as a running service would at the date line, at the start's
clock. The stop does not do it: a stop cannot know whether the next start comes the same day, and a
replay must not end with a square-off its ticks did not reach.

Ticks are not journaled, and a start has none of the old day: the positions are closed at the
last price the journal knows for their instrument (the last tick the date line journaled before
closing at it, ``DayCloses``, when a kill cut the line short; else its last fill or trigger that
day, or the last price a square-off or an expiry settlement carries, never a square-off's slipped
fill); one it knows no price of is left unsettled.

Never in live mode: the broker squares off and ends the orders itself, and reconciliation reads
what it did. Never twice: the roll writes the old day's closing records, then opens today's file,
which a later start folds; a start cut short in between finds the old day with business still
open and finishes it (a square-off a crash cut short is charged its fee once, ``auto_square_off``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from execsvc.broker_events import DELIVERY_PREFIX
from execsvc.errors import JournalError
from execsvc.events import BrokerSquareOff, DayCloses, Fill, JournalOpened, OrderIntent, OrderTriggered
from execsvc.executors.paper.day_closes import close_tick
from execsvc.journal.codec import Record, decode_record
from execsvc.journal.inspect import day_mode
from execsvc.journal.reader import journal_days, journal_path, read_journal
from execsvc.market.ticks import Tick
from execsvc.state import AUTO_SQUARE_OFF_PREFIX, EXPIRY_PREFIX, ServiceState

if TYPE_CHECKING:
    from execsvc.engine import Engine

log = logging.getLogger("execsvc.engine")

SIMULATED_BROKER = ("paper", "dry-run")  # the modes whose broker is the paper simulator
_CARRY_THEIR_PRICE = (EXPIRY_PREFIX, AUTO_SQUARE_OFF_PREFIX)  # the simulator's closes: the last price


def has_records(directory: Path, day: str) -> bool:
    """Whether ``day``'s journal holds a record (its first line reads), without folding it."""
    try:
        with journal_path(directory, day).open("rb") as f:
            decode_record(f.readline())
    except (OSError, msgspec.DecodeError):
        return False
    return True


def missed_day(
    result_mode: str,
    today: str,
    previous: ServiceState | None,
    expiry_of: Callable[[str], date | None] | None = None,
) -> str | None:
    """The day to open instead of ``today``: ``previous``'s, when it passed its date line unseen.

    That is a paper or dry-run day before today that left an MIS position open or a DAY order
    working (an after-market order waiting for the open is carried, not ended), or a position or
    an order in a contract that expired before today (``expiry_of``: the exchange settles it).
    """
    if previous is None or result_mode not in SIMULATED_BROKER or not previous.day or previous.day >= today:
        return None
    mis = any(p.product == "MIS" and p.net_qty for p in previous.positions.values())
    working = any(not r.amo_waiting for r in previous.working_orders())
    expired = expiry_of is not None and _holds_expired(previous, expiry_of, date.fromisoformat(today))
    if not (mis or working or expired):
        return None
    log.warning("the date line of %s passed while the service was down: rolling it over now "
                "(working DAY orders expire, open MIS positions are squared off and expired F&O "
                "contracts settled by the simulated broker at the last price the journal knows)",
                previous.day)  # fmt: skip
    return previous.day


def _holds_expired(state: ServiceState, expiry_of: Callable[[str], date | None], today: date) -> bool:
    """Whether ``state`` holds a position or a working order in a contract that expired before today."""
    symbols = [p.symbol for p in state.positions.values() if p.net_qty]
    symbols += [r.order.symbol for r in state.working_orders()]
    return any((expiry := expiry_of(s)) is not None and expiry < today for s in symbols)


def journal_marks(records: Iterable[Record], state: ServiceState) -> dict[str, Tick]:
    """Each instrument's last price in a day's journal, as a tick: the last tick the date line
    journaled before closing at it (``DayCloses``: its best bid and offer too), else the price of
    its last fill or trigger, or the one the simulated broker's square-off or an expiry settlement
    carries (a crash may have cut its fill off; and a square-off's fill is the last price less the
    slippage, not a mark)."""
    marks: dict[str, float] = {}
    closes: dict[str, Tick] = {}  # the date line's own: the day's closes after it are at these
    orders = state.orders
    priced: set[str] = set()  # the intents that carry their price: their fills mark nothing
    for record in records:
        event = record.ev
        if type(event) is Fill:
            # a physical settlement's delivery (``paper.delivery``) is no price of its stock
            if event.intent_id not in priced and not event.intent_id.startswith(DELIVERY_PREFIX):
                marks[event.symbol] = event.price
        elif type(event) is OrderIntent and event.intent_id.startswith(_CARRY_THEIR_PRICE):
            price = event.metadata.get("last_price")
            if isinstance(price, float | int) and not isinstance(price, bool) and price > 0:
                marks[event.symbol] = float(price)
                priced.add(event.intent_id)
        elif type(event) is BrokerSquareOff and event.last_price > 0:
            marks[event.symbol] = event.last_price
        elif type(event) is OrderTriggered:
            order = orders.get(event.order_id)
            if order is not None:
                marks[order.order.symbol] = event.last_price
        elif type(event) is DayCloses:
            closes.update((c.symbol, close_tick(c)) for c in event.closes if c.last_price > 0)
    ticks = {symbol: Tick(symbol=symbol, last_price=price) for symbol, price in marks.items()}
    return ticks | closes


def readable_previous_day(engine: Engine, day: str) -> ServiceState | None:
    """The fold of the last journaled day, or None, with an error logged, if its file is damaged.

    Today's journal is what restarts the day: a damaged earlier file costs only the answers to
    retries across the date line, so it is reported and start-up goes on.
    """
    try:
        return previous_day(engine, day)
    except JournalError as exc:
        log.error("the last journaled day before %s could not be read (%s): retries of its intents "
                  "after midnight are not recognised", day, exc)  # fmt: skip
        return None


def previous_day(engine: Engine, day: str) -> ServiceState | None:
    """The fold of the last journaled day before ``day`` of this service's mode, if there is one.

    Days of another mode (paper, live, dry-run) are passed over: they hand nothing on. A paper
    position carried into a live day is a phantom (reconciliation halts), and a paper result is
    no answer to a live intent; a paper rehearsal between two live days must not cut the second
    off from the first (the broker still holds the first's positions and after-market orders).
    A day's first line says its mode; only a day written before ``JournalOpened.dry_run`` existed
    is folded to tell (its results say dry-run), and an empty file (a start that stopped before
    its first record) is passed over.
    """
    directory = engine.journal.directory
    mode = engine.executor.result_mode
    passed: list[str] = []
    previous: ServiceState | None = None
    for earlier in reversed([d for d in journal_days(directory) if d < day]):
        path = journal_path(directory, earlier)
        opened = _opened_mode(path)
        if opened is not None and opened != mode:
            passed.append(f"{earlier} ({opened})")  # its first line says enough: no fold needed
            continue
        records = read_journal(path).records
        if not records:
            passed.append(f"{earlier} (empty)")
            continue
        previous = ServiceState(engine.limits.capital_rupees)
        for record in records:
            previous.apply(record.ev, record.ts)
        theirs = day_mode(previous) if opened is None else opened
        if not theirs or theirs == mode:
            break
        passed.append(f"{earlier} ({theirs})")
        previous = None
    if passed:
        log.warning("a %s day takes nothing from journaled days of another mode: passed over %s",
                    mode, ", ".join(passed))  # fmt: skip
    return previous


def _opened_mode(path: Path) -> str | None:
    """The mode a day's file opened in, from its first line alone; None when that line cannot say
    (no readable first record, or a live day from before ``JournalOpened.dry_run`` was written)."""
    try:
        with path.open("rb") as f:
            first = decode_record(f.readline()).ev
    except (OSError, msgspec.DecodeError):
        return None
    if type(first) is not JournalOpened or (first.mode == "live" and first.dry_run is None):
        return None
    return first.result_mode
