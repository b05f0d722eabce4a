"""Tick files: a price above the order price ceiling (``validation.MAX_PRICE``, 1 crore), or a depth
quantity above the order quantity ceiling, is a bad line (or frame) named by file and position
like NaN and negative prices; a price exactly at the ceiling is sound."""

from __future__ import annotations

from pathlib import Path

import pytest

from execsvc.errors import TickDataError
from execsvc.market.files import read_ticks, tick_problem
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick
from execsvc.validation import MAX_PRICE, MAX_QTY

T0 = 1_795_146_301 * 10**9
OVER = MAX_PRICE + 0.05


def _both_ways(path: Path) -> tuple[TickDataError, list[Tick], list[TickDataError]]:
    with pytest.raises(TickDataError) as info:
        list(read_ticks(path))
    skipped: list[TickDataError] = []
    ticks = list(read_ticks(path, on_bad="skip", on_skip=skipped.append))
    return info.value, ticks, skipped


def good(ts: int) -> Tick:
    return Tick("NSE:INFY", 1500.0, 408065, ts)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (Tick("NSE:INFY", OVER, 408065, T0 + 1), f"last_price={OVER!r}: not a price"),
        (Tick("NSE:INFY", 5.0, 408065, T0 + 1, average_traded_price=OVER), "average_traded_price="),
        (Tick("NSE:INFY", 5.0, 408065, T0 + 1, ohlc=OHLC(1.0, OVER, 1.0, 1.0)), "ohlc.high="),
        (
            Tick(
                "NSE:INFY",
                5.0,
                408065,
                T0 + 1,
                depth=Depth(sell=(DepthLevel(1, 5.0, 1), DepthLevel(1, OVER, 1))),
            ),
            "depth.sell[1].price=",
        ),
        (
            Tick("NSE:INFY", 5.0, 408065, T0 + 1, depth=Depth(buy=(DepthLevel(MAX_QTY + 1, 5.0, 1),))),
            f"depth.buy[0].quantity={MAX_QTY + 1}: must be 0 to 1,000,000,000",
        ),
    ],
)
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_value_above_the_order_ceiling_is_a_bad_line(
    tmp_path: Path, suffix: str, bad: Tick, reason: str
) -> None:
    path = tmp_path / f"ticks{suffix}"
    write_ticks(path, [good(T0), bad, good(T0 + 2)])

    error, ticks, skipped = _both_ways(path)

    assert error.path == str(path) and error.position == ("line 2" if suffix == ".jsonl" else "line 3")
    assert reason in error.reason
    assert [t.ts_event for t in ticks] == [T0, T0 + 2]
    assert [e.position for e in skipped] == [error.position]


def test_a_price_above_the_ceiling_in_a_frame_file_is_a_bad_frame(tmp_path: Path) -> None:
    # int32 paise reach 2.1 crore: the wire can carry what no order may name
    path = tmp_path / "ticks.kite"
    write_ticks(
        path, [good(T0), Tick("NSE:INFY", 20_000_000.0, 408065, T0 + 1, mode="ltp"), good(T0 + 2)], mode="ltp"
    )

    error, ticks, skipped = _both_ways(path)

    assert error.position.startswith("offset ") and "last_price=20000000.0" in error.reason
    assert [t.ts_event for t in ticks] == [T0, T0 + 2] and len(skipped) == 1


def test_the_ceiling_itself_is_sound() -> None:
    depth = Depth(buy=(DepthLevel(MAX_QTY, MAX_PRICE, 1),))
    tick = Tick("NSE:INFY", MAX_PRICE, ohlc=OHLC(MAX_PRICE, MAX_PRICE, 1.0, 1.0), depth=depth)
    assert tick_problem(tick) is None
