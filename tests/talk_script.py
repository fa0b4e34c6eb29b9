"""A scripted, test-side interpreter for the fake OpenAI server's answers to
understanding calls. It is not a model: it looks the person's words up in a
table (what a good model would answer) and turns the offer's label into the
code the request lists, so the tests measure the plumbing (request shape,
strict schema, SDK round trip) and the engine's validation, not a model's
quality. Any other call is answered by the offline writer."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from engine.understanding.llm import CLOSE, OPEN, SCHEMA_NAME
from tests.players import offline_answer

Script = dict[str, tuple[str, list[int], str | None]]  # words -> (kind, numbers, offer label or "!code")


def _texts(body: dict[str, Any]) -> list[str]:
    return [part.get("text", "") for item in body.get("input") or [] for part in item.get("content") or []]


def is_understanding(body: dict[str, Any]) -> bool:
    return ((body.get("text") or {}).get("format") or {}).get("name") == SCHEMA_NAME


def message_of(body: dict[str, Any]) -> str:
    """The person's words, between the markers."""
    for text in reversed(_texts(body)):  # the message comes last (the instructions name the markers too)
        if OPEN in text:
            return text.split(OPEN, 1)[1].split(CLOSE, 1)[0].strip()
    raise AssertionError("an understanding request without the person's message")


def code_of(body: dict[str, Any], label: str) -> str | None:
    """The code the request gives the offer with this label ("R1: New scene ideas")."""
    for text in _texts(body):
        for line in text.splitlines():
            found = re.match(r"^([A-Z]\d*): (.*)$", line)
            if found and label.lower() in found.group(2).lower():
                return found.group(1)
    return None


def scripted(script: Script, calls: list[str] | None = None) -> Callable[[dict[str, Any]], Awaitable[str]]:
    """An `answer_with` for understanding calls: the script's answer for the
    message, "unclear" for words it does not know. `calls` collects the messages."""

    table = {words.lower(): meaning for words, meaning in script.items()}

    async def answer(body: dict[str, Any]) -> str:
        words = message_of(body)
        if calls is not None:
            calls.append(words)
        kind, numbers, label = table.get(words.lower(), ("unclear", [], None))
        code = label[1:] if label and label.startswith("!") else code_of(body, label) if label else None
        return json.dumps({"kind": kind, "numbers": numbers, "option": code})

    return answer


def online(script: Script, calls: list[str] | None = None) -> Callable[[dict[str, Any]], Awaitable[str]]:
    """Understanding calls scripted, every other call written by the offline writer."""
    understand = scripted(script, calls)

    async def answer(body: dict[str, Any]) -> str:
        return await (understand(body) if is_understanding(body) else offline_answer(body))

    return answer
