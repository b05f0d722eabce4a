"""An F&O contract held MIS by two strategies and NRML by a third on its expiry day, with slippage.

At the date line the simulated broker squares the MIS positions off (one MARKET order: its fill is
the last price less the slippage), then settles the NRML one at the contract's last price. A kill in
between leaves the expiry day's journal ending on the square-off: the next start settles the rest
at the price the running service used, the last price, not the square-off's slipped fill.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.journal.inspect import fold_file
from tests.conftest import make_config, tick
from tests.integration.test_fno_expiry import (
    FUT,
    INSTRUMENTS,
    TUE,
    TUE_FILE,
    WED,
    WED_FILE,
    order,
    settlements,
)
from tests.integration.test_fno_expiry_restart import books

LAST = 26_250.0


def config_with_slippage(tmp_path: Path, journal_dir: Path) -> Config:
    path = tmp_path / "instruments.csv"
    path.write_text(INSTRUMENTS)
    return make_config(journal_dir, market={"instruments_file": str(path)}, execution={"slippage_bps": 10})


def mis(strategy: str, intent_id: str) -> OrderIntent:
    return OrderIntent(
        symbol=FUT, strategy_code=strategy, side="BUY", qty=65, product="MIS", intent_id=intent_id
    )


async def through_the_expiry(config: Config) -> None:
    """s1 and s3 MIS +65 each, s2 NRML +65 in the future on its expiry day; Wednesday's tick meets
    the line."""
    async with ExecutionService(config, clock=ReplayClock(ist_ns(TUE, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_200.0, ist_ns(TUE, 15, 0)))
        for intent in (mis("s1", "m1"), order("s2", FUT, "BUY", 65, "n1"), mis("s3", "m3")):
            assert (await svc.execute_intent(intent)).status == "FILLED"
        await svc.on_tick(tick(FUT, LAST, ist_ns(TUE, 15, 29, 59)))
        await svc.on_tick(tick(FUT, 26_300.0, ist_ns(WED, 9, 15)))


def settlement_price(path: Path) -> float:
    [records] = settlements(path).values()
    [fill] = [e for e in records if e["type"] == "fill"]
    return float(fill["price"])


CUTS = [
    (b'"type":"broker_square_off"', b""),  # the broker's order, before any leg's close
    (b'"type":"intent"', b'"auto-sqoff-20261124-1"'),
    (b'"type":"fill"', b'"auto-sqoff-20261124-1"'),
    (b'"type":"result"', b'"auto-sqoff-20261124-2"'),  # the square-off done, the settlement not
]


@pytest.mark.parametrize(("marker", "named"), CUTS)
async def test_a_kill_after_the_square_off_settles_at_the_last_price_not_its_fill(
    tmp_path, journal_dir, marker, named
):
    config = config_with_slippage(tmp_path, journal_dir)
    await through_the_expiry(config)
    path = journal_dir / TUE_FILE
    assert settlement_price(path) == LAST
    ran = books(fold_file(path))
    (journal_dir / WED_FILE).unlink()  # the kill came before the new day's file was written
    lines = path.read_bytes().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if marker in line and named in line)
    path.write_bytes(b"".join(lines[: last + 1]))

    async with ExecutionService(config, clock=ReplayClock(ist_ns(WED, 9, 16))):
        pass

    assert settlement_price(path) == LAST
    assert books(fold_file(path)) == ran  # every position at the prices the running service used
