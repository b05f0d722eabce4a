"""Two strategies under one ``strategy_code`` (two instances of a class with its default code, or
a team that shares its positions) submit on the same tick: each intent is its own order. Before,
their contexts counted intent ids apart, so both made ``<code>-<ns>-1`` and the second intent was
answered with the first one's fill (idempotency) and never placed."""

from __future__ import annotations

from typing import Any

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import ReplayClock
from execsvc.market.replay import Replayer
from tests.conftest import OPEN_NS, SECOND, make_config


class BuysOnce:
    strategy_code = "TEAM"

    def __init__(self, qty: int) -> None:
        self.qty = qty
        self.done = False

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        if not self.done:
            self.done = True
            ctx.submit(OrderIntent(symbol=tick.symbol, strategy_code="TEAM", side="BUY", qty=self.qty,
                                   intent_id=ctx.next_intent_id()))  # fmt: skip

    def on_result(self, result: Any, ctx: Any) -> None:
        pass


async def test_two_strategies_sharing_a_code_each_get_their_own_order(journal_dir, caplog):
    ticks = [Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=OPEN_NS + n * SECOND) for n in range(1, 4)]
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await Replayer(svc, [BuysOnce(3), BuysOnce(4)]).run(ticks)
        team = svc.engine.state.position("TEAM", "NSE:INFY", "MIS")
        ids = sorted(svc.engine.state.first_results)
    assert team is not None and team.net_qty == 7
    assert len(ids) == 2 and ids[0] != ids[1]
    assert "strategies share strategy_code 'TEAM': they share its positions and results" in caplog.text
