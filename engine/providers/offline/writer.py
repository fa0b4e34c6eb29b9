"""The offline JSON-schema writer: fills any schema with cozy pet text."""

from __future__ import annotations

import math
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any

from engine.providers.base import LLMRequest
from engine.providers.offline.pets import LOOKS, NAMED, detect_pet
from engine.providers.offline.seeds import stable_seed
from engine.providers.offline.text import cap, decap, fit_chars, fit_words, listing
from engine.providers.offline.themes import _EXTRA_PROPS, THEMES, Theme


_OVERLAY_LINES = {  # one caption screen each: short, and about the viewer as much as the pet
    "heartfelt": (
        "Some love fits in a sunbeam.", "Small paws never ask for much.", "Just a warm spot, and you nearby.",
        "Every slow blink says thank you.", "Home is wherever you curl up.", "This little heart is all yours.",
        "Quiet moments, full hearts.", "You are my favourite place.", "Small paws, endless trust.",
        "Love sounds like soft breathing.",
    ),
    "playful": (
        "Reserved: one warm spot. No sharing.", "Professional napper, clocking in.", "Five more minutes. Maybe ten.",
        "Do not disturb the fluff.", "Zero thoughts. Only cozy.", "Official inspector of soft things.",
        "Snacks first, then the world.", "This blanket is mine now.", "Nap level: expert.",
        "Cuteness is a full-time job.",
    ),
    "reflective": (
        "Slow down. The light will wait.", "Some days are made of small things.", "Rest is a kind of courage too.",
        "Notice the warm spots.", "Everything soft, everything still.", "Maybe this is what peace looks like.",
        "Today was simple. And enough.", "Breathe in. Breathe out.", "Joy is often very quiet.",
        "Let the moment stay a little longer.",
    ),
}
_SET_DESCRIPTIONS = {
    "heartfelt": "Tender lines about the quiet love between {subject} and their person.",
    "playful": "Light, funny lines in {subject}'s own cheeky voice.",
    "reflective": "Calm, thoughtful lines that invite the viewer to slow down.",
}
_SOCIAL_TITLES = (
    "The coziest {noun} nap of the year", "When the warm spot finally opens up", "Tiny paws, big cozy energy",
    "This is what pure calm looks like", "A warm spot and a happy heart", "Proof that naps fix everything",
    "Softest little moment of the day", "Nothing but soft paws and slow blinks",
)
_MUSIC_NAMES = ("Velvet Paw Lullaby", "Sunlit Whiskers", "Cozy Window Waltz", "Marshmallow Morning",
                "Slow Blink Serenade", "Warm Fur Nocturne", "Raindrop Reverie")
_INSTRUMENTS = ("warm felt piano", "soft nylon-string guitar", "airy alto flute", "muted string pad",
                "gentle glockenspiel", "brushed kalimba", "mellow upright bass", "hushed celesta", "breathy clarinet")
_MOODS = ("tender", "cozy", "dreamy", "hopeful", "serene", "playful", "nostalgic", "content")
_ENERGIES = ("low and gentle", "soft and steady", "calm, slowly building", "light and playful", "very low and dreamy")
_KEYS = ("C major", "D major", "F major", "G major", "A minor", "E-flat major", "B-flat major")
_STANDARD_VIDEO_NEGATIVES = (
    "morphing", "deformation", "distortion", "extra limbs", "missing limbs", "fused limbs", "blurry", "low quality",
    "flickering", "strobing", "jittering", "unnatural movement", "face distortion", "eye glitches",
    "sudden scene changes",
    "jump cuts", "extra legs", "tail splitting", "ear morphing", "eye colour change", "fur texture changing",
    "body stretching", "camera movement", "zoom", "pan",
)
_IMAGE_NEGATIVES = ("blurry", "low resolution", "extra limbs", "extra paws", "deformed face", "distorted eyes",
                    "harsh shadows", "oversaturated", "text", "watermark", "cropped ears")
_PREFERRED_ENUM = ("quiet", "calm", "serene", "gentle/flowing", "slow/meditative", "warm", "very warm/intimate",
                   "subtle", "soft", "low", "very low", "cozy", "9:16", "heartfelt", "portrait", "gentle")
_FIELD = re.compile(r"^\s*(?:[-*]\s+)?\*{0,2}([A-Za-z][A-Za-z0-9 _/&'()-]{0,40}?)\*{0,2}\s*:\s*\*{0,2}\s*(.+?)\s*$")
_MOTION_LINE = re.compile(r"^\s*[-*]\s*\*\*(.+?)\*\*\s*:\s*(.*?)\s*(?:\((.*)\))?\s*$")
_LENGTH_HINT = re.compile(r"(\d+)\s*(?:-|–|to)\s*(\d+)\s*(characters|chars|words)", re.IGNORECASE)
_MAX_HINT = re.compile(r"(?:at most|up to|no more than|max(?:imum)?)\s*(\d+)\s*(characters|chars|words)", re.IGNORECASE)
_STOP_SECTIONS = ("exclu", "avoid", "ban", "discourag", "block", "negative", "do not")


@dataclass
class _Scope:
    """Where in the schema a value is being written."""

    key: str = ""
    path: tuple[str, ...] = ()
    index: int | None = None  # position inside the nearest array
    item_index: int | None = None  # position of the nearest array-of-objects item
    theme: Theme | None = None
    theme_locked: bool = False
    objs: tuple[dict[str, Any], ...] = ()  # enclosing objects, outermost first, filled so far
    siblings: frozenset[str] = frozenset()
    length: int = 0  # how many items the nearest array gets

    def find(self, name: str) -> Any:
        """A value already written in this object or an enclosing one (e.g. a set's set_id)."""
        for obj in reversed(self.objs):
            if obj.get(name) is not None:
                return obj[name]
        return None


class _Context:
    """What the request says: pet, scene, selected motion elements, feedback."""

    def __init__(self, request: LLMRequest, image_notes: list[str]) -> None:
        # Only the user's words steer the content; earlier answers (assistant
        # messages in a retry) only change the seed.
        user_texts = [m.text for m in request.messages if m.role == "user" and m.text]
        all_parts = [f"{m.role}:{m.text or ''}:{m.image_path or ''}" for m in request.messages]
        self.seed = stable_seed(*all_parts)
        self.rng = random.Random(self.seed)
        self.text = "\n".join(user_texts + image_notes)
        self.feedback = "\n".join(
            line.split(":", 1)[1].strip()
            for line in self.text.splitlines()
            if line.strip().upper().startswith("FEEDBACK FROM USER:")
        )
        self.fields = self._fields(self.text)
        name_match = NAMED.search(self.text)
        pet_source = self.fields.get("pet_type") or self.fields.get("pet") or self.text
        self.pet = detect_pet(pet_source, name=name_match.group(1) if name_match else None)
        looks = LOOKS[self.pet.kind]
        # The look follows the scene title, so steps 3 and 5 describe the same animal,
        # unless the request (e.g. an offline picture's own prompt) already names one.
        title = self.fields.get("title") or self.fields.get("scene_title") or ""
        named = [look for look in looks if look in self.text]
        self.look = named[0] if named else looks[stable_seed(self.pet.kind, title) % len(looks)]
        self.selected, self.blocked = self._motion_lists(self.text)
        self.must_have = self._bullets_after("must appear")
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

    @staticmethod
    def _motion_lists(text: str) -> tuple[list[tuple[str, str, str]], list[str]]:
        """The spec's "Selected Motion Elements" bullets and "Elements to Block" list."""
        selected: list[tuple[str, str, str]] = []
        blocked: list[str] = []
        section = ""
        for raw in text.splitlines():
            line = raw.strip()
            lowered = line.lower()
            if line.startswith("#"):
                section = "selected" if "selected motion" in lowered else "block" if "to block" in lowered else ""
                continue
            if not line:
                continue
            if section == "selected" and (match := _MOTION_LINE.match(line)):
                selected.append((match.group(1).strip(), match.group(2).strip(), (match.group(3) or "").strip()))
            elif section == "block" and not line.endswith(":"):
                if lowered.startswith(("generate", "the pet", "all of these")):
                    section = ""
                    continue
                items = [item.strip(" -*.") for item in re.split(r",|;", line.lstrip("-* "))]
                blocked.extend(item for item in items if item)
        return selected, blocked

    def _bullets_after(self, marker: str) -> list[str]:
        """The "- item" lines that follow a line containing `marker`."""
        items: list[str] = []
        inside = False
        for line in self.text.splitlines():
            stripped = line.strip()
            if marker in stripped.lower():
                inside = True
            elif inside and stripped.startswith(("- ", "* ")):
                items.append(stripped[2:].strip())
            elif inside and stripped:
                break
        return items

    def _rank_themes(self) -> list[Theme]:
        # Score themes by trigger words outside "avoid these" sections; feedback counts triple.
        kept: list[str] = []
        skipping = False
        for line in self.text.splitlines():
            if line.lstrip().startswith("#"):
                skipping = any(word in line.lower() for word in _STOP_SECTIONS)
            if not skipping:
                kept.append(line)
        words = re.findall(r"[a-z]+", "\n".join(kept).lower())
        feedback_words = re.findall(r"[a-z]+", self.feedback.lower())
        counts: dict[str, int] = {}
        for word in words:
            counts[word] = counts.get(word, 0) + 1
        for word in feedback_words:
            counts[word] = counts.get(word, 0) + 3
        # Ties break by the request without its feedback, so a retry's order is
        # the first answer's order, moved on (below) rather than reshuffled.
        ties = random.Random(stable_seed("\n".join(k for k in kept if not k.upper().lstrip().startswith("FEEDBACK"))))
        scored = [(sum(counts.get(t, 0) for t in theme.triggers.split()), ties.random(), theme) for theme in THEMES]
        scored.sort(key=lambda item: (-item[0], item[1]))
        # The remembrance theme is for a pet that has died: never offer it unasked.
        ranked = [theme for score, _, theme in scored if score or theme.key != "heavenly"]
        unasked = [theme for theme in THEMES if theme not in ranked]
        retries = sum(1 for line in self.text.splitlines() if line.strip().upper().startswith("FEEDBACK FROM USER:"))
        steered = any(t in feedback_words for theme in THEMES for t in theme.triggers.split())
        if retries and not steered:
            # "Something different" with no hint of what: move on by three themes
            # per retry, so three new scenes share nothing with the last three.
            shift = (3 * retries) % len(ranked)
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

    def pick(self, name: str, pool: tuple[Any, ...] | list[Any], index: int | None) -> Any:
        """Distinct picks across an array (by index), one fixed shuffle per pool."""
        if not pool:
            return ""
        cache_key = name + "|" + "|".join(map(str, pool))
        order = self._orders.get(cache_key)
        if order is None:
            order = list(pool)
            random.Random(stable_seed(self.seed, cache_key)).shuffle(order)
            self._orders[cache_key] = order
        return order[(index or 0) % len(order)]

    def fill(self, template: str, theme: Theme) -> str:
        pet = self.pet
        noun = {"both": "Friends"}.get(pet.kind, pet.noun.title())
        return (
            template.replace("{Subject}", cap(pet.subject))
            .replace("{subject}", pet.subject)
            .replace("{Noun}", noun)
            .replace("{noun}", pet.noun)
            .replace("{is}", pet.is_)
            .replace("{s}", pet.s)
            .replace("{spot}", theme.spot)
            .replace("{pet_sound}", pet.sound)
        )

    def elements(self, theme: Theme) -> list[tuple[str, str, str]]:
        """The scene's animatable things, its own props first, then generic ones."""
        own = [self.pick("element:" + theme.key, theme.props, i) for i in range(len(theme.props))]
        extra = [p for p in _EXTRA_PROPS if p[0] not in {q[0] for q in theme.props}]
        return own + [self.pick("element-extra", extra, i) for i in range(len(extra))]


_MAX_DEPTH = 10  # a deep or recursive schema ($ref to itself) stops growing here


def _too_deep(scope: _Scope) -> bool:
    return len(scope.path) > _MAX_DEPTH or scope.path.count(scope.key) > 2


class _Writer:
    """Fills a JSON schema with sensible values, property by property."""

    def __init__(self, schema: dict[str, Any], ctx: _Context) -> None:
        self.root = schema
        self.ctx = ctx
        self.rng = ctx.rng

    # ---- the generic walk

    def _resolve(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                break
            target: Any = self.root
            for part in ref.lstrip("#").strip("/").split("/"):
                if part:
                    target = target[part.replace("~1", "/").replace("~0", "~")]
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **merged}
            seen += 1
        if isinstance(schema, dict) and "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self._resolve(part)
                for key, value in part.items():
                    if key in ("properties",) and key in merged:
                        merged[key] = {**merged[key], **value}
                    elif key == "required":
                        merged[key] = list(dict.fromkeys(merged.get(key, []) + list(value)))
                    else:
                        merged.setdefault(key, value)
            schema = merged
        return schema if isinstance(schema, dict) else {}

    def value(self, schema: Any, scope: _Scope) -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self._resolve(o) for o in schema[key]]
                chosen = next((o for o in options if o.get("type") != "null"), options[0] if options else {})
                base = {k: v for k, v in schema.items() if k != key}
                return self.value({**base, **chosen}, scope)
        if "enum" in schema:
            return self.enum(list(schema["enum"]), scope)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            return self.obj(schema, scope)
        if kind == "array":
            return self.array(schema, scope)
        if kind == "integer":
            return self.integer(schema, scope)
        if kind == "number":
            return self.number(schema, scope)
        if kind == "boolean":
            return self.boolean(scope)
        if kind == "null":
            return None
        return self.string(schema, scope)

    def obj(self, schema: dict[str, Any], scope: _Scope) -> dict[str, Any]:
        props: dict[str, Any] = dict(schema.get("properties") or {})
        required = list(schema.get("required", []))
        if _too_deep(scope):
            props = {name: sub for name, sub in props.items() if name in required}
        for name in required:
            props.setdefault(name, {})
        theme, locked = scope.theme, scope.theme_locked
        # An array item that is a whole concept (a scene, a music option) gets its own theme.
        concept = props.keys() & {"title", "name", "setting", "narrative", "hook"}
        if scope.item_index is not None and not locked and concept:
            theme, locked = self.ctx.themes[scope.item_index % len(self.ctx.themes)], True
        out: dict[str, Any] = {}
        objs = scope.objs + (out,)
        siblings = frozenset(props)
        for name, sub in props.items():
            child = _Scope(name, scope.path + (name,), scope.index, scope.item_index, theme, locked, objs, siblings)
            out[name] = self.value(sub, child)
        extra = schema.get("additionalProperties", True)
        want = int(schema.get("minProperties", 0))
        while len(out) < want and extra is not False:
            name = f"extra_{len(out) + 1}"
            child = _Scope(name, scope.path + (name,), scope.index, scope.item_index, theme, locked, objs, siblings)
            out[name] = self.value(extra if isinstance(extra, dict) else {"type": "string"}, child)
        return out

    def array(self, schema: dict[str, Any], scope: _Scope) -> list[Any]:
        prefix = list(schema.get("prefixItems") or [])
        items = schema.get("items", {})
        lo = int(schema.get("minItems", 0))
        hi = schema.get("maxItems")
        if items is False:  # only the prefix items are allowed
            hi = len(prefix) if hi is None else min(int(hi), len(prefix))
        if not isinstance(items, dict):
            items = {}
        count = lo if _too_deep(scope) else self.count(scope, lo, None if hi is None else int(hi))
        out: list[Any] = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            resolved = self._resolve(sub)
            is_obj = resolved.get("type") == "object" or "properties" in resolved
            child = _Scope(scope.key, scope.path, i, i if is_obj else scope.item_index,
                           scope.theme, scope.theme_locked, scope.objs, scope.siblings, count)
            value = self.value(sub, child)
            if isinstance(value, str) and value in out:
                if len(out) >= lo:
                    break  # the pool ran out: a shorter list beats a repeated item
                if schema.get("uniqueItems"):
                    value = f"{value} ({i + 1})"
            out.append(value)
        return out

    def count(self, scope: _Scope, lo: int, hi: int | None) -> int:
        wanted = None
        if scope.key == "sentences":
            wanted = self.ctx.number_field("sentences_per", "line_count", "sentence")
        elif scope.key in self.ctx.fields:  # e.g. "**Paragraphs:** 1" for an array named paragraphs
            wanted = self.ctx.number_field(scope.key)
        if wanted:
            return max(lo, min(wanted, hi if hi is not None else wanted))
        if hi is None:
            return max(lo, 3)
        base = max(lo, min(3, hi))
        return self.rng.randint(base, max(base, min(hi, base + 2)))

    def enum(self, values: list[Any], scope: _Scope) -> Any:
        if not values:
            return None
        keyword = scope.find("keyword") if scope.key == "category" else None
        if isinstance(keyword, str):
            wanted = dict((scope.theme or self.ctx.themes[0]).keywords).get(keyword)
            if wanted in values:
                return wanted
        preferred = [v for v in values if isinstance(v, str) and v.lower() in _PREFERRED_ENUM]
        if scope.index is not None:
            # Items of one array get different values; among the cozy ones when there are several.
            pool = preferred if len(preferred) > 1 else values
            return pool[scope.index % len(pool)]
        return self.rng.choice(preferred or values)

    # ---- numbers and flags

    @staticmethod
    def _bounds(schema: dict[str, Any], integer: bool) -> tuple[float | None, float | None]:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        step = 1 if integer else 1e-6
        if isinstance(schema.get("exclusiveMinimum"), (int, float)):
            lo = schema["exclusiveMinimum"] + step if lo is None else max(lo, schema["exclusiveMinimum"] + step)
        if isinstance(schema.get("exclusiveMaximum"), (int, float)):
            hi = schema["exclusiveMaximum"] - step if hi is None else min(hi, schema["exclusiveMaximum"] - step)
        return lo, hi

    def _preferred_number(self, key: str, scope: _Scope) -> float | None:
        index = scope.index or 0
        if key in ("bpm", "tempo"):
            given = self.ctx.number_field("bpm", "tempo")
            return given if given and scope.index is None else 60 + 7 * index + self.rng.randint(0, 4)
        if key == "weight":
            return 90 - 15 * index
        if key in ("id", "index", "rank", "order", "position", "number") or key.endswith(("_id", "_number", "_index")):
            return index + 1
        if any(word in key for word in ("duration", "seconds", "length")):
            return self.ctx.number_field("duration", "video_duration") or 15
        if key.startswith(("num_", "count")) or key.endswith("_count"):
            return 3
        if key == "year":
            return 2026
        if any(word in key for word in ("confidence", "probability")):
            return 0.87
        return None

    def integer(self, schema: dict[str, Any], scope: _Scope) -> int:
        lo, hi = self._bounds(schema, True)
        lo_i = math.ceil(lo) if lo is not None else None
        hi_i = math.floor(hi) if hi is not None else None
        want = self._preferred_number(scope.key.lower(), scope)
        if want is None:
            start = lo_i if lo_i is not None else (hi_i - 9 if hi_i is not None and hi_i < 1 else 1)
            want = self.rng.randint(start, hi_i if hi_i is not None else start + 9)
        value = int(round(want))
        if lo_i is not None:
            value = max(value, lo_i)
        if hi_i is not None:
            value = min(value, hi_i)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            up = value + (step - value % step)
            value = up if hi_i is None or up <= hi_i else value - value % step
        return value

    def number(self, schema: dict[str, Any], scope: _Scope) -> float:
        lo, hi = self._bounds(schema, False)
        want = self._preferred_number(scope.key.lower(), scope)
        if want is None:
            if lo is not None and hi is not None:
                want = lo + (hi - lo) * self.rng.uniform(0.3, 0.7)
            else:
                want = (lo if lo is not None else 0.0) + self.rng.uniform(0.5, 5)
        value = float(want)
        if lo is not None:
            value = max(value, float(lo))
        if hi is not None:
            value = min(value, float(hi))
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            value = round(round(value / step) * step, 10)
            if hi is not None and value > hi:
                value = round(value - step, 10)
            if lo is not None and value < lo:
                value = round(value + step, 10)
        return round(value, 3) if not step else value

    def boolean(self, scope: _Scope) -> bool:
        key = scope.key.lower()
        if key.startswith(("is_", "has_", "include", "allow", "use", "enable", "loop")):
            return True
        return self.rng.random() < 0.5

    # ---- strings

    def string(self, schema: dict[str, Any], scope: _Scope) -> str:
        fmt = schema.get("format")
        text = self._formatted(fmt) if fmt else None
        if text is None:
            text = self.text_for(scope, str(schema.get("description", "")).lower())
        lo = int(schema.get("minLength", 0))
        hi = schema.get("maxLength")
        description = str(schema.get("description", ""))
        if hint := _LENGTH_HINT.search(description):
            hint_lo, hint_hi, unit = int(hint.group(1)), int(hint.group(2)), hint.group(3).lower()
        elif hint := _MAX_HINT.search(description):
            hint_lo, hint_hi, unit = 0, int(hint.group(1)), hint.group(2).lower()
        if hint and unit == "words":
            text = fit_words(text, hint_lo, hint_hi)
        elif hint and "minLength" not in schema and "maxLength" not in schema:
            lo, hi = hint_lo, hint_hi
        text = fit_chars(text, lo, None if hi is None else int(hi))
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, text):
            slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
            for candidate in (slug, slug.replace("_", "-"), "cozy", "Cozy", "1", "a", "2026-01-01", "#f6d7a7"):
                if re.search(pattern, candidate):
                    return candidate
        return text

    def _formatted(self, fmt: str) -> str | None:
        return {
            "date-time": "2026-01-01T09:00:00Z", "date": "2026-01-01", "time": "09:00:00Z",
            "email": "hello@example.com", "uri": "https://example.com/cozy-pet", "url": "https://example.com/cozy-pet",
            "hostname": "example.com", "duration": "PT15S",
            "uuid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
        }.get(fmt)

    def text_for(self, scope: _Scope, hint: str = "") -> str:
        """The string for one property, chosen by its name, where it sits and its description."""
        ctx, pet = self.ctx, self.ctx.pet
        theme = scope.theme or ctx.themes[0]
        key = scope.key.lower()
        path = "/".join(scope.path).lower()
        i = scope.index
        music = bool(scope.siblings & {"bpm", "instruments", "tempo", "track_title"}) or "music" in path \
            or "music" in hint or "elevenlabs" in hint
        video = bool(ctx.selected) or any(w in path for w in ("sora", "veo", "kling", "video", "motion")) \
            or "motion_strength" in scope.siblings
        fill = lambda t: ctx.fill(t, theme)  # noqa: E731
        elements = ctx.elements(theme)

        # --- step 4: the picture's environment, motion and sound
        if key in ("element", "motion_type", "location") and {"element", "motion_type"} <= scope.siblings:
            element = elements[(i or 0) % len(elements)]
            return {"element": element[0], "motion_type": element[1], "location": element[2]}[key]
        if key == "all_potential_elements":
            names = [e[0] for e in elements] + list(pet.parts)
            return names[(i or 0) % len(names)]
        if key in ("setting", "environment"):
            return cap(theme.setting)
        if key == "time_of_day":
            return theme.time_of_day
        if key == "weather":
            return theme.weather
        if key == "location_type":
            return theme.location_type
        if key == "location":
            return theme.location_type
        if key == "lighting":
            return cap(theme.lighting)
        if key == "atmosphere":
            return cap(theme.atmosphere)
        if key in ("key_subjects", "subjects"):
            return ([ctx.look] + list(theme.subjects))[(i or 0) % (len(theme.subjects) + 1)]
        if key in ("dominant_colors", "colors", "colours", "color", "colour", "palette"):
            return ctx.pick("color:" + theme.key, theme.colors, i)
        if key in ("implied_sounds", "sounds", "ambient_sounds"):
            return fill(ctx.pick("sound:" + theme.key, theme.sounds, i))
        if key == "era_feel":
            return cap(theme.era)
        if key == "cultural_context":
            return cap(theme.culture)
        if "genre" in key:
            return ctx.pick("genre:" + theme.key, theme.genres + ("lo-fi chillhop", "soft ambient"), i)
        if key in ("musical_texture", "texture"):
            return cap(theme.texture)

        # --- step 2: scene ideas
        if key == "scene_title" and (ctx.fields.get("title") or ctx.fields.get("scene_title")):
            return ctx.fields.get("title") or ctx.fields["scene_title"]
        if key in ("title", "scene_title", "heading") and not music:
            return fill(ctx.pick("title:" + theme.key, theme.titles, None))
        if key == "hook":
            hooks = ("What happens when {a_noun} find{s} {spot}?",
                     "Every day, {subject} {has} one very important appointment with {spot}.",
                     "Nobody told {subject} that {spot} was already taken.")
            # Sibling scenes (item_index) each get their own opening line.
            return cap(fill(ctx.pick("hook", hooks, scope.item_index).replace("{a_noun}", pet.a_noun)
                             .replace("{has}", "have" if pet.plural else "has")))
        if key in ("narrative", "story", "summary", "scene_summary"):
            has = "have" if pet.plural else "has"
            openings = (f"{cap(theme.setting)} is quiet, and {pet.subject} {pet.is_} the first to find {theme.spot}.",
                        f"It starts in {theme.setting}, where {pet.subject} {has} just found {theme.spot}.",
                        f"In {theme.setting}, {pet.subject} {has} claimed {theme.spot}.")
            endings = ("By the end, everything seems to breathe a little slower.",
                       "It ends in a slow blink that says: this is home.",
                       "The moment melts into pure, quiet contentment.")
            return " ".join((ctx.pick("story-open", openings, scope.item_index),
                             f"{cap(pet.subject)} {pet.is_} {theme.behavior}.",
                             ctx.pick("story-end", endings, scope.item_index)))
        if key in ("visual_moments", "moments", "key_moments", "shots"):
            return cap(fill(ctx.pick("moment:" + theme.key, theme.moments, i)))
        if key == "key_moment":
            return cap(fill(theme.moments[0])) + f", {theme.lighting}"
        if key in ("pet_behavior", "behavior", "behaviour", "action"):
            return cap(theme.behavior)
        if key in ("emotional_arc", "arc"):
            return theme.arc
        if key == "keyword":
            return ctx.pick("keyword:" + theme.key, [k for k, _ in theme.keywords], i)
        if key == "category":
            return "setting"

        # --- step 8: a music prompt (before the image/video prompts, which share key names)
        if music and "prompt" in key and not key.startswith("elevenlabs_prompt"):
            return f"{self._music_prompt('precise', theme)}. {self._music_prompt('evocative', theme)}."
        if music and "note" in key:
            return "Keep it low under the captions, let the melody breathe, and fade out with the final shot."

        # --- steps 3 and 5: image and video prompts
        if key in ("negative_prompt", "negative"):
            if video:
                return self._video_negative(theme)
            extra = [w.strip() for w in ctx.fields.get("negative_keywords", "").split(",") if w.strip()]
            return ", ".join(dict.fromkeys(list(_IMAGE_NEGATIVES) + extra))
        if key in ("prompt", "positive_prompt", "natural_prompt", "image_prompt", "video_prompt", "text_prompt"):
            if video:
                return self._video_prompt(theme, natural=key != "positive_prompt", with_audio="veo" in path)
            # The aesthetic's "must appear" elements and keywords, when the request lists them.
            extras = ctx.must_have[:3] + [w.strip() for w in ctx.fields.get("positive_keywords", "").split(",")][:3]
            extras = [e for e in extras if e]
            if key == "natural_prompt" or "openai" in path:
                also = f" Include {listing(extras)}." if extras else ""
                return (f"A heartwarming photo of {ctx.look}, {theme.behavior}, in {theme.setting}. "
                        f"{cap(theme.lighting)}, a {', '.join(theme.colors[:3])} palette, shallow depth of field, "
                        f"vertical 9:16 framing with the face in the upper half.{also}")
            return ", ".join([ctx.look, theme.behavior, theme.setting, theme.lighting,
                              f"{', '.join(theme.colors[:3])} palette", *extras, "cozy heartwarming mood",
                              "photorealistic", "shallow depth of field", "vertical 9:16 composition"])
        if key in ("tag_prompt", "tags_prompt"):
            tags = [pet.noun, "cute", "cozy", theme.key, *theme.subjects[:3], theme.time_of_day,
                    "soft light", "photorealistic", "shallow depth of field", "vertical"]
            return ", ".join(tags)
        if key == "motion_strength":
            return "subtle"
        if key == "motion_summary":
            moving = ctx.selected or elements[:2]
            parts = [f"{e[1]} of the {e[0]}" if e[1] else f"the {e[0]}" for e in moving]
            return cap(f"{listing(parts)} around a perfectly still {pet.noun}, in a slow, seamless loop.")
        if key == "motion_notes":
            moving = ctx.selected or elements[:2]
            parts = [f"{e[0]} ({e[1]})" if e[1] else e[0] for e in moving]
            tails = ("with slow, seamless, looping motion.", "so the clip loops without a visible seam.",
                     "at a calm, breathing pace.")
            return (f"Animate only the {listing(parts)}; keep {pet.subject} and the camera completely still, "
                    f"{ctx.pick('notes-tail', tails, None)}")
        if key == "style_notes":
            if video:
                notes = ("Preserve the source image's lighting, colours and framing; photorealistic; motion slow "
                         "and subtle; locked-off camera; no cuts.",
                         "Match the still exactly: same light, palette and composition; gentle, realistic motion "
                         "only; no camera moves.",
                         "Photorealistic and calm; keep colours and lighting identical to the source; subtle "
                         "looping motion; static framing.")
                return ctx.pick("video-style", notes, None)
            return f"Soft pastel grading with {theme.colors[0]} highlights, gentle film grain, eyes tack-sharp."
        if key == "camera_notes":
            return ("Eye-level close-up at the pet's height, 50 mm look, shallow depth of field focused on the eyes; "
                    "leave calm space at the top for captions.")
        if "audio" in key or "sound" in key:
            return f"Soft ambient sound: {fill(listing(list(theme.sounds[:3])))}; no music, no speech."

        # --- step 6: captions
        if key == "set_description":
            set_id = str(scope.find("set_id") or "heartfelt")
            return fill(_SET_DESCRIPTIONS.get(set_id, _SET_DESCRIPTIONS["heartfelt"]))
        if key in ("sentences", "lines", "caption", "overlay", "line"):
            set_id = str(scope.find("set_id") or "heartfelt")
            lines = _OVERLAY_LINES.get(set_id, _OVERLAY_LINES["heartfelt"])
            # Paragraph 2 continues where paragraph 1 stopped, so no line repeats.
            offset = (scope.item_index or 0) * max(1, scope.length) if key == "sentences" else 0
            return fill(ctx.pick("overlay:" + set_id, lines, (i or 0) + offset))

        # --- step 7: titles and descriptions
        if key in ("titles", "social_titles"):
            return cap(fill(ctx.pick("social", _SOCIAL_TITLES, i)))
        if key == "emojis":
            return pet.emojis
        if key in ("angle", "approach", "tone"):
            angles = ("Cozy storytelling", "Pet's inner voice", "Gentle question", "Relatable moment",
                      "Calm invitation")
            return ctx.pick("angle", angles, i)
        if key == "text" and "emojis" in scope.siblings:
            return self._social_text(theme, i or 0)
        if key in ("hashtags", "tags"):
            tags = (f"#{pet.noun.replace(' and ', '')}", "#cozyvibes", "#petsofinstagram", f"#{theme.key}",
                    "#wholesome")
            return ctx.pick("tags", tags, i)

        # --- step 8: music
        if key == "name" and music:
            return ctx.pick("music_name", _MUSIC_NAMES, i)
        if key == "description" and music:
            first, second = (ctx.pick("instrument", _INSTRUMENTS, (i or 0) * 2 + k) for k in range(2))
            mood = ctx.pick("mood", _MOODS, i)
            core = f"A slow, {mood} {theme.genres[0]}: {first} and {second} drifting like {theme.spot}"
            for text in (f"{core}, made for sleepy pet moments.", f"{core}.", f"A slow, gentle {theme.genres[0]} "
                         f"with {first} and {second}, soft as fur."):
                if 15 <= len(text.split()) <= 25:
                    return text
            return fit_words(f"{core}.", 15, 25)
        if key == "key" and music:
            return ctx.fields.get("key") or ctx.pick("key", _KEYS, i)
        if key == "instruments":
            return ctx.pick("instrument", _INSTRUMENTS, (scope.item_index or 0) * 2 + (i or 0))
        if key == "mood":
            if i is None:
                return f"{ctx.pick('mood', _MOODS, 0)} and {ctx.pick('mood', _MOODS, 1)}"
            return ctx.pick("mood", _MOODS, (scope.item_index or 0) + i)
        if key == "energy":
            return ctx.pick("energy", _ENERGIES, scope.item_index)
        if key == "track_title":
            return ctx.fields.get("name") or ctx.pick("music_name", _MUSIC_NAMES, None)
        if key.startswith("elevenlabs_prompt"):
            return self._music_prompt(key, theme)

        # --- anything else: still about this pet and this scene
        if key in ("name", "pet_name"):
            if not pet.subject.startswith("the "):  # the user named the pet
                return pet.subject
            return ctx.pick("pet_name", ("Miso", "Biscuit", "Luna", "Pip"), i)
        if key in ("label",):
            return cap(fill(ctx.pick("title:" + theme.key, theme.titles, i)))
        if key == "id" or key.endswith("_id"):
            return f"{(scope.path[-2] if len(scope.path) > 1 else key).rstrip('s')}_{(i or 0) + 1}"
        if key in ("url", "uri", "link"):
            return "https://example.com/cozy-pet"
        if key in ("language", "lang"):
            return "en"
        if "note" in key or key in ("reason", "rationale", "why", "explanation"):
            return f"Keeps the focus on {pet.subject} and the calm of {theme.setting}."
        if key in ("description", "details", "content", "message", "answer", "response", "text"):
            return f"{cap(pet.subject)} {pet.is_} {theme.behavior} in {theme.setting}."
        moment = fill(ctx.pick("moment:" + theme.key, theme.moments, i))
        return cap(f"{moment} in {theme.setting}")

    # ---- the longer pieces

    def _video_prompt(self, theme: Theme, *, natural: bool, with_audio: bool) -> str:
        ctx = self.ctx
        moving = ctx.selected or ctx.elements(theme)[:2]
        # The analysed picture's own setting and light, when the request quotes them.
        setting = decap(ctx.fields.get("setting") or theme.setting).rstrip(".")
        lighting = decap(ctx.fields.get("lighting") or theme.lighting).rstrip(".")
        parts = []
        for element, motion, where in moving:
            detail = ", ".join(x for x in (motion, where) if x)
            parts.append(f"{element} ({detail})" if detail else element)
        look = cap(ctx.look)
        # A few phrasings, chosen by the seed, so a retry with feedback reads differently.
        if natural:
            openings = (f"A locked-off vertical shot of {setting}.", f"A calm, static vertical frame of {setting}.",
                        f"A still camera rests on {setting}.")
            middles = (f"{look} rests perfectly still, eyes soft and calm.",
                       f"{look} stays completely still, peaceful and relaxed.",
                       f"{look} holds a perfectly still, sleepy pose.")
            text = (f"{ctx.pick('video-open', openings, None)} {ctx.pick('video-mid', middles, None)} "
                    f"Only a few things move, slowly and subtly: {listing(parts)}. "
                    f"{cap(lighting)}; photorealistic, cozy and heartwarming, seamless loop.")
        else:
            endings = ("smooth subtle looping motion, photorealistic, cozy, 9:16 vertical",
                       "gentle natural motion, seamless loop, photorealistic detail, 9:16 vertical",
                       "slow delicate movement, soft focus background, photorealistic, 9:16 vertical")
            text = (f"{look} resting perfectly still in {setting}; only the scene moves: {'; '.join(parts)}. "
                    f"Static camera, {lighting}, {ctx.pick('video-end', endings, None)}")
        if with_audio:
            text += f" Ambient sound: {ctx.fill(listing(list(theme.sounds[:2])), theme)}, no music."
        return text

    def _video_negative(self, theme: Theme) -> str:
        ctx = self.ctx
        selected = {name.lower() for name, _, _ in ctx.selected}
        # The system prompt blocks only what was not picked; the picked ones must move.
        blocked = [b for b in ctx.blocked if b.lower() not in selected]
        if not ctx.blocked:
            blocked = [e[0] for e in ctx.elements(theme)[2:5]]
        return ", ".join(list(_STANDARD_VIDEO_NEGATIVES) + [f"moving {b}" for b in blocked] + ["moving pet"])

    def _social_text(self, theme: Theme, index: int) -> str:
        ctx, pet = self.ctx, self.ctx.pet
        openers = (f"{cap(pet.subject)} found {theme.spot} and decided it was theirs forever.",
                   f"{cap(pet.subject)} on a slow {theme.time_of_day}, and honestly, same.",
                   f"Some days call for nothing more than {theme.spot}.",
                   f"{cap(pet.subject)} {pet.is_} {theme.behavior}.",
                   f"A tiny moment from {theme.setting}.")
        middles = (f"{cap(theme.lighting)} does the rest.", "Every slow blink is a little thank-you.",
                   "No plans, no rush, just soft fur and warm light.", f"The {theme.subjects[0]} was a bonus.",
                   "We could watch this on repeat.")
        closers = ("Tag someone who needs a cozy break....", "Who else wants a nap like this....",
                   "Sending you a little calm today....", "Save this for a slow evening....",
                   "Follow for more soft moments....")
        return " ".join((ctx.pick("opener", openers, index), ctx.pick("middle", middles, index),
                         ctx.pick("closer", closers, index)))

    def _music_prompt(self, key: str, theme: Theme) -> str:
        ctx = self.ctx
        bpm = ctx.number_field("bpm", "tempo") or 72
        music_key = ctx.fields.get("key") or _KEYS[0]
        seconds = ctx.number_field("track_length", "sound_track", "soundtrack", "music_length", "duration") or 20
        instruments = ctx.fields.get("instruments") or listing(list(_INSTRUMENTS[:3]))
        if "voice" in key:
            lines = [ctx.fill(line, theme) for line in _OVERLAY_LINES["heartfelt"][:2]]
            return (f"Very soft {instruments} bed, low in the mix, under a warm, gentle narrator with a smiling, "
                    f"unhurried voice reading: \"{' '.join(lines)}\" - voiceover only")
        if "evocative" in key:
            return fit_chars(f"Like {theme.spot}: {theme.atmosphere}, {theme.texture}, slow swells and a hopeful glow "
                              "that settles into quiet contentment, instrumental", 150, 200)
        return fit_chars(f"Gentle instrumental lullaby, {bpm} BPM, {music_key}: {instruments}; soft steady pulse, "
                          f"no drums, warm intimate mix, {seconds} seconds, seamless ending", 150, 200)
