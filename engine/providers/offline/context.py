"""What a request to the offline writer says: the pet, its fields, the scenes it calls for.

Which fields and headings to read comes from the writer data's `request`
section (`pet_fields`, `look_fields`, `photo_look_fields`, `selected_headings`, `blocked_headings`,
`blocked_stop`, `must_have_markers`, `avoid_headings`, `themes_per_retry`).
"""

from __future__ import annotations

import random
import re
from typing import Any

from engine.providers.base import LLMRequest
from engine.providers.offline.pets import NAMED, detect_pet
from engine.providers.offline.seeds import stable_seed
from engine.providers.offline.writer_data import Element, Theme, WriterData

FEEDBACK_PREFIX = "FEEDBACK FROM USER:"  # how the engine appends a person's retry feedback
_FIELD = re.compile(r"^\s*(?:[-*]\s+)?\*{0,2}([A-Za-z][A-Za-z0-9 _/&'()-]{0,40}?)\*{0,2}\s*:\s*\*{0,2}\s*(.+?)\s*$")
_ELEMENT_LINE = re.compile(r"^\s*[-*]\s*\*\*(.+?)\*\*\s*:\s*(.*?)\s*(?:\((.*)\))?\s*$")


class RequestContext:
    """The request, read once: pet, "**Field:** value" lines, selected and blocked elements, ranked themes."""

    def __init__(self, request: LLMRequest, image_notes: list[str], data: WriterData) -> None:
        self.data = data
        # Only the user's words steer the content; earlier answers (assistant
        # messages in a retry) only change the seed.
        user_texts = [m.text for m in request.messages if m.role == "user" and m.text]
        all_parts = [f"{m.role}:{m.text or ''}:{m.image_path or ''}" for m in request.messages]
        self.seed = stable_seed(*all_parts)
        self.rng = random.Random(self.seed)
        self.text = "\n".join(user_texts + image_notes)
        self.feedback_lines = [line.split(":", 1)[1].strip() for line in self.text.splitlines()
                               if line.strip().upper().startswith(FEEDBACK_PREFIX)]
        self.fields = self._fields(self.text)
        name_match = NAMED.search(self.text)
        pet_source = next((self.fields[f] for f in data.request_words("pet_fields") if self.fields.get(f)), self.text)
        self.pet = detect_pet(pet_source, name=name_match.group(1) if name_match else None)
        # The look follows e.g. the scene title, so every step describes the same
        # animal, unless the request (e.g. an offline picture's own prompt) names one.
        looks = self.pet.looks or ("a fluffy little pet",)
        title = next((self.fields[f] for f in data.request_words("look_fields") if self.fields.get(f)), "")
        named = [look for look in looks if look in self.text]
        self.look = named[0] if named else looks[stable_seed(self.pet.kind, title) % len(looks)]
        # the person's own pet: a request that describes it (`photo_look_fields`), or a photo's colours
        photo_look = next((self.fields[f] for f in data.request_words("photo_look_fields") if self.fields.get(f)), "")
        if photo_look:
            self.look = photo_look
        elif self.fields.get("photo_colours"):
            self.look = f"{self.pet.a_noun.split(' ', 1)[0]} {self.fields['photo_colours'].replace(', ', ' and ')} " \
                        f"{self.pet.noun}"
        self.selected, self.blocked = self._element_lists()
        self.must_have = self._bullets_after(data.request_words("must_have_markers"))
        self.themes = self._rank_themes()
        self._orders: dict[str, list[Any]] = {}

    # ---- reading the input

    @staticmethod
    def _fields(text: str) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in text.splitlines():
            if match := _FIELD.match(line):
                key = re.sub(r"[^a-z0-9]+", "_", match.group(1).lower()).strip("_")
                fields.setdefault(key, match.group(2).strip("* "))
        return fields

    def _element_lists(self) -> tuple[list[Element], list[str]]:
        """The "- **name**: motion (where)" bullets under a selected heading, and the list under a blocked one."""
        selected_headings = self.data.request_words("selected_headings")
        blocked_headings = self.data.request_words("blocked_headings")
        stops = self.data.request_words("blocked_stop")
        selected: list[Element] = []
        blocked: list[str] = []
        section = ""
        for raw in self.text.splitlines():
            line = raw.strip()
            lowered = line.lower()
            if line.startswith("#"):
                section = "selected" if any(h in lowered for h in selected_headings) else \
                    "block" if any(h in lowered for h in blocked_headings) else ""
                continue
            if not line:
                continue
            if section == "selected" and (match := _ELEMENT_LINE.match(line)):
                selected.append(Element(match.group(1).strip(), match.group(2).strip(), (match.group(3) or "").strip()))
            elif section == "block" and not line.endswith(":"):
                if stops and lowered.startswith(stops):
                    section = ""
                    continue
                items = [item.strip(" -*.") for item in re.split(r",|;", line.lstrip("-* "))]
                blocked.extend(item for item in items if item)
        return selected, blocked

    def _bullets_after(self, markers: tuple[str, ...]) -> list[str]:
        """The "- item" lines that follow a line containing one of `markers`."""
        items: list[str] = []
        inside = False
        for line in self.text.splitlines():
            stripped = line.strip()
            if markers and any(marker in stripped.lower() for marker in markers):
                inside = True
            elif inside and stripped.startswith(("- ", "* ")):
                items.append(stripped[2:].strip())
            elif inside and stripped:
                break
        return items

    def _rank_themes(self) -> list[Theme]:
        # Score themes by trigger words outside "avoid these" sections; feedback counts triple.
        themes = self.data.themes
        avoid = self.data.request_words("avoid_headings")
        kept: list[str] = []
        skipping = False
        for line in self.text.splitlines():
            if line.lstrip().startswith("#"):
                skipping = any(word in line.lower() for word in avoid)
            if not skipping:
                kept.append(line)
        words = re.findall(r"[a-z]+", "\n".join(kept).lower())
        feedback_words = re.findall(r"[a-z]+", "\n".join(self.feedback_lines).lower())
        counts: dict[str, int] = {}
        for word in words:
            counts[word] = counts.get(word, 0) + 1
        for word in feedback_words:
            counts[word] = counts.get(word, 0) + 3
        # Ties break by the request without its feedback, so a retry's order is
        # the first answer's order, moved on (below) rather than reshuffled.
        ties = random.Random(stable_seed("\n".join(k for k in kept
                                                   if not k.upper().lstrip().startswith("FEEDBACK"))))
        scored = [(sum(counts.get(t, 0) for t in theme.triggers), ties.random(), theme) for theme in themes]
        scored.sort(key=lambda item: (-item[0], item[1]))
        # Some themes (a pet that has died) are never offered unasked.
        ranked = [theme for score, _, theme in scored if score or not theme.only_when_asked] or list(themes)
        unasked = [theme for theme in themes if theme not in ranked]
        steered = any(t in feedback_words for theme in themes for t in theme.triggers)
        if self.feedback_lines and not steered:
            # "Something different" with no hint of what: move on by a few themes
            # per retry, so the new ideas share nothing with the last ones.
            step = int(self.data.request.get("themes_per_retry", 3))
            shift = (step * len(self.feedback_lines)) % len(ranked)
            ranked = ranked[shift:] + ranked[:shift]
        return ranked + unasked

    def number_field(self, *needles: str) -> int | None:
        """The first number in an input field whose name contains a needle (earlier needles win)."""
        for needle in needles:
            for key, value in self.fields.items():
                if needle in key and (match := re.search(r"\d+", value)):
                    return int(match.group())
        return None

    # ---- choosing

    def shuffled(self, name: str, pool: list[Any] | tuple[Any, ...]) -> list[Any]:
        """One fixed shuffle per pool, so picks by index are distinct across an array."""
        cache_key = name + "|" + "|".join(map(str, pool))
        order = self._orders.get(cache_key)
        if order is None:
            order = list(pool)
            random.Random(stable_seed(self.seed, cache_key)).shuffle(order)
            self._orders[cache_key] = order
        return order

    def elements(self, theme: Theme) -> list[Element]:
        """The scene's animatable things, its own first, then generic ones."""
        own = self.shuffled("element:" + theme.key, theme.elements) if theme.elements else []
        names = {e.name for e in theme.elements}
        extra = [e for e in self.data.extra_elements if e.name not in names]
        return own + (self.shuffled("element-extra", extra) if extra else []) or [Element("soft light")]

    def moving_for(self, theme: Theme) -> list[Element]:
        """What moves: the elements the person selected, or the scene's first two."""
        return self.selected or self.elements(theme)[:2]

    def blocked_for(self, theme: Theme) -> list[str]:
        """What must stay still: the blocked list less what was selected, or a few of the scene's others."""
        if not self.blocked:
            return [e.name for e in self.elements(theme)[2:5]]
        selected = {e.name.lower() for e in self.selected}
        return [b for b in self.blocked if b.lower() not in selected]
