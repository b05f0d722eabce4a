"""The live path against a broker that answers badly: the real service on a loopback fake Kite.

Each test stages one hostile answer (trades beyond the order, a NaN price, a token echoed in an
error, an order book that is down, a contradictory envelope) and checks what we booked, reported,
journaled and logged. Waiting is on results and on the fake's request counts, never on time.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import KiteOrder, tag_for
from tests.hostile_kite import TOKEN, HostileKite, Results, buy, envelope, hostile_config

API_SECRET = "APIsekret5ecret77"


def journal_bytes(journal_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(journal_dir.glob("*.jsonl")))


def resting(intent_id: str) -> Any:
    """A LIMIT order below the market: it stays OPEN and keeps the order poller running."""
    return buy(intent_id, order_type="LIMIT", price=1400.0)


def net_qty(svc: ExecutionService) -> int:
    return sum(p.net_qty for p in svc.positions())


# -- 1. trades beyond the order's quantity; duplicate trade ids ---------------------------------


async def test_trades_beyond_the_order_quantity_are_not_booked(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        seen = Results(svc)
        placed = await svc.execute_intent(resting("o1"))
        await svc.execute_intent(resting("keep-polling"))
        oid = placed.order_id
        assert oid is not None
        kite.trades += [
            {"trade_id": "T1", "order_id": oid, "quantity": 5, "average_price": 1400},
            {"trade_id": "T2", "order_id": oid, "quantity": 5, "average_price": 1400},
        ]
        kite.orders[oid].update(filled_quantity=5, pending_quantity=0, status="COMPLETE")
        await seen.until("o1", lambda r: r.filled_qty >= 5)
        await kite.seen("GET", "/orders", more=3)  # later polls had their chance to book more
        assert svc.engine.state.latest_results["o1"].filled_qty == 5
        assert net_qty(svc) == 5
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "T2" in r.getMessage()]
    assert errors, "the trade that was not booked is not reported"
    assert oid in errors[0].getMessage() and "quantity=5" in errors[0].getMessage()
    assert len(errors) == 1, "reported once, not on every poll"


async def test_a_duplicate_trade_id_with_another_quantity_is_booked_once_and_reported(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        seen = Results(svc)
        placed = await svc.execute_intent(resting("d1"))
        await svc.execute_intent(resting("keep-polling"))
        oid = placed.order_id
        assert oid is not None
        kite.trades += [
            {"trade_id": "T1", "order_id": oid, "quantity": 2, "average_price": 1400},
            {"trade_id": "T1", "order_id": oid, "quantity": 5, "average_price": 1400},
        ]
        kite.orders[oid].update(filled_quantity=5, pending_quantity=0, status="COMPLETE")
        await seen.until("d1", lambda r: r.filled_qty == 2)
        await kite.seen("GET", "/orders", more=3)
        assert svc.engine.state.latest_results["d1"].filled_qty == 2
        assert net_qty(svc) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    dup = [m for m in warnings if "T1" in m and "quantity=2" in m and "quantity=5" in m]
    assert dup, f"no warning names T1 and both quantities: {warnings}"


# -- 2. a bad trade is skipped at the edge; one order's trouble does not stop the others --------

BAD_TRADES = {  # the trade's override, and how the ERROR shows the field and value
    "nan-price": ({"average_price": "NaN"}, "average_price=nan"),
    "inf-price": ({"average_price": "inf"}, "average_price=inf"),
    "zero-price": ({"average_price": 0}, "average_price=0.0"),
    "negative-price": ({"average_price": -1500}, "average_price=-1500.0"),
    "zero-qty": ({"quantity": 0}, "quantity=0"),
    "negative-qty": ({"quantity": -5}, "quantity=-5"),
    "fractional-qty": ({"quantity": 2.5}, "quantity=2.5"),
}


@pytest.mark.parametrize("bad", list(BAD_TRADES))
async def test_a_bad_trade_is_skipped_and_everything_else_is_applied(tmp_path, caplog, bad):
    caplog.set_level(logging.WARNING)
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        seen = Results(svc)
        a = await svc.execute_intent(resting("a1"))
        b = await svc.execute_intent(resting("b1"))
        await svc.execute_intent(resting("keep-polling"))
        assert a.order_id is not None and b.order_id is not None
        kite.fill(a.order_id, 2, 1400.0, trade_id="TBAD", **BAD_TRADES[bad][0])
        kite.fill(a.order_id, 3, 1400.0, trade_id="TGOOD")
        kite.fill(b.order_id, 5, 1400.0, trade_id="TB")
        await seen.until("b1", lambda r: r.status == "FILLED")
        await seen.until("a1", lambda r: r.filled_qty == 3)
        assert not svc.halted
        assert net_qty(svc) == 8
    shown = BAD_TRADES[bad][1]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    named = [m for m in errors if "TBAD" in m and shown in m]
    assert named, f"no ERROR names the trade and {shown}: {errors}"


async def test_a_nan_trade_found_while_resolving_an_unknown_outcome_does_not_halt(tmp_path):
    async with HostileKite() as kite:
        kite.fill_market = False

        async def bad_gateway(request: web.Request, form: dict[str, str]) -> web.StreamResponse | None:
            if form.get("tag") != tag_for("z1"):
                return None
            order = kite.new_order(form)
            kite.fill(order["order_id"], 5, 1500.0, trade_id="TZ", average_price="NaN")
            return envelope(502, b"<html>bad gateway</html>", "text/html")

        kite.hooks["POST /orders/*"] = bad_gateway
        async with ExecutionService(
            hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN
        ) as svc:
            seen = Results(svc)
            first = await svc.execute_intent(buy("z1"))
            assert first.status == "UNKNOWN"
            await seen.until("z1", lambda r: r.status != "UNKNOWN")
            assert not svc.halted
            after = await svc.execute_intent(buy("z2", order_type="LIMIT", price=1400.0))
            assert after.status == "PLACED", after
    assert kite.posts[tag_for("z1")] == 1


async def test_an_error_applying_one_order_does_not_stop_the_poll_of_the_others(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        seen = Results(svc)
        a = await svc.execute_intent(resting("a1"))
        b = await svc.execute_intent(resting("b1"))
        assert a.order_id is not None and b.order_id is not None
        live = svc.live
        assert live is not None
        real_apply = live.apply_order

        async def apply_order(order: KiteOrder, trades: Any = None) -> None:
            if order.order_id == a.order_id:
                raise RuntimeError("a bug applying a1")
            await real_apply(order, trades)

        live.apply_order = apply_order  # type: ignore[method-assign]
        kite.fill(a.order_id, 5, 1400.0)
        kite.fill(b.order_id, 5, 1400.0)
        await seen.until("b1", lambda r: r.status == "FILLED")
        live.apply_order = real_apply  # type: ignore[method-assign]
    assert any(a.order_id in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


# -- 3. no credential in any text the broker sent ----------------------------------------------


async def test_the_token_and_secret_echoed_by_the_broker_appear_nowhere(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("KITE_API_SECRET", API_SECRET)
    caplog.set_level(logging.DEBUG)
    async with HostileKite() as kite:

        async def echo(request: web.Request, form: dict[str, str]) -> web.StreamResponse | None:
            if form.get("tag") != tag_for("e1"):
                return None
            header = request.headers["Authorization"]
            return envelope(
                403,
                {
                    "status": "error",
                    "error_type": "InputException",
                    "message": f"bad header: {header}; secret {API_SECRET}",
                },
            )

        kite.hooks["POST /orders/*"] = echo
        async with ExecutionService(
            hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN
        ) as svc:
            seen = Results(svc)
            refused = await svc.execute_intent(buy("e1"))
            assert refused.status == "REJECTED"
            assert "***" in (refused.message or "")
            gone = await svc.execute_intent(resting("e2"))
            assert gone.order_id is not None
            kite.orders[gone.order_id].update(
                status="CANCELLED", status_message=f"cancelled for token testkey:{TOKEN}"
            )
            kite.trades.append(  # a trade that does not parse, with the token in it
                {"trade_id": f"X{TOKEN}", "order_id": gone.order_id, "quantity": "x"}
            )
            cancelled = await seen.until("e2", lambda r: r.status == "CANCELLED")
            messages = [r.message or "" for r in seen.results] + [refused.message or ""]
    assert all(TOKEN not in m and API_SECRET not in m for m in messages), messages
    assert "***" in (cancelled.message or "")
    journal = journal_bytes(tmp_path)
    assert TOKEN.encode() not in journal and API_SECRET.encode() not in journal
    assert TOKEN not in caplog.text and API_SECRET not in caplog.text


# -- 4. a lookup that failed is not proof of absence ---------------------------------------------


async def test_failed_lookups_keep_the_order_unknown_halt_and_apply_it_when_the_book_is_back(tmp_path):
    release = asyncio.Event()
    async with HostileKite() as kite:
        book_down = True

        async def slow(request: web.Request, form: dict[str, str]) -> web.StreamResponse | None:
            if form.get("tag") != tag_for("w1"):
                return None
            kite.new_order(form)  # the broker takes it; its answer comes after our 1 s timeout
            await release.wait()
            return envelope(500, b"late", "text/plain")

        async def down(request: web.Request, form: dict[str, str]) -> web.StreamResponse | None:
            if book_down:
                return envelope(503, b"<html>Service Unavailable</html>", "text/html")
            return None

        kite.hooks["POST /orders/*"] = slow
        try:
            async with ExecutionService(
                hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN
            ) as svc:
                kite.hooks["GET /orders"] = down  # after start-up's reconciliation
                seen = Results(svc)
                live = svc.live
                assert live is not None
                unresolved = asyncio.Event()
                reasons: list[str] = []
                halt = live.on_unresolved
                assert halt is not None

                def on_unresolved(reason: str) -> None:
                    reasons.append(reason)
                    halt(reason)
                    unresolved.set()

                live.on_unresolved = on_unresolved
                first = await svc.execute_intent(buy("w1"))
                assert first.status == "UNKNOWN"
                await asyncio.wait_for(unresolved.wait(), 10)
                assert svc.halted
                assert tag_for("w1") in reasons[0]
                assert svc.engine.state.latest_results["w1"].status == "UNKNOWN"
                lookups = kite.calls[("GET", "/orders")]
                await kite.seen("GET", "/orders", more=2)  # still looking, at the poll interval
                assert kite.calls[("GET", "/orders")] >= lookups + 2
                book_down = False
                filled = await seen.until("w1", lambda r: r.status == "FILLED")
                assert filled.filled_qty == 5
                assert not [r for r in seen.results if r.intent_id == "w1" and r.status == "REJECTED"]
        finally:
            release.set()
    assert kite.posts[tag_for("w1")] == 1


async def test_stopping_while_the_book_stays_down_ends_the_lookup(tmp_path):
    release = asyncio.Event()
    async with HostileKite() as kite:

        async def slow(request: web.Request, form: dict[str, str]) -> web.StreamResponse | None:
            kite.new_order(form)
            await release.wait()
            return envelope(500, b"late", "text/plain")

        async def down(request: web.Request, form: dict[str, str]) -> web.StreamResponse | None:
            return envelope(503, b"<html>Service Unavailable</html>", "text/html")

        kite.hooks["POST /orders/*"] = slow
        try:
            svc = ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN)
            svc.settle_timeout = 0.5  # then stop cancels the lookup, which must end at once
            await svc.start()
            kite.hooks["GET /orders"] = down  # after start-up's reconciliation
            try:
                assert (await svc.execute_intent(buy("s1"))).status == "UNKNOWN"
                await kite.seen("GET", "/orders", more=6)
            finally:
                await asyncio.wait_for(svc.stop(), 10)
        finally:
            release.set()
    assert kite.posts[tag_for("s1")] == 1


# -- 5. a placement answer that is neither a clean success nor a clean error ---------------------

UNCLEAN = {
    "success-with-error-type": lambda oid: envelope(
        200,
        {"status": "success", "error_type": "OrderException", "message": "weird", "data": {"order_id": oid}},
    ),
    "error-status-with-http-200": lambda oid: envelope(
        200, {"status": "error", "error_type": "OrderException", "message": "weird"}
    ),
    "4xx-without-error-status": lambda oid: envelope(400, {"message": "weird", "data": {"order_id": oid}}),
    "4xx-with-unknown-error-type": lambda oid: envelope(
        400, {"status": "error", "error_type": "WeirdException", "message": "weird"}
    ),
    "4xx-without-error-type": lambda oid: envelope(400, {"status": "error", "message": "weird"}),
    "429-not-json": lambda oid: envelope(429, b"Too many requests", "text/plain"),
    # JSON the decoder cannot read at all: bytes that are not UTF-8, nesting past its recursion
    "json-not-utf8": lambda oid: envelope(
        200, b'{"status": "success", "data": {"order_id": "' + oid.encode() + b'\xff"}}'
    ),
    "json-nested-too-deeply": lambda oid: envelope(200, b"[" * 100_000),
}


@pytest.mark.parametrize("case", list(UNCLEAN))
async def test_an_unclean_placement_answer_is_an_unknown_outcome_never_a_rejection(tmp_path, case):
    async with HostileKite() as kite:

        async def contradict(request: web.Request, form: dict[str, str]) -> web.StreamResponse | None:
            if form.get("tag") != tag_for("c1"):
                return None
            return UNCLEAN[case](kite.new_order(form)["order_id"])

        kite.hooks["POST /orders/*"] = contradict
        async with ExecutionService(
            hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN
        ) as svc:
            seen = Results(svc)
            first = await svc.execute_intent(buy("c1"))
            assert first.status == "UNKNOWN", first
            filled = await seen.until("c1", lambda r: r.status == "FILLED")
            assert filled.filled_qty == 5 and net_qty(svc) == 5
            assert not [r for r in seen.results if r.intent_id == "c1" and r.status == "REJECTED"]
    assert kite.posts[tag_for("c1")] == 1


# -- 6. a broker order of ours the journal lacks, with terms missing ------------------------------


@pytest.mark.parametrize("missing", ["transaction_type", "quantity", "tradingsymbol"])
async def test_an_order_of_ours_with_terms_missing_is_not_adopted_and_halts(tmp_path, missing, caplog):
    """Adopted, its terms became the journal's order as read with defaults: side "" (a journaled
    order no fill of it can be booked on), quantity 0 (adopted without a word, trading went on),
    symbol "NSE:" (its fill booked on an instrument that does not exist)."""
    async with HostileKite() as kite:
        order = kite.new_order(
            {"tag": tag_for("lost1"), "exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY",
             "quantity": "5", "product": "MIS", "order_type": "MARKET"}
        )  # fmt: skip
        del order[missing]
        async with ExecutionService(
            hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN
        ) as svc:
            assert svc.halted and net_qty(svc) == 0
            assert tag_for("lost1") not in svc.engine.state.orders
    assert f"{missing}=" in caplog.text and "not adopted" in caplog.text


# -- 7. an access token no HTTP header can carry --------------------------------------------------


async def test_an_access_token_with_a_line_break_is_refused_at_start_naming_no_token(tmp_path):
    """aiohttp refuses such a header with a ValueError on every request: start-up's reconciliation
    failed with it, and an order task that got that far failed as an internal error."""
    from execsvc.errors import BrokerAuthError

    async with HostileKite() as kite:
        with pytest.raises(BrokerAuthError) as refused:
            async with ExecutionService(
                hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN + "\n" + TOKEN
            ):
                pass
        assert not kite.calls  # refused before any request
    assert str(refused.value).startswith("access_token: the access token holds a character")
    assert TOKEN not in str(refused.value)


# -- 8. an order update without filled_quantity ----------------------------------------------------


async def test_an_update_without_filled_quantity_does_not_close_the_order_unfilled(tmp_path, caplog):
    """Read as 0, a CANCELLED update that left out ``filled_quantity`` closed the order CANCELLED
    with nothing filled, and the broker's 3 were never booked (a closed order is polled no more)."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url, poll_interval_seconds=30.0)  # updates only
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            placed = await svc.execute_intent(resting("u1"))
            kite.fill(placed.order_id, 3, 1400.0)
            kite.orders[placed.order_id]["status"] = "CANCELLED"
            full = dict(kite.orders[placed.order_id])
            await svc.order_update({k: v for k, v in full.items() if k != "filled_quantity"})
            await svc.order_update(full)  # applied in order: the first was refused by then
            closed = await seen.until("u1", lambda r: r.status == "CANCELLED")
            assert (closed.filled_qty, net_qty(svc)) == (3, 3)
    assert "filled_quantity is missing" in caplog.text
