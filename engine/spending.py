"""Money: what a person may spend this month, what they spent, and what an
action costs in dollars.

Every paid call is one row of the accounting (`spend`): reserved at its
estimate before the call (so a crash cannot lose it) and charged with what
the provider reported after it, in the same transaction as the event that
records the call (so a crash cannot count it twice). A budget counts the
reported cost where known, else the estimate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from engine.errors import EngineError
from engine.providers.base import Cost
from engine.store import SpendChange, Store


log = logging.getLogger(__name__)
LIMIT_FRESH_S = 5.0  # a budget changed elsewhere (another process, an admin) applies to checks within this
KIND_OF_ACTION = {"txt2img": "image", "img2img": "image", "img2vid": "video", "txt2audio": "music"}


class OverBudget(EngineError):
    """A paid action that would go over the person's monthly budget: nothing is called."""


def this_month(now: float | None = None) -> str:
    """The budget month ("YYYY-MM", UTC)."""
    return time.strftime("%Y-%m", time.gmtime(time.time() if now is None else now))


def dollars(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 0.005 or usd == 0 else f"${usd:.3f}"


@dataclass
class Budget:
    limit_usd: float | None  # None: no limit
    spent_usd: float

    @property
    def left_usd(self) -> float | None:
        return None if self.limit_usd is None else max(0.0, self.limit_usd - self.spent_usd)

    def describe(self) -> str:
        """"$1.20 spent this month, $3.80 left" (or "no limit")."""
        left = self.left_usd
        tail = "no monthly limit" if left is None else f"{dollars(left)} left of {dollars(self.limit_usd or 0)}"
        return f"{dollars(self.spent_usd)} spent this month, {tail}"


class Spending:
    def __init__(self, store: Store, default_budget_usd: float | None = None, usd_per_credit: float = 0.0015) -> None:
        self.store = store
        self.default_budget_usd = default_budget_usd
        self.usd_per_credit = usd_per_credit
        self._known: dict[str, tuple[float | None, float]] = {}  # owner -> (limit, when it was read)
        self._reading: dict[str, asyncio.Task[None]] = {}

    def usd(self, cost: Cost) -> float:
        """A cost in dollars: Leonardo credits at their dollar value."""
        return round(float(cost.usd or 0) + float(cost.credits or 0) * self.usd_per_credit, 6)

    def label(self, cost: Cost) -> str:
        """"~$0.40", "~$0.30 (200 credits)", or "free"."""
        usd = self.usd(cost)
        if usd <= 0:
            return "free"
        credits = f" ({cost.credits:g} credits)" if cost.credits else ""
        return f"~{dollars(usd)}{credits}"

    async def limit(self, owner: str) -> float | None:
        person = await self.store.person(owner)
        limit = person.budget_usd if person is not None and person.budget_usd is not None else self.default_budget_usd
        self._known[owner] = (limit, time.monotonic())
        return limit

    def forget(self, owner: str) -> None:
        """Their budget was changed here: the next check reads it again."""
        self._known.pop(owner, None)

    async def _limit_for_check(self, owner: str) -> float | None:
        """The limit as last read (read now the first time; read again in the background
        when older than LIMIT_FRESH_S): a Generate tap's answer waits for this check, and
        a database read in front of it was the slowest part of the tap. The spending
        itself (`reserve`) reads the limit afresh."""
        known = self._known.get(owner)
        if known is None:
            return await self.limit(owner)
        if time.monotonic() - known[1] > LIMIT_FRESH_S and owner not in self._reading:
            self._reading[owner] = asyncio.create_task(self._read_again(owner), name="budget limit")
        return known[0]

    async def _read_again(self, owner: str) -> None:
        try:
            await self.limit(owner)
        except Exception:  # noqa: BLE001 - the store is closing or busy: the next check tries again
            log.debug("could not read the budget of a person again", exc_info=True)
        finally:
            self._reading.pop(owner, None)

    async def budget(self, owner: str) -> Budget:
        return Budget(await self.limit(owner), await self.store.spent_usd(owner, this_month()))

    async def check(self, owner: str, estimate_usd: float, what: str = "This") -> None:
        """Refuse (OverBudget) an action whose estimate would go over what is left."""
        if estimate_usd <= 0:
            return
        await self._refuse_over(owner, estimate_usd, what, await self._limit_for_check(owner))

    async def _refuse_over(self, owner: str, estimate_usd: float, what: str, limit: float | None) -> None:
        if limit is None:  # no limit: nothing to add up (a Generate tap waits for this before its answer)
            return
        left = Budget(limit, await self.store.spent_usd(owner, this_month())).left_usd or 0.0
        if estimate_usd > left + 1e-9:
            raise OverBudget(f"{what} costs about {dollars(estimate_usd)}, and your budget has {dollars(left)} "
                             "left this month. Nothing was started or charged.")

    async def reserve(self, key: str, owner: str, run_id: str, provider: str, kind: str, estimate_usd: float,
                      what: str = "This") -> SpendChange | None:
        """Check, then write the reservation before a call (None when it is free)."""
        if estimate_usd <= 0:
            return None
        await self._refuse_over(owner, estimate_usd, what, await self.limit(owner))
        change = SpendChange(key=key, owner=owner, run_id=run_id, provider=provider, kind=kind, status="reserved",
                             estimate_usd=estimate_usd)
        await self.store.record_spend([change])
        return change
