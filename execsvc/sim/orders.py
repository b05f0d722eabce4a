"""The simulator's order record and its Kite JSON shapes (FACTS.md 2.1, 2.2, 3.1).

A :class:`SimOrder` is mutable state owned by the book; every status transition appends a
snapshot of its Kite dict to ``history`` (``GET /orders/{id}``), oldest first. Quantities follow
the Kite samples: a REJECTED order has ``pending_quantity`` 0, a CANCELLED one keeps its unfilled
quantity both as ``pending_quantity`` and as ``cancelled_quantity``.

Statuses (FACTS.md 2.3) an order passes through here::

    PUT ORDER REQ RECEIVED (or AMO REQ RECEIVED) -> VALIDATION PENDING -> OPEN PENDING
        -> OPEN | TRIGGER PENDING -> COMPLETE | CANCELLED | REJECTED
    a modify: MODIFY VALIDATION PENDING -> MODIFY PENDING -> MODIFIED -> OPEN | TRIGGER PENDING
        (the entries up to MODIFIED show the old terms, as Kite's history sample does)
    a cancel: CANCEL PENDING -> CANCELLED
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from execsvc.clock import IST
from execsvc.sim.iceberg_legs import LegView, leg_view

__all__ = [
    "NOTIFY_STATUSES",
    "TERMINAL",
    "OrderRequest",
    "SimOrder",
    "kite_time",
    "postback_checksum",
    "rms_reject",
    "trade_dict",
]

TERMINAL = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})
"""Statuses an order never leaves."""

NOTIFY_STATUSES = frozenset({"COMPLETE", "CANCELLED", "REJECTED", "UPDATE"})
"""Statuses that are POSTed to the postback URL (WebSocket clients also get OPEN and TRIGGER PENDING)."""

_NS = 1_000_000_000


def kite_time(ts_ns: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in IST, Kite's timestamp format."""
    return dt.datetime.fromtimestamp(ts_ns // _NS, tz=IST).strftime("%Y-%m-%d %H:%M:%S")


def postback_checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    """``hex(sha256(order_id + order_timestamp + api_secret))`` (FACTS.md 3.1)."""
    return hashlib.sha256((order_id + order_timestamp + api_secret).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderRequest:
    """A validated placement (``POST /orders/{variety}``)."""

    variety: str
    exchange: str
    tradingsymbol: str
    transaction_type: str
    order_type: str
    quantity: int
    product: str
    price: float = 0.0
    trigger_price: float = 0.0
    validity: str = "DAY"
    validity_ttl: int | None = None
    disclosed_quantity: int = 0
    market_protection: float = 0.0
    iceberg_legs: int | None = None
    iceberg_quantity: int | None = None
    tag: str | None = None

    @property
    def symbol(self) -> str:
        """``EXCHANGE:TRADINGSYMBOL``."""
        return f"{self.exchange}:{self.tradingsymbol}"


@dataclass(kw_only=True, slots=True)
class SimOrder:
    """One order in the simulator's book; see the module docstring.

    ``limit`` is the working limit once the order is at the exchange (its price, or the market
    protection price of a MARKET/SL-M order); ``None`` before that.
    """

    order_id: str
    api_key: str
    user_id: str
    guid: str
    variety: str
    exchange: str
    tradingsymbol: str
    instrument_token: int
    transaction_type: str
    order_type: str
    product: str
    validity: str
    validity_ttl: int | None
    quantity: int
    disclosed_quantity: int
    price: float
    trigger_price: float
    market_protection: float
    tag: str | None
    tags: list[str]
    meta: dict[str, Any]
    order_ns: int
    status: str = "PUT ORDER REQ RECEIVED"
    status_message: str | None = None
    status_message_raw: str | None = None
    exchange_order_id: str | None = None
    exchange_ns: int | None = None
    exchange_update_ns: int | None = None
    filled_quantity: int = 0
    filled_value: float = 0.0
    cancelled_quantity: int = 0
    modified: bool = False
    modifications: int = 0
    limit: float | None = None
    triggered: bool = False
    reject_with: str | None = None
    reject_raw: str | None = None
    fill_fraction: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_request(
        cls,
        req: OrderRequest,
        *,
        order_id: str,
        api_key: str,
        user_id: str,
        instrument_token: int,
        now_ns: int,
    ) -> SimOrder:
        """A new order (no status yet) for a validated request."""
        meta: dict[str, Any] = {}
        if req.iceberg_legs and req.iceberg_quantity:
            meta["iceberg"] = {
                "leg": 1,
                "legs": req.iceberg_legs,
                "leg_quantity": req.iceberg_quantity,
                "total_quantity": req.quantity,
            }
        return cls(
            order_id=order_id,
            api_key=api_key,
            user_id=user_id,
            guid=hashlib.sha1(order_id.encode()).hexdigest()[:10].upper(),
            variety=req.variety,
            exchange=req.exchange,
            tradingsymbol=req.tradingsymbol,
            instrument_token=instrument_token,
            transaction_type=req.transaction_type,
            order_type=req.order_type,
            product=req.product,
            validity=req.validity,
            validity_ttl=req.validity_ttl,
            quantity=req.quantity,
            disclosed_quantity=req.disclosed_quantity,
            price=req.price,
            trigger_price=req.trigger_price,
            market_protection=req.market_protection,
            tag=req.tag,
            tags=[req.tag] if req.tag else [],
            meta=meta,
            order_ns=now_ns,
        )

    @property
    def symbol(self) -> str:
        """``EXCHANGE:TRADINGSYMBOL``."""
        return f"{self.exchange}:{self.tradingsymbol}"

    @property
    def pending(self) -> int:
        """Quantity still to fill."""
        return self.quantity - self.filled_quantity

    @property
    def is_stop(self) -> bool:
        """An SL or SL-M order."""
        return self.order_type in ("SL", "SL-M")

    @property
    def working(self) -> bool:
        """Not in a terminal status."""
        return self.status not in TERMINAL

    @property
    def average_price(self) -> float:
        """Quantity-weighted average fill price (0 before any fill)."""
        if not self.filled_quantity:
            return 0.0
        return round(self.filled_value / self.filled_quantity, 4)

    def iceberg_leg(self, ended: int | None = None) -> LegView | None:
        """An iceberg's leg as Kite reports it (:func:`~execsvc.sim.iceberg_legs.leg_view`; ``ended``:
        that leg, filled in full), or None for an order that is no iceberg."""
        iceberg = self.meta.get("iceberg")
        if self.variety != "iceberg" or not isinstance(iceberg, dict):
            return None
        legs, leg_quantity = iceberg["legs"], iceberg["leg_quantity"]
        return leg_view(self.quantity, legs, leg_quantity, self.filled_quantity, ended)

    def to_dict(self, ended_leg: int | None = None) -> dict[str, Any]:
        """The order as Kite returns it (``GET /orders``): every field of FACTS.md 2.1. An iceberg
        shows its current leg (``ended_leg``: that leg, COMPLETE), the total in ``meta.iceberg``."""
        status, quantity, filled = self.status, self.quantity, self.filled_quantity
        meta = {k: dict(v) if isinstance(v, dict) else v for k, v in self.meta.items()}
        cancelled = self.cancelled_quantity
        leg = self.iceberg_leg(ended_leg)
        if leg is not None:
            quantity, filled = leg.quantity, leg.filled
            cancelled = quantity - filled if cancelled else 0
            shown = {"leg": leg.leg, "total_quantity": self.quantity, "remaining_quantity": leg.remaining}
            meta["iceberg"].update(shown)
            status = "COMPLETE" if ended_leg is not None else status
        if status == "REJECTED":
            pending = 0
        elif status == "CANCELLED":
            pending = cancelled
        else:
            pending = quantity - filled
        out: dict[str, Any] = {
            "account_id": self.user_id,
            "placed_by": self.user_id,
            "order_id": self.order_id,
            "exchange_order_id": self.exchange_order_id,
            "parent_order_id": None,
            "status": status,
            "status_message": self.status_message,
            "status_message_raw": self.status_message_raw,
            "order_timestamp": kite_time(self.order_ns),
            "exchange_update_timestamp": _maybe_time(self.exchange_update_ns),
            "exchange_timestamp": _maybe_time(self.exchange_ns),
            "variety": self.variety,
            "modified": self.modified,
            "exchange": self.exchange,
            "tradingsymbol": self.tradingsymbol,
            "instrument_token": self.instrument_token,
            "order_type": self.order_type,
            "transaction_type": self.transaction_type,
            "validity": self.validity,
            "validity_ttl": self.validity_ttl or 0,
            "product": self.product,
            "quantity": quantity,
            "disclosed_quantity": self.disclosed_quantity,
            "price": self.price,
            "trigger_price": self.trigger_price,
            "average_price": self.average_price,
            "filled_quantity": filled,
            "pending_quantity": pending,
            "cancelled_quantity": cancelled,
            "market_protection": _number(self.market_protection),
            "meta": meta,
            "tag": self.tag,
            "guid": self.guid,
        }
        if self.tags:
            out["tags"] = list(self.tags)
        return out

    def set_status(self, status: str, now_ns: int, message: str | None = None) -> None:
        """Move to ``status`` and record the transition in ``history``."""
        self.status = status
        if self.exchange_order_id is not None:
            self.exchange_update_ns = now_ns
        if message is not None:
            self.status_message = message
        self.history.append(self.to_dict())

    def update_payload(
        self, status: str, app_id: int, api_secret: str | None, ended_leg: int | None = None
    ) -> dict[str, Any]:
        """The postback / WebSocket order-update body (FACTS.md 3.1) with ``status`` as sent
        (``ended_leg``: an iceberg's leg that filled in full, COMPLETE)."""
        body = self.to_dict(ended_leg)
        body["status"] = status
        body["user_id"] = self.user_id
        body["app_id"] = app_id
        body["unfilled_quantity"] = 0 if self.status == "REJECTED" else body["pending_quantity"]
        body["checksum"] = (
            postback_checksum(self.order_id, body["order_timestamp"], api_secret) if api_secret else ""
        )
        return body


def trade_dict(order: SimOrder, trade_id: str, qty: int, price: float, now_ns: int) -> dict[str, Any]:
    """One fill as ``GET /trades`` shows it (``order_timestamp`` is time-only, as in Kite's sample)."""
    stamp = kite_time(now_ns)
    return {
        "trade_id": trade_id,
        "order_id": order.order_id,
        "exchange": order.exchange,
        "tradingsymbol": order.tradingsymbol,
        "instrument_token": order.instrument_token,
        "product": order.product,
        "average_price": price,
        "quantity": qty,
        "exchange_order_id": order.exchange_order_id,
        "transaction_type": order.transaction_type,
        "fill_timestamp": stamp,
        "order_timestamp": kite_time(order.order_ns)[11:],
        "exchange_timestamp": stamp,
    }


def rms_reject(order: SimOrder, ref_price: float, multiplier: float = 1.0) -> tuple[str, str]:
    """Kite's margin rejection (``status_message``, ``status_message_raw``) with plausible figures.

    The required margin scales with the contract's ``multiplier``: on MCX (and CDS, BCD) quantity
    is in lots, and one lot of CRUDEOIL moves 100 times its price.
    """
    required = round(order.quantity * ref_price * multiplier, 2)
    available = round(required * 0.75, 2)
    message = (
        f"Insufficient funds. Required margin is {required:.2f} but available margin is "
        f"{available:.2f}. Check the orderbook for open orders."
    )
    raw = (
        f"RMS:Margin Exceeds,Required:{required:.2f}, Available:{available:.2f} for entity "
        f"account-{order.user_id} across exchange across segment across product "
    )
    return message, raw


def _number(value: float) -> float | int:
    """An integral float as an int (Kite echoes ``market_protection`` as ``-1``, not ``-1.0``)."""
    return int(value) if float(value).is_integer() else value


def _maybe_time(ts_ns: int | None) -> str | None:
    return None if ts_ns is None else kite_time(ts_ns)
