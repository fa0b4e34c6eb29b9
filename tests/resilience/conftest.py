"""Fixtures for the resilience tests: the fake servers, shared by every bot restart."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.resilience.harness import Fakes


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with Fakes() as servers:
        yield servers


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from tests.resilience.report import RESULTS, lines, machine

    if RESULTS:
        terminalreporter.section(f"resilience measurements ({machine()})")
        for line in lines():
            terminalreporter.write_line(line)
