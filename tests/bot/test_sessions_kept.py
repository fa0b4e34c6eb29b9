"""One bot process keeps the sessions it read or wrote, so a tap finds its
question without a database read; several processes always read the store,
where another process may have changed the row."""

from __future__ import annotations

from pathlib import Path

from bot.telegram.session import Session, Sessions
from engine.store import SQLiteStore


async def test_a_sole_process_reads_its_sessions_from_memory_and_several_from_the_store(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "db.sqlite")
    try:
        sole, other = Sessions(store, sole_writer=True), Sessions(store)
        session = Session(run_id="run_1", owner="tg:1", chat_id=1)
        session.focus("ia_1")
        await sole.save(session)
        sole.round_trips = 0
        found = await sole.by_key(session.key or "")
        assert found is not None and found.interaction_id == "ia_1" and sole.round_trips == 0

        # what the sole process changes is what it finds next, in memory and in the store
        old_key = session.key or ""
        found.focus("ia_2")
        found.page = 3
        await sole.save(found)
        assert await sole.by_key(old_key) is None, "the old question's buttons are stale"
        again = await sole.by_key(found.key or "")
        assert again is not None and again.page == 3
        from_store = await other.by_key(found.key or "")
        assert from_store is not None and from_store.page == 3 and other.round_trips == 1

        # a copy handed out is the caller's own: changing it changes nothing kept until it is saved
        again.page = 9
        assert (await sole.of_run("run_1")).page == 3

        await other.by_key(found.key or "")
        assert other.round_trips == 2, "several processes read the store every time"

        sole.forget_owner("tg:1")
        sole.round_trips = 0
        assert (await sole.of_run("run_1")) is not None and sole.round_trips == 1, "forgotten: read again"
        await sole.delete("run_1")
        assert await sole.by_key(found.key or "") is None
    finally:
        await store.close()
