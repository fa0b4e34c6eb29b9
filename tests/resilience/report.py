"""What `make proof` measured: collected by the tests, printed as tables at
the end of the pytest run and written to build/proof.json."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS: dict[str, Any] = {}
OUT = Path(__file__).resolve().parents[2] / "build" / "proof.json"


def record(section: str, data: Any) -> None:
    """Keep a measurement for the report (only under `make proof`)."""
    if os.environ.get("CCBOT_PROOF") != "1":
        return
    RESULTS[section] = data
    OUT.parent.mkdir(parents=True, exist_ok=True)
    earlier = json.loads(OUT.read_text()) if OUT.exists() else {}  # sections of an earlier partial run stay
    payload = {**earlier, "date": time.strftime("%Y-%m-%d"), "machine": machine(), **RESULTS}
    OUT.write_text(json.dumps(payload, indent=2, default=str))


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    keys = list(rows[0])
    widths = {k: max(len(str(k)), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
    line = " | ".join(str(k).ljust(widths[k]) for k in keys)
    out = [line, "-+-".join("-" * widths[k] for k in keys)]
    out += [" | ".join(str(r.get(k, "")).ljust(widths[k]) for k in keys) for r in rows]
    return out


def lines() -> list[str]:
    out: list[str] = []
    for section, data in RESULTS.items():
        out.append(f"== {section}")
        if isinstance(data, dict) and isinstance(data.get("runs"), list):
            out += table(data["runs"])
            out += [f"{k}: {v}" for k, v in data.items() if k != "runs"]
        elif isinstance(data, list):
            out += table(data)
        elif isinstance(data, dict):
            out += [f"{k}: {v}" for k, v in data.items()]
        else:
            out.append(str(data))
    return out
