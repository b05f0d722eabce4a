"""Serving the control API: :func:`start_control` and the :class:`ControlServer` it returns.

Resource handling: ``start_control`` sets up an ``AppRunner`` and one ``TCPSite`` (port 0 picks a
free port; read it back from :attr:`ControlServer.port`); :meth:`ControlServer.stop` runs
``runner.cleanup()``: stop listening, end the event streams (``on_shutdown``), wait up to
``shutdown_timeout`` for handlers, then the cleanup contexts in reverse order.
The access log never shows query strings (the page's ``?token=``).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from aiohttp import web

from execsvc.control.app import build_app
from execsvc.control.auth import RedactedAccessLogger, check_bind
from execsvc.executors.kite.auth import Secret
from execsvc.metrics import ServiceMetrics
from execsvc.service import ExecutionService


class ControlServer:
    """A running control API. Use :func:`start_control` to make one."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self.runner = runner
        self.host = host
        self.port = port

    @property
    def app(self) -> web.Application:
        """The application being served."""
        return self.runner.app

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop listening, end streams and in-flight requests, run the cleanup hooks. Idempotent."""
        await self.runner.cleanup()

    async def __aenter__(self) -> ControlServer:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def start_control(
    svc: ExecutionService,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None,
    metrics: ServiceMetrics,
    ticker: object | None = None,
    journal_dir: Path | None = None,
    shutdown_timeout: float = 5.0,
    postback_secret: Secret | None = None,
) -> ControlServer:
    """Serve the control API of ``svc`` on ``host:port``.

    Args:
        svc: the service.
        host: the address to bind (loopback unless a token is set).
        port: the port; 0 picks a free one.
        token: the bearer token (see :func:`~execsvc.control.auth.load_control_token`), or None.
        metrics: the service's metrics.
        ticker: an optional WebSocket ticker for ``/status`` and the metrics.
        journal_dir: the journal directory (default: the service's).
        shutdown_timeout: seconds :meth:`ControlServer.stop` waits for in-flight requests.
        postback_secret: the Kite API secret, to take Kite's postbacks (``POST /kite/postback``).

    Raises:
        ConfigError: no token on a non-loopback host.
        OSError: the address cannot be bound.
    """
    check_bind(host, token)
    app = build_app(
        svc,
        token=token,
        metrics=metrics,
        ticker=ticker,
        journal_dir=journal_dir or svc.journal.directory,
        postback_secret=postback_secret,
    )
    runner = web.AppRunner(app, access_log_class=RedactedAccessLogger, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    return ControlServer(runner, host, int(bound))
