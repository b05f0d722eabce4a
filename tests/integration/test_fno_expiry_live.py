"""Live: the broker settles an expired contract; execsvc simulates nothing of it.

A live NRML position in a contract that expires is closed by the exchange: the next day the broker
shows it no more. The live service journals no settlement (the expiry day's file stays as it was)
and the next day does not carry it in, so reconciliation finds no mismatch; before, it was carried
(a phantom) and the start halted trading on the mismatch with the broker.
"""

from __future__ import annotations

from pathlib import Path

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import config_from_dict
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.sim import KiteSimulator
from tests.conftest import journal_records
from tests.integration.test_fno_expiry import FUT, INSTRUMENTS, TUE, TUE_FILE, WED, WED_FILE, order
from tests.integration.test_live_kite import Collector, _as_dict, live_config

FUT_TOKEN = 13238786


async def test_live_journals_no_settlement_and_carries_no_expired_position(tmp_path: Path) -> None:
    path = tmp_path / "instruments.csv"
    path.write_text(INSTRUMENTS)
    async with KiteSimulator(heartbeat_seconds=0.05, instruments=Instruments.from_csv(path)) as sim:
        sim.push_tick(Tick(symbol=FUT, instrument_token=FUT_TOKEN, last_price=26_000.0))
        base = _as_dict(live_config(tmp_path / "journal", sim))
        config = config_from_dict({**base, "market": {**base["market"], "instruments_file": str(path)}})
        async with ExecutionService(config, clock=ReplayClock(ist_ns(TUE, 10, 0)), access_token="t") as svc:
            await svc.on_tick(Tick(symbol=FUT, instrument_token=FUT_TOKEN, last_price=26_000.0))
            seen = Collector(svc)
            await svc.execute_intent(order("s1", FUT, "BUY", 65, "f1"))
            await seen.until("f1", "FILLED")
        journal = tmp_path / "journal"
        before = (journal / TUE_FILE).read_bytes()
        sim.reset()  # the next day at the broker: the exchange settled the contract
        async with ExecutionService(config, clock=ReplayClock(ist_ns(WED, 9, 0)), access_token="t") as svc:
            positions = [p for p in svc.positions() if p.net_qty]
            report, halted = svc.reconciliation, svc.halted

    assert positions == []
    assert report is not None and report.position_mismatches == [] and not halted
    assert (journal / TUE_FILE).read_bytes() == before  # nothing simulated in the expiry day
    carried = journal_records(journal / WED_FILE)[1]
    assert [(p["symbol"], p["net_qty"]) for p in carried["expired"]] == [(FUT, 65)]
    assert carried["positions"] == []
