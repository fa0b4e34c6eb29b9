"""The whole CC workflow with every provider live, pointed at local fakes.

Only base URLs (and made-up keys) differ from production: the real OpenAI SDK,
the real httpx clients for Leonardo, the Sora protocol and ElevenLabs, the
real engine and workflow. The fake OpenAI server checks each request's shape
and answers with the offline writer (schema-valid, CC-flavoured), so the
answers make sense for the next step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.media.ffmpeg import probe
from engine.protocol import MediaDisplay
from engine.providers.http import RetryPolicy
from engine.providers.live import aclose_registry, build_registry
from engine.api import Engine
from engine.settings import Settings
from tests.players import offline_answer, play_first_choices
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.leonardo_server import FakeLeonardo
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sora_server import FakeSora

CC = Path(__file__).resolve().parents[1] / "workflows" / "cc"
KEYS = {"openai": "sk-test-openai-0001", "leonardo": "leo-test-0002", "elevenlabs": "xi-test-0003"}


async def test_cc_runs_end_to_end_on_live_providers_against_fakes(tmp_path: Path) -> None:
    openai = FakeOpenAI(api_key=KEYS["openai"])
    leonardo = FakeLeonardo(api_key=KEYS["leonardo"])
    eleven = FakeElevenLabs(api_key=KEYS["elevenlabs"])
    sora = FakeSora(api_key=KEYS["openai"])
    openai.answer_with = offline_answer
    urls = {name: await fake.start() for name, fake in
            (("openai", openai), ("leonardo", leonardo), ("elevenlabs", eleven), ("sora", sora))}
    settings = Settings(
        _env_file=None,
        openai_api_key=KEYS["openai"], openai_base_url=urls["openai"],
        leonardo_api_key=KEYS["leonardo"], leonardo_base_url=urls["leonardo"],
        elevenlabs_api_key=KEYS["elevenlabs"], elevenlabs_base_url=urls["elevenlabs"],
        sora_base_url=urls["sora"],
    )  # fmt: skip
    registry = build_registry(settings, retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02))
    assert not registry.all_offline and all(s.mode == "live" for s in registry.statuses)
    engine = await Engine.open(db_path=tmp_path / "db.sqlite3", media_root=tmp_path / "media",
                               providers=registry, workflow_dirs=[CC], poll_scale=0.001)
    panels_used: set[str] = set()

    def note_panels(req: Any) -> None:
        if isinstance(req.display_data, MediaDisplay):
            assert all(p.availability == "live" for p in req.display_data.panels)
            panels_used.update(p.prompt_key for p in req.display_data.panels)

    try:
        view = await engine.start_run("live", "cuddle_crew")
        await play_first_choices(engine, view.run_id, all_panels=True, on_request=note_panels)
        view = await engine.get_run(view.run_id)
        assert view.status.value == "completed", view.error
        state = await engine.state(view.run_id)
        final = await probe(state["final_video"]["local_path"])
        assert final.has_video and final.has_audio
        assert abs(final.duration_s - state["duration_selection"]["video_duration"]) <= 0.1
        # every provider really served the run
        skipped = {e.module_name for e in await engine.services.store.events(view.run_id) if e.type == "module_skipped"}
        llm_modules = sum(1 for s in engine.workflows["cuddle_crew"].steps for m in s.modules
                          if m.module_id == "api.llm" and m.name not in skipped)  # no photo: no photo analysis
        assert openai.count("POST", "/v1/responses") == llm_modules
        assert openai.count("POST", "/v1/images/generations") == 1
        assert panels_used >= {"prompts.openai", "prompts.leonardo.phoenix_1_0", "leonardo", "veo", "sora",
                                  "elevenlabs"}
        image_to_video = [r.json for r in leonardo.calls("POST", "/api/rest/v1/generations-image-to-video")]
        assert sorted(b["model"] for b in image_to_video) == ["MOTION2", "VEO3_1"]
        assert sora.count("POST", "/v1/videos") == 1
        assert eleven.count("POST", "/v1/music") == 1
        usage = [e for e in await engine.services.store.events(view.run_id) if e.type == "llm_call"]
        assert len(usage) == llm_modules and all(e.data["usage"]["input_tokens"] > 0 for e in usage)
    finally:
        await engine.close()
        await aclose_registry(registry)
        for fake in (openai, leonardo, eleven, sora):
            await fake.stop()
