"""Compact, signed callback data for inline buttons.

Telegram gives a button at most 64 bytes of `callback_data` and hands it back
verbatim when the button is pressed, from any client, possibly days later.
So the data must (1) fit, (2) say which interaction it belongs to, so a tap on
an old keyboard is recognised as stale and refused, and (3) be unforgeable:
a client can send any bytes it likes as callback data.

Wire form (ASCII apart from `arg`)::

    v1|<action>|<ikey>|<arg>|<mac>

- `action`: one of `ACTIONS` (what the button does);
- `ikey`: `interaction_key(interaction_id)`, 8 chars of base32 SHA-256 of the
  interaction id; interaction ids are unique, so it names run + interaction;
- `arg`: short action argument (an index, `"2.1"`, a content key...); may be
  empty and may hold `|` or any UTF-8 text as long as the whole fits;
- `mac`: 8 chars of base32 HMAC-SHA256(secret, everything before it).

`encode` raises `ValueError` when the result would exceed 64 bytes;
`decode` returns None for anything malformed, unknown or forged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from engine.presentation.forms import short_hash

VERSION = "v1"
MAX_BYTES = 64
KEY_LENGTH = 8
MAC_LENGTH = 8
SEP = "|"

ACTIONS: frozenset[str] = frozenset(
    {
        "pick",  # single-select: choose option <arg> (index into the selectable items)
        "toggle",  # multi-select: flip option <arg>
        "confirm",  # multi-select / review: done with the current choice
        "opt",  # retryable option <arg> (index into retryable.options)
        "gen",  # media: start a generation on panel <arg> ("<panel>.<params signature>")
        "param",  # media: change a parameter ("<panel>.<field>" cycles, "<panel>.<field>.<value>" sets)
        "choose",  # media: pick generated content <arg> (content_key)
        "text-default",  # text input: use the default value
        "skip",  # text input: answer empty
        "file-skip",  # file input: go on without a file
        "photo-new",  # a photo sent at another question: start over with it (names the run it stops)
        "photo-keep",  # ... or keep going with the current run
        "page",  # show page <arg> of a long option list
        "info",  # the question's details ("1") or its short list ("0") in place
        "settings",  # media: open a provider's settings in place (<arg> = panel), "" closes them
        "forget",  # delete the person's data ("yes") or not ("no")
        "new",  # start a new run
        "cancel",  # cancel the run / the pending feedback prompt
        "hist",  # show the run's history
        "resume",  # present the pending interaction again
        "noop",  # a label-only button
        "yes",  # typed words understood: do what was proposed (<arg> = the proposal's key)
        "no",  # ... or leave the question as it was
    }
)


@dataclass(frozen=True)
class CallbackData:
    action: str
    ikey: str
    arg: str = ""

    def matches(self, interaction_id: str) -> bool:
        """True when this data was made for `interaction_id`."""
        return hmac.compare_digest(self.ikey, interaction_key(interaction_id))

    def args(self) -> list[str]:
        """`arg` split on "." (e.g. "1.3" -> ["1", "3"]); [] when empty."""
        return self.arg.split(".") if self.arg else []

    def int_args(self) -> list[int] | None:
        """`args()` as integers, or None when any part is not a plain integer."""
        parts = self.args()
        if not all(p.isascii() and p.isdigit() for p in parts):
            return None
        return [int(p) for p in parts]


def _b32(digest: bytes, length: int) -> str:
    return base64.b32encode(digest).decode("ascii").lower()[:length]


def interaction_key(interaction_id: str) -> str:
    """A short stable token naming an interaction (8 base32 chars, 40 bits)."""
    return short_hash(interaction_id, KEY_LENGTH)


def short_key(value: str, length: int = 6) -> str:
    """A short stable token for any id: `engine.presentation.short_hash`, which
    names generated contents (a "choose" button's arg) and parameter sets."""
    return short_hash(value, length)


def _secret_bytes(secret: str | bytes) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not secret:
        raise ValueError("the callback secret must not be empty")
    return secret


def _mac(body: str, secret: str | bytes) -> str:
    digest = hmac.new(_secret_bytes(secret), body.encode("utf-8"), hashlib.sha256).digest()
    return _b32(digest, MAC_LENGTH)


def encode(action: str, interaction_id: str, arg: str | int, secret: str | bytes) -> str:
    """Signed callback data for `action` on `interaction_id`; ValueError if it can't fit."""
    if action not in ACTIONS:
        raise ValueError(f"unknown callback action {action!r}")
    arg = str(arg)
    body = SEP.join((VERSION, action, interaction_key(interaction_id), arg))
    data = f"{body}{SEP}{_mac(body, secret)}"
    size = len(data.encode("utf-8"))
    if size > MAX_BYTES:
        raise ValueError(f"callback data is {size} bytes, Telegram allows {MAX_BYTES}: arg {arg!r} is too long")
    return data


def max_arg_bytes(action: str) -> int:
    """How many UTF-8 bytes of `arg` fit with `action`."""
    overhead = len(VERSION) + len(action) + KEY_LENGTH + MAC_LENGTH + 4 * len(SEP)
    return MAX_BYTES - overhead


def decode(data: str | bytes | None, secret: str | bytes) -> CallbackData | None:
    """The verified content of callback data, or None (malformed, unknown action, forged)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(data, str) or len(data.encode("utf-8")) > MAX_BYTES:
        return None
    body, sep, mac = data.rpartition(SEP)
    if not sep:
        return None
    parts = body.split(SEP, 3)
    if len(parts) != 4:
        return None
    version, action, ikey, arg = parts
    if version != VERSION or action not in ACTIONS or len(ikey) != KEY_LENGTH or len(mac) != MAC_LENGTH:
        return None
    if not hmac.compare_digest(mac.encode("utf-8"), _mac(body, secret).encode("utf-8")):
        return None
    return CallbackData(action=action, ikey=ikey, arg=arg)
