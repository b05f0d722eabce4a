"""The simulator's session calendar (optional): when its exchanges take orders and match them.

Off by default: the simulator then takes regular orders, matches resting ones and sends AMOs on
at any hour, so a rehearsal can run at night or on a weekend (``configs/sim.yaml``). On
(``SimConfig.session_calendar``, ``execsvc kite-sim --session-calendar``) it keeps execsvc's own
:class:`~execsvc.calendar.MarketCalendar` (the hours of ``SimConfig.session`` and its holidays
file) on the simulator's clock, and does what Kite and the exchanges do:

- a regular order out of its exchange's normal session is refused with a 400 ``InputException``
  (:data:`MARKETS_CLOSED`); an AMO (``variety=amo``) is taken at any hour and goes to the
  exchange with its instrument's first tick in the normal session, never before the open (if
  none comes by that session's close, it ends there: :mod:`execsvc.sim.day_end`);
- a future placed in the F&O pre-open (the call auction, which the calendar lets futures into) is
  taken and, like an AMO, goes to the book at the open: the simulator does not run the auction;
  one of a month the auction does not take (by the instruments' expiries:
  :mod:`execsvc.market.auction_months`) is refused, naming it and why;
- a tick out of the session is the instrument's last price (quotes, WebSocket) but matches
  nothing: no resting LIMIT fills, no stop triggers, no AMO goes out;
- an order still working at the exchange at its close expires there (CANCELLED, with its order
  update: :mod:`execsvc.sim.day_end`; without the calendar it does at the IST date line), so a
  change to it after the close is refused as to any cancelled order. ``change_refusal`` refuses
  a change to an order at the exchange out of its session all the same (worked again at a
  marketable price it would fill at a post-close tick); an AMO still waiting for the open may be
  changed, and a cancel of a working order is always taken;
- T1 stock is delivered on the exchange's trading days, not on its holidays
  (:func:`execsvc.sim.day_end.settles`).

The simulator has no MIS auto square-off of its own (Zerodha's is the paper broker's, in
``execsvc.executors.paper.cutoffs``), so the calendar changes no square-off time here.
Every method takes ``now_ns``: the gate never reads a clock.
"""

from __future__ import annotations

from typing import Literal

from execsvc.calendar import SEGMENTS, MarketCalendar
from execsvc.clock import trading_day
from execsvc.market.auction_months import AuctionMonths
from execsvc.market.instruments import Instruments
from execsvc.sim.config import SimConfig
from execsvc.sim.envelope import ApiError

__all__ = ["MARKETS_CLOSED", "Placement", "SessionGate", "load_session_gate"]

MARKETS_CLOSED = "Markets are closed right now. Use GTT for placing long standing orders instead."
"""Kite's answer to a regular order out of market hours, as traders quote it. FACTS.md has no
capture of it (its section 9 lists AMO windows as unconfirmed), so the wording and the
``InputException`` type are the simulator's best knowledge, not a confirmed capture."""

Placement = Literal["now", "at_open"]
"""Where an accepted order goes: to the exchange now, or into the queue the open releases."""


class SessionGate:
    """The session calendar's decisions for the simulator; see the module docstring.

    Args:
        calendar: the calendar kept, or None for none (every hour is in session).
        months: the futures months the F&O pre-open takes (by the instruments' expiries), or
            None to take every month.
    """

    def __init__(self, calendar: MarketCalendar | None = None, months: AuctionMonths | None = None) -> None:
        self.calendar = calendar
        self.months = months

    def in_session(self, symbol: str, now_ns: int) -> bool:
        """Whether ``symbol``'s exchange is in its normal session at ``now_ns`` (always without a
        calendar, or for a symbol of no known exchange)."""
        exchange = symbol.partition(":")[0]
        if self.calendar is None or exchange not in SEGMENTS:
            return True
        return self.calendar.is_open(exchange, now_ns)

    def placement(
        self,
        exchange: str,
        variety: str,
        instrument_type: str,
        now_ns: int,
        *,
        order_type: str = "LIMIT",
        validity: str = "DAY",
        symbol: str | None = None,
    ) -> Placement | ApiError:
        """Where a new order goes at ``now_ns``, or Kite's refusal of it.

        Args:
            exchange: the order's exchange (validated: one the calendar knows).
            variety: ``regular``, ``amo`` or ``iceberg``.
            instrument_type: ``FUT``, ``CE``, ``PE`` or ``EQ`` (a future may enter the F&O pre-open).
            now_ns: the simulator's clock.
            order_type, validity: the order's (the futures auction takes no SL and no IOC).
            symbol: ``EXCHANGE:TRADINGSYMBOL``, for the month rule of the futures auction.

        Returns:
            ``"now"`` in the normal session (and always without a calendar), ``"at_open"`` for a
            future in the F&O pre-open, or the 400 ``InputException`` for a regular order
            otherwise (for a future of a month the auction does not take, naming it and why).
            An AMO is ``"now"``: the book queues every AMO for the open itself.
        """
        if self.calendar is None or variety == "amo" or self.in_session(exchange, now_ns):
            return "now"
        calendar = self.calendar
        allowed, _ = calendar.may_place(
            exchange,
            now_ns,
            variety=variety,
            instrument_type=instrument_type,
            order_type=order_type,
            validity=validity,
        )
        if not allowed:
            return ApiError.input(MARKETS_CLOSED)
        if self.months is not None and symbol is not None:
            far = self.months.refusal(symbol, trading_day(now_ns), calendar.is_trading_day)
            if far is not None:  # Kite's wording for it is not known (FACTS.md): the simulator's
                return ApiError.input(f"{far}. Place it from the open or as an AMO.")
        return "at_open"

    def change_refusal(self, symbol: str, waits_for_open: bool, now_ns: int) -> ApiError | None:
        """Kite's refusal of a change to a working order at ``now_ns``, or None: an order at the
        exchange cannot be worked again out of the session; one still waiting for the open can."""
        if waits_for_open or self.in_session(symbol, now_ns):
            return None
        return ApiError.input(MARKETS_CLOSED)


def load_session_gate(
    config: SimConfig, calendar: MarketCalendar | None = None, instruments: Instruments | None = None
) -> SessionGate:
    """The gate of ``calendar`` if given, else of ``config.session`` when
    ``config.session_calendar`` is on, else one without a calendar; with ``instruments``, the F&O
    pre-open takes the months their expiries make current (:mod:`execsvc.market.auction_months`).

    Raises:
        ConfigError: the holidays file is missing or bad (file, line, key).
    """
    if calendar is None and config.session_calendar:
        calendar = MarketCalendar.from_config(config.session)
    return SessionGate(calendar, None if instruments is None else AuctionMonths(instruments))
