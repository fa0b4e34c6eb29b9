"""The rules of docs/architecture.md, checked: which room may import what,
and that only the outbox talks to Telegram."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (files, imports they must never make)
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("engine/**/*.py", ("bot", "telegram")),
    ("engine/modules/*.py", ("engine.api", "engine.runner", "engine.runlog", "engine.jobs", "engine.views")),
    ("engine/providers/**/*.py", ("engine.modules", "engine.api", "engine.runner", "engine.runlog", "engine.jobs")),
    ("engine/presentation/*.py", ("engine.providers", "engine.modules", "engine.store", "engine.api")),
    ("engine/understanding/*.py", ("engine.api", "engine.runner", "engine.runlog", "engine.jobs", "engine.modules",
                                   "engine.store", "engine.lookahead")),
    ("engine/store/*.py", ("engine.api", "engine.runner", "engine.runlog", "engine.modules", "engine.providers")),
    ("engine/durable/*.py", ("engine.api", "engine.modules")),
    ("bot/render/*.py", ("telegram", "bot.telegram")),
    ("bot/terminal.py", ("telegram", "bot.telegram", "bot.render")),
]
TELEGRAM_CALLS = re.compile(r"\.(send_message|send_photo|send_video|send_audio|send_document|send_chat_action|"
                            r"edit_message_\w+|pin_chat_message|set_my_commands|get_file|download_to_drive)\(")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_each_room_imports_only_what_it_may() -> None:
    broken = []
    for pattern, forbidden in RULES:
        files = sorted(ROOT.glob(pattern))
        assert files, pattern
        for path in files:
            for name in imports(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert broken == []


def test_only_the_outbox_calls_telegram() -> None:
    callers = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if path.name in ("outbox.py", "delivery.py"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if TELEGRAM_CALLS.search(line):
                callers.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert callers == []


def test_only_the_durable_room_imports_dbos() -> None:
    """DBOS costs ~40 MB and ~0.4 s to import: only engine/durable/ (loaded when CCBOT_JOBS=dbos) uses it."""
    users = sorted(str(p.relative_to(ROOT)) for pattern in ("engine/**/*.py", "bot/**/*.py")
                   for p in ROOT.glob(pattern) if any(i == "dbos" or i.startswith("dbos.") for i in imports(p)))
    assert users and all(u.startswith("engine/durable/") for u in users), users
