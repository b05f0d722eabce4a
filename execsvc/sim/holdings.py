"""Kite holdings: where the simulator's delivery (CNC) stock goes at its day boundary.

Like Kite, stock bought CNC shows under positions on the day it was bought only; at the next day
boundary the day's CNC positions leave the position book for the demat account: a net purchase
as ``t1_quantity`` (bought, not yet delivered), a net sale out of what was held (settled stock
first). T+1 stock is delivered (moves into ``quantity``) at the boundary into the second weekday
after the one it was bought on: shown as T1 for one trading day, as on Kite. Which days are
trading (settlement) days is the caller's to say (``execsvc.sim.day_end.settles``): with the
session calendar NSE's regular sessions, so an exchange holiday delivers nothing; without it every
weekday (holidays unknown). While a day's CNC sale of held stock is open,
the holding shows it as ``used_quantity`` and keeps its ``quantity`` until the boundary.

Field meanings follow Kite's docs (FACTS.md 2.2, ``GET /portfolio/holdings``); ``realised_quantity``
equals ``quantity`` (delivered), ``opening_quantity`` is what the day opened with. What the
simulator does not model is zero or empty: ISIN, authorisation, collateral, MTF.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from execsvc.market.ticks import Tick
from execsvc.sim.envelope import ApiError
from execsvc.sim.orders import OrderRequest, SimOrder
from execsvc.sim.positions import PositionBook

__all__ = ["HoldingBook", "SimHolding", "holdings_reject", "modify_holdings_reject"]

DELIVERY = "CNC"


@dataclass(kw_only=True, slots=True)
class SimHolding:
    """One security in the demat account."""

    exchange: str
    tradingsymbol: str
    instrument_token: int
    quantity: int = 0
    t1_quantity: int = 0
    t1_shown: int = 0  # of t1_quantity, what a trading day has shown as T1 already: delivered next
    opening_quantity: int = 0
    average_price: float = 0.0

    def end_day(self, net: int, price: float, trading_day: bool) -> None:
        """Fold the closing day's CNC net quantity in (bought at ``price``), at the boundary into a
        trading day or not."""
        if trading_day:
            self.quantity += self.t1_shown
            self.t1_quantity -= self.t1_shown
            self.t1_shown = 0
        held = self.quantity + self.t1_quantity
        if net > 0:
            self.average_price = (self.average_price * held + price * net) / (held + net)
            self.t1_quantity += net
        elif net < 0:
            self.quantity += net  # a sale takes delivered stock first, then T1
            if self.quantity < 0:
                self.t1_quantity += self.quantity
                self.quantity = 0
            self.t1_shown = min(self.t1_shown, self.t1_quantity)
        if trading_day:
            self.t1_shown = self.t1_quantity
        self.opening_quantity = self.quantity + self.t1_quantity

    def to_dict(self, used: int, tick: Tick | None) -> dict[str, Any]:
        """The row as ``GET /portfolio/holdings`` returns it, marked at ``tick``."""
        last = tick.last_price if tick is not None else self.average_price
        close = tick.ohlc.close if tick is not None and tick.ohlc is not None else 0.0
        total = self.quantity + self.t1_quantity
        change = last - close if close else 0.0
        return {
            "tradingsymbol": self.tradingsymbol,
            "exchange": self.exchange,
            "instrument_token": self.instrument_token,
            "isin": "",
            "product": DELIVERY,
            "price": 0,
            "quantity": self.quantity,
            "used_quantity": used,
            "t1_quantity": self.t1_quantity,
            "realised_quantity": self.quantity,
            "authorised_quantity": 0,
            "authorised_date": "",
            "authorisation": {},
            "opening_quantity": self.opening_quantity,
            "short_quantity": 0,
            "collateral_quantity": 0,
            "collateral_type": "",
            "discrepancy": False,
            "average_price": round(self.average_price, 4),
            "last_price": last,
            "close_price": close,
            "pnl": round((last - self.average_price) * total, 4),
            "day_change": round(change, 4),
            "day_change_percentage": round(change / close * 100, 4) if close else 0.0,
            "mtf": {"quantity": 0, "used_quantity": 0, "average_price": 0, "value": 0, "initial_margin": 0},
        }


class HoldingBook:
    """The demat account, by trading symbol (a holding belongs to a security, not to an exchange)."""

    def __init__(self) -> None:
        self.rows: dict[str, SimHolding] = {}

    def end_day(self, positions: PositionBook, trading_day: bool) -> None:
        """The day boundary: the day's CNC positions leave ``positions`` for the holdings.

        Args:
            positions: the closing day's position book (its CNC rows are removed).
            trading_day: whether the new day is a trading day (T1 stock is delivered on one).
        """
        nets: dict[str, tuple[int, float]] = {}
        for key, row in list(positions.rows.items()):
            if row.product != DELIVERY:
                continue
            del positions.rows[key]
            if row.tradingsymbol not in self.rows:
                self.rows[row.tradingsymbol] = SimHolding(
                    exchange=row.exchange,
                    tradingsymbol=row.tradingsymbol,
                    instrument_token=row.instrument_token,
                )
            net, _ = nets.get(row.tradingsymbol, (0, 0.0))
            nets[row.tradingsymbol] = (net + row.quantity, row.average_price)
        for symbol, holding in list(self.rows.items()):
            net, price = nets.get(symbol, (0, 0.0))
            holding.end_day(net, price, trading_day)
            if holding.quantity + holding.t1_quantity <= 0:
                del self.rows[symbol]

    def to_list(self, positions: PositionBook, ticks: Mapping[str, Tick]) -> list[dict[str, Any]]:
        """``GET /portfolio/holdings``: every holding; today's CNC sales of it as ``used_quantity``."""
        sold: dict[str, int] = {}
        for row in positions.rows.values():
            if row.product == DELIVERY:
                sold[row.tradingsymbol] = sold.get(row.tradingsymbol, 0) - row.quantity
        out = []
        for holding in self.rows.values():
            used = min(max(sold.get(holding.tradingsymbol, 0), 0), holding.quantity + holding.t1_quantity)
            tick = ticks.get(f"{holding.exchange}:{holding.tradingsymbol}")
            out.append(holding.to_dict(used, tick))
        return out


def holdings_reject(
    req: OrderRequest, holdings: HoldingBook, positions: PositionBook, orders: Iterable[SimOrder]
) -> tuple[str, str] | tuple[None, None]:
    """Kite's RMS rejection of a CNC SELL beyond the account's holdings, or None.

    Zerodha refuses a delivery sale of stock the account does not hold (``RMS:Rule: Check
    holdings``): what it holds of the security is the demat holding (``quantity`` and
    ``t1_quantity``), plus the day's CNC net position in it (bought today may be sold today, a sale
    of held stock shows there as negative), less the pending quantity of its working CNC SELL
    orders (Zerodha blocks holdings for open sell orders). Like the holdings, by trading symbol,
    NSE and BSE together; unlike Zerodha, stock bought today on one exchange may be sold on the
    other (Zerodha waits for it to be credited). MIS and F&O may go short.

    Returns:
        ``(status_message, status_message_raw)``, or ``(None, None)`` when the order may go. The
        raw text's ``RMS:Rule: Check holdings`` is Zerodha's (its Q&A forum); the figures after
        it and the status message are the simulator's own: Kite's exact wording for this
        rejection is not confirmed.
    """
    if req.product != DELIVERY or req.transaction_type != "SELL":
        return None, None
    symbol = req.tradingsymbol
    available = _available(symbol, holdings, positions, orders)
    if req.quantity <= available:
        return None, None
    return _message(symbol, req.quantity, available), _raw(symbol, req.quantity, available)


def modify_holdings_reject(
    order: SimOrder, quantity: int, holdings: HoldingBook, positions: PositionBook, orders: Iterable[SimOrder]
) -> ApiError | None:
    """Kite's RMS refusal of a modification raising a working CNC SELL beyond the holdings, or None.

    Zerodha checks a modification as it checks an order (``holdings_reject``): raised to
    ``quantity``, the order's unfilled quantity must fit in what is free, the holdings less the
    other working CNC sells (its own reservation is free for it; what it filled has left the
    holdings already). A lower quantity or new prices ask for no more stock and are not checked.

    Returns:
        A 400 ``HoldingException`` (Kite's documented error type for insufficient holdings; its
        exact answer to such a modification is not confirmed): the order stays as it was. None
        when the modification may go.
    """
    if order.product != DELIVERY or order.transaction_type != "SELL" or quantity <= order.quantity:
        return None
    symbol = order.tradingsymbol
    available = _available(symbol, holdings, positions, (o for o in orders if o is not order))
    needed = quantity - order.filled_quantity
    if needed <= available:
        return None
    return ApiError(400, "HoldingException", _message(symbol, needed, available))


def _available(
    symbol: str, holdings: HoldingBook, positions: PositionBook, orders: Iterable[SimOrder]
) -> int:
    """What the account holds of ``symbol`` for a CNC SELL, less the working CNC sells in ``orders``
    (see ``holdings_reject``); never below 0."""
    holding = holdings.rows.get(symbol)
    held = holding.quantity + holding.t1_quantity if holding is not None else 0
    today = (p for p in positions.rows.values() if p.product == DELIVERY and p.tradingsymbol == symbol)
    held += sum(p.quantity for p in today)
    reserved = sum(
        o.pending
        for o in orders
        if o.working and o.product == DELIVERY and o.transaction_type == "SELL" and o.tradingsymbol == symbol
    )
    return max(max(held, 0) - reserved, 0)


def _message(symbol: str, quantity: int, available: int) -> str:
    return (
        f"Insufficient holdings. Sell quantity {quantity} of {symbol} is more than the "
        f"{available} available in your holdings. Check the orderbook for open sell orders."
    )


def _raw(symbol: str, quantity: int, available: int) -> str:
    return f"RMS:Rule: Check holdings, {symbol}: required {quantity}, available {available}"
