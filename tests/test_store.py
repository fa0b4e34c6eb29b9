"""The store's contract, on the database this run uses (SQLite, or PostgreSQL
with CCBOT_TEST_DATABASE=postgres: `make test` runs both)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from engine.store import JobChange, NewEvent, SpendChange
from tests.databases import BACKEND, store_for


async def test_the_log_appends_in_order_with_its_projections(tmp_path: Path) -> None:
    store = await store_for(tmp_path)
    try:
        kind = type(store).__name__
        assert kind == ("PostgresStore" if BACKEND == "postgres" else "SQLiteStore"), kind
        await store.create_run("run_a", "alice", "mini")
        first = await store.append("run_a", [NewEvent("a", {"n": 1}), NewEvent("b", {"big": "x" * 5000})])
        second = await store.append("run_a", [NewEvent("c", {})], run_status="completed",
                                    jobs=[JobChange("job_1", "int_1", "created", "key")])
        assert [e.seq for e in first] == sorted(e.seq for e in first) and second[0].seq > first[-1].seq
        events = await store.events("run_a")
        assert [e.type for e in events] == ["a", "b", "c"] and events[1].data["big"] == "x" * 5000
        assert await store.last_seq("run_a") == second[0].seq
        assert [e.type for e in await store.events("run_a", after_seq=first[-1].seq)] == ["c"]
        row = await store.get_run("run_a")
        assert row is not None and row.status == "completed" and row.updated_at >= row.created_at
        await store.write_snapshot("run_a", 2, {"state": 1})
        assert await store.snapshot("run_a") == (2, {"state": 1})
        assert [r.run_id for r in await store.list_runs("alice", "completed")] == ["run_a"]
    finally:
        await store.close()


async def test_claims_sessions_people_and_the_accounting(tmp_path: Path) -> None:
    store = await store_for(tmp_path)
    try:
        assert await store.claim(["k1", "k2", "k1"], "run_a") == [True, True, False]
        assert await store.claim(["k1", "k3"]) == [False, True]
        await store.release("k1")
        assert await store.claim(["k1"]) == [True]
        await store.save_session("run_a", "alice", "key1", {"chat_id": 7})
        assert (await store.session_by_key("key1")).data == {"chat_id": 7}  # type: ignore[union-attr]
        assert (await store.session_of_owner("alice")).run_id == "run_a"  # type: ignore[union-attr]
        await store.save_person("tg:1", allowed=True, budget_usd=2.5)
        await store.save_person("tg:1", allowed=False)
        person = await store.person("tg:1")
        assert person is not None and person.allowed is False and person.budget_usd == 2.5
        await store.record_spend([SpendChange("job_x", "alice", "openai", "image", "reserved", "run_a", 0.5)])
        assert await store.spent_usd("alice", (await store.spend_rows())[0].month) == 0.5
        await store.record_spend([SpendChange("job_x", "alice", "openai", "image", "charged", actual_usd=0.4)])
        (row,) = await store.spend_rows(owner="alice")
        assert (row.status, row.estimate_usd, row.actual_usd, row.amount_usd) == ("charged", 0.5, 0.4, 0.4)
        await store.create_run("run_a", "alice", "mini")
        await store.append("run_a", [NewEvent("a", {})])
        counts = await store.forget("alice")
        assert counts["runs"] == 1 and counts["events"] == 1 and counts["sessions"] == 1
        assert await store.spend_rows(owner="alice"), "the accounting stays"
    finally:
        await store.close()


async def test_old_update_and_event_claims_are_pruned_but_a_runs_own_stay(tmp_path: Path) -> None:
    store = await store_for(tmp_path)
    try:
        await store.claim(["update:1", "event:e1"])
        await store.claim(["finished:run_a"], "run_a")
        assert await store.prune_claims(time.time() - 3600) == 0, "an hour old is too young to go"
        await asyncio.sleep(0.05)
        cut_off = time.time()
        await asyncio.sleep(0.05)
        await store.claim(["update:2"])  # after the cut-off: kept
        assert await store.prune_claims(cut_off) == 2
        assert not await store.claimed("update:1") and not await store.claimed("event:e1")
        assert await store.claimed("update:2") and await store.claimed("finished:run_a")
    finally:
        await store.close()


async def test_a_lock_is_held_by_one_holder_at_a_time(tmp_path: Path) -> None:
    """On PostgreSQL an advisory lock (processes); on SQLite a no-op (one process has its own locks)."""
    store = await store_for(tmp_path)
    try:
        inside: list[int] = []
        most = 0

        async def holder(n: int) -> None:
            nonlocal most
            async with store.lock("person", "tg:1"):
                inside.append(n)
                most = max(most, len(inside))
                await asyncio.sleep(0.05)
                inside.remove(n)

        await asyncio.gather(*(holder(n) for n in range(4)))
        assert most == (1 if store.shared else 4)
        if store.shared:  # what one process publishes, every process hears
            heard: list[dict] = []
            await store.listen(heard.append)
            await store.publish({"type": "job_completed", "run_id": "run_a"})
            for _ in range(50):
                if heard:
                    break
                await asyncio.sleep(0.02)
            assert heard == [{"type": "job_completed", "run_id": "run_a"}]
    finally:
        await store.close()


async def test_many_holders_at_once_do_not_starve_their_own_queries(tmp_path: Path) -> None:
    """More people's updates at once than the pool has connections: each holds its
    person's lock and then queries (a held lock once kept a pooled connection: with
    every connection held, the queries inside waited for ever)."""
    store = await store_for(tmp_path)
    try:
        await store.create_run("run_a", "alice", "mini")

        async def holder(n: int) -> None:
            async with store.lock("person", f"tg:{n}"):
                await asyncio.sleep(0.01)
                assert await store.get_run("run_a") is not None

        await asyncio.wait_for(asyncio.gather(*(holder(n) for n in range(60))), 20)
    finally:
        await store.close()


async def test_executors_beat_and_are_forgotten(tmp_path: Path) -> None:
    store = await store_for(tmp_path)
    try:
        assert await store.beat("host-worker-0", "worker", "t1") is None
        before = await store.beat("host-worker-0", "worker", "t2")  # the same id, started again
        assert before is not None and before.token == "t1"
        await store.beat("host-bot-0", "bot", "t3")
        rows = {r.executor_id: r for r in await store.executors()}
        assert set(rows) == {"host-worker-0", "host-bot-0"} and rows["host-worker-0"].token == "t2"
        assert rows["host-bot-0"].role == "bot" and rows["host-bot-0"].last_seen >= before.last_seen
        await store.forget_executor("host-bot-0")
        assert [r.executor_id for r in await store.executors()] == ["host-worker-0"]
    finally:
        await store.close()
