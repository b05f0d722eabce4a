"""The simulated exchange: orders, matching, trades and positions. Pure state, no I/O.

Matching is paper mode's (``execsvc.executors.paper.fills``): a MARKET order becomes a LIMIT at
its market protection price (``-1`` uses ``market_protection_auto_pct``) and, like a marketable
LIMIT, takes liquidity from the instrument's latest tick on arrival; what does not fill rests,
price-ordered in a :class:`~execsvc.executors.paper.book.RestingBook`, and fills at its own price
when a later tick crosses it. SL/SL-M orders wait for their trigger, then do the same. An IOC
remainder is cancelled. An AMO waits for the instrument's next tick, then goes to the exchange;
with the session calendar (:mod:`execsvc.sim.session`) its first tick in the exchange's normal
session, and a tick out of the session matches nothing. Changes to working orders are in
:mod:`execsvc.sim.changes`.
TTL orders are accepted and end with the day as DAY orders do (:mod:`execsvc.sim.day_end`, which
expires what still works at the close or the date line); iceberg orders fill as one order, reported
leg by leg as Kite reports them (:mod:`execsvc.sim.iceberg_legs`).

Every method takes ``now_ns`` and returns the order updates it caused (``Update``) as data; the
caller delivers them (WebSocket text frames, postbacks).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from execsvc.executors.paper.book import RestingBook
from execsvc.executors.paper.fills import (
    Consumed,
    aggressive_fills,
    resting_fills,
    round_to_tick,
    stop_triggered,
)
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.sim import changes
from execsvc.sim.config import SimConfig
from execsvc.sim.envelope import ApiError
from execsvc.sim.iceberg_legs import ended_legs, leg_parts
from execsvc.sim.market import MarketState
from execsvc.sim.orders import OrderRequest, SimOrder, rms_reject, trade_dict
from execsvc.sim.positions import PositionBook
from execsvc.sim.session import Placement, SessionGate

__all__ = ["ExchangeBook", "Update"]

_ORDER_ID_BASE = 1_900_000_000_000_000_000
_EXCHANGE_ID_BASE = 1_300_000_000_000_000
_TRADE_ID_BASE = 10_000_000


class Update(NamedTuple):
    """One order update: whose order (``api_key``), the status sent, and the postback-shaped body."""

    api_key: str
    status: str
    payload: dict[str, Any]


class ExchangeBook:
    """See the module docstring.

    Args:
        config: the simulator's settings (fill model, protection, limits, user).
        instruments: reference data (see :class:`~execsvc.sim.market.MarketState`).
        id_seed: makes order ids unique across runs (e.g. the start time in ms); ids stay 19 digits.
        session: the session calendar's gate (default: none, every hour is in session).
    """

    def __init__(
        self,
        config: SimConfig,
        instruments: Instruments,
        id_seed: int = 0,
        session: SessionGate | None = None,
    ) -> None:
        self.config = config
        self.session = session or SessionGate()
        self.market = MarketState(instruments, config.default_tick_size)
        self._id_seed = id_seed % 10**15 * 1000
        self.reset()

    def reset(self) -> None:
        """Forget orders, trades and positions (the market stays)."""
        self.orders: dict[str, SimOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self.positions = PositionBook(self.config.multipliers, self.market.instruments)
        self.resting = RestingBook()
        self._trades_by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # by symbol, in arrival order: AMOs, and futures taken in the pre-open, until the open
        self._at_open: dict[str, list[str]] = defaultdict(list)
        self._consumed: dict[str, Consumed] = defaultdict(dict)
        self._order_ids = itertools.count(_ORDER_ID_BASE + self._id_seed + 1)
        self._exchange_ids = itertools.count(_EXCHANGE_ID_BASE + 1)
        self._trade_ids = itertools.count(_TRADE_ID_BASE + 1)

    # -- ticks --------------------------------------------------------------------------------------

    def on_tick(self, tick: Tick, now_ns: int) -> tuple[Tick, list[Update]]:
        """Record a tick, fill what it crosses and release the instrument's AMOs; out of the
        session (with the calendar) only record it: no exchange matches then.

        Returns:
            The normalized tick and the updates it caused.
        """
        tick = self.market.update(tick)
        symbol = tick.symbol
        self._consumed[symbol].clear()
        updates: list[Update] = []
        resting = self.resting.has_orders(symbol)
        if not (resting or symbol in self._at_open) or not self.session.in_session(symbol, now_ns):
            return tick, updates  # the calendar is asked only when something waits on the symbol
        if resting:
            updates += self._match(tick, now_ns)
        for order_id in self._at_open.pop(symbol, ()):
            order = self.orders[order_id]
            if order.working:
                updates += self._submit(order, now_ns)
        return tick, updates

    def _match(self, tick: Tick, now_ns: int) -> list[Update]:
        symbol, last, book = tick.symbol, tick.last_price, self.resting
        updates: list[Update] = []
        for order_id in book.buy_stops_at_or_below(symbol, last) + book.sell_stops_at_or_above(symbol, last):
            order = self.orders[order_id]
            book.discard(symbol, order_id)
            order.triggered = True
            updates += self._open(order, tick, now_ns)
        model = self.config.fill_model
        ask = bid = last
        if model.use_bid_ask_spread or model.use_depth:
            best_ask, best_bid = tick.best_ask, tick.best_bid
            ask = best_ask.price if best_ask is not None else last
            bid = best_bid.price if best_bid is not None else last
        consumed = self._consumed[symbol]
        for order_id in book.buy_limits_at_or_above(symbol, ask) + book.sell_limits_at_or_below(symbol, bid):
            order = self.orders[order_id]
            limit = order.limit if order.limit is not None else order.price
            fills = resting_fills(order.transaction_type, order.pending, limit, tick, model, consumed)
            before = order.filled_quantity
            for qty, price in fills:
                self._fill(order, qty, price, now_ns)
            updates += self._legs_ended(order, before, now_ns)
            if order.pending == 0:
                book.discard(symbol, order_id)
                updates.append(self._status(order, "COMPLETE", now_ns))
            else:
                book.reinsert_limit(symbol, order.transaction_type, limit, order_id)
                if fills:
                    updates.append(self._status(order, "OPEN", now_ns, notify="UPDATE"))
        return updates

    # -- orders -------------------------------------------------------------------------------------

    def place(
        self,
        req: OrderRequest,
        api_key: str,
        now_ns: int,
        *,
        reject_with: str | None = None,
        reject_raw: str | None = None,
        fill_fraction: float | None = None,
        goes: Placement = "now",
    ) -> tuple[SimOrder, list[Update]]:
        """Accept an order and send it on (an AMO waits for the next tick in the session).

        Args:
            req: the validated request.
            api_key: whose order (the app that placed it).
            now_ns: the sim clock.
            reject_with, reject_raw: an RMS rejection's message and raw text (``""``, None: margin's).
            fill_fraction: fill only this fraction now if marketable; the rest rests.
            goes: ``"at_open"`` queues a regular order for the open as an AMO is (a future taken
                in the F&O pre-open, :meth:`SessionGate.placement`).

        Returns:
            The order and the updates its placement caused.
        """
        order_id = str(next(self._order_ids))
        inst = self.market.instruments.by_key(req.symbol)
        order = SimOrder.from_request(
            req,
            order_id=order_id,
            api_key=api_key,
            user_id=self.config.user_id,
            instrument_token=inst.instrument_token if inst is not None else 0,
            now_ns=now_ns,
        )
        order.reject_with, order.reject_raw, order.fill_fraction = reject_with, reject_raw, fill_fraction
        self.orders[order_id] = order
        order.set_status("AMO REQ RECEIVED" if req.variety == "amo" else "PUT ORDER REQ RECEIVED", now_ns)
        if req.variety == "amo" or goes == "at_open":
            self._at_open[order.symbol].append(order_id)
            return order, []
        return order, self._submit(order, now_ns)

    def waits_for_open(self, order: SimOrder) -> bool:
        """Whether ``order`` is queued for its exchange's open (an AMO, a future from the pre-open)."""
        return order.order_id in self._at_open.get(order.symbol, ())

    def leave_open_queue(self, order: SimOrder) -> None:
        """Take ``order`` out of the queue for the open (a cancel), if it is in it."""
        if self.waits_for_open(order):
            self._at_open[order.symbol].remove(order.order_id)

    def marketable(self, req: OrderRequest) -> bool:
        """Whether ``req`` would take liquidity on arrival (a MARKET, or a LIMIT crossing the last price)."""
        tick = self.market.get(req.symbol)
        if tick is None or req.variety == "amo" or req.order_type in ("SL", "SL-M"):
            return False
        if req.order_type == "MARKET":
            return True
        last = tick.last_price
        return req.price >= last if req.transaction_type == "BUY" else req.price <= last

    def _submit(self, order: SimOrder, now_ns: int) -> list[Update]:
        order.set_status("VALIDATION PENDING", now_ns)
        tick = self.market.get(order.symbol)
        if order.reject_with is not None:
            ref = order.price or order.trigger_price or (tick.last_price if tick is not None else 0.0)
            multiplier = self.positions.multiplier(order.symbol)
            message, raw = rms_reject(order, ref, multiplier)
            message, order.status_message_raw = order.reject_with or message, order.reject_raw or raw
            return [self._status(order, "REJECTED", now_ns, message=message)]
        order.set_status("OPEN PENDING", now_ns)
        if tick is None:
            order.status_message_raw = "EXCHANGE:no market data"
            message = f"No market data for {order.symbol} yet: rejected by the exchange (simulator)."
            return [self._status(order, "REJECTED", now_ns, message=message)]
        side = order.transaction_type
        if order.is_stop and stop_triggered(side, order.trigger_price, tick.last_price):
            word = "higher" if side == "BUY" else "lower"
            message = (
                f"Trigger price for stoploss {side.lower()} orders should be {word} than the last "
                f"traded price ({tick.last_price:g})."
            )
            return [self._status(order, "REJECTED", now_ns, message=message)]
        order.exchange_order_id = str(next(self._exchange_ids))
        order.exchange_ns = now_ns
        if order.is_stop:
            self.resting.add_stop(order.symbol, side, order.trigger_price, order.order_id)
            return [self._status(order, "TRIGGER PENDING", now_ns)]
        return self._open(order, tick, now_ns)

    def _open(self, order: SimOrder, tick: Tick, now_ns: int) -> list[Update]:
        """Work the order at the exchange: set its limit, mark it OPEN and take liquidity."""
        if order.order_type in ("MARKET", "SL-M"):
            pct = (
                order.market_protection
                if order.market_protection > 0
                else self.config.market_protection_auto_pct
            )
            factor = 1 + pct / 100 if order.transaction_type == "BUY" else 1 - pct / 100
            # Stay inside the protection band: a BUY rounds down, a SELL up.
            inside = "SELL" if order.transaction_type == "BUY" else "BUY"
            order.limit = round_to_tick(tick.last_price * factor, self._tick_size(order), inside)
            order.tags = [t for t in order.tags if not t.startswith("mktp")] + ["mktp", f"mktp:{pct:.2f}"]
            if order.order_type == "MARKET":
                order.order_type, order.price = "LIMIT", order.limit
        else:
            order.limit = order.price
        updates = [self._status(order, "OPEN", now_ns)]
        return updates + self._take(order, tick, now_ns)

    def _take(self, order: SimOrder, tick: Tick, now_ns: int) -> list[Update]:
        qty = order.pending
        fraction, order.fill_fraction = order.fill_fraction, None
        if fraction is not None and qty > 1:
            qty = max(1, min(qty - 1, int(qty * fraction)))
        limit = order.limit
        assert limit is not None
        fills = aggressive_fills(
            order.transaction_type,
            qty,
            limit,
            tick,
            self.config.fill_model,
            self._tick_size(order),
            self._consumed[order.symbol],
        )
        before = order.filled_quantity
        for fill_qty, price in fills:
            self._fill(order, fill_qty, price, now_ns)
        legs_ended = self._legs_ended(order, before, now_ns)
        if order.pending == 0:
            return [*legs_ended, self._status(order, "COMPLETE", now_ns)]
        if order.validity == "IOC":
            ioc = "IOC order cancelled: the rest was not marketable."
            return [*legs_ended, self._cancelled(order, now_ns, ioc)]
        self.resting.add_limit(order.symbol, order.transaction_type, limit, order.order_id)
        if fills:
            return [*legs_ended, self._status(order, "OPEN", now_ns, notify="UPDATE")]
        return []

    def _fill(self, order: SimOrder, qty: int, price: float, now_ns: int) -> None:
        iceberg = order.meta.get("iceberg") if order.variety == "iceberg" else None
        parts = [qty]
        if isinstance(iceberg, dict):  # each leg is an exchange order: a trade is one leg's
            parts = leg_parts(iceberg["legs"], iceberg["leg_quantity"], order.filled_quantity, qty)
        order.filled_quantity += qty
        order.filled_value += qty * price
        for part in parts:
            trade = trade_dict(order, str(next(self._trade_ids)), part, price, now_ns)
            self.trades.append(trade)
            self._trades_by_order[order.order_id].append(trade)
        self.positions.apply(
            order.exchange,
            order.tradingsymbol,
            order.instrument_token,
            order.product,
            order.transaction_type,
            qty,
            price,
        )

    def _legs_ended(self, order: SimOrder, before: int, now_ns: int) -> list[Update]:
        """A COMPLETE for each leg of an iceberg that fills since ``before`` filled in full, with
        legs to come (:mod:`execsvc.sim.iceberg_legs`); none for any other order."""
        iceberg = order.meta.get("iceberg") if order.variety == "iceberg" else None
        if not isinstance(iceberg, dict):
            return []
        c = self.config
        updates: list[Update] = []
        for leg in ended_legs(iceberg["legs"], iceberg["leg_quantity"], before, order.filled_quantity):
            order.history.append(order.to_dict(ended_leg=leg))
            payload = order.update_payload("COMPLETE", c.app_id, c.api_secret, ended_leg=leg)
            updates.append(Update(order.api_key, "COMPLETE", payload))
        return updates

    def _status(
        self,
        order: SimOrder,
        status: str,
        now_ns: int,
        *,
        message: str | None = None,
        notify: str | None = None,
    ) -> Update:
        order.set_status(status, now_ns, message)
        c = self.config
        return Update(
            order.api_key, notify or status, order.update_payload(notify or status, c.app_id, c.api_secret)
        )

    def _cancelled(self, order: SimOrder, now_ns: int, message: str | None = None) -> Update:
        self.resting.discard(order.symbol, order.order_id)
        order.cancelled_quantity = order.pending
        return self._status(order, "CANCELLED", now_ns, message=message)

    def _tick_size(self, order: SimOrder) -> float:
        return self.market.tick_size_of(order.symbol) or self.config.default_tick_size

    def modify(
        self,
        order_id: str,
        variety: str,
        form: Mapping[str, object],
        now_ns: int,
        rms: Callable[[SimOrder, int], ApiError | None] | None = None,
    ) -> list[Update] | ApiError:
        """Apply ``PUT /orders/{variety}/{order_id}`` (:func:`execsvc.sim.changes.modify`)."""
        return changes.modify(self, order_id, variety, form, now_ns, rms)

    def cancel(self, order_id: str, variety: str, now_ns: int) -> list[Update] | ApiError:
        """Apply ``DELETE /orders/{variety}/{order_id}`` (:func:`execsvc.sim.changes.cancel`)."""
        return changes.cancel(self, order_id, variety, now_ns)

    def order_trades(self, order_id: str) -> list[dict[str, Any]] | ApiError:
        """``GET /orders/{order_id}/trades``."""
        if order_id not in self.orders:
            return ApiError.input(f"Invalid `order_id`: {order_id!r}.")
        return list(self._trades_by_order.get(order_id, ()))

    def end_day(self) -> None:
        """The day boundary: finished orders and their trades leave the book (by then the only
        working ones wait for the open: ``day_end`` expired the rest)."""
        self.orders = {order_id: order for order_id, order in self.orders.items() if order.working}
        self.trades = [trade for trade in self.trades if trade["order_id"] in self.orders]
        for order_id in [i for i in self._trades_by_order if i not in self.orders]:
            del self._trades_by_order[order_id]

    def positions_dict(self) -> dict[str, list[dict[str, Any]]]:
        """``GET /portfolio/positions``: ``{"net": [...], "day": [...]}``."""
        return self.positions.to_dict(self.market.ticks)
