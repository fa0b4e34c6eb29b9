"""A person's data: /forget deletes everything but the accounting; media past
its retention goes, and the run's record says so."""

from __future__ import annotations

from pathlib import Path

from engine.api import Engine
from engine.providers.base import Cost
from engine.store import SpendChange
from tests.databases import store_for
from tests.conftest import MINI, CountingImages, ScriptedLLM, scripted_registry
from tests.players import play_first_choices


async def finished_run(tmp_path: Path) -> tuple[Engine, str]:
    engine = await Engine.open(store=await store_for(tmp_path), media_root=tmp_path / "media",
                               providers=scripted_registry(ScriptedLLM(), CountingImages()), workflow_dirs=[MINI],
                               poll_scale=0.01)
    view = await engine.start_run("alice", "mini")
    await play_first_choices(engine, view.run_id)
    assert (await engine.get_run(view.run_id)).status.value == "completed"
    return engine, view.run_id


async def test_forget_deletes_everything_but_the_accounting(tmp_path: Path) -> None:
    engine, run_id = await finished_run(tmp_path)
    try:
        store = engine.services.store
        await store.record_spend([SpendChange(key="job_x", owner="alice", run_id=run_id, provider="openai",
                                              kind="image", status="charged", estimate_usd=0.1, actual_usd=0.09)])
        other = await engine.start_run("bob", "mini")
        media = engine.services.owner_dir("alice")
        files = [p for p in media.rglob("*") if p.is_file()]
        assert files, "the run made files"
        deleted = await engine.forget("alice")
        assert deleted.runs == 1 and deleted.events > 5 and deleted.files == len(files) and deleted.bytes > 0
        assert not media.exists()
        assert await store.list_runs("alice") == [] and await store.events(run_id) == []
        assert await store.load_keywords("alice", "mini", "generated", 10) == []
        rows = await store.spend_rows(owner="alice")
        assert [(r.provider, r.kind, r.amount_usd) for r in rows] == [("openai", "image", 0.09)]
        assert (await engine.get_run(other.run_id)).owner == "bob", "nobody else's data is touched"
    finally:
        await engine.close()


async def test_media_past_its_retention_goes_and_the_record_says_so(tmp_path: Path) -> None:
    engine, run_id = await finished_run(tmp_path)
    try:
        folder = engine.services.run_dir("alice", run_id)
        assert folder.is_dir()
        assert await engine.expire_media(days=1) == [], "a run finished just now is kept"
        cleaned = await engine.expire_media(days=-1)  # as if a day had passed
        assert cleaned == [run_id] and not folder.exists()
        view = await engine.get_run(run_id)
        assert view.result is not None and view.result.media_deleted and view.result.files == []
        events = [e.type for e in await engine.services.store.events(run_id)]
        assert events[-1] == "media_deleted"
        assert await engine.expire_media(days=-1) == [], "once"
    finally:
        await engine.close()


def test_a_cost_in_credits_counts_at_its_dollar_rate() -> None:
    from engine.spending import Spending

    spending = Spending(store=None, usd_per_credit=0.0015)  # type: ignore[arg-type]
    assert spending.usd(Cost(credits=200)) == 0.3
    assert spending.label(Cost(credits=200)) == "~$0.30 (200 credits)"
    assert spending.label(Cost()) == "free"

