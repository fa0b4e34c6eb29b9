"""The fake Bot API server, proven with the real python-telegram-bot over real HTTP."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    InputMediaVideo,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fakes.echo_bot import build_echo_app
from tests.fakes.telegram_server import FakeTelegramServer, parse_html

USER = 4242


@pytest.fixture
async def tg():
    async with FakeTelegramServer() as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegramServer):
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as b:
        yield b


def _keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows])


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# ------------------------------------------------------------------ bare Bot


async def test_get_me_and_send_message_with_inline_keyboard(tg: FakeTelegramServer, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "ccbot_test_bot"

    sent = await bot.send_message(
        USER, "<b>Pick</b> a pet &amp; go", parse_mode=ParseMode.HTML, reply_markup=_keyboard([("Cat", "c"), ("Dog", "d")])
    )
    assert sent.text == "Pick a pet & go"
    assert sent.entities[0].type == "bold" and (sent.entities[0].offset, sent.entities[0].length) == (0, 4)
    assert sent.from_user.id == me.id and sent.chat.id == USER
    assert [b.callback_data for b in sent.reply_markup.inline_keyboard[0]] == ["c", "d"]

    second = await bot.send_message(USER, "again")
    assert second.message_id == sent.message_id + 1

    call = tg.calls_to("sendMessage")[0]
    assert call.params["chat_id"] == USER and call.params["reply_markup"]["inline_keyboard"][0][1]["text"] == "Dog"
    assert [m["text"] for m in tg.messages_for(USER)] == ["Pick a pet & go", "again"]


async def test_edit_not_modified_and_unknown_message(tg: FakeTelegramServer, bot: Bot) -> None:
    markup = _keyboard([("A", "a")])
    sent = await bot.send_message(USER, "one", reply_markup=markup)

    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("one", USER, sent.message_id, reply_markup=markup)

    edited = await bot.edit_message_text("two", USER, sent.message_id, reply_markup=markup)
    assert edited.text == "two" and edited.edit_date is not None
    # editing without reply_markup removes the keyboard, as on Telegram
    await bot.edit_message_text("two", USER, sent.message_id)
    assert "reply_markup" not in tg.messages_for(USER)[0]
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=None)
    assert [m["text"] for m in tg.message_history(USER, sent.message_id)] == ["one", "two"]

    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", USER, 999)
    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    assert tg.messages_for(USER) == []


async def test_telegram_limits_are_enforced(tg: FakeTelegramServer, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "x", reply_markup=_keyboard([("too long", "x" * 65)]))
    # 64 bytes is fine, counted in UTF-8 bytes not characters
    await bot.send_message(USER, "x", reply_markup=_keyboard([("ok", "é" * 32)]))
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "x", reply_markup=_keyboard([("no", "é" * 32 + "a")]))

    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(USER, "a" * 4097)
    await bot.send_message(USER, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)  # counted after parsing
    with pytest.raises(BadRequest, match="(?i)can't parse entities: Unsupported start tag \"script\""):
        await bot.send_message(USER, "hi <script>alert(1)</script>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(USER, "  ")
    with pytest.raises(BadRequest, match="(?i)message caption is too long"):
        await bot.send_photo(USER, b"\x89PNG fake", caption="c" * 1025)
    with pytest.raises(BadRequest, match="(?i)placeholder"):
        await bot.send_message(USER, "?", reply_markup=ForceReply(input_field_placeholder="p" * 65))
    with pytest.raises(BadRequest, match="(?i)media"):
        await bot.send_media_group(USER, [InputMediaPhoto(b"one")])


async def test_answer_callback_query_once(tg: FakeTelegramServer, bot: Bot) -> None:
    sent = await bot.send_message(USER, "tap", reply_markup=_keyboard([("A", "a")]))
    query_id = tg.press(USER, "A")
    assert tg.unanswered_callbacks() == [query_id]
    assert await bot.answer_callback_query(query_id, text="ok")
    assert tg.unanswered_callbacks() == [] and tg.callback_answer(query_id) == {"text": "ok"}
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query("12345")
    assert tg.pending_updates()[0]["callback_query"]["message"]["message_id"] == sent.message_id


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB warns on int retry_after
async def test_faults_429_500_502_and_blocked_user(tg: FakeTelegramServer, bot: Bot) -> None:
    tg.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "hi")
    assert _seconds(caught.value.retry_after) == 3
    tg.fail_next("sendMessage", status=500)
    with pytest.raises(NetworkError, match="(?i)Internal Server Error"):
        await bot.send_message(USER, "hi")
    tg.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError, match="(?i)Bad Gateway"):
        await bot.send_message(USER, "hi")
    assert (await bot.send_message(USER, "hi")).text == "hi"
    assert [c.status for c in tg.calls_to("sendMessage")] == [429, 500, 502, 200]

    tg.block_user(7)
    with pytest.raises(Forbidden, match="(?i)blocked"):
        await bot.send_message(7, "hi")


async def test_uploads_are_recorded_and_downloadable(tg: FakeTelegramServer, bot: Bot, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    payload = bytes(range(256)) * 1200  # 300 KB
    clip.write_bytes(payload)
    with clip.open("rb") as fh:
        sent = await bot.send_video(USER, fh, caption="<i>#1</i> Leonardo", parse_mode="HTML", width=720, height=1280, duration=5)
    assert sent.video.file_size == len(payload) and (sent.video.width, sent.video.height) == (720, 1280)
    assert sent.caption == "#1 Leonardo"
    call = tg.calls_to("sendVideo")[0]
    upload = call.files["video"]
    assert (upload.filename, upload.size) == ("clip.mp4", len(payload))
    assert call.params["width"] == 720 and call.params["caption"].startswith("<i>")

    tg_file = await bot.get_file(sent.video.file_id)
    assert bytes(await tg_file.download_as_bytearray()) == payload
    # re-sending by file_id needs no upload
    again = await bot.send_video(USER, sent.video.file_id)
    assert again.video.file_unique_id == sent.video.file_unique_id and not tg.calls_to("sendVideo")[1].files

    album = await bot.send_media_group(
        USER, [InputMediaPhoto(b"\x89PNG one", caption="a"), InputMediaVideo(payload[:1000], caption="b")]
    )
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
    assert album[1].video.file_size == 1000 and len(tg.calls_to("sendMediaGroup")[0].files) == 2

    tg.upload_limit = 100_000
    with pytest.raises(NetworkError):
        await bot.send_document(USER, payload, filename="big.bin")
    assert tg.calls_to("sendDocument")[-1].status == 413


async def test_commands_and_webhook_info(tg: FakeTelegramServer, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("new", "New video")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "new"]
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()

    await bot.set_webhook("https://example.invalid/hook", secret_token="s3")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.invalid/hook"
    with pytest.raises(Conflict, match="(?i)webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    await bot.send_chat_action(USER, "upload_video")
    with pytest.raises(BadRequest):
        await bot.send_chat_action(USER, "dancing")
    msg = await bot.send_message(USER, "status")
    assert await bot.pin_chat_message(USER, msg.message_id)
    assert tg.pinned[USER] == [msg.message_id]


def test_parse_html_offsets_are_utf16() -> None:
    text, entities = parse_html("😺 <b>cat</b> &lt;3")
    assert text == "😺 cat <3"
    assert entities == [{"type": "bold", "offset": 3, "length": 3}]


# --------------------------------------------------------------- Application


def _app(tg: FakeTelegramServer) -> Application:  # type: ignore[type-arg]
    return ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url).build()


async def _run(app: Application) -> None:  # type: ignore[type-arg]
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)


async def _stop(app: Application) -> None:  # type: ignore[type-arg]
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def test_command_and_callback_through_application(tg: FakeTelegramServer) -> None:
    app = _app(tg)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            f"Hello {context.args}", do_quote=True, reply_markup=_keyboard([("Go", "go:1")])
        )

    async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"You tapped {query.data}")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(tapped))
    await _run(app)
    try:
        update = tg.inject_command(USER, "/start hello")
        reply = await tg.wait_for_call("sendMessage")
        assert reply.ok and reply.params["text"] == "Hello ['hello']"
        assert reply.params["reply_parameters"]["message_id"] == update["message"]["message_id"]

        query_id = tg.press(USER, "Go")
        edit = await tg.wait_for_call("editMessageText")
        assert edit.ok and edit.params["text"] == "You tapped go:1"
        await tg.wait_for(lambda: not tg.unanswered_callbacks())
        assert query_id not in tg.unanswered_callbacks()
        assert tg.bot_messages(USER)[-1]["text"] == "You tapped go:1"
    finally:
        await _stop(app)


async def test_get_updates_drop_then_recovery_keeps_the_update(tg: FakeTelegramServer) -> None:
    app = build_echo_app(tg.token, tg.url)
    tg.inject_message(USER, "still here?")
    tg.drop_connection_next("getUpdates")
    await _run(app)
    try:
        reply = await tg.wait_for_call("sendMessage", timeout=8)
        assert reply.params["text"] == "still here?"
        polls = tg.calls_to("getUpdates")
        assert polls[0].status == 0 and any(c.ok and c.result for c in polls[1:])
        assert len(tg.calls_to("sendMessage")) == 1  # delivered exactly once
    finally:
        await _stop(app)
    assert tg.pending_updates() == []  # the final poll confirmed it


async def test_conflicting_pollers_get_409(tg: FakeTelegramServer, bot: Bot) -> None:
    """Two instances polling one token: the older long poll is terminated."""
    async with Bot(tg.token, base_url=tg.base_url) as other:
        first = asyncio.create_task(bot.get_updates(timeout=3))
        await tg.wait_for(lambda: tg.calls_to("getUpdates"))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(other.get_updates(timeout=0))
        with pytest.raises(Conflict, match="(?i)terminated by other getUpdates"):
            await first
        assert await second == ()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_mode_delivers_updates(tg: FakeTelegramServer) -> None:
    app = _app(tg)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("hi from webhook")

    app.add_handler(CommandHandler("start", start))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(listen="127.0.0.1", port=port, url_path="hook", webhook_url=url, secret_token="s3cr3t")
    try:
        assert tg.webhook["url"] == url and tg.webhook["secret_token"] == "s3cr3t"
        tg.inject_command(USER, "/start")
        reply = await tg.wait_for_call("sendMessage")
        assert reply.params["text"] == "hi from webhook"
        assert tg.webhook_deliveries[0][1] == 200
        # a forged update (wrong secret) is refused by PTB
        assert await tg.post_update_to(url, {"message": {}}, secret_token="wrong") == 403
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_long_polling_blocks_until_an_update_and_offset_confirms(tg: FakeTelegramServer, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(timeout=0.3) == ()
    assert loop.time() - started >= 0.3  # held open for the timeout

    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for(lambda: tg.calls_to("getUpdates")[1:])
    started = loop.time()
    tg.inject_message(USER, "hello")
    updates = await poll
    assert loop.time() - started < 1 and updates[0].message.text == "hello"
    # not confirmed yet: served again; confirmed by offset: gone
    assert (await bot.get_updates(timeout=0))[0].update_id == updates[0].update_id
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    assert tg.pending_updates() == []


async def test_injected_media_can_be_downloaded_by_the_bot(tg: FakeTelegramServer, bot: Bot) -> None:
    tg.inject_message(USER, "my cat", photo=True)
    tg.inject_message(USER, None, document=True, file_bytes=b"hello file", file_name="notes.txt")
    tg.inject_message(USER, None, sticker=True)
    reply_to = tg.inject_message(USER, "first")["message"]["message_id"]
    tg.inject_message(USER, "answer", reply_to_message_id=reply_to)
    updates = await bot.get_updates(timeout=0)
    photo_msg, doc_msg, sticker_msg, _, reply_msg = (u.message for u in updates)
    assert photo_msg.caption == "my cat" and photo_msg.photo[-1].width == 8
    photo = await (await bot.get_file(photo_msg.photo[-1].file_id)).download_as_bytearray()
    assert bytes(photo).startswith(b"\x89PNG")
    assert doc_msg.document.file_name == "notes.txt"
    assert bytes(await (await bot.get_file(doc_msg.document.file_id)).download_as_bytearray()) == b"hello file"
    assert sticker_msg.sticker.emoji == "😺"
    assert reply_msg.reply_to_message.text == "first"


async def test_json_bodies_tokens_unknown_methods_and_latency(tg: FakeTelegramServer) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=tg.url) as client:
        body = {"chat_id": USER, "text": "json", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "1"}]]}}
        ok = (await client.post(f"/bot{tg.token}/sendMessage", json=body)).json()
        assert ok["ok"] and ok["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "1"
        bad = await client.post(f"/bot{tg.token}/editMessageText", json={"chat_id": USER, "message_id": 77, "text": "x"})
        assert bad.status_code == 400 and bad.json() == {
            "ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"}  # fmt: skip
        assert (await client.post(f"/bot{tg.token}/noSuchMethod", json={})).status_code == 404
        assert (await client.post("/bot1:wrong/getMe")).json()["error_code"] == 401
        limited = await client.post(f"/bot{tg.token}/sendMessage", data={"chat_id": str(USER), "text": "t"})
        assert limited.json()["result"]["text"] == "t"  # form bodies too
        tg.set_latency(0.2, ["getMe"])
        started = asyncio.get_running_loop().time()
        assert (await client.post(f"/bot{tg.token}/getMe")).json()["ok"]
        assert asyncio.get_running_loop().time() - started >= 0.2
