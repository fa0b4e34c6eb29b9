"""Words at a file question (a photo of the pet): they can skip it, and anything else asks for the file."""

from __future__ import annotations

import pytest

from engine.protocol import FileInputDisplay, InteractionRequest, InteractionType
from engine.understanding import interpret


def request(allow_skip: bool = True) -> InteractionRequest:
    display = FileInputDisplay(prompt="Send a photo of your pet", skip_label="No photo: imagine a pet",
                               allow_skip=allow_skip)
    return InteractionRequest(interaction_id="file_1", interaction_type=InteractionType.FILE_INPUT, run_id="run_1",
                              step_id="user_input", step_name="Step 1: Pet", step_number=1,
                              module_name="get_pet_photo", title="Your own pet?", display_data=display)


@pytest.mark.parametrize("text", ["no photo", "skip", "No photo: imagine a pet", "without a photo",
                                  "skip the photo"])
async def test_words_that_skip_the_photo_skip_it_at_once(text: str) -> None:
    u, call = await interpret(request(), text)
    assert call is None
    assert u.kind == "confirm" and not u.confirm, "exact and free: applied at once"
    assert u.response is not None and u.response.file is None and u.response.interaction_id == "file_1"
    assert "No photo" in u.summary


@pytest.mark.parametrize("text", ["this is Biscuit", "here is my photo", "a corgi chasing bubbles", "2"])
async def test_other_words_ask_for_the_file_and_change_nothing(text: str) -> None:
    u, _ = await interpret(request(), text)
    assert u.kind == "unclear" and u.response is None
    assert "send the file itself" in u.reason and "No photo: imagine a pet" in u.reason


async def test_a_file_that_is_needed_cannot_be_skipped_by_words() -> None:
    u, _ = await interpret(request(allow_skip=False), "skip")
    assert u.kind == "unclear" and u.response is None
    assert "Or say" not in u.reason


async def test_no_means_nothing_changes() -> None:
    u, _ = await interpret(request(), "no")
    assert u.kind == "cancel" and u.response is None
