"""Telling a tick of the last session from one of today's, for the simulated broker.

At the date line the simulated broker forgets the last ticks of what the new day does not hold and
keeps those of what it holds as marks (``day_closes.carried_marks``): a new day's order waits for
its instrument's first tick of that day instead of filling at the last session's price. But Kite's
WebSocket (the simulator's too, ``sim/ws.py``) sends the latest tick of each instrument at once on
a subscription: a paper or dry-run service subscribing after the line (restarted, or reconnected)
would get the last session's ticks back as the new day's market, and fill at the last close what a
service that went on refuses (``no_market_data``).

A full-mode tick says when it is from: ``exchange_timestamp``, unix seconds (its
``last_trade_time`` does not: an instrument not traded today has today's quotes with yesterday's
last trade). One stamped before the current IST day (the trading day: every session closes before
midnight) is the last session's: it moves no price of the new day. Of what the day holds the line
made that same tick the mark (journaled in ``PositionsCarried.marks``, restored by a start); of
what it does not hold a price would value orders in a service that subscribed again and not in
one that went on. So such a tick is passed over, and both decide alike.

An ltp or quote tick carries no time (FACTS.md 4.3): nothing tells the last session's, sent again
on a subscription, from a fresh one, so it is taken as it comes. To decide alike there, the date
line keeps the last tick of each instrument the service's feed subscribes when that tick carries
no time (``resent``): a subscription after the line would bring it back as the new day's market.
Both runs then fill a new day's order at the last session's price: subscribe in full mode (the
default, ``feed.mode``) to have it wait for the day's first tick instead.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from execsvc.clock import ist_datetime, ist_ns, trading_day
from execsvc.market.ticks import Tick

log = logging.getLogger("execsvc.paper")

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS


class CurrentDay:
    """The IST day ``now_ns`` falls in, worked out once a day: the tick path pays two comparisons."""

    def __init__(self) -> None:
        self.start_ns = 0
        self.end_ns = 0
        self.start_s = 0
        self.passed_over = 0  # the ticks found to predate their day, since the start
        self._told = False  # the day's first such tick is logged, the rest only counted

    def predates(self, tick: Tick, now_ns: int) -> bool:
        """Whether ``tick`` is stamped (by the exchange) before the IST day of ``now_ns``; a tick
        without a stamp (ltp and quote modes, most tick files' hand-made ticks) is not."""
        stamp = tick.exchange_timestamp
        if not stamp:
            return False
        if not self.start_ns <= now_ns < self.end_ns:
            self.start_ns = ist_ns(trading_day(now_ns), 0, 0)
            self.end_ns = self.start_ns + _DAY_NS
            self.start_s = self.start_ns // _NS
            self._told = False
        try:  # a library caller's stamp that is no number, or not after 1970, tells no time
            stale = bool(0 < stamp < self.start_s)
        except TypeError:
            return False
        if stale:
            self.passed_over += 1
            if not self._told:  # a feed of old ticks on today's clock would otherwise move nothing unseen
                self._told = True
                log.info("tick for %s stamped %s IST, before today (%s): the last session's, it moves "
                         "no price (further ones today are counted, not logged)", tick.symbol,
                         ist_datetime(int(stamp) * _NS).strftime("%Y-%m-%d %H:%M:%S"),
                         trading_day(now_ns))  # fmt: skip
        return stale


def resent(market: Mapping[str, Tick], subscribed: Collection[int]) -> dict[str, Tick]:
    """The last ticks a subscription to the instrument tokens ``subscribed`` would send again
    undated (see the module docstring): those of ``market`` of a subscribed token with no stamp."""
    if not subscribed:
        return {}
    return {
        symbol: tick
        for symbol, tick in market.items()
        if tick.instrument_token in subscribed and not tick.exchange_timestamp
    }
