"""The `ccbot` command: run the bot, play the demo, validate a workflow, check providers."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from bot.main import configure_logging, open_engine, run_bot, run_worker
from engine.definitions import WorkflowError, load_workflow
from engine.errors import EngineError
from engine.modules import default_modules
from engine.settings import Settings, load_settings


def print_problems(where: object, exc: WorkflowError) -> None:
    print(f"{where}: {len(exc.problems)} problem(s)")
    for problem in exc.problems:
        print(f"  - {problem}")


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        workflow = load_workflow(args.path, default_modules())
    except WorkflowError as exc:
        print_problems(args.path, exc)
        return 1
    modules = sum(len(s.modules) for s in workflow.steps)
    print(f"{args.path}: OK — workflow '{workflow.workflow_id}', {len(workflow.steps)} steps, {modules} modules")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from engine.providers.live import doctor_report

    settings = load_settings()
    print(doctor_report(settings))
    print(f"data dir: {settings.ccbot_data_dir.resolve()}")
    hosts = ", ".join(sorted(settings.fetch_allowed_hosts)) or "none (CCBOT_FETCH_ALLOWED_HOSTS not set)"
    print(f"api.fetch may ask: {hosts}")
    print(f"telegram: {'token set' if settings.telegram_bot_token else 'TELEGRAM_BOT_TOKEN not set'}; "
          f"allowed users: {len(settings.allowed_user_ids)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.terminal import run_demo, stdin_is_tty

    settings = load_settings()
    configure_logging(settings, quiet=True)
    auto = args.auto or not stdin_is_tty()

    async def main() -> int:
        engine = await open_engine(settings, Path(args.workflow) if args.workflow else None)
        try:
            return await run_demo(engine, auto=auto, resume=args.resume, photo=args.photo, caption=args.caption)
        finally:
            await engine.close()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        print("\nStopped. Run `ccbot demo --resume` to continue where you left off.")
        return 130
    except WorkflowError as exc:  # the workflow's own problems, as `ccbot validate` lists them
        print_problems(args.workflow or settings.ccbot_workflows_dir or "the workflow", exc)
        return 1
    except EngineError as exc:  # e.g. a workflows folder with no workflow in it
        print(f"ccbot: {exc}", file=sys.stderr)
        return 2


def cmd_spend(args: argparse.Namespace) -> int:
    """The operator's spend report for a month, as /spend shows it in the bot."""
    from engine.spend_report import spend_report
    from engine.store import open_store

    settings = load_settings()

    async def main() -> str:
        store = await open_store(settings.database)
        try:
            report = await spend_report(store, args.month)
        finally:
            await store.close()
        return report.csv() if args.csv else report.table()

    print(asyncio.run(main()))
    return 0


def serve(run: Callable[[Settings], int]) -> int:
    """A long-running process (the bot, a worker), with the workflow's problems said plainly."""
    settings = load_settings()
    configure_logging(settings)
    try:
        return run(settings)
    except WorkflowError as exc:
        print_problems(settings.ccbot_workflows_dir or "the workflow", exc)
        return 1
    except EngineError as exc:
        print(f"ccbot: {exc}", file=sys.stderr)
        return 2


def cmd_run(args: argparse.Namespace) -> int:
    return serve(lambda settings: run_bot(settings, webhook=args.webhook))


def cmd_worker(args: argparse.Namespace) -> int:
    return serve(run_worker)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccbot", description="Cute-pet video bot and workflow engine.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the Telegram bot (long polling, or --webhook)")
    run.add_argument("--webhook", action="store_true", help="serve webhooks (WEBHOOK_URL, WEBHOOK_SECRET)")
    run.set_defaults(func=cmd_run)
    worker = sub.add_parser("worker", help="run queued jobs and renders for bot processes (CCBOT_JOBS=dbos)")
    worker.set_defaults(func=cmd_worker)
    demo = sub.add_parser("demo", help="walk a workflow in the terminal on the configured providers")
    demo.add_argument("--auto", action="store_true", help="play unattended, first choices")
    demo.add_argument("--resume", action="store_true", help="continue the last unfinished demo run")
    demo.add_argument("--workflow", help="a workflow folder (default: the installed workflows)")
    demo.add_argument("--photo", help="a photo of your own pet for the photo question (with --auto)")
    demo.add_argument("--caption", default="", help="the photo's caption, e.g. \"this is Biscuit, my cat\"")
    demo.set_defaults(func=cmd_demo)
    validate = sub.add_parser("validate", help="check a workflow folder")
    validate.add_argument("path")
    validate.set_defaults(func=cmd_validate)
    spend = sub.add_parser("spend", help="this month's spend per person and provider (as /spend shows it)")
    spend.add_argument("--month", help="YYYY-MM (UTC); default: this month")
    spend.add_argument("--csv", action="store_true", help="one line per paid call, as CSV")
    spend.set_defaults(func=cmd_spend)
    doctor = sub.add_parser("doctor", help="which providers are live, offline or misconfigured")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
