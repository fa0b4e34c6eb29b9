"""`ccbot` as a person runs it, as a subprocess: which workflows it finds, and
what it prints when a folder has none or has problems (never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ccbot_process import ccbot
from tests.conftest import MINI


def test_a_workflows_folder_with_no_workflow_is_an_error_not_the_builtin_ones(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "not_a_workflow").mkdir(parents=True)
    done = ccbot(tmp_path, "demo", "--auto", CCBOT_WORKFLOWS_DIR=str(empty))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"no workflow to run in {empty}" in done.stderr
    assert "workflow.json (or workflow_v<N>.json)" in done.stderr
    assert "Traceback" not in done.stderr and "Started run" not in done.stdout  # the built-in CC never started


def test_the_bot_refuses_to_start_on_a_folder_with_no_workflow(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = ccbot(tmp_path, "run", CCBOT_WORKFLOWS_DIR=str(empty), TELEGRAM_BOT_TOKEN="123456:not-a-real-token",
                 CCBOT_ALLOWED_USERS="1", timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"no workflow to run in {empty}" in done.stderr and "Traceback" not in done.stderr


def test_an_invalid_workflow_prints_its_problems_not_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "workflow.json").write_text(json.dumps({
        "workflow_id": "broken",
        "steps": [{"step_id": "one", "modules": [
            {"module_id": "no.such_module", "name": "first"},
            {"module_id": "user.select", "name": "second", "inputs": {}},
        ]}],
    }), encoding="utf-8")
    done = ccbot(tmp_path, "demo", "--auto", "--workflow", str(broken))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"{broken}: 3 problem(s)" in done.stdout
    assert "module first: unknown module_id 'no.such_module'" in done.stdout
    assert "module second: missing input 'data'" in done.stdout


def test_the_workflows_dir_may_name_one_workflow_folder(tmp_path: Path) -> None:
    done = ccbot(tmp_path, "demo", "--auto", CCBOT_WORKFLOWS_DIR=str(MINI))
    assert "Started run" in done.stdout, done.stdout + done.stderr
    assert "Step 1: Pick" in done.stdout


@pytest.mark.parametrize("entry", ["workflow_v3.json", "workflow_v12.json"])
def test_validate_finds_a_versioned_entry_file(tmp_path: Path, entry: str) -> None:
    folder = tmp_path / "versioned"
    folder.mkdir()
    step = {"step_id": "ask", "modules": [{"module_id": "user.text_input", "name": "ask", "inputs": {}}]}
    (folder / "workflow_v2.json").write_text(json.dumps({"workflow_id": "old", "steps": [step]}), encoding="utf-8")
    (folder / entry).write_text(json.dumps({"workflow_id": "newest", "steps": [step]}), encoding="utf-8")
    done = ccbot(tmp_path, "validate", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK — workflow 'newest', 1 steps, 1 modules" in done.stdout


def test_validate_names_what_a_folder_lacks(tmp_path: Path) -> None:
    done = ccbot(tmp_path, "validate", str(tmp_path))
    assert done.returncode == 1
    assert "no workflow.json (or workflow_v<N>.json) found" in done.stdout


def test_a_worker_needs_the_durable_job_runner(tmp_path: Path) -> None:
    done = ccbot(tmp_path, "worker", CCBOT_JOBS="tasks")
    assert done.returncode == 2, done.stderr
    assert "ccbot worker needs CCBOT_JOBS=dbos" in done.stdout
    assert "Traceback" not in done.stderr
