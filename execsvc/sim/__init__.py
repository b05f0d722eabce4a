"""A Kite Connect v3 exchange simulator: REST, WebSocket, postbacks, rate limits and faults.

Public API::

    KiteSimulator    the server (async start/stop, push_tick, set_faults, stats, orders, step)
    serve            run one until cancelled (``execsvc kite-sim`` / ``python -m execsvc.sim``)
    SimConfig        settings; RateLimits its rate-limit part
    FaultSpec        a set of faults (see ``execsvc.sim.faults`` for the JSON shapes)
    ExchangeBook     the pure matching state (orders, trades, positions) behind the server

Modules: ``book`` (pure matching state), ``changes`` (modify, cancel), ``session`` (the
optional session calendar), ``market`` (instruments, latest ticks), ``orders`` (order
record and Kite shapes), ``params`` (validation), ``positions``, ``quotes``, ``envelope`` (Kite
envelopes, errors as data), ``faults``, ``limits`` (rate limits, stats), ``ws`` (WebSocket),
``postbacks``, ``feed`` (tick files), ``core`` (shared state), ``kite_server`` (aiohttp app and
order endpoints), ``account`` (user, session, market-data endpoints), ``admin`` (``/_admin/*``),
``simulator`` (lifecycle, ``serve``).
"""

from execsvc.sim.book import ExchangeBook, Update
from execsvc.sim.config import RateLimits, SimConfig
from execsvc.sim.faults import FaultSpec, decode_faults, load_faults
from execsvc.sim.simulator import KiteSimulator, serve

__all__ = [
    "ExchangeBook",
    "FaultSpec",
    "KiteSimulator",
    "RateLimits",
    "SimConfig",
    "Update",
    "decode_faults",
    "load_faults",
    "serve",
]
