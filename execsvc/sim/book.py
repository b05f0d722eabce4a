"""The simulated exchange: orders, matching, trades and positions. Pure state, no I/O.

Matching is paper mode's (``execsvc.executors.paper.fills``): a MARKET order becomes a LIMIT at
its market protection price (``-1`` uses ``market_protection_auto_pct``) and, like a marketable
LIMIT, takes liquidity from the instrument's latest tick on arrival; what does not fill rests,
price-ordered in a :class:`~execsvc.executors.paper.book.RestingBook`, and fills at its own price
when a later tick crosses it. SL/SL-M orders wait for their trigger, then do the same. An IOC
remainder is cancelled. An AMO waits for the instrument's next tick, then goes to the exchange.
TTL orders are accepted and never expire here; iceberg orders fill as one order (their ``meta``
tracks the remaining quantity).

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
from execsvc.sim.config import SimConfig
from execsvc.sim.envelope import ApiError
from execsvc.sim.market import MarketState
from execsvc.sim.orders import OrderRequest, SimOrder, rms_reject, trade_dict
from execsvc.sim.params import parse_order_modify
from execsvc.sim.positions import PositionBook

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
    """

    def __init__(self, config: SimConfig, instruments: Instruments, id_seed: int = 0) -> None:
        self.config = config
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
        self._amo: dict[str, list[str]] = defaultdict(list)
        self._consumed: dict[str, Consumed] = defaultdict(dict)
        self._order_ids = itertools.count(_ORDER_ID_BASE + self._id_seed + 1)
        self._exchange_ids = itertools.count(_EXCHANGE_ID_BASE + 1)
        self._trade_ids = itertools.count(_TRADE_ID_BASE + 1)

    # -- ticks --------------------------------------------------------------------------------------

    def on_tick(self, tick: Tick, now_ns: int) -> tuple[Tick, list[Update]]:
        """Record a tick, fill what it crosses and release the instrument's AMOs.

        Returns:
            The normalized tick and the updates it caused.
        """
        tick = self.market.update(tick)
        symbol = tick.symbol
        self._consumed[symbol].clear()
        updates: list[Update] = []
        if self.resting.has_orders(symbol):
            updates += self._match(tick, now_ns)
        for order_id in self._amo.pop(symbol, ()):
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
            for qty, price in fills:
                self._fill(order, qty, price, now_ns)
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
    ) -> tuple[SimOrder, list[Update]]:
        """Accept an order and send it on (an AMO waits for the next tick).

        Args:
            req: the validated request.
            api_key: whose order (the app that placed it).
            now_ns: the sim clock.
            reject_with, reject_raw: an RMS rejection's message and raw text (``""``, None: margin's).
            fill_fraction: fill only this fraction now if marketable; the rest rests.

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
        if req.variety == "amo":
            order.set_status("AMO REQ RECEIVED", now_ns)
            self._amo[order.symbol].append(order_id)
            return order, []
        order.set_status("PUT ORDER REQ RECEIVED", now_ns)
        return order, self._submit(order, now_ns)

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
        for fill_qty, price in fills:
            self._fill(order, fill_qty, price, now_ns)
        if order.pending == 0:
            return [self._status(order, "COMPLETE", now_ns)]
        if order.validity == "IOC":
            return [self._cancelled(order, now_ns, "IOC order cancelled: the rest was not marketable.")]
        self.resting.add_limit(order.symbol, order.transaction_type, limit, order.order_id)
        if fills:
            return [self._status(order, "OPEN", now_ns, notify="UPDATE")]
        return []

    def _fill(self, order: SimOrder, qty: int, price: float, now_ns: int) -> None:
        order.filled_quantity += qty
        order.filled_value += qty * price
        iceberg = order.meta.get("iceberg")
        if isinstance(iceberg, dict):
            iceberg["remaining_quantity"] = order.pending
        trade = trade_dict(order, str(next(self._trade_ids)), qty, price, now_ns)
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

    def _find(self, order_id: str, variety: str) -> SimOrder | ApiError:
        order = self.orders.get(order_id)
        if order is None:
            return ApiError.input(f"Invalid `order_id`: {order_id!r}.")
        if order.variety != variety:
            return ApiError.input(f"Invalid `variety`: the order is {order.variety!r}, not {variety!r}.")
        return order

    def modify(
        self,
        order_id: str,
        variety: str,
        form: Mapping[str, object],
        now_ns: int,
        rms: Callable[[SimOrder, int], ApiError | None] | None = None,
    ) -> list[Update] | ApiError:
        """Apply ``PUT /orders/{variety}/{order_id}``; a 400 when not allowed (see ``max_modifications``),
        or when ``rms`` (the account's check of the new quantity: lot size, freeze limit, holdings)
        refuses it."""
        order = self._find(order_id, variety)
        if isinstance(order, ApiError):
            return order
        if not order.working:
            return ApiError.order(f"Order cannot be modified as it is {order.status.lower()}.")
        if order.modifications >= self.config.max_modifications:
            return ApiError.input(
                f"Maximum allowed order modifications ({self.config.max_modifications}) exceeded."
            )
        req = parse_order_modify(form, order, self._tick_size(order))
        if isinstance(req, ApiError):
            return req
        if rms is not None and (refused := rms(order, req.quantity)) is not None:
            return refused  # refused before anything changes: the order stays as it was
        was = order.status
        order.modifications += 1
        order.order_ns = now_ns
        # Kite's history shows the old terms through MODIFIED; the next entry has the new ones
        order.set_status("MODIFY VALIDATION PENDING", now_ns)
        order.set_status("MODIFY PENDING", now_ns)
        order.set_status("MODIFIED", now_ns)
        order.modified = True
        order.order_type, order.quantity, order.price = req.order_type, req.quantity, req.price
        order.trigger_price, order.validity = req.trigger_price, req.validity
        order.disclosed_quantity, order.market_protection = req.disclosed_quantity, req.market_protection
        self.resting.discard(order.symbol, order_id)
        tick = self.market.get(order.symbol)
        if was == "AMO REQ RECEIVED" or tick is None:
            return [self._status(order, "AMO REQ RECEIVED", now_ns, notify="UPDATE")]
        side = order.transaction_type
        if order.is_stop and not order.triggered:
            if stop_triggered(side, order.trigger_price, tick.last_price):
                order.triggered = True
                return [
                    self._status(order, "TRIGGER PENDING", now_ns, notify="UPDATE"),
                    *self._open(order, tick, now_ns),
                ]
            self.resting.add_stop(order.symbol, side, order.trigger_price, order_id)
            return [self._status(order, "TRIGGER PENDING", now_ns, notify="UPDATE")]
        if order.order_type in ("LIMIT", "SL"):
            order.limit = order.price
        updates = [self._status(order, "OPEN", now_ns, notify="UPDATE")]
        if order.order_type in ("MARKET", "SL-M"):
            return updates + self._open(order, tick, now_ns)
        return updates + self._take(order, tick, now_ns)

    def cancel(self, order_id: str, variety: str, now_ns: int) -> list[Update] | ApiError:
        """Apply ``DELETE /orders/{variety}/{order_id}``; a 400 for an order that is not working."""
        order = self._find(order_id, variety)
        if isinstance(order, ApiError):
            return order
        if not order.working:
            return ApiError.order(f"Order cannot be cancelled as it is {order.status.lower()}.")
        pending_amo = self._amo.get(order.symbol)
        if pending_amo and order_id in pending_amo:
            pending_amo.remove(order_id)
        order.set_status("CANCEL PENDING", now_ns)
        return [self._cancelled(order, now_ns)]

    def order_trades(self, order_id: str) -> list[dict[str, Any]] | ApiError:
        """``GET /orders/{order_id}/trades``."""
        if order_id not in self.orders:
            return ApiError.input(f"Invalid `order_id`: {order_id!r}.")
        return list(self._trades_by_order.get(order_id, ()))

    def end_day(self) -> None:
        """The day boundary: finished orders and their trades leave the book (working ones stay)."""
        self.orders = {order_id: order for order_id, order in self.orders.items() if order.working}
        self.trades = [trade for trade in self.trades if trade["order_id"] in self.orders]
        for order_id in [i for i in self._trades_by_order if i not in self.orders]:
            del self._trades_by_order[order_id]

    def positions_dict(self) -> dict[str, list[dict[str, Any]]]:
        """``GET /portfolio/positions``: ``{"net": [...], "day": [...]}``."""
        return self.positions.to_dict(self.market.ticks)
