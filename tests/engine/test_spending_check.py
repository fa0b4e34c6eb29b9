"""The budget check before a paid action: refused over the limit, and with no
limit set it does not add up the month's spending at all (it runs before a
Generate tap is answered)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.spending import OverBudget, Spending
from engine.store import SpendChange
from tests import databases


class CountingSpent:
    def __init__(self, store) -> None:
        self.store, self.sums = store, 0

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    async def spent_usd(self, owner: str, month: str) -> float:
        self.sums += 1
        return await self.store.spent_usd(owner, month)


async def test_no_limit_adds_nothing_up_and_a_limit_refuses_what_is_over_it(data_dir: Path) -> None:
    store = await databases.store_for(data_dir)
    counting = CountingSpent(store)
    try:
        await store.record_spend([SpendChange(key="k1", owner="tg:1", run_id="r1", provider="leonardo",
                                              kind="video", status="charged", estimate_usd=0.9, actual_usd=0.9)])
        await Spending(counting, default_budget_usd=None).check("tg:1", 50.0)
        assert counting.sums == 0, "with no limit the month is not summed"
        limited = Spending(counting, default_budget_usd=1.0)
        await limited.check("tg:1", 0.1)
        with pytest.raises(OverBudget, match=r"\$0\.10 left"):
            await limited.check("tg:1", 0.2)
        assert counting.sums == 2
    finally:
        await store.close()
