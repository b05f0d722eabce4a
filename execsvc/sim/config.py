"""The simulator's settings: one frozen dataclass, every limit a value rather than a constant.

Kite's published limits change (FACTS.md 5.1 lists three generations of them), so each one is a
field here with today's figure as its default; ``None`` switches a limit off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from execsvc.executors.paper.fills import FillModel
from execsvc.market.freeze import BUNDLED_FREEZE_FILE
from execsvc.session_hours import SessionConfig

__all__ = ["DEFAULT_FREEZE_FILE", "DEFAULT_HOLIDAYS", "DEFAULT_INSTRUMENTS", "RateLimits", "SimConfig"]

DEFAULT_INSTRUMENTS = Path(__file__).resolve().parents[2] / "data" / "sample" / "instruments.csv"
"""The repository's sample instruments dump, used when present and no other is given."""

DEFAULT_FREEZE_FILE = BUNDLED_FREEZE_FILE
"""The repository's bundled freeze quantities (``execsvc.market.freeze``), used when present."""

DEFAULT_HOLIDAYS = Path(__file__).resolve().parents[2] / "configs" / "holidays-2026.yaml"
"""The repository's exchange holidays, the session calendar's by default (read only when it is on)."""


def _session() -> SessionConfig:
    # an absolute path, as the other bundled files: the simulator may be started from anywhere
    return SessionConfig(holidays_file=str(DEFAULT_HOLIDAYS))


@dataclass(frozen=True, kw_only=True, slots=True)
class RateLimits:
    """Kite's API rate limits (FACTS.md 5.1); ``None`` disables one.

    Attributes:
        orders_per_second: place, modify and cancel requests per second (account-wide).
        orders_per_minute: the same requests per minute.
        orders_per_day: placements per IST trading day (modify/cancel do not count here).
        quote_per_second: ``/quote``, ``/quote/ltp`` and ``/quote/ohlc`` requests per second.
        other_per_second: every other API request per second.
        window: ``"sliding"`` (any 1 s / 60 s span) or ``"fixed"`` (calendar seconds/minutes of the
            sim's clock, the "429 until the minute ends" behaviour users report).
    """

    orders_per_second: int | None = 10
    orders_per_minute: int | None = 400
    orders_per_day: int | None = 5000
    quote_per_second: int | None = 1
    other_per_second: int | None = 10
    window: Literal["sliding", "fixed"] = "sliding"


@dataclass(frozen=True, kw_only=True, slots=True)
class SimConfig:
    """Everything a :class:`~execsvc.sim.KiteSimulator` can be told.

    Attributes:
        require_api_key: when set, only this api_key is accepted (else any).
        require_access_token: when set, only this token (or one issued by ``POST /session/token``)
            is accepted (else any).
        api_secret: checks ``/session/token`` checksums and signs postbacks; ``None`` accepts any
            non-empty checksum and sends postbacks with an empty checksum.
        user_id: ``placed_by`` / ``user_id`` / ``account_id`` of every order.
        app_id: ``app_id`` of postbacks and WebSocket order updates.
        postback_url: where order postbacks are POSTed (``None``: no postbacks).
        postback_queue_size: postbacks waiting to be sent; a burst of fills on one tick is far below
            1000, and a receiver that cannot keep up loses the excess (counted in the stats) rather
            than growing memory without bound.
        instruments_file: a Kite instruments dump; ``None`` uses the repository's sample dump when
            it exists.
        ticks_file: a tick file streamed by the simulator (any format ``read_ticks`` reads).
        speed: tick-file replay speed (1 = real time, 10 = ten times faster); 0 streams a tick only
            when told (``step``).
        heartbeat_seconds: idle time after which a WebSocket gets a 1-byte heartbeat.
        ws_max_connections: WebSocket connections per api_key; one more is refused with HTTP 429.
        ws_queue_size: frames waiting for one WebSocket client; 10 000 is minutes of ticks for a
            handful of instruments, so only a stuck client overflows it (its frames are then dropped
            and counted).
        rate_limits: see :class:`RateLimits`.
        max_modifications: modifications allowed per order (Kite: 25).
        market_protection_auto_pct: the percentage used for ``market_protection=-1``.
        default_tick_size: tick size of instruments missing from the dump.
        fill_model: the paper fill model (slippage, quote/depth use).
        available_margin: the cash reported by ``/user/margins``.
        multipliers: contract multipliers of MCX, CDS and BCD contracts, keyed as execsvc's
            ``market.multipliers`` (``EXCHANGE:NAME`` or ``EXCHANGE:TRADINGSYMBOL``): positions
            show them and value their fills with them, as Kite's do; a contract with none is 1.
        freeze_quantities: rows over the bundled freeze table, keyed as execsvc's
            ``market.freeze_quantities`` (``NAME`` or ``NFO:NAME`` / ``BFO:NAME`` -> units, None
            lifts a row): a placement or modification above its underlying's limit is a 400.
        session_calendar: keep a session calendar (:mod:`execsvc.sim.session`): regular orders
            only in their exchange's normal session, AMOs sent at the next open, no matching out
            of the session. Off (the default), the simulator trades at any hour.
        session: the calendar's hours and ``holidays_file`` (execsvc's ``session`` config; its
            ``enforce`` and ``square_off`` are the daemon's and are not read here).
    """

    require_api_key: str | None = None
    require_access_token: str | None = None
    api_secret: str | None = None
    user_id: str = "SIM001"
    app_id: int = 1234
    postback_url: str | None = None
    postback_queue_size: int = 1000
    instruments_file: str | None = None
    ticks_file: str | None = None
    speed: float = 1.0
    heartbeat_seconds: float = 1.0
    ws_max_connections: int = 3
    ws_queue_size: int = 10_000
    rate_limits: RateLimits = field(default_factory=RateLimits)
    max_modifications: int = 25
    market_protection_auto_pct: float = 2.0
    default_tick_size: float = 0.05
    fill_model: FillModel = field(default_factory=FillModel)
    available_margin: float = 1_000_000.0
    multipliers: dict[str, float] = field(default_factory=dict)
    freeze_quantities: dict[str, int | None] = field(default_factory=dict)
    session_calendar: bool = False
    session: SessionConfig = field(default_factory=_session)
