"""The file question as a Telegram message: the prompt, what is taken, the limit this bot can fetch, Skip."""

from __future__ import annotations

from bot import callbacks
from bot.render import render_request
from engine.protocol import FileInputDisplay, InteractionRequest, InteractionType

SECRET = b"s" * 32


def request(display: FileInputDisplay) -> InteractionRequest:
    return InteractionRequest(interaction_id="file_1", interaction_type=InteractionType.FILE_INPUT, run_id="run_1",
                              step_id="user_input", step_name="Step 1: Pet", step_number=1,
                              module_name="get_pet_photo", title="Your own pet?", display_data=display)


def test_the_question_says_what_is_taken_and_offers_its_skip() -> None:
    display = FileInputDisplay(prompt="Send a <photo> of your pet", max_bytes=50 * 1024 * 1024,
                               skip_label="No photo: imagine a pet")
    (message,) = render_request(request(display), SECRET, file_limit=20 * 1024 * 1024)
    assert "Send a &lt;photo&gt; of your pet" in message.text  # workflow text is escaped
    assert "JPEG, PNG, WebP or HEIC, up to 20 MB, at least 512 pixels" in message.text  # the bot's limit wins
    (button,) = message.all_buttons()
    assert button.text == "⏭ No photo: imagine a pet"
    decoded = callbacks.decode(button.callback_data, SECRET)
    assert decoded is not None and decoded.action == "file-skip" and decoded.matches("file_1")


def test_a_file_that_is_needed_has_no_skip() -> None:
    (message,) = render_request(request(FileInputDisplay(prompt="Send it", allow_skip=False)), SECRET)
    assert message.buttons == [] and "up to 20 MB" in message.text and "Send it now" in message.text
