"""Typed application keys: what the control app shares between its handlers."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from execsvc.control.sse import SseHub
from execsvc.metrics import ServiceMetrics
from execsvc.service import ExecutionService

SERVICE = web.AppKey("execsvc.service", ExecutionService)
"""The execution service the API controls."""

METRICS = web.AppKey("execsvc.metrics", ServiceMetrics)
"""The service's metrics (``GET /metrics``, latency hooks)."""

TICKER = web.AppKey("execsvc.ticker", object)
"""The WebSocket ticker (``state``, ``connects``, ``disconnects``), or None."""

JOURNAL_DIR = web.AppKey("execsvc.journal_dir", Path)
"""The journal directory (``GET /journal`` reads today's file in it)."""

SSE_HUB = web.AppKey("execsvc.sse_hub", SseHub)
"""The fan-out of results to ``GET /events`` streams."""
