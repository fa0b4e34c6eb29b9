"""The baseline: the smallest python-telegram-bot bot done right.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_BASE_URL=... python -m benchmarks.load.baseline_bot

- updates are handled concurrently (`concurrent_updates(True)`: one slow chat
  never holds up another; ccbot does the same);
- no client-side rate limiter (nothing waits before a call);
- a text (or command) is answered with one message carrying one button;
- a tap is answered at once (answerCallbackQuery, stops the spinner), then its
  message is edited once, keeping a button, so the person can tap again;
- long polling with the same settings as `ccbot run` (python-telegram-bot's
  run_polling defaults), configured from the same environment variables.

Whatever ccbot takes beyond this bot's time per update is ccbot's own cost
(its engine, store, screens, flood gate), not python-telegram-bot's, HTTP's
or the fake server's. (tests/fakes/echo_bot.py is not this: it handles one
update at a time and ignores taps.)
"""

from __future__ import annotations

import itertools
import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

BUTTON = InlineKeyboardMarkup([[InlineKeyboardButton("Tap", callback_data="tap")]])
_count = itertools.count(1)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_text(f"Got it ({next(_count)})", reply_markup=BUTTON)


async def on_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    if query.message is not None:  # the text changes every time: never "message is not modified"
        await query.edit_message_text(f"Tapped ({next(_count)})", reply_markup=BUTTON)


def build() -> Application:  # type: ignore[type-arg]
    builder = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).concurrent_updates(True)
    if os.environ.get("TELEGRAM_API_BASE_URL"):
        builder = builder.base_url(os.environ["TELEGRAM_API_BASE_URL"])
    if os.environ.get("TELEGRAM_API_FILE_URL"):
        builder = builder.base_file_url(os.environ["TELEGRAM_API_FILE_URL"])
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, on_text))
    app.add_handler(CallbackQueryHandler(on_tap))
    return app


if __name__ == "__main__":
    build().run_polling()
