"""On a live clock the simulated broker squares MIS off at its time, with no input after it (the
service's timer, ``execsvc.close_timer``), exactly as its instrument's tick then would have.

The paper and dry-run broker's MIS auto square-off (15:25 for F&O) came only with the
instrument's next tick: an illiquid name, or a feed that dropped, kept its MIS position open to
the date line, closed then at a later time and maybe another price, and a restart in between saw
a position the broker would have closed. The clock here is a live one that jumps when told
(``JumpingClock``): ticks do not move it, and nothing sleeps for real. What a tick at the broker's
time leaves is the reference: the same inputs on a replay clock (no timer), plus that tick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.market.ticks import Tick
from tests.conftest import journal_records, tick
from tests.integration.test_session_closes_restart import CALENDAR, JAN, MARKER, TUE, config
from tests.jumping_clock import JumpingClock

DAY_FILE = f"{TUE.isoformat()}.jsonl"
LAST = tick(JAN, 26_300.0, ist_ns(TUE, 15, 10), bid=26_295.0, ask=26_305.0)  # its last tick of the day


def order(intent_id: str, side: str, qty: int, product: str = "MIS", **terms: Any) -> OrderIntent:
    return OrderIntent(
        symbol=JAN, strategy_code="s1", side=side, qty=qty, product=product, intent_id=intent_id, **terms
    )


class Live:
    """A paper service on a live clock that jumps (its timer runs), given the session calendar."""

    def __init__(self, cfg: Config) -> None:
        self.clock = JumpingClock(ist_ns(TUE, 9, 15))
        self.svc = ExecutionService(cfg, clock=self.clock)

    async def start(self) -> None:
        await self.svc.start()
        self.svc.engine.calendar = CALENDAR  # what the daemon gives it (here after the start)

    async def tick(self, item: Tick) -> None:
        """The wall clock reaches the tick's time and the feed sends it."""
        self.clock.advance_to(item.ts_event)
        await self.svc.on_tick(item)


class Replayed(Live):
    """The same inputs on a replay clock: no timer, the broker's steps come with the inputs."""

    def __init__(self, cfg: Config) -> None:
        self.svc = ExecutionService(cfg, clock=ReplayClock(ist_ns(TUE, 9, 15)))

    async def tick(self, item: Tick) -> None:
        await self.svc.on_tick(item)


async def the_day(side: Live, *, flat: bool = False) -> None:
    """Long 65 January futures MIS (and 65 NRML) from 10:00, a resting MIS buy far below the market;
    ``flat``: the MIS position closed and the order cancelled before the broker's time. The
    future's last tick comes at 15:10."""
    await side.tick(tick(JAN, 26_350.0, ist_ns(TUE, 10, 0), bid=26_345.0, ask=26_355.0))
    svc = side.svc
    for intent in (order("m1", "BUY", 65), order("n1", "BUY", 65, "NRML")):
        assert (await svc.execute_intent(intent)).status == "FILLED"
    resting = await svc.execute_intent(order("low", "BUY", 65, order_type="LIMIT", price=25_000.0))
    assert resting.status == "PLACED"
    if flat:
        assert (await svc.execute_intent(order("m2", "SELL", 65))).status == "FILLED"
        await svc.cancel_order(resting.order_id)
    await side.tick(LAST)


def cfg(tmp_path: Path, name: str) -> Config:
    (tmp_path / name).mkdir()
    return config(tmp_path / name, tmp_path / name / "journal")


def events(journal_dir: Path) -> list[dict[str, Any]]:
    return journal_records(journal_dir / DAY_FILE)


def broker_square_off(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in records if e.get("intent_id", "").startswith("auto-sqoff-")]


async def test_the_broker_squares_off_at_its_time_with_no_tick_after_it_as_a_tick_then_would(tmp_path):
    live = Live(cfg(tmp_path, "live"))
    await live.start()
    try:
        await the_day(live)
        assert await live.clock.asleep() == ist_ns(TUE, 15, 20)  # the timer waits for NSE's time

        live.clock.advance_to(ist_ns(TUE, 15, 26))  # no input since 15:10
        assert await live.clock.asleep() == ist_ns(TUE, 15, 30)  # done with 15:25: the close next
        assert [p.net_qty for p in live.svc.positions() if p.product == "MIS"] == [0]
    finally:
        await live.svc.stop()

    replayed = Replayed(cfg(tmp_path, "replay"))
    await replayed.start()
    try:
        await the_day(replayed)
        await replayed.tick(tick(JAN, 26_300.0, ist_ns(TUE, 15, 25), bid=26_295.0, ask=26_305.0))
    finally:
        await replayed.svc.stop()

    got, reference = events(tmp_path / "live" / "journal"), events(tmp_path / "replay" / "journal")
    assert got == reference
    intent, _, fill, result = broker_square_off(got)
    at_1525 = ist_ns(TUE, 15, 25)
    assert (intent["ts_init"], fill["ts_event"], result["ts_event"]) == (at_1525, at_1525, at_1525)
    assert (fill["side"], fill["qty"], fill["price"], result["status"]) == ("SELL", 65, 26_300.0, "FILLED")
    assert fill["charges"]["auto_square_off"] == 50.0  # the broker's fee (its GST with the rest)
    [cancel] = [e for e in got if e["type"] == "order_cancelled"]  # the resting MIS buy, at 15:25
    assert cancel["ts_event"] == at_1525


async def test_a_late_wake_squares_off_at_the_brokers_time_before_it_journals_the_close(tmp_path):
    """The machine was suspended over 15:25 and 15:30: the timer wakes at 15:40, squares off as a
    tick at 15:25 would have, and then journals what is still held at the close (the NRML), as an
    input at 15:40 would; a tick after that squares off nothing again."""
    live = Live(cfg(tmp_path, "live"))
    await live.start()
    try:
        await the_day(live)
        live.clock.advance_to(ist_ns(TUE, 15, 40))
        assert await live.clock.asleep() == ist_ns(TUE, 16, 45)  # CDS's broker time next
        await live.tick(tick(JAN, 26_250.0, ist_ns(TUE, 15, 41)))  # a late tick
    finally:
        await live.svc.stop()

    replayed = Replayed(cfg(tmp_path, "replay"))
    await replayed.start()
    try:
        await the_day(replayed)
        await replayed.tick(tick(JAN, 26_300.0, ist_ns(TUE, 15, 25), bid=26_295.0, ask=26_305.0))
        await replayed.tick(tick(MARKER, 800.0, ist_ns(TUE, 15, 40)))  # an input at 15:40
        await replayed.tick(tick(JAN, 26_250.0, ist_ns(TUE, 15, 41)))
    finally:
        await replayed.svc.stop()

    got = events(tmp_path / "live" / "journal")
    assert got == events(tmp_path / "replay" / "journal")
    assert len(broker_square_off(got)) == 4
    closes = [e for e in got if e["type"] == "session_closes"]
    assert [(c["closes"][0]["last_price"], c["ts_event"]) for c in closes] == [
        (26_300.0, ist_ns(TUE, 15, 40)),  # the NRML position's mark at the close
        (26_250.0, ist_ns(TUE, 15, 41)),  # the late tick changed it
    ]


async def test_nothing_is_journaled_at_the_brokers_times_when_nothing_is_held_in_mis(tmp_path):
    live = Live(cfg(tmp_path, "live"))
    await live.start()
    try:
        await the_day(live, flat=True)
        before = events(tmp_path / "live" / "journal")
        assert await live.clock.asleep() == ist_ns(TUE, 15, 20)
        live.clock.advance_to(ist_ns(TUE, 15, 20))
        assert await live.clock.asleep() == ist_ns(TUE, 15, 25)  # the timer wakes at each time
        live.clock.advance_to(ist_ns(TUE, 15, 26))
        assert await live.clock.asleep() == ist_ns(TUE, 15, 30)
        assert events(tmp_path / "live" / "journal") == before
    finally:
        await live.svc.stop()
