"""The Telegram bot under load: N people each making a whole CC video at once.

    python benchmarks/bot_load.py [--users 30,100] [--think-s 1.0] [--skip-baseline] [--breakdown]

WHAT RUNS. Five processes:
- the bot is `ccbot run` (the venv's entry point) in its own process,
  configured only through environment variables as an operator would:
  TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL/FILE_URL (the fake Bot API),
  CCBOT_ALLOWED_USERS, CCBOT_DATA_DIR (a temp dir), and the live provider
  clients' keys and base URLs pointed at the project's fake OpenAI, Leonardo
  and ElevenLabs servers. Telegram's limits are the bot's defaults (about 30
  messages/s overall, 1/s per chat after a burst of 20);
- the provider fakes run in a process of their own (benchmarks/load/providers.py):
  every LLM answer, image request, clip job and song takes a seeded random
  1-3 s, images are 1.5-2 MB PNGs, clips 2.7-4 MB MP4s, songs 10-30 s MP3s;
- the fake Telegram Bot API (tests/fakes/telegram_server.py, real HTTP) runs
  in a process of its own (benchmarks/load/fake_process.py), so that nothing
  but a Bot API server's work can make its clock late for either bot;
- this process runs the simulated people (benchmarks/load/people.py);
- the bot's ffmpeg renders are its own child processes.

WHAT PEOPLE DO. Each person starts at a seeded random moment within the first
--ramp-s seconds, sends /new and goes through the whole CC run with first
choices (Cat, Comfort, the first length, Skip, the first scene, Generate with
the first provider, Pick #1, one motion element, ..., "Looks great") until
the finished video is in their chat. After each update they wait until the
bot has reacted, the screen changed and the chat has been quiet for 0.3 s,
then think --think-s (+-15 %, seeded) and tap. What to tap is decided from
the run's state in the bot's SQLite log and the buttons on screen (as the
fake reports them), by label
parts kept in one table (people.SCRIPT), never by message layout.

THE BASELINE, measured in the same run: the smallest python-telegram-bot bot
done right (benchmarks/load/baseline_bot.py: concurrent updates, no rate
limiter, every tap answered at once and its message edited once, keeping a
button), in its own process, against a fresh fake server, with the same
number of people arriving at the same moments, each sending as many updates
as a CC run took (the median person), paced by the same quiet + think rule.
Whatever ccbot takes beyond it is ccbot's own cost, not python-telegram-bot's,
HTTP's, this machine's or the fake server's.

WHAT IS MEASURED, per user count:
- first-reaction latency of every update a person sends: from the update
  being handed to the fake Bot API to the bot's first reaction (the first
  answerCallbackQuery of that query, or the first message sent or edited in
  that chat; chat actions do not count), both by the fake server's clock;
  p50/p95/max for ccbot and the baseline and the ratio of the p95s;
- finished videos; failed renders (module_error events of the final render
  module in the bot's SQLite log); people who got stuck (and where);
- chat Bot API calls per finished video (calls naming a chat; answerCallbackQuery
  does not count), by method;
- peak RSS of the bot process and of its whole tree (ffmpeg included), and the
  most ffmpeg processes alive at once, sampled every 100 ms with psutil;
- wall time; the fake server's event-loop lag (it stamps the requests: a late
  loop would inflate the latencies measured) and the people's.
The goals are printed with each result; the exit code is 0 only when all are
met. The machine's cores are shared by all processes: compare the ratios
measured in one run, not absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load.measure import (  # noqa: E402
    LoopLag, RenderErrors, TreeSampler, budget_estimate, busy_warning, call_kinds, chat_calls, first_reactions, pct, person_trace,
    render_errors,
)
from benchmarks.load.fake_process import FakeTelegramProcess  # noqa: E402
from benchmarks.load.people import (  # noqa: E402
    ChatActivity, Person, RunWatcher, Sent, Stalled, any_button, baseline_decide, cc_accept, cc_decide, drive,
)
from benchmarks.load.procs import (  # noqa: E402
    base_env, ccbot_command, ccbot_env, spawn, start_providers, stop, stop_providers, wait_ready,
)

CC = ROOT / "workflows" / "cc"
FIRST_USER = 3001
GOAL_RATIO, GOAL_MAX_MS, GOAL_RSS_MB, GOAL_TREE_MB, GOAL_CALLS = 1.5, 250.0, 150.0, 400.0, 35.0


@dataclass
class Phase:
    kind: str
    users: int
    sent: list[Sent] = field(default_factory=list)
    updates_per_person: list[int] = field(default_factory=list)
    completed: int = 0
    stalls: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    reactions: list[tuple[Sent, float | None]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    call_kinds: Counter[str] = field(default_factory=Counter)
    trace: list[str] = field(default_factory=list)
    budget: dict[str, float] = field(default_factory=dict)
    peak_rss: float = 0.0
    peak_tree: float = 0.0
    peak_ffmpeg: int = 0
    peak_encoders: int = 0
    cpu_own_s: float = 0.0
    cpu_children_s: float = 0.0
    cpu_providers_s: float = 0.0
    cpu_driver_s: float = 0.0  # this process: the people
    cpu_fake_s: float = 0.0  # the fake Bot API's process
    renders: RenderErrors = field(default_factory=RenderErrors)
    lag_ms: list[float] = field(default_factory=list)  # the fake server's loop
    people_lag_ms: list[float] = field(default_factory=list)  # the people's loop
    gc_ms: list[float] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # warning/error lines of the bot's log
    providers: dict[str, Any] = field(default_factory=dict)
    people: list[Person] = field(default_factory=list)
    load: tuple[float, float] = (0.0, 0.0)  # the machine's 1-minute load average at the start and the end

    @property
    def latencies(self) -> list[float]:
        return [ms for _, ms in self.reactions if ms is not None]

    @property
    def unanswered(self) -> int:
        return sum(1 for _, ms in self.reactions if ms is None)


# ==================================================================== a phase


async def run_phase(kind: str, users: int, args: argparse.Namespace, updates: int = 0) -> Phase:
    phase = Phase(kind, users)
    user_ids = [FIRST_USER + i for i in range(users)]
    arrivals = random.Random(args.seed).sample(range(10_000), users)  # the same moments for both bots
    tg = FakeTelegramProcess(keep_upload_bytes=64 * 1024)
    await tg.start()
    activity = ChatActivity(tg)
    providers = None
    with tempfile.TemporaryDirectory(prefix=f"ccbot-load-{kind}-") as tmp:
        data_dir = Path(tmp)
        if kind == "ccbot":
            providers, urls = await start_providers(args.seed, args.provider_delay)
            phase.providers["media"] = urls["media"]
            env = ccbot_env(tg, urls, user_ids, data_dir)
            cmd = ccbot_command()
        else:
            env = base_env() | {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.base_url,
                                "TELEGRAM_API_FILE_URL": tg.base_file_url, "PYTHONPATH": str(ROOT)}
            cmd = [sys.executable, "-m", "benchmarks.load.baseline_bot"]
        log_path = data_dir / "bot.log"
        proc = await spawn(cmd, env, data_dir if kind == "ccbot" else ROOT, log_path)
        # ready: it has started, resumed and asks for updates
        await wait_ready([proc], lambda: tg.calls_to("getUpdates"), f"the {kind} bot", log_path)
        if kind == "ccbot":
            from bot.telegram.ccbot import callback_secret
            from engine.settings import Settings

            watcher = RunWatcher(data_dir / "ccbot.sqlite3", CC)
            decide, accept = cc_decide(watcher), cc_accept(
                callback_secret(Settings(_env_file=None, telegram_bot_token=tg.token)))
        else:
            decide, accept = baseline_decide(updates), any_button
        people = [Person(tg, activity, u, random.Random(args.seed * 100_003 + u), args.think_s) for u in user_ids]
        sampler, people_lag = TreeSampler(proc.pid), LoopLag()
        sampler.start()
        await tg.start_lag()
        people_lag.start()

        async def one(person: Person, start_at: float) -> None:
            await asyncio.sleep(start_at)
            try:
                await drive(person, decide, accept, stall_s=args.stall_s)
                phase.completed += 1
            except Stalled as exc:
                phase.stalls.append(f"{person.user}: {exc}")

        started, cpu_before, load_before = time.monotonic(), os.times(), os.getloadavg()[0]
        tasks = [asyncio.create_task(one(p, args.ramp_s * a / 10_000)) for p, a in zip(people, arrivals, strict=True)]
        done, pending = await asyncio.wait(tasks, timeout=args.timeout)
        for task in pending:
            task.cancel()
        phase.stalls += [f"still going after {args.timeout:.0f} s"] * len(pending)
        phase.wall_s = time.monotonic() - started
        quiet_since, deadline = time.monotonic(), time.monotonic() + 60
        while time.monotonic() - quiet_since < 2.0 and time.monotonic() < deadline:  # the last calls, counted too
            await asyncio.sleep(0.1)
            quiet_since = max(quiet_since, max(activity.last_call.values(), default=0.0))
        sampler.stop()
        phase.lag_ms, phase.gc_ms = await tg.stop_lag()
        await people_lag.stop()
        cpu_after = os.times()
        phase.load = (load_before, os.getloadavg()[0])
        phase.cpu_driver_s = cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system
        await stop(proc)
        if providers is not None:
            phase.providers.update(await stop_providers(providers))
            phase.cpu_providers_s = phase.providers.get("cpu_s", 0.0)
        if kind == "ccbot":
            await watcher.close()
            phase.renders = render_errors(data_dir / "ccbot.sqlite3", CC)
        await tg.stop()
        lines = log_path.read_text(errors="replace").splitlines()
        phase.log = [line for line in lines if " WARNING " in line or " ERROR " in line or "Traceback" in line]
    phase.people = people
    phase.sent = [s for p in people for s in p.sent]
    phase.updates_per_person = [len(p.sent) for p in people]
    phase.reactions = first_reactions(tg.calls, phase.sent)
    phase.calls = chat_calls(tg.calls)
    phase.call_kinds = call_kinds(tg.calls)
    phase.trace = person_trace(tg.calls, phase.sent)
    phase.budget = budget_estimate(tg.calls)
    phase.peak_rss, phase.peak_tree = sampler.peak_rss, sampler.peak_tree
    phase.peak_ffmpeg, phase.peak_encoders = sampler.peak_ffmpeg, sampler.peak_encoders
    phase.cpu_own_s, phase.cpu_children_s = sampler.cpu_own_s, sampler.cpu_children_s
    phase.people_lag_ms, phase.cpu_fake_s = people_lag.lags_ms, tg.cpu_s
    return phase


# ===================================================================== report


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):6.0f} ms  p95 {pct(values, 0.95):6.0f} ms  max {max(values, default=float('nan')):6.0f} ms"


def report(cc: Phase, base: Phase | None, args: argparse.Namespace) -> None:
    n, videos = cc.users, max(cc.completed, 1)
    print(f"\n=== {n} people, think {args.think_s:g} s, ramp {args.ramp_s:g} s, provider work {args.provider_delay} s,"
          f" {os.cpu_count()} CPUs, seed {args.seed} ===")
    print(f"machine   load average {cc.load[0]:.1f} -> {cc.load[1]:.1f} during ccbot"
          + (f", {base.load[0]:.1f} -> {base.load[1]:.1f} during the baseline" if base else "")
          + " (the machine is shared: compare the ratios of one run)")
    busy = busy_warning(max(cc.load[0], base.load[0] if base else 0.0),
                        max(pct(cc.lag_ms, 0.99), pct(base.lag_ms, 0.99) if base else 0.0))
    if busy:
        print(f"WARNING   {busy}: latencies and the ratio are unreliable in this run")
    print(f"ccbot     {cc.completed}/{n} finished videos, {cc.renders.failed_renders} failed renders "
          f"({cc.renders.runs_with_failed_render} runs), {len(cc.stalls)} stuck; "
          f"{len(cc.sent)} updates ({statistics.median(cc.updates_per_person or [0]):g}/person); wall {cc.wall_s:.1f} s")
    print(f"ccbot     first reaction    {ms(cc.latencies)}" + (f"  ({cc.unanswered} never answered)" if cc.unanswered else ""))
    if base is not None:
        ratio = pct(cc.latencies, 0.95) / pct(base.latencies, 0.95)
        print(f"baseline  first reaction    {ms(base.latencies)}" +
              (f"  ({base.unanswered} never answered)" if base.unanswered else "") +
              f"   ({base.completed}/{n} people, {statistics.median(base.updates_per_person or [0]):g} updates each,"
              f" wall {base.wall_s:.1f} s)")
        print(f"ratio     p95 ccbot/baseline {ratio:.2f}x, p50 {pct(cc.latencies, 0.5) / pct(base.latencies, 0.5):.2f}x")
    total = sum(cc.calls.values())
    per = ", ".join(f"{m} {c / videos:.1f}" for m, c in cc.calls.most_common())
    print(f"calls     {total / videos:.1f} chat Bot API calls per finished video: {per}")
    b = cc.budget
    print(f"flood     {b['overall_paced']:.0f} chat calls went out with the bot's 30/s budget nearly drained, "
          f"{b['chat_paced']:.0f} with their chat's (20, then 1/s); {b['seconds_at_limit']:.0f} of "
          f"{b['seconds']:.0f} s at 28+ calls/s; busiest second {b['busiest_second']:.0f} calls")
    print(f"memory    bot process peak RSS {cc.peak_rss:.0f} MB, whole tree {cc.peak_tree:.0f} MB; "
          f"at most {cc.peak_ffmpeg} ffmpeg at once ({cc.peak_encoders} encoding)")
    print(f"cpu       bot process {cc.cpu_own_s:.0f} s ({cc.cpu_own_s / max(cc.wall_s, 1e-9):.0%} of one core over the "
          f"wall time), its ffmpeg children {cc.cpu_children_s:.0f} s, provider fakes {cc.cpu_providers_s:.0f} s, "
          f"fake Bot API {cc.cpu_fake_s:.0f} s, people {cc.cpu_driver_s:.0f} s"
          + (f"; baseline bot {base.cpu_own_s:.1f} s, its fake {base.cpu_fake_s:.0f} s, people {base.cpu_driver_s:.0f} s"
             if base else ""))
    lag = (f"p99 {pct(cc.lag_ms, 0.99):.0f} ms, max {max(cc.lag_ms, default=0):.0f} ms, "
           f"longest GC pause {max(cc.gc_ms, default=0):.0f} ms")
    if base is not None:
        lag += f" (baseline phase: p99 {pct(base.lag_ms, 0.99):.0f} ms, max {max(base.lag_ms, default=0):.0f} ms)"
    print(f"driver    fake server loop lag {lag}; the people's loop p99 {pct(cc.people_lag_ms, 0.99):.0f} ms, "
          f"max {max(cc.people_lag_ms, default=0):.0f} ms; "
          f"provider requests: " + ", ".join(f"{k} {v['requests']} ({v['not_2xx']} not 2xx)"
                                            for k, v in cc.providers.items() if isinstance(v, dict) and "requests" in v))
    for line in cc.stalls[:5]:
        print(f"  stuck: {line}")
    for line in (base.stalls[:5] + base.log[:5]) if base is not None else []:
        print(f"  baseline: {line}")
    for line in cc.renders.messages[:3]:
        print(f"  render error: {line}")
    if cc.log:
        kinds = Counter(" ".join(line.split()[2:])[:110] for line in cc.log)  # without the time stamp
        print(f"bot log   {len(cc.log)} warning/error lines, the commonest:")
        for text, count in kinds.most_common(4):
            print(f"    {count:4d} x {text}")


def breakdown(cc: Phase, base: Phase | None, quiet_s: float = 0.3) -> None:
    """Per kind of update: its first reaction, and how long until the person could act
    again (the bot's work until the chat settled, the 0.3 s quiet included)."""
    latency = {id(s): v for s, v in cc.reactions}
    rows: dict[str, tuple[list[float], list[float]]] = {}
    for person in cc.people:
        for i, s in enumerate(person.sent):
            first, ready = rows.setdefault(f"{s.step} [{s.label}]", ([], []))
            if latency.get(id(s)) is not None:
                first.append(latency[id(s)])
            if i + 1 < len(person.sent):
                nxt = person.sent[i + 1]
                ready.append(nxt.at - nxt.think_s - s.at)
    print("  per update (ccbot): first reaction p50/p95/max; until the person could act again p50/p95")
    order = [f"{s.step} [{s.label}]" for s in (cc.people[0].sent if cc.people else [])]
    for key in sorted(rows, key=lambda k: order.index(k) if k in order else len(order)):
        first, ready = rows[key]
        print(f"    {key[:44]:44s} n={len(first):4d} {pct(first, .5):6.0f} {pct(first, .95):6.0f} "
              f"{max(first, default=float('nan')):6.0f} ms   {pct(ready, .5):6.1f} {pct(ready, .95):6.1f} s")
    videos = max(1, cc.completed)
    print("  chat calls per finished video, by what they were for:")
    for kind, count in cc.call_kinds.most_common(24):
        print(f"    {count / videos:5.1f}  {kind[:70]}")
    if base is not None:
        calls = ", ".join(f"{m} {c / max(1, base.users):.1f}" for m, c in base.calls.most_common())
        print(f"  baseline chat calls per person: {calls}")


def goals(results: list[tuple[Phase, Phase | None]]) -> bool:
    small, large = results[0], results[-1]
    checks: list[tuple[str, bool, str]] = []
    cc, base = small
    if base is not None:
        ratio = pct(cc.latencies, 0.95) / pct(base.latencies, 0.95)
        checks.append((f"{cc.users} people: p95 first reaction within {GOAL_RATIO}x of the baseline",
                       ratio <= GOAL_RATIO, f"{ratio:.2f}x"))
    else:
        checks.append((f"{cc.users} people: p95 within {GOAL_RATIO}x of the baseline", False, "not measured"))
    worst = max(cc.latencies, default=float("inf"))
    checks.append((f"{cc.users} people: max first reaction under {GOAL_MAX_MS:.0f} ms",
                   worst < GOAL_MAX_MS and not cc.unanswered,
                   f"{worst:.0f} ms" + (f", {cc.unanswered} never answered" if cc.unanswered else "")))
    big = large[0]
    checks.append((f"{big.users} people: all complete, no failed render",
                   big.completed == big.users and big.renders.failed_renders == 0,
                   f"{big.completed}/{big.users} complete, {big.renders.failed_renders} failed renders"))
    checks.append((f"{cc.users} people: bot process peak RSS under {GOAL_RSS_MB:.0f} MB",
                   0 < cc.peak_rss < GOAL_RSS_MB, f"{cc.peak_rss:.0f} MB"))
    checks.append((f"{cc.users} people: process tree peak RSS under {GOAL_TREE_MB:.0f} MB",
                   0 < cc.peak_tree < GOAL_TREE_MB, f"{cc.peak_tree:.0f} MB"))
    per_video = [sum(p.calls.values()) / p.completed if p.completed else float("inf") for p, _ in results]
    checks.append((f"at most {GOAL_CALLS:.0f} chat Bot API calls per finished video",
                   all(v <= GOAL_CALLS for v in per_video),
                   ", ".join(f"{v:.1f} ({p.users} people)" for v, (p, _) in zip(per_video, results, strict=True))))
    print("\nGOALS")
    for name, ok, value in checks:
        print(f"  [{' ok ' if ok else 'MISS'}] {name}: {value}")
    met = all(ok for _, ok, _ in checks)
    print("ALL GOALS MET" if met else "GOALS MISSED")
    return met


async def main_async(args: argparse.Namespace) -> int:
    if os.environ.get("BOT_LOAD_SLOW_MS"):  # diagnosis: log this process's event-loop steps slower than this
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = float(os.environ["BOT_LOAD_SLOW_MS"]) / 1000
        import logging

        logging.basicConfig(level=logging.WARNING)
    counts = sorted({int(x) for x in str(args.users).split(",") if x.strip()})
    results: list[tuple[Phase, Phase | None]] = []
    for users in counts:
        print(f"... {users} people: ccbot", flush=True)
        cc = await run_phase("ccbot", users, args)
        base = None
        if not args.skip_baseline:
            done = [len(p.sent) for p in cc.people if p.sent] or [19]
            updates = round(statistics.median(done))
            print(f"... {users} people: baseline ({updates} updates each)", flush=True)
            base = await run_phase("baseline", users, args, updates=updates)
        results.append((cc, base))
        report(cc, base, args)
        if args.breakdown:
            breakdown(cc, base)
        if args.trace:
            print("  one person's updates and the chat calls that followed each:")
            for line in cc.trace:
                print(f"    {line}")
    return 0 if goals(results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="30,100", help="people at once, one run per count (default 30,100)")
    parser.add_argument("--think-s", type=float, default=1.0, help="pause before each tap, once the chat is quiet")
    parser.add_argument("--ramp-s", type=float, default=10.0, help="people arrive within this many seconds")
    parser.add_argument("--provider-delay", default="1,3", help="seconds each provider job/answer takes: low,high")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stall-s", type=float, default=900.0,
                        help="a person gives up after this long with nothing to tap (renders queue up at 100 people)")
    parser.add_argument("--timeout", type=float, default=2400.0, help="seconds a phase may take")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="latency and waiting time per kind of update")
    parser.add_argument("--trace", action="store_true", help="the first person's updates and chat calls, in order")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
