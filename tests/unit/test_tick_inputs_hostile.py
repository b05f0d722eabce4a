"""Hostile tick inputs found by a review of the replay path: a raw frame record whose length no
Kite frame has, and tick symbols that name no exchange. Each is a clear error naming the file,
where in it, and the value; nothing is placed on an unpriced symbol.
"""

from __future__ import annotations

import pytest

from execsvc.cli import main
from execsvc.errors import TickDataError
from execsvc.market.files import read_ticks
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import Tick
from tests.unit.test_replay_inputs_hostile import CONFIG, T0, own_log_handlers  # noqa: F401 - a fixture

# -- raw frame records ----------------------------------------------------------------------------


def test_a_record_length_no_kite_frame_has_is_reported_without_reading_the_rest_into_memory(
    tmp_path, monkeypatch
):
    import execsvc.market.files as files
    from execsvc.market.files import RECORD
    from execsvc.market.kite_codec import encode_frame

    frame = encode_frame([Tick("NSE:INFY", 1500.0, 408065, T0, mode="ltp")], "ltp")
    good = RECORD.pack(T0, len(frame)) + frame
    path = tmp_path / "ticks.kite"
    # one good record, a header whose length field is damaged, then 4 MiB of good records
    path.write_bytes(good + RECORD.pack(T0, 0xFFFF_FFF0) + good * (4 * 2**20 // len(good)))
    reads: list[int] = []
    real_open = files._open_read

    def spying_open(p, gz):
        handle = real_open(p, gz)
        real_read = handle.read

        class Spy:
            def read(self, n=-1):
                reads.append(n)
                return real_read(n)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()

        return Spy()

    monkeypatch.setattr(files, "_open_read", spying_open)

    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))

    assert info.value.position == f"offset {len(good)}"
    assert str(0xFFFF_FFF0) in info.value.reason
    # was: read(4294967292), i.e. the whole rest of the file (gigabytes for a day's recording) in one
    # buffer, then reported as "truncated record" although every byte after the header was there
    assert max(reads) <= 2**24, f"asked the file for {max(reads):,} bytes at once"


# -- symbols without an exchange ------------------------------------------------------------------


class BuyThenSell:
    """A MARKET BUY of 10 on the first tick and a SELL of 10 on the third, on the tick's own symbol."""

    strategy_code = "BS"

    def __init__(self) -> None:
        self.n = 0

    def on_tick(self, tick, ctx):
        from execsvc import OrderIntent

        self.n += 1
        if self.n in (1, 3):
            side = "BUY" if self.n == 1 else "SELL"
            ctx.submit(OrderIntent(symbol=tick.symbol, strategy_code="BS", side=side, qty=10))


def test_ticks_whose_symbol_names_no_exchange_are_refused_by_line_not_left_unpriced(tmp_path, capsys):
    # An intent for "INFY" is read as default_exchange's "NSE:INFY"; a tick for "INFY" was kept
    # under "INFY", so no order ever found a price: every one was REJECTED "breaker:max_order_value:
    # no price to value the order against" (and with no value cap a MARKET order has no LTP to fill at).
    path = tmp_path / "ticks.jsonl"
    write_ticks(path, [Tick("INFY", 1500.0 + i, 0, T0 + i * 10**9) for i in range(4)])
    report = tmp_path / "r.json"

    code = main(["replay", "--config", CONFIG, "--ticks", str(path), "--strategy",
                 "tests.unit.test_tick_inputs_hostile:BuyThenSell", "--journal-dir", str(tmp_path / "j"),
                 "--report", str(report)])  # fmt: skip

    err = capsys.readouterr().err
    assert code == 2 and f"{path}: line 1" in err and "symbol='INFY'" in err
    assert not report.exists()  # nothing ran
