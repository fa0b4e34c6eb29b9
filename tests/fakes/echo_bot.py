"""The smallest python-telegram-bot application: echo every text message.

Used by tests of the fake server. Not the benchmark baseline: it handles one
update at a time and ignores taps (see benchmarks/load/baseline_bot.py).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


def build_echo_app(token: str, base_url: str) -> Application:  # type: ignore[type-arg]
    """An Application that replies to each text message with the same text.

    `base_url` is the server root (e.g. `FakeTelegramServer.url`, or
    "https://api.telegram.org"); the `/bot` and `/file/bot` prefixes are added here.
    """
    root = base_url.rstrip("/")
    if root.endswith("/bot"):
        root = root[: -len("/bot")]
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, _echo))
    return app
