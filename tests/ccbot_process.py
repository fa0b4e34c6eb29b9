"""`ccbot` run as a person runs it: a subprocess in an empty folder (no .env),
offline (no provider keys), on its own data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KEYS = ("OPENAI_API_KEY", "SORA_API_KEY", "SORA_BASE_URL", "LEONARDO_API_KEY", "ELEVENLABS_API_KEY",
        "TELEGRAM_BOT_TOKEN", "CCBOT_WORKFLOWS_DIR", "CCBOT_FETCH_ALLOWED_HOSTS")


def ccbot(tmp_path: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in an empty folder (no .env), offline, on its own data folder."""
    clean = {k: v for k, v in os.environ.items() if k not in KEYS}
    clean.update({"CCBOT_DATA_DIR": str(tmp_path / "data"), **env})
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=clean, capture_output=True,
                          text=True, timeout=timeout, check=False)
