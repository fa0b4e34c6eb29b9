"""The keyword store's contract on the database this run uses (SQLite, or
PostgreSQL with CCBOT_TEST_DATABASE=postgres): one source or all of them, each
record with its source and when it was last used."""

from __future__ import annotations

from pathlib import Path

from tests.databases import store_for


async def test_keywords_load_by_source_or_all_heaviest_first(tmp_path: Path) -> None:
    store = await store_for(tmp_path)
    try:
        generated = [{"keyword": "Snow", "category": "setting", "weight": 80}, {"keyword": "sun", "weight": 30}]
        assert await store.save_keywords("alice", "wf", generated, "generated", accumulate=True) == 2
        assert await store.save_keywords("alice", "wf", [{"keyword": "moss", "weight": 50}], "selected",
                                         accumulate=False) == 1
        assert await store.save_keywords("bob", "wf", [{"keyword": "rain", "weight": 99}], "selected",
                                         accumulate=False) == 1
        every = await store.load_keywords("alice", "wf", None, 10)
        assert [(k["keyword"], k["weight"], k["source"]) for k in every] == [
            ("snow", 80, "generated"), ("moss", 50, "selected"), ("sun", 30, "generated")]
        assert every[0]["category"] == "setting" and every[0]["last_used"].endswith("+00:00")
        assert [k["keyword"] for k in await store.load_keywords("alice", "wf", "selected", 10)] == ["moss"]
        assert [k["keyword"] for k in await store.load_keywords("alice", "wf", None, 1)] == ["snow"]
        assert await store.load_keywords("alice", "other", None, 10) == []
    finally:
        await store.close()
