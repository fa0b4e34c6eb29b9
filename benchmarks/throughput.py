"""Throughput: updates per second at a fixed p95 first-reaction latency, per deployment.

    python benchmarks/throughput.py [--quick] [--threshold-ms 250] [--steps 15,40,80,140] [--step-s 25]

WHAT IS COMPARED, in one run, on the same machine, against the same fakes:
  (a) one `ccbot run` process on SQLite (the default, long polling);
  (b) one `ccbot run` process on PostgreSQL (long polling);
  (c) three `ccbot run --webhook` processes on one PostgreSQL, behind the fake Bot
      API's `proxy_targets` (each delivery attempt of an update goes to the next
      process in turn; a reply that is not 2xx is delivered again).
PostgreSQL is a throwaway server started here as the tests start theirs
(tests/pg.py), one fresh database per deployment. The three processes are
told they are three (CCBOT_BOT_PROCESSES=3), so together they keep Telegram's
flood limits for one bot (about 30 messages/s) as one process does: the
benchmark compares how the deployments use the same budget, not three budgets
with one. Jobs stay on the default
task runner (CCBOT_JOBS=tasks): each process runs the generation jobs and
renders it starts. The provider fakes (benchmarks/load/providers.py: 1-3 s of
work per answer or job, real file sizes) are shared by all deployments.

WHO ACTS. The people of benchmarks/bot_load.py (benchmarks/load/people.py):
each sends /new and goes through the CC workflow, waiting until the bot has
reacted and the chat has been quiet for 0.3 s, then thinking --think-s (+-15 %)
before the next tap; what to tap comes from the run's state in the bot's event
log (SQLite file or PostgreSQL) and the buttons on screen.

METHOD. The offered load rises in steps: at step k, --steps[k] new people
arrive within --ramp-s and act for --step-s; then they stop (their runs are
abandoned, the bot finishes what it had started) and the bot is left to go
quiet before the next step. Counted at each step: the updates people sent
after the ramp until the step's end; handled updates/s = those the bot reacted
to / that window; first-reaction latency of each = from the update being
available at the fake Bot API to the bot's first call for that chat or query
(benchmarks/load/measure.first_reactions; an update without any reaction
counts as infinitely late). A step over the threshold while other work
competed for the machine (see below) is run once more with new people, and
the second try counts. A deployment's result is the highest handled
updates/s of a step whose p95 stayed at or under the threshold; the steps stop
once one is over it. People wait for the bot (a closed loop), so below the
limit every deployment handles what is offered: the steps are what separate
them, and the per-step table shows how close each came.

THE MACHINE. Every process shares its cores (bots, PostgreSQL, the provider
fakes, the fake Bot API in a process of its own, and this one with the people). Each step
prints the machine's CPU use, the part of it that was not this benchmark's,
and warns when other work competed or the machine's load exceeded its cores.
Compare the ratios of one run, not numbers across machines: several processes
cannot do more than one when the cores are already full.

Writes build/throughput.json (the bots' logs to build/throughput-logs/). Exit code 0 when every deployment was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load.measure import (  # noqa: E402
    budget_estimate, busy_warning, chat_calls, first_reactions, machine_cpu_s, pct, tree_cpu_s,
)
from benchmarks.load.fake_process import FakeTelegramProcess  # noqa: E402
from benchmarks.load.people import ChatActivity, Person, RunWatcher, Stalled, cc_accept, cc_decide, drive  # noqa: E402
from benchmarks.load.procs import (  # noqa: E402
    ccbot_command, ccbot_env, spawn, start_providers, stop, stop_providers, wait_ready,
)

CC = ROOT / "workflows" / "cc"
FIRST_USER = 5001
OUT = ROOT / "build" / "throughput.json"
RETRY = 100  # step index offset of a step's repetition (its own people)


@dataclass
class Deployment:
    key: str
    label: str
    processes: int
    postgres: bool
    webhook: bool


DEPLOYMENTS = [
    Deployment("a", "1 process, SQLite (polling)", 1, False, False),
    Deployment("b", "1 process, PostgreSQL (polling)", 1, True, False),
    Deployment("c", "3 processes, PostgreSQL (webhook)", 3, True, True),
]


@dataclass
class Step:
    people: int
    window_s: float
    wall_s: float = 0.0  # the ramp included (what the chat calls are counted over)
    sent: int = 0
    handled: int = 0
    unanswered: int = 0
    rate: float = 0.0  # handled updates per second
    p50_ms: float = math.nan
    p95_ms: float = math.nan
    max_ms: float = math.nan
    stuck: int = 0
    load_before: float = 0.0
    load_after: float = 0.0
    machine_cores: float = 0.0  # cores' worth of CPU the whole machine used during the step
    others_cores: float = 0.0  # ... of which not this benchmark's processes
    loop_lag_p99_ms: float = 0.0
    chat_calls_per_s: float = 0.0  # Bot API calls naming a chat (Telegram's ~30/s for the whole bot)
    busiest_second: int = 0  # most chat calls in one second
    redelivered: int = 0  # webhook deliveries during the step not answered 200 (so delivered again)
    seconds_at_limit: int = 0  # whole seconds with 28 or more chat calls
    warning: str | None = None
    repeated: bool = False  # the first try went over the threshold with the machine busy: this is the second

    def ok(self, threshold_ms: float) -> bool:
        return self.handled > 0 and self.p95_ms <= threshold_ms


@dataclass
class Result:
    deployment: Deployment
    steps: list[Step] = field(default_factory=list)
    best: Step | None = None
    log_problems: list[str] = field(default_factory=list)
    plateau: bool = False  # updates/s stopped growing at Telegram's budget


# ================================================================== processes


async def start_bots(dep: Deployment, env: dict[str, str], data_dir: Path, tg: Any) -> list[Any]:
    from tests.pg import free_port

    procs, targets = [], []
    for slot in range(dep.processes):
        # each of N processes keeps 1/N of Telegram's budgets, as an operator sets it
        e = env | {"CCBOT_PROCESS_SLOT": str(slot), "CCBOT_JOBS": "tasks", "CCBOT_BOT_PROCESSES": str(dep.processes)}
        cmd = ccbot_command()
        if dep.webhook:
            port = free_port()
            url = f"http://127.0.0.1:{port}/telegram"
            e |= {"WEBHOOK_URL": url, "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port)}
            cmd.append("--webhook")
            targets.append(url)
        procs.append(await spawn(cmd, e, data_dir, data_dir / f"bot{slot}.log"))
    await tg.set_proxy_targets(targets)
    if dep.webhook:  # ready: each has its route listening and has told the Bot API its URL
        ready = lambda: len(tg.calls_to("setWebhook")) >= dep.processes  # noqa: E731
    else:  # ready: it has started, resumed and asks for updates
        ready = lambda: tg.calls_to("getUpdates")  # noqa: E731
    await wait_ready(procs, ready, f"deployment ({dep.key})", data_dir / "bot0.log")
    return procs


async def create_database(pg: Any, name: str) -> str:
    import asyncpg

    con = await asyncpg.connect(pg.url())
    try:
        await con.execute(f'CREATE DATABASE "{name}"')
    finally:
        await con.close()
    return pg.url(name)


def postmaster_pid(pg: Any) -> int | None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return int((pg.dir / "data" / "postmaster.pid").read_text().split()[0])
    return None


# ====================================================================== steps


async def run_step(k: int, people_n: int, tg: Any, activity: ChatActivity, watcher: RunWatcher, decide: Any,
                   accept: Any, args: argparse.Namespace, ours: list[int]) -> Step:
    ids = [FIRST_USER + 1000 * k + i for i in range(people_n)]
    people = [Person(tg, activity, u, random.Random(args.seed * 100_003 + u), args.think_s) for u in ids]
    arrivals = random.Random(args.seed + k % RETRY).sample(range(10_000), people_n)  # a repetition: the same moments
    stalls: list[str] = []

    async def one(person: Person, start_at: float) -> None:
        await asyncio.sleep(start_at)
        try:
            await drive(person, decide, accept, stall_s=args.step_s * 2)
        except Stalled as exc:
            stalls.append(f"{person.user}: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug of the benchmark's own: say it, do not count it as the bot's
            stalls.append(f"{person.user}: {type(exc).__name__}: {exc}")
            if not stalls[:-1]:
                import traceback

                traceback.print_exc()

    await tg.start_lag()  # the fake server's loop: it stamps the requests
    load_before = os.getloadavg()[0]
    machine0, ours0, t0 = machine_cpu_s(), sum(tree_cpu_s(p) for p in ours), time.monotonic()
    cpu_t0 = t0
    deliveries0 = len(await tg.deliveries())
    tasks = [asyncio.create_task(one(p, args.ramp_s * a / 10_000)) for p, a in zip(people, arrivals, strict=True)]
    await asyncio.wait(tasks, timeout=args.ramp_s + args.step_s)
    end = time.monotonic()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    machine1, ours1, cpu_wall = machine_cpu_s(), sum(tree_cpu_s(p) for p in ours), time.monotonic() - cpu_t0
    step_redelivered = sum(1 for _, status in (await tg.deliveries())[deliveries0:] if status != 200)
    wall = end - t0
    step = Step(people_n, end - t0 - args.ramp_s, load_before=load_before, load_after=os.getloadavg()[0],
                stuck=len(stalls), redelivered=step_redelivered, wall_s=wall)
    cores = os.cpu_count() or 1
    step.machine_cores = min(cores, (machine1 - machine0) / cpu_wall)
    step.others_cores = min(step.machine_cores, max(0.0, (machine1 - machine0) - (ours1 - ours0)) / cpu_wall)
    sent = [s for p in people for s in p.sent if t0 + args.ramp_s <= s.at < end]
    # the reactions to the last updates: until each has one, or a little longer than the threshold allows
    deadline = time.monotonic() + max(2.0, 4 * args.threshold_ms / 1000)
    while time.monotonic() < deadline and any(ms is None for _, ms in first_reactions(tg.calls, sent)):
        await asyncio.sleep(0.2)
    lag_ms, _ = await tg.stop_lag()
    reactions = first_reactions(tg.calls, sent)
    latencies = [math.inf if ms is None else ms for _, ms in reactions]
    step.sent, step.unanswered = len(sent), sum(1 for _, ms in reactions if ms is None)
    step.handled = step.sent - step.unanswered
    step.rate = step.handled / step.window_s
    step.p50_ms, step.p95_ms, step.max_ms = pct(latencies, 0.5), pct(latencies, 0.95), max(latencies, default=math.nan)
    step.loop_lag_p99_ms = pct(lag_ms, 0.99)
    window = [c for c in tg.calls if t0 <= c.time < end]
    budget = budget_estimate(window)
    step.chat_calls_per_s = sum(chat_calls(window).values()) / wall
    step.busiest_second, step.seconds_at_limit = int(budget["busiest_second"]), int(budget["seconds_at_limit"])
    warnings = [w for w in (busy_warning(load_before, step.loop_lag_p99_ms),) if w]
    if step.others_cores > 0.3:
        warnings.append(f"other work used {step.others_cores:.1f} of {cores} cores")
    if step.load_after > cores:
        warnings.append(f"the machine's load reached {step.load_after:.1f} on {cores} cores")
    step.warning = "; ".join(warnings) or None
    # let the bot finish what the abandoned runs had started before the next step
    quiet_since, limit = time.monotonic(), time.monotonic() + args.drain_s
    while time.monotonic() - quiet_since < 1.5 and time.monotonic() < limit:
        await asyncio.sleep(0.1)
        quiet_since = max(quiet_since, max(activity.last_call.values(), default=0.0))
    return step


async def run_deployment(dep: Deployment, args: argparse.Namespace, urls: dict[str, str], pg: Any,
                         providers_pid: int) -> Result:
    from bot.telegram.ccbot import callback_secret
    from engine.settings import Settings
    result = Result(dep)
    tg = FakeTelegramProcess(keep_upload_bytes=64 * 1024)
    await tg.start()
    activity = ChatActivity(tg)
    # a step's people, and those of its one repetition (index + RETRY), are new people
    all_ids = [FIRST_USER + 1000 * (k + again) + i for k, n in enumerate(args.steps) for again in (0, RETRY)
               for i in range(n)]
    with tempfile.TemporaryDirectory(prefix=f"ccbot-throughput-{dep.key}-") as tmp:
        data_dir = Path(tmp)
        env = ccbot_env(tg, urls, all_ids, data_dir)
        database: Path | str = data_dir / "ccbot.sqlite3"
        if dep.postgres:
            database = await create_database(pg, f"throughput_{dep.key}")
            env["CCBOT_DATABASE_URL"] = database
        procs = await start_bots(dep, env, data_dir, tg)
        ours = [os.getpid(), providers_pid, tg.pid, *(p.pid for p in procs)]
        if dep.postgres and (pid := postmaster_pid(pg)):
            ours.append(pid)
        watcher = RunWatcher(database, CC)
        decide = cc_decide(watcher)
        accept = cc_accept(callback_secret(Settings(_env_file=None, telegram_bot_token=tg.token)))
        try:
            for k, n in enumerate(args.steps):
                print(f"... ({dep.key}) {dep.label}: step {k + 1}/{len(args.steps)}, {n} people", flush=True)
                step = await run_step(k, n, tg, activity, watcher, decide, accept, args, ours)
                print(f"        {step_line(step)}", flush=True)
                if not step.ok(args.threshold_ms) and step.warning:
                    # over the threshold while other work competed: once more, with new people
                    print(f"... ({dep.key}) over the threshold with the machine busy: step {k + 1} once more",
                          flush=True)
                    step = await run_step(k + RETRY, n, tg, activity, watcher, decide, accept, args, ours)
                    step.repeated = True
                    print(f"        {step_line(step)}", flush=True)
                result.steps.append(step)
                if not step.ok(args.threshold_ms):
                    break
        finally:
            await watcher.close()
            for proc in procs:
                await stop(proc)
            await tg.stop()
        logs = ROOT / "build" / "throughput-logs" / dep.key
        logs.mkdir(parents=True, exist_ok=True)
        for slot in range(dep.processes):
            text = (data_dir / f"bot{slot}.log").read_text(errors="replace")
            (logs / f"bot{slot}.log").write_text(text)  # kept for reading after the run
            result.log_problems += [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]
    good = [s for s in result.steps if s.ok(args.threshold_ms)]
    result.best = max(good, key=lambda s: s.rate) if good else None
    return result


# ===================================================================== report


def ms(value: float) -> str:
    return "never" if math.isinf(value) else "-" if math.isnan(value) else f"{value:.0f}"


def step_line(s: Step) -> str:
    line = (f"{s.people:3d} people{' (second try)' if s.repeated else ''}: {s.rate:5.1f} updates/s handled ({s.handled}/{s.sent} in {s.window_s:.0f} s"
            + (f", {s.unanswered} never answered" if s.unanswered else "") + f"), first reaction p50 {ms(s.p50_ms)}"
            f" p95 {ms(s.p95_ms)} max {ms(s.max_ms)} ms; CPU {s.machine_cores:.1f}/{os.cpu_count()} cores"
            f" (others {s.others_cores:.1f}), load {s.load_before:.1f}->{s.load_after:.1f}\n"
            f"{'':22s}{s.chat_calls_per_s:.1f} chat calls/s, busiest second {s.busiest_second},"
            f" {s.seconds_at_limit} s at Telegram's ~30/s"
            + (f"; {s.redelivered} webhook deliveries not answered 200" if s.redelivered else ""))
    return line + (f"\n        WARNING {s.warning}: this step's numbers are unreliable" if s.warning else "")


def ratio(x: float, base: float) -> str:
    return f"{x / base:.2f}x" if base and not math.isnan(x) and not math.isinf(x) and not math.isnan(base) else "-"


def report(results: list[Result], args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    print(f"\n=== throughput at p95 first reaction <= {args.threshold_ms:.0f} ms; {cores} CPUs; think {args.think_s:g} s;"
          f" steps {','.join(map(str, args.steps))} people, {args.step_s:g} s each; jobs on the task runner"
          f" (CCBOT_JOBS=tasks: each process runs the jobs it starts) ===")
    base = results[0].best
    print(f"{'deployment':36s} {'updates/s':>9s} {'people':>6s} {'p50':>6s} {'p95':>6s} {'max':>6s}   "
          f"{'vs (a): updates/s':>17s} {'p50':>6s} {'p95':>6s} {'max':>6s}")
    for r in results:
        b = r.best
        name = f"({r.deployment.key}) {r.deployment.label}"
        if b is None:
            first = r.steps[0] if r.steps else None
            print(f"{name:36s} {'none':>9s}   even the first step's p95 was "
                  f"{ms(first.p95_ms) if first else '-'} ms")
            continue
        print(f"{name:36s} {b.rate:9.1f} {b.people:6d} {ms(b.p50_ms):>6s} {ms(b.p95_ms):>6s} {ms(b.max_ms):>6s}   "
              + (f"{ratio(b.rate, base.rate):>17s} {ratio(b.p50_ms, base.p50_ms):>6s} "
                 f"{ratio(b.p95_ms, base.p95_ms):>6s} {ratio(b.max_ms, base.max_ms):>6s}" if base else ""))
    per_step(results)
    for line in conclusions(results, args):
        print(line)
    warned = [(r.deployment.key, s) for r in results for s in r.steps if s.warning]
    if warned:
        print(f"WARNING   {len(warned)} step(s) ran with the machine busy ("
              + "; ".join(f"({k}) {s.people} people: {s.warning}" for k, s in warned[:3])
              + "): treat those numbers as unreliable")
    for r in results:
        if r.deployment.webhook:
            print(f"webhook   ({r.deployment.key}): {sum(s.redelivered for s in r.steps)} deliveries during the steps"
                  " not answered 200 (so delivered again)")
        if r.log_problems:
            print(f"bot log ({r.deployment.key}): {len(r.log_problems)} error lines, e.g. {r.log_problems[0][:160]}")


def conclusions(results: list[Result], args: argparse.Namespace) -> list[str]:
    cores = os.cpu_count() or 1
    by = {r.deployment.key: r for r in results}
    capped = {r.deployment.key for r in results if r.best is not None and r.best is r.steps[-1]
              and len(r.steps) == len(args.steps)}
    out: list[str] = []
    one, three = by.get("b"), by.get("c")
    if one and three:
        r1 = one.best.rate if one.best else 0.0
        r3 = three.best.rate if three.best else 0.0
        busiest = max(three.steps, key=lambda s: s.machine_cores, default=None)
        if {"b", "c"} <= capped:
            out.append("1 and 3 processes on PostgreSQL both kept up with every step: equal updates/s only means both "
                       "handled all that was offered; their p95 at the same step (above) is the difference.")
        elif r3 > 1.1 * r1:
            out.append(f"3 processes handled {r3 / r1 if r1 else math.inf:.2f}x the updates/s of 1 on PostgreSQL.")
        else:
            full = busiest is not None and busiest.machine_cores >= 0.9 * cores
            out.append(f"3 processes did NOT beat 1 on PostgreSQL here ({r3:.1f} vs {r1:.1f} updates/s at p95 <= "
                       f"{args.threshold_ms:.0f} ms) on {cores} cores shared with PostgreSQL, the fakes and the people"
                       + (f"; the machine's CPU was full ({busiest.machine_cores:.1f} of {cores} cores, "
                          f"{busiest.others_cores:.1f} of them other work's)" if full and busiest else "")
                       + ". More processes split the same cores and add work per update (the webhook hop, advisory "
                       "locks, events between processes); they are for more machines and for restarts without "
                       "downtime, not for more speed on one small machine.")
    a, b = by.get("a"), by.get("b")
    if a and b and a.best and b.best and not {"a", "b"} <= capped:
        out.append(f"PostgreSQL vs SQLite with one process: {b.best.rate / a.best.rate:.2f}x the updates/s at p95 <= "
                   f"{args.threshold_ms:.0f} ms.")
    for r in results:  # what stopped it: Telegram's budget for the bot, or not
        over = next((s for s in r.steps if not s.ok(args.threshold_ms)), None)
        good = [s for s in r.steps if s.ok(args.threshold_ms)]
        if over is None and len(good) >= 2 and good[-1].rate < 1.15 * good[-2].rate \
                and good[-1].seconds_at_limit >= 0.5 * good[-1].wall_s:
            r.plateau = True
            out.append(f"({r.deployment.key}) updates/s stopped growing with more people ({good[-2].people} -> "
                       f"{good[-1].people} people: {good[-2].rate:.1f} -> {good[-1].rate:.1f}/s) while the bot spent "
                       f"{good[-1].seconds_at_limit} of {good[-1].wall_s:.0f} s at Telegram's ~30 messages/s "
                       f"({good[-1].chat_calls_per_s:.1f} chat calls/s): first reactions still go first (p95 "
                       f"{ms(good[-1].p95_ms)} ms), but the rest of each screen waits for the budget and people wait "
                       "for their screens. That plateau is this bot's throughput; more processes cannot raise it.")
        if over is not None and over.seconds_at_limit >= 0.5 * over.wall_s:
            per = over.chat_calls_per_s / over.rate if over.rate else math.nan
            out.append(f"({r.deployment.key}) at {over.people} people the bot spent {over.seconds_at_limit} of "
                       f"{over.wall_s:.0f} s at Telegram's ~30 messages/s ({over.chat_calls_per_s:.1f} chat calls/s, "
                       f"~{per:.1f} per update): the flood budget, which every deployment shares, was the limit "
                       "there; fewer calls per update would raise it, more processes cannot.")
    capped -= {r.deployment.key for r in results if r.plateau}
    if capped:
        out.append(f"({', '.join(sorted(capped))}) never went over the threshold: the real limit is above the last step "
                   "(raise --steps to find it); its updates/s and ratios are lower bounds.")
    return out


def per_step(results: list[Result]) -> None:
    """p95 (and updates/s) of every deployment at each step, side by side."""
    counts = sorted({s.people for r in results for s in r.steps})
    print("p95 first reaction per step (updates/s handled):")
    print(f"  {'people':>6s}  " + "  ".join(f"{'(' + r.deployment.key + ')':>18s}" for r in results))
    for n in counts:
        cells = []
        for r in results:
            s = next((s for s in r.steps if s.people == n), None)
            cells.append(f"{ms(s.p95_ms) + ' ms (' + format(s.rate, '.1f') + '/s)':>18s}" if s else f"{'not run':>18s}")
        print(f"  {n:6d}  " + "  ".join(cells))


def write_json(results: list[Result], args: argparse.Namespace) -> None:
    def clean(value: Any) -> Any:
        if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
            return None if math.isnan(value) else "inf"
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    base = results[0].best
    data = {"threshold_ms": args.threshold_ms, "cpus": os.cpu_count(), "think_s": args.think_s, "steps": args.steps,
            "step_s": args.step_s, "ramp_s": args.ramp_s, "seed": args.seed, "quick": args.quick, "jobs": "tasks",
            "deployments": [{
                **asdict(r.deployment), "steps": [asdict(s) for s in r.steps],
                "best": asdict(r.best) if r.best else None,
                "updates_per_s_vs_a": (r.best.rate / base.rate) if r.best and base else None,
                "p95_vs_a": (r.best.p95_ms / base.p95_ms) if r.best and base else None,
                "error_log_lines": len(r.log_problems)} for r in results]}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(clean(data), indent=1))
    print(f"numbers written to {OUT.relative_to(ROOT)}")


# ======================================================================= main


async def main_async(args: argparse.Namespace) -> int:
    from tests.pg import PostgresServer, missing_reason

    started = time.monotonic()
    if (why := missing_reason()) is not None:
        print(f"cannot measure on PostgreSQL: {why}")
        return 2
    print("... starting PostgreSQL and the provider fakes", flush=True)
    pg = await asyncio.to_thread(PostgresServer().start)
    providers, urls = await start_providers(args.seed, args.provider_delay)
    results = []
    try:
        for dep in DEPLOYMENTS:
            results.append(await run_deployment(dep, args, urls, pg, providers.pid))
    finally:
        await stop_providers(providers)
        await asyncio.to_thread(pg.stop)
    report(results, args)
    write_json(results, args)
    print(f"wall {time.monotonic() - started:.0f} s")
    return 0 if all(r.steps for r in results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of about 2 minutes (2 short steps)")
    parser.add_argument("--threshold-ms", type=float, default=250.0, help="the p95 first reaction to stay under")
    parser.add_argument("--steps", default=None, help="people at once, one step per count (default 15,40,80,140; --quick 4,12)")
    parser.add_argument("--step-s", type=float, default=None, help="seconds each step lasts after the ramp (default 25; --quick 12)")
    parser.add_argument("--ramp-s", type=float, default=None, help="people arrive within this many seconds (4)")
    parser.add_argument("--drain-s", type=float, default=None,
                        help="at most this long for the bot to go quiet after a step (default 10; --quick 5)")
    parser.add_argument("--think-s", type=float, default=1.0, help="pause before each tap, once the chat is quiet")
    parser.add_argument("--provider-delay", default="1,3", help="seconds each provider job/answer takes: low,high")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    quick = args.quick
    args.steps = [int(x) for x in (args.steps or ("4,12" if quick else "15,40,80,140")).split(",") if x.strip()]
    args.step_s = args.step_s or (12.0 if quick else 25.0)
    args.ramp_s = args.ramp_s if args.ramp_s is not None else (2.0 if quick else 4.0)
    args.drain_s = args.drain_s if args.drain_s is not None else (5.0 if quick else 10.0)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
