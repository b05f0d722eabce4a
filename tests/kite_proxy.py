"""A tiny HTTP proxy in front of the Kite simulator, for scenarios the simulator's faults cannot stage.

Every request is forwarded to the simulator unchanged unless a hook takes it over. Hooks are
coroutines ``hook(request, forward) -> web.StreamResponse | None``; ``forward()`` sends the request
on to the simulator and returns ``(status, headers, body)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

Forward = Callable[[], Awaitable[tuple[int, str, bytes]]]
Hook = Callable[[web.Request, Forward], Awaitable[web.StreamResponse | None]]


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.hooks: list[tuple[str, str, Hook]] = []
        self.seen: list[tuple[str, str]] = []
        self.seen_changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    def hook(self, method: str, path_prefix: str, hook: Hook) -> None:
        self.hooks.append((method, path_prefix, hook))

    async def wait_seen(self, method: str, path: str, count: int, timeout: float = 4.0) -> None:
        async def until() -> None:
            while sum(1 for m, p in self.seen if m == method and p == path) < count:
                self.seen_changed.clear()
                await self.seen_changed.wait()

        await asyncio.wait_for(until(), timeout)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        assert self._session is not None

        async def forward() -> tuple[int, str, bytes]:
            assert self._session is not None
            async with self._session.request(
                request.method, self.upstream + request.path_qs, data=body or None, headers=headers
            ) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), await resp.read()

        try:
            for method, prefix, hook in self.hooks:
                if request.method == method and request.path.startswith(prefix):
                    answer = await hook(request, forward)
                    if answer is not None:
                        return answer
            status, ctype, raw = await forward()
            return web.Response(status=status, body=raw, headers={"Content-Type": ctype})
        finally:
            self.seen.append((request.method, request.path))
            self.seen_changed.set()

    async def __aenter__(self) -> Proxy:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()


def response(status: int, ctype: str, raw: bytes) -> web.Response:
    return web.Response(status=status, body=raw, headers={"Content-Type": ctype})
