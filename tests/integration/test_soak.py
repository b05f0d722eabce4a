"""The kill -9 campaign (``make soak``) in miniature, so the script cannot rot between soaks.

Three paper rounds (fsync always, batch, never) and one live round against the simulator: each kills
a child service at a random point and checks the journal, the answers, never-twice, fills and
positions.
``scripts.soak`` raises ``Broken`` on the first invariant that fails (against the code before the
fix for half-journaled intents it fails in its first round with seed 3).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.soak import campaign

pytestmark = pytest.mark.timeout(180)


async def test_a_short_kill_9_campaign_holds_every_invariant(tmp_path: Path) -> None:
    await campaign(rounds=3, live_rounds=1, seed=3, journal_dir=tmp_path)
    assert len(list((tmp_path / "paper").glob("*.jsonl"))) >= 1
    assert len(list((tmp_path / "live").glob("*.jsonl"))) >= 1
