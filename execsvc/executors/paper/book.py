"""Resting paper orders, price-ordered so a tick that crosses nothing costs O(1).

Per instrument there are four heaps: BUY limits (highest price first), SELL limits (lowest
first), BUY stops (lowest trigger first) and SELL stops (highest trigger first). A tick only looks
at the top of each heap; cancelled or filled orders are dropped lazily when they reach the top.
Equal prices keep time priority through a sequence number.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from execsvc.state import OrderRecord

_BUY_LIMIT, _SELL_LIMIT, _BUY_STOP, _SELL_STOP = range(4)


class SymbolBook:
    """The resting orders of one instrument."""

    __slots__ = ("heaps", "live")

    def __init__(self) -> None:
        self.heaps: tuple[list[tuple[float, int, str]], ...] = ([], [], [], [])
        self.live = 0

    def __bool__(self) -> bool:
        return self.live > 0


class RestingBook:
    """Every resting order, by instrument.

    ``add_limit``/``add_stop`` insert; ``discard`` forgets an order (lazily); the ``crossed_*``
    iterators pop the orders a price has reached, best first, skipping discarded ones.

    An order has one live entry: ``_alive`` maps its id to that entry's sequence number, so an
    entry left behind by a discard stays dead when the order rests again (a modification moves
    its price, trigger or type) instead of coming back to life at the old price.
    """

    def __init__(self) -> None:
        self.books: dict[str, SymbolBook] = {}
        self._alive: dict[str, int] = {}
        self._seq = itertools.count()

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._alive

    def __len__(self) -> int:
        return len(self._alive)

    def _push(self, symbol: str, heap_index: int, key: float, order_id: str) -> None:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = SymbolBook()
        seq = next(self._seq)
        heapq.heappush(book.heaps[heap_index], (key, seq, order_id))
        if order_id not in self._alive:
            book.live += 1
        self._alive[order_id] = seq

    def add_limit(self, symbol: str, side: str, price: float, order_id: str) -> None:
        """Rest a LIMIT order at ``price``."""
        if side == "BUY":
            self._push(symbol, _BUY_LIMIT, -price, order_id)
        else:
            self._push(symbol, _SELL_LIMIT, price, order_id)

    def add_stop(self, symbol: str, side: str, trigger: float, order_id: str) -> None:
        """Rest a stop (SL or SL-M) until its trigger is hit."""
        if side == "BUY":
            self._push(symbol, _BUY_STOP, trigger, order_id)
        else:
            self._push(symbol, _SELL_STOP, -trigger, order_id)

    def discard(self, symbol: str, order_id: str) -> None:
        """Forget an order (cancelled, filled or triggered)."""
        if self._alive.pop(order_id, None) is not None:
            book = self.books.get(symbol)
            if book is not None:
                book.live -= 1

    def _pop_while(self, symbol: str, heap_index: int, reached: float, sign: float) -> list[str]:
        book = self.books.get(symbol)
        if book is None:
            return []
        heap = book.heaps[heap_index]
        out: list[str] = []
        alive = self._alive
        while heap:
            key, seq, order_id = heap[0]
            if alive.get(order_id) != seq:
                heapq.heappop(heap)
                continue
            if sign * key > sign * reached + 1e-9:
                break
            heapq.heappop(heap)
            out.append(order_id)
        return out

    def buy_limits_at_or_above(self, symbol: str, ask: float) -> list[str]:
        """Pop resting BUY limits priced at or above ``ask`` (they are crossed), best first."""
        return self._pop_while(symbol, _BUY_LIMIT, -ask, 1.0)

    def sell_limits_at_or_below(self, symbol: str, bid: float) -> list[str]:
        """Pop resting SELL limits priced at or below ``bid``, best first."""
        return self._pop_while(symbol, _SELL_LIMIT, bid, 1.0)

    def buy_stops_at_or_below(self, symbol: str, last: float) -> list[str]:
        """Pop BUY stops whose trigger the price has risen to."""
        return self._pop_while(symbol, _BUY_STOP, last, 1.0)

    def sell_stops_at_or_above(self, symbol: str, last: float) -> list[str]:
        """Pop SELL stops whose trigger the price has fallen to."""
        return self._pop_while(symbol, _SELL_STOP, -last, 1.0)

    def reinsert_limit(self, symbol: str, side: str, price: float, order_id: str) -> None:
        """Put back a popped LIMIT that is still working (partly filled against thin depth)."""
        self.discard(symbol, order_id)
        self.add_limit(symbol, side, price, order_id)

    def has_orders(self, symbol: str) -> bool:
        """Whether anything rests on ``symbol``."""
        book = self.books.get(symbol)
        return book is not None and book.live > 0


def rest_again(
    book: RestingBook, waiting: dict[str, dict[str, None]], working: Iterable[OrderRecord]
) -> None:
    """Rest the working orders of a folded journal again (after a restart): a stop not triggered
    yet and a LIMIT in ``book``, an after-market order still waiting for the open in ``waiting``."""
    for record in working:
        order = record.order
        if record.waits_for_open:
            waiting.setdefault(order.symbol, {})[order.order_id] = None
        elif order.order_type in ("SL", "SL-M") and not record.triggered:
            book.add_stop(order.symbol, order.side, order.trigger_price or 0.0, order.order_id)
        elif order.price is not None and order.order_type in ("LIMIT", "SL"):
            book.add_limit(order.symbol, order.side, order.price, order.order_id)
