"""The workflow's templates are compiled when the engine opens, not in the first tap that needs them."""

from __future__ import annotations

from pathlib import Path

from engine.api import Engine
from engine.definitions import template_texts
from engine.providers.registry import offline_registry
from tests.players import play_first_choices

CC = Path(__file__).resolve().parents[2] / "workflows" / "cc"


async def test_a_run_compiles_no_template_of_the_workflow(tmp_path: Path) -> None:
    engine = await Engine.open(db_path=tmp_path / "db.sqlite", media_root=tmp_path / "media",
                               providers=offline_registry(), workflow_dirs=[CC], poll_scale=0.01)
    try:
        templates = engine.services.templates
        texts = [text for workflow in engine.workflows.values() for text in template_texts(workflow)]
        assert len(texts) > 20  # the CC workflow's inputs and `when`s
        compiled = templates._compile_template.cache_info().misses + templates._compile_expression.cache_info().misses
        run_id = (await engine.start_run("warm-tests")).run_id
        await play_first_choices(engine, run_id, stop_at="generate_and_select_images")
        now = templates._compile_template.cache_info().misses + templates._compile_expression.cache_info().misses
        assert now == compiled  # every template the first steps rendered was compiled at open
    finally:
        await engine.close()
