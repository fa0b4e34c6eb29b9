"""The budget check before a paid action: refused over the limit, and with no
limit set it does not add up the month's spending at all (it runs before a
Generate tap is answered)."""

from __future__ import annotations

import asyncio
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


class CountingPerson(CountingSpent):
    def __init__(self, store) -> None:
        super().__init__(store)
        self.reads = 0

    async def person(self, owner: str):
        self.reads += 1
        return await self.store.person(owner)


async def test_the_check_uses_the_limit_last_read_and_the_spending_reads_it_afresh(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await databases.store_for(data_dir)
    counting = CountingPerson(store)
    spending = Spending(counting, default_budget_usd=None)
    try:
        assert await spending.limit("tg:1") is None  # read once (a run's start reads it)
        await spending.check("tg:1", 0.5)
        assert counting.reads == 1, "a Generate tap's check waited for a database read"

        await store.save_person("tg:1", budget_usd=0.2)  # set by an admin in another process
        await spending.check("tg:1", 0.5)  # still the limit last read: a check is the early word only
        with pytest.raises(OverBudget):  # the spending itself is held to the budget as stored
            await spending.reserve("k1", "tg:1", "r1", "leonardo", "video", 0.5)

        spending.forget("tg:1")  # a budget changed in this process applies to the next check at once
        with pytest.raises(OverBudget):
            await spending.check("tg:1", 0.5)

        monkeypatch.setattr("engine.spending.LIMIT_FRESH_S", 0.0)
        await store.save_person("tg:1", budget_usd=5.0)
        with pytest.raises(OverBudget):  # the limit as last read, and it is read again meanwhile
            await spending.check("tg:1", 0.5)
        for _ in range(100):
            if not spending._reading:
                break
            await asyncio.sleep(0.01)
        await spending.check("tg:1", 0.5)  # within moments, the new budget
    finally:
        await store.close()
