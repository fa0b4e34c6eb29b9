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


# ------------------------------------------------------------------ file questions


class RefusingEngine(FakeEngine):
    """Refuses a missing file the way the engine's user.file module does."""

    async def respond(self, run_id: str, response: InteractionResponse) -> None:
        from pathlib import Path

        from engine.errors import InvalidResponse

        if response.file is not None and not Path(response.file.path).is_file():
            raise InvalidResponse("the file did not arrive: please send it again")
        self.responses.append(response)


def _file_request() -> Any:
    from engine.protocol import FileInputDisplay

    display = FileInputDisplay(prompt="Send a photo of your pet", skip_label="No photo")
    return request(display, InteractionType.FILE_INPUT), display


def test_a_typed_path_answers_the_file_question_and_a_wrong_one_is_asked_again(tmp_path) -> None:
    photo = tmp_path / "biscuit.jpg"
    photo.write_bytes(b"\xff\xd8\xff")
    answers = iter([str(tmp_path / "nope.jpg"), "no caption", f"'{photo}'", "this is Biscuit"])
    engine, said = RefusingEngine(), []
    demo = TerminalDemo(engine, auto=False, ask=lambda prompt: next(answers), say=said.append)  # type: ignore[arg-type]
    req, display = _file_request()
    asyncio.run(demo.handle_file(req, display))
    assert any("did not arrive" in s for s in said)
    (response,) = engine.responses
    assert response.file.path == str(photo) and response.file.caption == "this is Biscuit"


def test_auto_uses_the_photo_option_or_skips(tmp_path) -> None:
    req, display = _file_request()
    for photo, expected in ((None, None), (str(tmp_path / "p.jpg"), str(tmp_path / "p.jpg"))):
        engine = FakeEngine()
        demo = TerminalDemo(engine, auto=True, say=lambda s: None, photo=photo, caption="my cat")  # type: ignore[arg-type]
        asyncio.run(demo.handle_file(req, display))
        file = engine.responses[0].file
        assert (file.path if file else None) == expected


def test_ccbot_demo_auto_with_a_photo_animates_it(tmp_path) -> None:
    from PIL import Image

    photo = tmp_path / "pet.jpg"
    Image.new("RGB", (1000, 800), (222, 130, 55)).save(photo)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CCBOT_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "bot", "demo", "--auto", "--photo", str(photo), "--caption",
                           "this is Biscuit, my cat"], capture_output=True, text=True, timeout=600, env=env,
                          cwd=str(tmp_path), check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"→ {photo}" in done.stdout and "Animate my photo" in done.stdout and "Centre crop" in done.stdout
    assert "Who is the star" not in done.stdout, "the photo said: a cat"
    assert "Finished video:" in done.stdout
