"""Engine overhead per interaction and store size per run, on offline providers.

    python benchmarks/engine.py [--runs N]

Runs N complete CC workflows with offline providers at zero delay, answering
first choices. Engine time = wall time of each engine call minus the time
spent inside providers during it (the offline LLM writer, ffmpeg media), so
the numbers are the engine's own (the final ffmpeg composition counts as
media work too): templating, validation, SQLite writes,
replay. Prints p50/p95 per interaction, engine time per run, SQLite bytes per
finished run (media files excluded) and peak RSS. Goals: p95 < 5 ms per
interaction, < 200 KB of SQLite per run.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.protocol import InteractionResponse, MediaDisplay, SelectDisplay, SubActionRequest  # noqa: E402
from engine.providers.registry import offline_registry  # noqa: E402
from engine.api import Engine  # noqa: E402
from engine.selection import selectable_items, wire_paths  # noqa: E402


class ProviderClock:
    """Accumulates time spent inside provider calls."""

    def __init__(self) -> None:
        self.total = 0.0

    def wrap(self, obj: Any, names: tuple[str, ...]) -> None:
        for name in names:
            original = getattr(obj, name)

            async def timed(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await _original(*args, **kwargs)
                finally:
                    self.total += time.perf_counter() - start

            setattr(obj, name, timed)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def one_run(engine: Engine, clock: ProviderClock, owner: str, samples: list[float]) -> float:
    async def timed(coro: Any) -> Any:
        provider_before = clock.total
        start = time.perf_counter()
        result = await coro
        wall = time.perf_counter() - start
        samples.append(wall - (clock.total - provider_before))
        return result

    run_total_start = len(samples)
    view = await timed(engine.start_run(owner, "cuddle_crew"))
    while view.status.value == "active":
        req = view.pending
        disp = req.display_data
        if isinstance(disp, SelectDisplay):
            items = selectable_items(disp.data, disp.display_schema)
            paths = [items[0][0]] if disp.mode == "select" else []
            response = InteractionResponse(interaction_id=req.interaction_id,
                                           selected_indices=wire_paths(paths, disp.multi_select))
        elif isinstance(disp, MediaDisplay):
            panel = next(p for p in disp.panels if p.availability != "unavailable")
            await timed(engine.start_sub_action(view.run_id, SubActionRequest(
                interaction_id=req.interaction_id, prompt_key=panel.prompt_key)))
            await engine.jobs.wait_idle(view.run_id)
            view = await timed(engine.get_run(view.run_id))
            content = view.pending.display_data.generations[panel.prompt_key][0].content_ids[0]
            response = InteractionResponse(interaction_id=req.interaction_id, selected_content_id=content)
        else:
            response = InteractionResponse(interaction_id=req.interaction_id, value="")
        view = await timed(engine.respond(view.run_id, response))
    return sum(samples[run_total_start:])


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry = offline_registry(delay_s=0.0)
        clock = ProviderClock()
        clock.wrap(registry.llm_default, ("complete",))
        for provider in registry.media_providers.values():
            clock.wrap(provider, ("submit", "poll", "fetch"))
        # the final composition is ffmpeg work, like the providers': not engine overhead
        import engine.modules.compose as compose_module

        clock.wrap(compose_module, tuple(n for n in ("compose_video", "probe") if hasattr(compose_module, n)))
        engine = await Engine.open(db_path=Path(tmp) / "bench.sqlite3", media_root=Path(tmp) / "media",
                                   providers=registry, workflow_dirs=[ROOT / "workflows" / "cc"], poll_scale=0.0)
        samples: list[float] = []
        per_run: list[float] = []
        wall_start = time.perf_counter()
        for i in range(runs):
            per_run.append(await one_run(engine, clock, f"bench{i}", samples))
        wall = time.perf_counter() - wall_start
        store = engine.services.store
        db = store._db  # noqa: SLF001 - a benchmark may look inside
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = await store.size_bytes()
        await engine.close()
    interactions = len(samples) / runs
    print(f"engine benchmark: {runs} CC runs, offline providers at zero delay, {interactions:.0f} engine calls per run")
    print(f"  engine time per call   p50 {percentile(samples, 0.5) * 1000:7.2f} ms   "
          f"p95 {percentile(samples, 0.95) * 1000:7.2f} ms   max {max(samples) * 1000:7.2f} ms  (goal p95 < 5 ms)")
    print(f"  engine time per run    mean {statistics.mean(per_run) * 1000:7.1f} ms")
    print(f"  provider time (offline LLM + ffmpeg media) {clock.total:.1f} s of {wall:.1f} s wall")
    print(f"  SQLite per finished run {size / runs / 1024:7.1f} KB  (goal < 200 KB; media files excluded)")
    print(f"  peak RSS               {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.1f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(main(parser.parse_args().runs))
