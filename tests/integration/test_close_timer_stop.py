"""A stop does what the session-close timer would have done by then, before it closes.

Found in review: on a live clock the timer squares MIS off at the broker's time and journals
what is held at each close, but it wakes on naps of the monotonic clock, which a suspended
machine stops: after a resume it wakes up to a minute late, and a stop in that minute (an
operator's, or the daemon's own after the close with ``daemon.after_close_seconds: 0``, due at
the very instant of the last close) cancelled it unwoken. Nothing was journaled at the close, so
a start after the date line settled the expiring December contracts at their entry fills (₹0
booked) instead of the 15:29 close (-₹14,950), and an MIS position the broker had squared off at
15:25 was closed at the date line instead, at the journal's last fill. The clock here jumps when
told (``JumpingClock``); ``wake=False`` moves it without ending the timer's nap.
"""

from __future__ import annotations

from pathlib import Path

from execsvc.clock import ist_ns
from execsvc.journal.inspect import fold_file
from tests.conftest import tick
from tests.integration.test_broker_square_off_timer import Live, broker_square_off, cfg, events, the_day
from tests.integration.test_session_close_timer import (
    AT_THE_CLOSE,
    TUE_FILE,
    WED,
    expiry_day,
    session_closes,
    started,
)
from tests.integration.test_session_closes_restart import CALL, FUT, MARKER, TUE, config, settlement_prices
from tests.jumping_clock import JumpingClock


async def test_a_stop_before_the_late_timer_wakes_still_journals_the_close(tmp_path, journal_dir):
    cfg_ = config(tmp_path, journal_dir)
    clock = JumpingClock(ist_ns(TUE, 9, 15))
    svc = await started(cfg_, clock)
    try:
        await expiry_day(clock, svc)
        assert await clock.asleep() == ist_ns(TUE, 15, 30)  # the timer waits for the close
        clock.advance_to(ist_ns(TUE, 15, 31), wake=False)  # resumed: its nap has not ended yet
    finally:
        await svc.stop()

    clock.advance_to(ist_ns(WED, 9, 15))
    svc = await started(cfg_, clock)
    try:
        await svc.on_tick(tick(MARKER, 801.0, 0))  # meets the date line
    finally:
        await svc.stop()

    assert settlement_prices(journal_dir) == {FUT: 26_020.0, CALL: 95.0}
    books = fold_file(journal_dir / TUE_FILE).positions.values()
    assert {p.symbol: p.realized_gross for p in books} == {FUT: -6_500.0, CALL: -8_450.0}
    assert session_closes(journal_dir / TUE_FILE) == AT_THE_CLOSE


async def test_a_stop_before_the_late_timer_wakes_still_squares_off_at_the_brokers_time(tmp_path: Path):
    woken = Live(cfg(tmp_path, "woken"))
    await woken.start()
    try:
        await the_day(woken)
        woken.clock.advance_to(ist_ns(TUE, 15, 26))
        assert await woken.clock.asleep() == ist_ns(TUE, 15, 30)
    finally:
        await woken.svc.stop()

    late = Live(cfg(tmp_path, "late"))
    await late.start()
    try:
        await the_day(late)
        assert await late.clock.asleep() == ist_ns(TUE, 15, 20)
        late.clock.advance_to(ist_ns(TUE, 15, 26), wake=False)
    finally:
        await late.svc.stop()

    got = events(tmp_path / "late" / "journal")
    assert got == events(tmp_path / "woken" / "journal")
    fill = [e for e in broker_square_off(got) if e["type"] == "fill"]
    assert [(f["side"], f["qty"], f["price"], f["ts_event"]) for f in fill] == [
        ("SELL", 65, 26_300.0, ist_ns(TUE, 15, 25))
    ]


async def test_a_stop_the_timer_owes_nothing_to_journals_nothing(tmp_path, journal_dir):
    """Past the date line with the timer asleep to Wednesday's 15:20, a stop rolls no day: it is no
    input (the next start rolls it over, as after any stop before an input of the new day)."""
    clock = JumpingClock(ist_ns(TUE, 9, 15))
    svc = await started(config(tmp_path, journal_dir), clock)
    try:
        await expiry_day(clock, svc)
        clock.advance_to(ist_ns(TUE, 23, 56))
        assert await clock.asleep() == ist_ns(WED, 15, 20)
        clock.advance_to(ist_ns(WED, 0, 30))
    finally:
        await svc.stop()

    assert sorted(p.name for p in journal_dir.iterdir()) == [TUE_FILE]
