"""The terminal front end (bot.terminal) shows options as plain text from engine.presentation."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

from bot.terminal import TerminalDemo, row_text
from engine.presentation import Row
from engine.protocol import InteractionResponse, InteractionType, SelectDisplay
from tests.display_samples import MOTION_DATA, MOTION_SCHEMA, RETRY_SCENES, SCENES_DATA, SCENES_SCHEMA, request


class FakeEngine:
    def __init__(self) -> None:
        self.responses: list[InteractionResponse] = []

    def subscribe(self, callback: Any) -> None:
        pass

    async def respond(self, run_id: str, response: InteractionResponse) -> None:
        self.responses.append(response)


def _play(display: SelectDisplay) -> tuple[list[str], FakeEngine]:
    engine = FakeEngine()
    said: list[str] = []
    demo = TerminalDemo(engine, auto=True, say=said.append)  # type: ignore[arg-type]
    asyncio.run(demo.handle_select(request(display, InteractionType.SELECT), display))
    return said, engine


def test_select_options_are_plain_text() -> None:
    said, engine = _play(SelectDisplay(data=SCENES_DATA, schema=SCENES_SCHEMA, retryable=RETRY_SCENES))
    assert said[:8] == [
        " 1. Window Seat Snow Day 1",
        "      A kitten discovers snow through glass.",  # the subtitle, without its label
        "      Story: The kitten watches flakes fall. It paws at the glass. It curls up, content.",
        "      Moments: paw on glass, tail flick, slow blink",
        "      Pet focus: curious pawing",
        "      Arc: wonder to comfort",
        "      Setting: Place: cosy window seat, Time: winter morning",
        " 2. Window Seat Snow Day 2",
    ]
    assert "  [r] Give me three different ideas" in said and not any("snow', 'category" in s for s in said)
    assert engine.responses[0].selected_indices == ["scenes", 0]


def test_markup_characters_are_shown_as_they_are() -> None:
    evil = {"detected": [{"element": "<b>Steam</b> & co", "motion_type": "a &amp; b", "location": "<i>left</i>"}]}
    said, engine = _play(SelectDisplay(data=evil, schema=MOTION_SCHEMA, multi_select=True, max_selections=1))
    assert said[:3] == [" 1. <b>Steam</b> & co", "      Motion Type: a &amp; b", "      Location: <i>left</i>"]
    assert engine.responses[0].selected_indices == [["detected", 0]]


def test_multi_select_lists_every_option() -> None:
    said, _ = _play(SelectDisplay(data=MOTION_DATA, schema=MOTION_SCHEMA, multi_select=True, max_selections=3))
    assert [s for s in said if not s.startswith("      ")][:4] == [
        " 1. Steam from the teacup",
        " 2. Curtain",
        " 3. Candle flame",
        " 4. Falling snow",
    ]


def test_row_text() -> None:
    assert row_text(Row("Mood", "cozy", "highlight")) == "Mood: cozy" and row_text(Row("Mood", "cozy")) == "Mood: cozy"
    assert row_text(Row("Hook", "A hook", "subtitle")) == "A hook" and row_text(Row("", "plain", "text")) == "plain"


def test_the_terminal_does_not_load_the_telegram_renderer() -> None:
    code = "import sys, bot.terminal; sys.exit(any(m.startswith(('bot.render', 'telegram')) for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    code = "import sys, engine.presentation; sys.exit(any(m.startswith(('bot', 'telegram')) for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
