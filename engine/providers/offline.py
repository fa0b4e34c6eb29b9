"""Offline stand-ins for every provider: no network, no key, real output.

Used whenever a provider has no API key, in all tests and in `make demo`.

* `OfflineLLM` fills any JSON schema with text that reads like a cozy pet
  channel's writer wrote it: strings are chosen by property name and by the
  scene the request talks about, and it honours the spec's step 5 contract
  (selected motion elements in the positive prompts, blocked ones in the
  negative prompt). Same messages -> same answer; feedback -> a new answer.
* The media providers follow the durable job shape of `base.py` with no
  in-memory state: everything fetch() needs travels in `provider_data`, and
  the output files are named after the job id, so a restarted process can
  poll and fetch, and a second fetch returns the files already on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import random
import re
import tempfile
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from engine.media import CAPTION_FONT
from engine.media.ffmpeg import FFmpegError, probe, run_ffmpeg
from engine.media.images import fit_image, image_size, save_atomic
from engine.providers.base import (
    Cost,
    FetchedFile,
    GenerationRequest,
    JobStatus,
    LLMProvider,
    LLMRequest,
    LLMResult,
    LLMUsage,
    MediaProvider,
    ProviderError,
    SubmitResult,
)

log = logging.getLogger(__name__)

OFFLINE_MODEL = "offline"


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


# =============================================================== the pet


@dataclass(frozen=True)
class Pet:
    """How to talk about the pet(s) in a request, in agreeing grammar."""

    kind: str  # cat | dog | both | pet
    label: str  # "Cat", "Dog", "Cat & Dog"
    noun: str  # "kitten"
    subject: str  # "the kitten", or the pet's name
    a_noun: str  # "a kitten"
    plural: bool = False
    emojis: str = "🐾💛✨"
    parts: tuple[str, ...] = ()  # body parts that could drift in a video
    sound: str = "soft, sleepy breathing"

    @property
    def is_(self) -> str:
        return "are" if self.plural else "is"

    @property
    def s(self) -> str:  # verb ending: "the kitten curls" / "they curl"
        return "" if self.plural else "s"


_PETS = {
    "cat": Pet("cat", "Cat", "kitten", "the kitten", "a kitten", False, "🐱🐾💛",
               ("kitten's tail", "kitten's ears", "whiskers"), "soft purring"),
    "dog": Pet("dog", "Dog", "puppy", "the puppy", "a puppy", False, "🐶🐾💛",
               ("puppy's ears", "puppy's tail", "puppy's fur"), "soft contented snuffles"),
    "both": Pet("both", "Cat & Dog", "kitten and puppy", "the kitten and the puppy",
                "a kitten and a puppy", True, "🐱🐶💛",
                ("kitten's tail", "puppy's ears", "whiskers"), "purring and happy snuffles"),
    "pet": Pet("pet", "Pet", "pet", "the little pet", "a little pet", False, "🐾💛✨",
               ("pet's tail", "pet's ears", "fur")),
}

_LOOKS = {
    "cat": ("a fluffy ginger tabby kitten with big amber eyes", "a soft grey kitten with round green eyes",
            "a cream-coloured kitten with a tiny pink nose", "a little black-and-white tuxedo kitten"),
    "dog": ("a golden retriever puppy with floppy ears", "a fluffy cream Pomeranian puppy",
            "a brown-and-white beagle puppy with velvet ears", "a sleepy corgi puppy with a white chest"),
    "both": ("a ginger kitten and a golden retriever puppy", "a grey kitten and a fluffy corgi puppy",
             "a cream kitten and a beagle puppy", "a tuxedo kitten and a Pomeranian puppy"),
    "pet": ("a fluffy little pet with big round eyes",),
}

_CAT = re.compile(r"\b(cats?|kittens?|kitty|kitties)\b", re.IGNORECASE)
_DOG = re.compile(r"\b(dogs?|pupp(?:y|ies)|pups?|doggos?)\b", re.IGNORECASE)
_BOTH = re.compile(r"\bcats?\s*(?:&|and|\+)\s*dogs?\b|\bdogs?\s*(?:&|and|\+)\s*cats?\b", re.IGNORECASE)
_NAMED = re.compile(r"\b(?:named|called|name is)\s+([A-Z][a-z]{1,15})\b")


def detect_pet(text: str, *, name: str | None = None) -> Pet:
    """Which pet a text is about: "Cat & Dog" before either word alone."""
    if _BOTH.search(text):
        pet = _PETS["both"]
    else:
        cats, dogs = len(_CAT.findall(text)), len(_DOG.findall(text))
        if cats and dogs:
            pet = _PETS["both"] if min(cats, dogs) * 3 >= max(cats, dogs) else _PETS["cat" if cats > dogs else "dog"]
        elif cats or dogs:
            pet = _PETS["cat" if cats else "dog"]
        else:
            pet = _PETS["pet"]
    if name and not pet.plural:
        pet = Pet(pet.kind, pet.label, pet.noun, name, pet.a_noun, False, pet.emojis, pet.parts, pet.sound)
    return pet


# ============================================================ scene themes


@dataclass(frozen=True)
class Theme:
    """One cozy scene: every string the LLM writes about a scene comes from one theme."""

    key: str
    triggers: str  # space-separated words that call for this scene
    setting: str
    spot: str  # "the warmest sunbeam in the house"
    location_type: str
    time_of_day: str
    weather: str
    lighting: str
    atmosphere: str
    colors: tuple[str, ...]
    subjects: tuple[str, ...]
    props: tuple[tuple[str, str, str], ...]  # (element, motion type, location in frame)
    sounds: tuple[str, ...]
    behavior: str  # gerund phrase, so it agrees with one pet or two
    moments: tuple[str, ...]
    titles: tuple[str, ...]
    arc: str
    era: str
    culture: str
    genres: tuple[str, ...]
    texture: str
    keywords: tuple[tuple[str, str], ...]  # (keyword, category)


THEMES: tuple[Theme, ...] = (
    Theme(
        "sunbeam", "sun sunbeam sunlight sunlit window nap comfort sanctuary cozy morning blanket",
        "a sunlit window seat piled with a knitted blanket", "the warmest sunbeam in the house",
        "indoor, living-room window seat", "morning", "sunny",
        "soft golden morning light streaming through sheer curtains",
        "warm, peaceful and drowsy", ("honey gold", "warm cream", "sage green", "soft peach", "dusty rose"),
        ("knitted blanket", "sheer curtains", "potted fern", "window seat cushion"),
        (("sunbeam", "gentle shimmer", "across the window seat"), ("sheer curtain", "soft sway", "left window"),
         ("dust motes", "slow drift", "in the light beam"), ("potted fern", "light leaf flutter", "right windowsill"),
         ("blanket fringe", "subtle ripple", "front edge of the seat")),
        ("{pet_sound}", "distant birdsong", "a ticking wall clock", "curtains rustling"),
        "stretching slowly into the sunbeam, nuzzling into the blanket and settling into a contented loaf",
        ("{subject} slow-blinking at the window", "paws tucked into the knitted blanket",
         "whiskers glowing in the sunbeam",
         "a tiny sleepy yawn", "curling up where the light is warmest"),
        ("A Sunbeam Nap to Remember", "The {Noun} Who Caught the Sun", "Slow Blinks in Morning Light"),
        "From sleepy curiosity to deep, sun-warmed contentment", "cozy modern home",
        "a bright Scandinavian-style apartment", ("acoustic lullaby", "soft lo-fi", "gentle solo piano"),
        "warm and airy, felt piano over soft nylon guitar",
        (("sunbeam", "object"), ("window seat", "setting"), ("slow blink", "behavior"), ("contentment", "emotion"),
         ("knitted blanket", "object"), ("sleepy stretch", "behavior")),
    ),
    Theme(
        "rainy", "rain rainy storm quiet stillness companionship reading book tea grey drizzle",
        "a rainy-afternoon reading nook with a steaming mug of tea", "the coziest corner of the reading chair",
        "indoor, reading nook by a rain-streaked window", "afternoon", "light rain",
        "cool grey window light balanced by a warm table lamp", "hushed, safe and gently melancholy",
        ("slate blue", "warm amber", "oatmeal", "deep forest green"),
        ("armchair", "wool throw", "stack of books", "mug of tea"),
        (("raindrops on the glass", "slow trickle", "window behind the pet"),
         ("steam from the tea mug", "soft curl", "side table, right"),
         ("fairy lights", "gentle twinkle", "along the bookshelf"), ("candle flame", "calm flicker", "lower left"),
         ("wool throw tassels", "faint sway", "arm of the chair")),
        ("rain pattering on the window", "{pet_sound}", "pages turning", "a kettle cooling"),
        "curling up against the wool throw, watching raindrops race down the glass, then drifting off",
        ("{subject} watching raindrops race", "a paw tucked under a fluffy chin", "ears twitching at the patter",
         "a sleepy sigh against the throw", "eyes closing as the lamp glows"),
        ("Raindrops and Reading Nooks", "The {Noun} Who Loves Rainy Days", "Quiet Company on a Grey Day"),
        "From watchful stillness to safe, drowsy comfort", "timeless cottage interior",
        "an English-style cottage on a rainy day", ("lo-fi jazz", "ambient piano", "soft chamber strings"),
        "hushed and velvety, brushed piano with a light rain-like shimmer",
        (("rainy window", "setting"), ("reading nook", "setting"), ("raindrop watching", "behavior"),
         ("safe and sound", "emotion"), ("wool throw", "object"), ("tea mug", "object")),
    ),
    Theme(
        "garden", "garden outdoor outside adventure exploration explore park grass flower butterfly walk meadow",
        "a flower garden at golden hour with tall grass and a wooden bench",
        "the softest patch of clover in the garden",
        "outdoor, backyard flower garden", "golden hour", "clear and calm",
        "low golden-hour sun with long soft shadows",
        "gentle, curious and glowing", ("golden yellow", "meadow green", "lavender", "peach", "sky blue"),
        ("wooden bench", "lavender bushes", "tall grass", "clover patch"),
        (("tall grass", "gentle sway", "foreground"), ("dandelion seeds", "slow float", "upper right"),
         ("butterfly", "lazy flutter", "near the flowers, left"),
         ("lantern glow", "warm pulse", "hanging from the tree, top left"),
         ("flower heads", "soft nod", "flower bed, right")),
        ("bees humming", "leaves rustling", "a distant wind chime", "evening birdsong"),
        "sniffing the lavender, pouncing softly at a butterfly, then flopping down in the clover",
        ("{subject} sniffing a lavender sprig", "a curious paw raised at a butterfly", "ears glowing in the low sun",
         "a happy flop into the clover", "whiskers dusted with pollen"),
        ("Golden Hour in the Garden", "The {Noun} and the Butterfly", "Little Explorer, Big Meadow"),
        "From wide-eyed curiosity to a sun-soaked, happy rest", "timeless countryside summer",
        "an English cottage garden", ("acoustic folk", "light orchestral", "whimsical pizzicato"),
        "light and sunny, plucked guitar with airy flute",
        (("flower garden", "setting"), ("golden hour", "setting"), ("butterfly chase", "behavior"),
         ("wonder", "emotion"), ("lavender", "object"), ("clover patch", "object")),
    ),
    Theme(
        "kitchen", "kitchen breakfast meal food bowl ritual rituals daily routine treat bake cook",
        "a bright farmhouse kitchen with a warm oven glow", "the spot right by the warm oven",
        "indoor, farmhouse kitchen", "early morning", "sunny",
        "fresh morning light from the kitchen window with a warm oven glow",
        "homely, hopeful and bustling-soft", ("butter yellow", "terracotta", "mint green", "warm white"),
        ("kitchen counter", "food bowl", "herb pots", "checkered tea towel"),
        (("steam from the kettle", "rising curl", "stove, back left"),
         ("morning light", "slow shimmer", "on the counter"),
         ("herb leaves", "tiny flutter", "windowsill pots"), ("checkered tea towel", "faint sway", "oven handle"),
         ("water in the bowl", "gentle ripple", "floor, bottom right")),
        ("a kettle starting to whistle", "a spoon clinking in a bowl", "soft footsteps", "{pet_sound}"),
        "waiting politely by the food bowl, tail curled neatly, eyes following every move",
        ("{subject} waiting politely by the bowl", "a nose twitching at breakfast smells", "a tiny hopeful head tilt",
         "the first happy crunch", "a satisfied lick of the lips"),
        ("The Breakfast Inspector", "Morning Rituals with My {Noun}", "First Light, First Breakfast"),
        "From patient hope to a full, happy belly", "rustic farmhouse present day",
        "a country farmhouse kitchen", ("acoustic folk", "ukulele pop", "bright jazz trio"),
        "bouncy and warm, ukulele with soft hand claps",
        (("farmhouse kitchen", "setting"), ("breakfast ritual", "behavior"), ("head tilt", "behavior"),
         ("anticipation", "emotion"), ("food bowl", "object"), ("kettle", "object")),
    ),
    Theme(
        "snowy", "snow snowy winter christmas holiday holidays fireplace fire season seasons seasonal cold knit",
        "a snowy evening by a crackling fireplace with a fluffy rug", "the fluffy rug in front of the fire",
        "indoor, living room by the fireplace", "evening", "snowing outside",
        "flickering amber firelight with twinkling string lights",
        "snug, festive and glowing", ("ember orange", "pine green", "cranberry red", "snow white", "warm gold"),
        ("fireplace", "fluffy rug", "knitted stocking", "frosted window"),
        (("fireplace flames", "soft flicker", "back right"), ("falling snow", "slow drift", "window, top left"),
         ("string lights", "gentle twinkle", "mantelpiece"), ("candle flame", "calm flicker", "side table"),
         ("knitted stocking", "faint sway", "hanging from the mantel")),
        ("a crackling fire", "{pet_sound}", "muffled snowfall", "a faint jingle of bells"),
        "toasting by the fire, paws tucked in, eyes half-closed as snow falls outside",
        ("{subject} gazing at the falling snow", "paws tucked in by the fire", "firelight dancing in sleepy eyes",
         "a slow stretch on the fluffy rug", "nose pressed to the frosted glass"),
        ("First Snow by the Fire", "The {Noun} Who Waited for Snow", "Warm Paws on a Winter Night"),
        "From frosty wonder to toasty, glowing sleepiness", "classic holiday cottage",
        "a Nordic winter cabin", ("gentle holiday jazz", "music-box lullaby", "cozy acoustic"),
        "glowing and soft, celesta and warm strings",
        (("fireplace", "setting"), ("first snow", "setting"), ("toasting by the fire", "behavior"),
         ("snugness", "emotion"), ("knitted stocking", "object"), ("string lights", "object")),
    ),
    Theme(
        "playroom", "play playful toy toys zoomies chaos mischief yarn ball game silly",
        "a sunny playroom scattered with yarn balls and soft toys", "the middle of the toy basket",
        "indoor, playroom with a soft rug", "late morning", "sunny", "bright, soft daylight with cheerful bounce light",
        "bubbly, silly and bright", ("sunny yellow", "bubblegum pink", "sky blue", "mint", "white"),
        ("yarn balls", "toy basket", "feather wand", "soft rug"),
        (("yarn ball", "tiny wobble", "floor, bottom left"),
         ("feather wand", "gentle bob", "propped on the toy basket"),
         ("bunting flags", "soft flutter", "across the top of the frame"),
         ("sunlight patches", "slow shimmer", "on the rug"),
         ("balloon", "lazy bob", "corner, upper right")),
        ("a jingling toy bell", "soft thumps on the rug", "a squeaky toy", "crinkly paper"),
        "batting a yarn ball, skidding on the rug, then collapsing into a proud heap of fluff",
        ("{subject} mid-pounce on a yarn ball", "a wiggle before the leap", "a toy carried proudly",
         "a tumble into the basket", "a triumphant flop on the rug"),
        ("The Great Yarn Ball Heist", "Zoomies Before Nap Time", "The {Noun} Who Won the Toy Basket"),
        "From mischievous energy to a proud, sleepy heap", "playful modern family home",
        "a cheerful family apartment", ("playful pizzicato", "ukulele pop", "light marimba"),
        "bouncy and bright, marimba with plucked strings",
        (("playroom", "setting"), ("yarn ball", "object"), ("zoomies", "behavior"), ("pounce", "behavior"),
         ("mischief", "emotion"), ("toy basket", "object")),
    ),
    Theme(
        "heavenly", "heaven heavenly cloud clouds remembrance memory memories rainbow angel paradise tribute loss",
        "a golden cloud meadow in soft heavenly light", "the softest cloud in the meadow",
        "dreamlike cloud meadow", "endless golden hour", "clear and luminous",
        "diffuse golden light rays through glowing clouds",
        "serene, tender and luminous", ("pearl white", "soft gold", "blush pink", "pale lavender", "sky blue"),
        ("glowing clouds", "golden light rays", "floating petals", "a soft rainbow"),
        (("golden light rays", "slow shimmer", "from the top of the frame"),
         ("cloud wisps", "gentle drift", "background"),
         ("floating petals", "slow fall", "around the pet"), ("sparkles", "soft twinkle", "upper half of the frame"),
         ("rainbow glow", "faint pulse", "horizon")),
        ("a soft wind", "distant chimes", "a gentle hum of light", "{pet_sound}"),
        "resting peacefully on a glowing cloud, looking back with calm, loving eyes",
        ("{subject} resting on a glowing cloud", "a calm look back over the shoulder", "petals drifting past soft ears",
         "a gentle slow blink", "a peaceful curl in the golden light"),
        ("Waiting on a Golden Cloud", "Forever in the Golden Light", "The {Noun} Beyond the Rainbow"),
        "From quiet longing to peaceful, loving reassurance", "timeless dreamscape",
        "a universal, dreamlike paradise", ("ambient choir", "soft harp", "celestial piano"),
        "airy and luminous, harp over a warm choir pad",
        (("cloud meadow", "setting"), ("golden light", "object"), ("peaceful rest", "behavior"),
         ("reassurance", "emotion"), ("rainbow", "object"), ("loving gaze", "emotion")),
    ),
    Theme(
        "sofa", "bond love human owner person lap hug cuddle rescue adopt adoption shelter chance family home",
        "a cozy living-room sofa under a soft throw", "the warm lap of their favourite person",
        "indoor, living-room sofa", "evening", "calm", "warm lamp light with a soft glow on the throw blanket",
        "loving, safe and tender", ("caramel", "cream", "muted teal", "soft terracotta"),
        ("sofa", "throw blanket", "floor lamp", "their person's hands"),
        (("throw blanket edge", "subtle ripple", "over the person's lap"),
         ("lamp glow", "warm pulse", "floor lamp, right"),
         ("steam from a cocoa mug", "soft curl", "coffee table"), ("curtains", "soft sway", "window, back left"),
         ("houseplant leaves", "light flutter", "corner, left")),
        ("a gentle heartbeat", "{pet_sound}", "quiet whispered words", "a blanket rustling"),
        "snuggling into their person's lap, resting a chin on a warm hand and sighing happily",
        ("{subject} resting a chin on a warm hand", "a slow blink of total trust", "paws tucked into the throw",
         "a happy sigh against their person", "eyes closing in safe arms"),
        ("Safe in Your Arms", "The {Noun} Who Found Home", "Love in a Warm Lap"),
        "From shy uncertainty to complete, trusting love", "cozy modern home",
        "a warm suburban living room", ("tender piano", "soft acoustic guitar", "warm strings"),
        "intimate and warm, felt piano with a cello line",
        (("sofa", "setting"), ("warm lap", "setting"), ("snuggling", "behavior"), ("trust", "emotion"),
         ("throw blanket", "object"), ("happy sigh", "behavior")),
    ),
)

_EXTRA_PROPS = (
    ("dust motes", "slow drift", "in the light"), ("soft shadows", "slow shift", "on the floor"),
    ("light reflections", "soft shimmer", "on the floor"), ("leaves outside the window", "gentle sway", "background"),
)

# ========================================================= the text writer

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
_FILLERS = ("soft and cozy", "in warm light", "gentle and calm", "with a happy sigh", "full of quiet love",
            "slow and tender", "wrapped in comfort")
_FIELD = re.compile(r"^\s*(?:[-*]\s+)?\*{0,2}([A-Za-z][A-Za-z0-9 _/&'()-]{0,40}?)\*{0,2}\s*:\s*\*{0,2}\s*(.+?)\s*$")
_MOTION_LINE = re.compile(r"^\s*[-*]\s*\*\*(.+?)\*\*\s*:\s*(.*?)\s*(?:\((.*)\))?\s*$")
_LENGTH_HINT = re.compile(r"(\d+)\s*(?:-|–|to)\s*(\d+)\s*(characters|chars|words)", re.IGNORECASE)
_MAX_HINT = re.compile(r"(?:at most|up to|no more than|max(?:imum)?)\s*(\d+)\s*(characters|chars|words)", re.IGNORECASE)
_STOP_SECTIONS = ("exclu", "avoid", "ban", "discourag", "block", "negative", "do not")
_SMALL_WORDS = {"a", "an", "the", "and", "or", "of", "for", "with", "in", "on", "to", "at", "by", "like"}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _decap(text: str) -> str:
    # "A sunlit seat" -> "a sunlit seat" mid-sentence; leaves "Sora" or "TV" alone.
    first = text.split(" ", 1)[0]
    if first in ("A", "An", "The") or (len(first) > 1 and first[1:].islower()):
        return text[:1].lower() + text[1:]
    return text


def _listing(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


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
        self.seed = _seed(*all_parts)
        self.rng = random.Random(self.seed)
        self.text = "\n".join(user_texts + image_notes)
        self.feedback = "\n".join(
            line.split(":", 1)[1].strip()
            for line in self.text.splitlines()
            if line.strip().upper().startswith("FEEDBACK FROM USER:")
        )
        self.fields = self._fields(self.text)
        name_match = _NAMED.search(self.text)
        pet_source = self.fields.get("pet_type") or self.fields.get("pet") or self.text
        self.pet = detect_pet(pet_source, name=name_match.group(1) if name_match else None)
        looks = _LOOKS[self.pet.kind]
        # The look follows the scene title, so steps 3 and 5 describe the same animal,
        # unless the request (e.g. an offline picture's own prompt) already names one.
        title = self.fields.get("title") or self.fields.get("scene_title") or ""
        named = [look for look in looks if look in self.text]
        self.look = named[0] if named else looks[_seed(self.pet.kind, title) % len(looks)]
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
        ties = random.Random(_seed("\n".join(k for k in kept if not k.upper().lstrip().startswith("FEEDBACK"))))
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
            random.Random(_seed(self.seed, cache_key)).shuffle(order)
            self._orders[cache_key] = order
        return order[(index or 0) % len(order)]

    def fill(self, template: str, theme: Theme) -> str:
        pet = self.pet
        noun = {"both": "Friends"}.get(pet.kind, pet.noun.title())
        return (
            template.replace("{Subject}", _cap(pet.subject))
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
            text = _fit_words(text, hint_lo, hint_hi)
        elif hint and "minLength" not in schema and "maxLength" not in schema:
            lo, hi = hint_lo, hint_hi
        text = _fit_chars(text, lo, None if hi is None else int(hi))
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
            return _cap(theme.setting)
        if key == "time_of_day":
            return theme.time_of_day
        if key == "weather":
            return theme.weather
        if key == "location_type":
            return theme.location_type
        if key == "location":
            return theme.location_type
        if key == "lighting":
            return _cap(theme.lighting)
        if key == "atmosphere":
            return _cap(theme.atmosphere)
        if key in ("key_subjects", "subjects"):
            return ([ctx.look] + list(theme.subjects))[(i or 0) % (len(theme.subjects) + 1)]
        if key in ("dominant_colors", "colors", "colours", "color", "colour", "palette"):
            return ctx.pick("color:" + theme.key, theme.colors, i)
        if key in ("implied_sounds", "sounds", "ambient_sounds"):
            return fill(ctx.pick("sound:" + theme.key, theme.sounds, i))
        if key == "era_feel":
            return _cap(theme.era)
        if key == "cultural_context":
            return _cap(theme.culture)
        if "genre" in key:
            return ctx.pick("genre:" + theme.key, theme.genres + ("lo-fi chillhop", "soft ambient"), i)
        if key in ("musical_texture", "texture"):
            return _cap(theme.texture)

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
            return _cap(fill(ctx.pick("hook", hooks, scope.item_index).replace("{a_noun}", pet.a_noun)
                             .replace("{has}", "have" if pet.plural else "has")))
        if key in ("narrative", "story", "summary", "scene_summary"):
            has = "have" if pet.plural else "has"
            openings = (f"{_cap(theme.setting)} is quiet, and {pet.subject} {pet.is_} the first to find {theme.spot}.",
                        f"It starts in {theme.setting}, where {pet.subject} {has} just found {theme.spot}.",
                        f"In {theme.setting}, {pet.subject} {has} claimed {theme.spot}.")
            endings = ("By the end, everything seems to breathe a little slower.",
                       "It ends in a slow blink that says: this is home.",
                       "The moment melts into pure, quiet contentment.")
            return " ".join((ctx.pick("story-open", openings, scope.item_index),
                             f"{_cap(pet.subject)} {pet.is_} {theme.behavior}.",
                             ctx.pick("story-end", endings, scope.item_index)))
        if key in ("visual_moments", "moments", "key_moments", "shots"):
            return _cap(fill(ctx.pick("moment:" + theme.key, theme.moments, i)))
        if key == "key_moment":
            return _cap(fill(theme.moments[0])) + f", {theme.lighting}"
        if key in ("pet_behavior", "behavior", "behaviour", "action"):
            return _cap(theme.behavior)
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
                also = f" Include {_listing(extras)}." if extras else ""
                return (f"A heartwarming photo of {ctx.look}, {theme.behavior}, in {theme.setting}. "
                        f"{_cap(theme.lighting)}, a {', '.join(theme.colors[:3])} palette, shallow depth of field, "
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
            return _cap(f"{_listing(parts)} around a perfectly still {pet.noun}, in a slow, seamless loop.")
        if key == "motion_notes":
            moving = ctx.selected or elements[:2]
            parts = [f"{e[0]} ({e[1]})" if e[1] else e[0] for e in moving]
            tails = ("with slow, seamless, looping motion.", "so the clip loops without a visible seam.",
                     "at a calm, breathing pace.")
            return (f"Animate only the {_listing(parts)}; keep {pet.subject} and the camera completely still, "
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
            return f"Soft ambient sound: {fill(_listing(list(theme.sounds[:3])))}; no music, no speech."

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
            return _cap(fill(ctx.pick("social", _SOCIAL_TITLES, i)))
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
            return _fit_words(f"{core}.", 15, 25)
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
            return _cap(fill(ctx.pick("title:" + theme.key, theme.titles, i)))
        if key == "id" or key.endswith("_id"):
            return f"{(scope.path[-2] if len(scope.path) > 1 else key).rstrip('s')}_{(i or 0) + 1}"
        if key in ("url", "uri", "link"):
            return "https://example.com/cozy-pet"
        if key in ("language", "lang"):
            return "en"
        if "note" in key or key in ("reason", "rationale", "why", "explanation"):
            return f"Keeps the focus on {pet.subject} and the calm of {theme.setting}."
        if key in ("description", "details", "content", "message", "answer", "response", "text"):
            return f"{_cap(pet.subject)} {pet.is_} {theme.behavior} in {theme.setting}."
        moment = fill(ctx.pick("moment:" + theme.key, theme.moments, i))
        return _cap(f"{moment} in {theme.setting}")

    # ---- the longer pieces

    def _video_prompt(self, theme: Theme, *, natural: bool, with_audio: bool) -> str:
        ctx = self.ctx
        moving = ctx.selected or ctx.elements(theme)[:2]
        # The analysed picture's own setting and light, when the request quotes them.
        setting = _decap(ctx.fields.get("setting") or theme.setting).rstrip(".")
        lighting = _decap(ctx.fields.get("lighting") or theme.lighting).rstrip(".")
        parts = []
        for element, motion, where in moving:
            detail = ", ".join(x for x in (motion, where) if x)
            parts.append(f"{element} ({detail})" if detail else element)
        look = _cap(ctx.look)
        # A few phrasings, chosen by the seed, so a retry with feedback reads differently.
        if natural:
            openings = (f"A locked-off vertical shot of {setting}.", f"A calm, static vertical frame of {setting}.",
                        f"A still camera rests on {setting}.")
            middles = (f"{look} rests perfectly still, eyes soft and calm.",
                       f"{look} stays completely still, peaceful and relaxed.",
                       f"{look} holds a perfectly still, sleepy pose.")
            text = (f"{ctx.pick('video-open', openings, None)} {ctx.pick('video-mid', middles, None)} "
                    f"Only a few things move, slowly and subtly: {_listing(parts)}. "
                    f"{_cap(lighting)}; photorealistic, cozy and heartwarming, seamless loop.")
        else:
            endings = ("smooth subtle looping motion, photorealistic, cozy, 9:16 vertical",
                       "gentle natural motion, seamless loop, photorealistic detail, 9:16 vertical",
                       "slow delicate movement, soft focus background, photorealistic, 9:16 vertical")
            text = (f"{look} resting perfectly still in {setting}; only the scene moves: {'; '.join(parts)}. "
                    f"Static camera, {lighting}, {ctx.pick('video-end', endings, None)}")
        if with_audio:
            text += f" Ambient sound: {ctx.fill(_listing(list(theme.sounds[:2])), theme)}, no music."
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
        openers = (f"{_cap(pet.subject)} found {theme.spot} and decided it was theirs forever.",
                   f"{_cap(pet.subject)} on a slow {theme.time_of_day}, and honestly, same.",
                   f"Some days call for nothing more than {theme.spot}.",
                   f"{_cap(pet.subject)} {pet.is_} {theme.behavior}.",
                   f"A tiny moment from {theme.setting}.")
        middles = (f"{_cap(theme.lighting)} does the rest.", "Every slow blink is a little thank-you.",
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
        instruments = ctx.fields.get("instruments") or _listing(list(_INSTRUMENTS[:3]))
        if "voice" in key:
            lines = [ctx.fill(line, theme) for line in _OVERLAY_LINES["heartfelt"][:2]]
            return (f"Very soft {instruments} bed, low in the mix, under a warm, gentle narrator with a smiling, "
                    f"unhurried voice reading: \"{' '.join(lines)}\" - voiceover only")
        if "evocative" in key:
            return _fit_chars(f"Like {theme.spot}: {theme.atmosphere}, {theme.texture}, slow swells and a hopeful glow "
                              "that settles into quiet contentment, instrumental", 150, 200)
        return _fit_chars(f"Gentle instrumental lullaby, {bpm} BPM, {music_key}: {instruments}; soft steady pulse, "
                          f"no drums, warm intimate mix, {seconds} seconds, seamless ending", 150, 200)


def _fit_chars(text: str, lo: int, hi: int | None) -> str:
    """Pad with soft filler phrases or trim at a word boundary to lo..hi characters."""
    if hi is not None and hi < lo:
        hi = lo
    i = 0
    while len(text) < lo:
        end = text[-1] if text and text[-1] in ".!?" else ""
        body = text[:-1] if end else text
        text = f"{body}{', ' if body else ''}{_FILLERS[i % len(_FILLERS)]}{end}"
        i += 1
    if hi is not None and len(text) > hi:
        cut = text[: hi + 1]
        cut = cut[: cut.rfind(" ")] if " " in cut.strip() else text[:hi]
        text = cut.rstrip(" ,;:-") or text[:hi]
        text = text[:hi]
    if len(text) < lo:  # only for contradictory hints: pad with spaces rather than fail
        text = text.ljust(lo)
    return text


def _fit_words(text: str, lo: int, hi: int) -> str:
    """Trim to at most `hi` words (never ending on "the" or "for") or pad to `lo`."""
    words = text.split()
    end = "." if text.rstrip().endswith(".") else ""
    if len(words) > hi:
        kept = words[:hi]
        while len(kept) > max(lo, 1) and kept[-1].lower().strip(",;:.") in _SMALL_WORDS:
            kept.pop()
        text = " ".join(kept).rstrip(",;:-.") + end
    i = 0
    while len(text.split()) < lo:
        text = text.rstrip(".") + f", {_FILLERS[i % len(_FILLERS)]}{end}"
        i += 1
    return text


def _image_notes(paths: list[str]) -> list[str]:
    """What an offline-made PNG says about itself (its prompt), so analysis can "see" it."""
    notes: list[str] = []
    for path in paths:
        try:
            with Image.open(path) as img:
                info = getattr(img, "text", {}) or {}
                if info.get("prompt"):
                    notes.append(f"Image prompt: {info['prompt']}")
        except (OSError, ValueError):
            continue
    return notes


class OfflineLLM(LLMProvider):
    """A schema-driven writer for a cozy pet channel: free, fast, deterministic."""

    name = "offline"
    live = False

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = max(0.0, float(delay_s))

    async def complete(self, request: LLMRequest) -> LLMResult:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        local_images = [
            m.image_path for m in request.messages
            if m.image_path and not m.image_path.startswith(("http:", "https:", "data:"))
        ]
        notes = await asyncio.to_thread(_image_notes, local_images) if local_images else []
        ctx = _Context(request, notes)
        schema = request.output_schema
        if schema is None:
            theme = ctx.themes[0]
            text = (f"{_cap(ctx.pet.subject)} {ctx.pet.is_} {theme.behavior} in {theme.setting}. "
                    f"{_cap(theme.lighting)}, {theme.atmosphere}.")
        else:
            text = self._json_answer(schema, ctx, request.schema_name)
        images = sum(1 for m in request.messages if m.image_path)
        usage = LLMUsage(
            input_tokens=sum(len(m.text or "") for m in request.messages) // 4 + 85 * images,
            output_tokens=max(1, len(text) // 4),
        )
        return LLMResult(text=text, model=OFFLINE_MODEL, usage=usage, cost_usd=0.0)

    @staticmethod
    def _json_answer(schema: dict[str, Any], ctx: _Context, schema_name: str) -> str:
        try:
            validator = Draft202012Validator(schema)
            validator.check_schema(schema)
        except SchemaError as exc:
            raise ProviderError("The answer format of this step is not a valid JSON schema.",
                                kind="invalid_request", detail=str(exc.message)[:300], provider="offline") from None
        try:
            value = _Writer(schema, ctx).value(schema, _Scope(key=schema_name))
        except (KeyError, TypeError, ValueError, RecursionError) as exc:  # e.g. a $ref to nowhere
            raise ProviderError("The offline writer could not read this answer format.", kind="invalid_request",
                                detail=f"{type(exc).__name__}: {exc}"[:300], provider="offline") from None
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(map(str, errors[0].absolute_path)) or "(root)"
            raise ProviderError("The offline writer could not fill this answer format.", kind="invalid_output",
                                detail=f"{where}: {errors[0].message}"[:300], provider="offline")
        return json.dumps(value, ensure_ascii=False)


# ============================================================ the pictures


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    img = Image.new("HSV", (1, 1), (int(h % 1 * 255), int(s * 255), int(v * 255)))
    return img.convert("RGB").getpixel((0, 0))  # type: ignore[return-value]


def _heart(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, fill: tuple[int, ...]) -> None:
    draw.ellipse((cx - r, cy - r * 0.6, cx, cy + r * 0.4), fill=fill)
    draw.ellipse((cx, cy - r * 0.6, cx + r, cy + r * 0.4), fill=fill)
    draw.polygon([(cx - r * 0.97, cy), (cx + r * 0.97, cy), (cx, cy + r * 1.1)], fill=fill)


Coat = tuple[tuple[int, int, int], tuple[int, int, int]]  # fur, darker outline/ears

# Coats by the words a prompt may use, so "a grey kitten" is drawn grey.
_CAT_COATS: dict[str, Coat] = {
    "ginger": ((240, 165, 90), (190, 110, 50)), "grey": ((170, 170, 180), (110, 110, 125)),
    "cream": ((245, 230, 205), (200, 170, 140)), "black": ((60, 60, 66), (30, 30, 34)),
}
_DOG_COATS: dict[str, Coat] = {
    "golden": ((225, 175, 95), (170, 110, 50)), "cream": ((245, 235, 215), (205, 175, 135)),
    "brown": ((185, 125, 80), (110, 70, 45)), "corgi": ((235, 200, 150), (150, 95, 60)),
}
_COAT_WORDS = {"orange": "ginger", "tabby": "ginger", "gray": "grey", "white": "cream", "tuxedo": "black",
               "retriever": "golden", "beagle": "brown", "chocolate": "brown", "pomeranian": "cream"}


def _coat(coats: dict[str, Coat], prompt: str, rng: random.Random) -> Coat:
    for word in re.findall(r"[a-z]+", prompt.lower()):
        name = _COAT_WORDS.get(word, word)
        if name in coats:
            return coats[name]
    return rng.choice(list(coats.values()))


def _draw_cat(draw: ImageDraw.ImageDraw, cx: float, by: float, u: float, rng: random.Random, prompt: str) -> None:
    fur, dark = _coat(_CAT_COATS, prompt, rng)
    line = max(1, int(u * 0.05))
    hy = by - 1.45 * u
    draw.arc((cx + 0.2 * u, by - 1.0 * u, cx + 1.3 * u, by + 0.1 * u), 180, 330, fill=dark, width=int(u * 0.22))
    draw.ellipse((cx - 0.75 * u, by - 1.15 * u, cx + 0.75 * u, by + 0.05 * u), fill=fur, outline=dark, width=line)
    for side in (-1, 1):  # ears before the head so the head covers their base
        outer = [(cx + side * 0.58 * u, hy - 0.15 * u), (cx + side * 0.5 * u, hy - 0.95 * u),
                 (cx + side * 0.08 * u, hy - 0.52 * u)]
        inner = [(cx + side * 0.48 * u, hy - 0.25 * u), (cx + side * 0.45 * u, hy - 0.75 * u),
                 (cx + side * 0.2 * u, hy - 0.5 * u)]
        draw.polygon(outer, fill=fur, outline=dark)
        draw.polygon(inner, fill=(245, 170, 180))
    draw.ellipse((cx - 0.62 * u, hy - 0.6 * u, cx + 0.62 * u, hy + 0.5 * u), fill=fur, outline=dark, width=line)
    _face(draw, cx, hy, u, rng, nose=(235, 130, 150))
    for side in (-1, 1):
        for k in (-1, 0, 1):
            draw.line((cx + side * 0.18 * u, hy + 0.16 * u + k * 0.05 * u,
                       cx + side * 0.85 * u, hy + 0.08 * u + k * 0.14 * u), fill=(80, 70, 70), width=max(1, line // 2))


def _draw_dog(draw: ImageDraw.ImageDraw, cx: float, by: float, u: float, rng: random.Random, prompt: str) -> None:
    fur, ear = _coat(_DOG_COATS, prompt, rng)
    line = max(1, int(u * 0.05))
    hy = by - 1.45 * u
    draw.ellipse((cx - 0.8 * u, by - 1.15 * u, cx + 0.8 * u, by + 0.05 * u), fill=fur, outline=ear, width=line)
    draw.ellipse((cx - 0.65 * u, hy - 0.62 * u, cx + 0.65 * u, hy + 0.55 * u), fill=fur, outline=ear, width=line)
    for side in (-1, 1):  # floppy ears hang over the sides of the head
        x0, x1 = sorted((cx + side * 0.42 * u, cx + side * 0.85 * u))
        draw.ellipse((x0, hy - 0.55 * u, x1, hy + 0.45 * u), fill=ear)
    draw.ellipse((cx - 0.32 * u, hy + 0.0 * u, cx + 0.32 * u, hy + 0.45 * u), fill=(250, 240, 228))
    _face(draw, cx, hy, u, rng, nose=(45, 35, 35))
    draw.ellipse((cx - 0.09 * u, hy + 0.3 * u, cx + 0.09 * u, hy + 0.5 * u), fill=(240, 120, 140))  # tongue


def _face(
    draw: ImageDraw.ImageDraw, cx: float, hy: float, u: float, rng: random.Random, *, nose: tuple[int, int, int]
) -> None:
    eye = (40, 35, 40)
    width = max(1, int(u * 0.06))
    closed = rng.random() < 0.4  # a happy squint or big round eyes
    for side in (-1, 1):
        ex = cx + side * 0.27 * u
        if closed:
            draw.arc((ex - 0.14 * u, hy - 0.2 * u, ex + 0.14 * u, hy + 0.02 * u), 200, 340, fill=eye, width=width)
        else:
            draw.ellipse((ex - 0.1 * u, hy - 0.2 * u, ex + 0.1 * u, hy + 0.02 * u), fill=eye)
            draw.ellipse((ex - 0.04 * u, hy - 0.17 * u, ex + 0.01 * u, hy - 0.11 * u), fill=(255, 255, 255))
        draw.ellipse((ex - 0.16 * u + side * 0.08 * u, hy + 0.05 * u, ex + 0.1 * u + side * 0.08 * u, hy + 0.2 * u),
                     fill=(250, 170, 175))
    draw.polygon([(cx - 0.08 * u, hy + 0.08 * u), (cx + 0.08 * u, hy + 0.08 * u), (cx, hy + 0.17 * u)], fill=nose)
    draw.arc((cx - 0.14 * u, hy + 0.1 * u, cx, hy + 0.26 * u), 20, 160, fill=eye, width=max(1, width // 2))
    draw.arc((cx, hy + 0.1 * u, cx + 0.14 * u, hy + 0.26 * u), 20, 160, fill=eye, width=max(1, width // 2))


def draw_pet_scene(width: int, height: int, prompt: str, seed: int) -> Image.Image:
    """A soft, recognisable placeholder: gradient room, window light, cushion, pet(s), caption."""
    rng = random.Random(seed)
    scale = 2 if max(width, height) <= 1600 else 1  # draw big, shrink: cheap antialiasing
    w, h = width * scale, height * scale
    hue = (_seed(prompt) % 1000) / 1000  # the palette follows the prompt
    top, bottom = _hsv(hue, 0.22, 0.98), _hsv(hue + 0.07, 0.35, 0.86)
    mask = Image.linear_gradient("L").resize((w, h))
    canvas = Image.composite(Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), mask).convert("RGBA")
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)

    floor_y = h * 0.7
    draw.rectangle((0, floor_y, w, h), fill=(*_hsv(hue + 0.05, 0.3, 0.78), 255))
    left = rng.random() < 0.5
    wx0 = w * (0.08 if left else 0.52)
    wy0, ww, wh = h * 0.1, w * 0.4, h * 0.3
    draw.polygon([(wx0, wy0 + wh), (wx0 + ww, wy0 + wh), (wx0 + ww * 1.6 - (0 if left else ww), floor_y + h * 0.15),
                  (wx0 - ww * 0.2 - (0 if left else ww * 0.3), floor_y + h * 0.15)], fill=(255, 244, 205, 70))
    draw.rounded_rectangle((wx0, wy0, wx0 + ww, wy0 + wh), radius=w * 0.02, fill=(205, 230, 250, 255),
                           outline=(255, 255, 255, 255), width=int(w * 0.018))
    draw.line((wx0 + ww / 2, wy0, wx0 + ww / 2, wy0 + wh), fill=(255, 255, 255, 255), width=int(w * 0.012))
    draw.line((wx0, wy0 + wh / 2, wx0 + ww, wy0 + wh / 2), fill=(255, 255, 255, 255), width=int(w * 0.012))
    # a plant on the other side of the room
    px = w * (0.82 if left else 0.18)
    draw.polygon([(px - w * 0.06, floor_y - h * 0.02), (px + w * 0.06, floor_y - h * 0.02),
                  (px + w * 0.045, floor_y + h * 0.05), (px - w * 0.045, floor_y + h * 0.05)], fill=(200, 120, 90, 255))
    for k in range(5):
        angle = math.radians(-150 + k * 30)
        lx, ly = px + math.cos(angle) * w * 0.07, floor_y - h * 0.05 + math.sin(angle) * h * 0.05
        draw.ellipse((lx - w * 0.035, ly - h * 0.03, lx + w * 0.035, ly + h * 0.03), fill=(110, 165, 110, 255))

    u = min(w * 0.19, h * 0.12)
    cx, by = w * (0.5 + rng.uniform(-0.04, 0.04)), h * 0.8
    draw.ellipse((cx - 2.0 * u, by - 0.3 * u, cx + 2.0 * u, by + 0.5 * u), fill=(*_hsv(hue + 0.5, 0.3, 0.92), 255))
    pet = detect_pet(prompt)
    if pet.kind == "both":
        # "a grey kitten and a corgi puppy": each animal takes the words that follow its own noun
        cut = min((m.start() for m in re.finditer(r"pupp|dog", prompt.lower())), default=len(prompt))
        _draw_cat(draw, cx - 0.95 * u, by, u * 0.8, rng, prompt[:cut])
        _draw_dog(draw, cx + 0.95 * u, by, u * 0.85, rng, prompt[cut:] or prompt)
    elif pet.kind == "dog":
        _draw_dog(draw, cx, by, u, rng, prompt)
    else:
        _draw_cat(draw, cx, by, u, rng, prompt)
    for _ in range(rng.randint(2, 4)):
        _heart(draw, rng.uniform(w * 0.15, w * 0.85), rng.uniform(h * 0.42, h * 0.58), u * rng.uniform(0.12, 0.22),
               (255, 140, 160, 170))

    kept = prompt.replace(",", " ").split()[:5]
    while len(kept) > 1 and kept[-1].lower() in _SMALL_WORDS:  # "a grey kitten and a" reads cut off
        kept.pop()
    words = " ".join(kept) or "a cozy moment"
    font = ImageFont.truetype(str(CAPTION_FONT), max(10, int(min(w, h * 0.5625) / 20)))
    box = draw.textbbox((0, 0), words, font=font)
    while box[2] - box[0] > w * 0.86 and " " in words:
        words = words.rsplit(" ", 1)[0]
        box = draw.textbbox((0, 0), words, font=font)
    tw, th = box[2] - box[0], box[3] - box[1]
    ty = h * 0.93 - th / 2
    pad = w * 0.03
    draw.rounded_rectangle(((w - tw) / 2 - pad, ty - pad * 0.7, (w + tw) / 2 + pad, ty + th + pad * 0.9),
                           radius=pad, fill=(255, 255, 255, 180))
    draw.text(((w - tw) / 2 - box[0], ty - box[1]), words, font=font, fill=(90, 70, 80, 255))

    out = Image.alpha_composite(canvas, layer).convert("RGB")
    return out.resize((width, height), Image.Resampling.LANCZOS) if scale != 1 else out


# ======================================================= media job plumbing


def _number(value: Any) -> float | None:
    try:
        return float(str(value).strip().lower().rstrip("s").replace("ms", ""))
    except (TypeError, ValueError):
        return None


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _dimensions(
    params: dict[str, Any], default: tuple[int, int] = (720, 1280), *, long_side: int = 1280
) -> tuple[int, int]:
    """Width x height from width/height, "size" ("1024x1536" or "2:3"), aspect ratio or resolution."""
    width, height = _number(params.get("width")), _number(params.get("height"))
    if width and height:
        return _even(min(max(width, 16), 4096)), _even(min(max(height, 16), 4096))
    size = str(params.get("size") or "")
    if match := re.fullmatch(r"\s*(\d{2,4})\s*[x×*]\s*(\d{2,4})\s*", size):
        return _even(min(int(match.group(1)), 4096)), _even(min(int(match.group(2)), 4096))
    ratio = next((str(params[k]) for k in ("aspect_ratio", "aspect", "ratio") if params.get(k)), "")
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*:\s*\d+(\.\d+)?\s*", ratio):
        ratio = size if re.fullmatch(r"\s*\d+\s*:\s*\d+\s*", size) else ""
    # "720p", "720" or Leonardo's "RESOLUTION_720": the number names the short side
    found = re.search(r"(\d{3,4})", str(params.get("resolution") or ""))
    resolution = float(found.group(1)) if found else None
    if not ratio:
        if not resolution:
            return default
        ratio = f"{default[0]}:{default[1]}"
    a, b = (float(x) for x in ratio.split(":"))
    if a <= 0 or b <= 0:
        return default
    if resolution:  # "720p" names the short side
        short = min(resolution, 2160)
        return (_even(short), _even(short * b / a)) if a <= b else (_even(short * a / b), _even(short))
    if a <= b:
        return _even(long_side * a / b), _even(long_side)
    return _even(long_side), _even(long_side * b / a)


def _safe_id(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)[:80]


class _OfflineJobs(MediaProvider):
    """The job shape every offline media provider shares.

    The job lives entirely in provider_data (request + submit time + delay), so
    poll() and fetch() need no memory of submit(): a restart loses nothing.
    """

    live = False

    def __init__(self, name: str, delay_s: float = 0.0) -> None:
        self.name = name
        self.delay_s = max(0.0, float(delay_s))
        self.poll_interval_s = min(1.0, max(0.05, self.delay_s / 5))
        self.timeout_s = 120.0 + self.delay_s

    def estimate_cost(self, request: GenerationRequest) -> Cost:
        return Cost()

    def validate(self, request: GenerationRequest) -> None:
        if request.action_type not in self.actions:
            raise ProviderError(f"The offline {self.name} stand-in cannot do {request.action_type}.",
                                kind="invalid_request", provider=self.name)

    async def submit(self, request: GenerationRequest, out_dir: Path) -> SubmitResult:
        self.validate(request)
        job_id = f"off_{uuid.uuid4().hex}"
        data = {"request": request.model_dump(mode="json"), "submitted_at": time.time(),
                "delay_s": self.delay_s, "provider": self.name}
        return SubmitResult(job_id=job_id, provider_data=data, cost=Cost())

    async def poll(self, job_id: str, provider_data: dict[str, Any]) -> JobStatus:
        submitted = provider_data.get("submitted_at")
        if not isinstance(submitted, (int, float)) or "request" not in provider_data:
            return JobStatus(state="failed", error="This offline job's record is incomplete; please generate again.",
                             provider_data=provider_data)
        delay = float(provider_data.get("delay_s", self.delay_s))
        elapsed = max(0.0, time.time() - submitted)
        if delay <= 0 or elapsed >= delay:
            return JobStatus(state="completed", progress=100.0, provider_data=provider_data)
        return JobStatus(state="running", progress=round(min(99.0, elapsed / delay * 100), 1),
                         message="rendering offline", provider_data=provider_data,
                         poll_after_s=min(self.poll_interval_s, delay - elapsed))

    async def fetch(self, job_id: str, status: JobStatus, out_dir: Path) -> list[FetchedFile]:
        if status.state != "completed":
            raise ProviderError("The offline job is not finished yet.", kind="invalid_request", provider=self.name)
        try:
            request = GenerationRequest.model_validate(status.provider_data["request"])
        except (KeyError, ValueError) as exc:
            raise ProviderError("This offline job's record is incomplete; please generate again.",
                                kind="invalid_request", detail=str(exc)[:200], provider=self.name) from None
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            return await self._produce(_safe_id(job_id), request, out_dir)
        except FFmpegError as exc:
            raise ProviderError("The offline renderer failed.", kind="generation_failed",
                                detail=str(exc)[:300], provider=self.name) from exc

    async def _produce(self, job_id: str, request: GenerationRequest, out_dir: Path) -> list[FetchedFile]:
        raise NotImplementedError


# One picture drawn at a time per process: each canvas takes ~90 MB while it is
# drawn (2x supersampled), and drawing holds the GIL in long C calls, so many at
# once inflate the bot's memory and stall its event loop. Per event loop, like
# any asyncio.Semaphore.
_DRAW_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def _draw_scene(dest: Path, width: int, height: int, prompt: str, seed: int, job_id: str) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    slot = _DRAW_SLOTS.get(loop)
    if slot is None:
        slot = _DRAW_SLOTS[loop] = asyncio.Semaphore(1)
    async with slot:
        return await asyncio.to_thread(_write_scene_png, dest, width, height, prompt, seed, job_id)


def _write_scene_png(dest: Path, width: int, height: int, prompt: str, seed: int, job_id: str) -> tuple[int, int]:
    img = draw_pet_scene(width, height, prompt, seed)
    meta = PngImagePlugin.PngInfo()
    meta.add_text("prompt", prompt[:2000])  # lets OfflineLLM "see" what the picture shows
    meta.add_text("generator", f"ccbot offline ({job_id})")
    save_atomic(img, dest, pnginfo=meta)
    return img.size


class OfflineImageProvider(_OfflineJobs):
    """txt2img: PNG pictures of a cute pet in a cozy room, drawn with Pillow."""

    actions = frozenset({"txt2img"})

    async def _produce(self, job_id: str, request: GenerationRequest, out_dir: Path) -> list[FetchedFile]:
        params = request.params
        width, height = _dimensions(params)
        raw_count = next((params[k] for k in ("n", "num_images", "images") if params.get(k) not in (None, "")), 2)
        count = int(min(4, max(1, _number(raw_count) or 2)))
        files: list[FetchedFile] = []
        for i in range(count):
            dest = out_dir / f"{job_id}_{i}.png"
            if dest.exists():  # an earlier fetch finished this one
                w, h = await asyncio.to_thread(image_size, dest)
            else:
                w, h = await _draw_scene(dest, width, height, request.prompt, _seed(job_id, i), job_id)
            files.append(FetchedFile(local_path=str(dest.resolve()), media_type="image",
                                     provider_item_id=f"{job_id}_{i}", width=w, height=h))
        return files


_VIDEO_FPS = 24


class OfflineVideoProvider(_OfflineJobs):
    """img2vid: an H.264 MP4 of the source image with a slow, loop-friendly breathing zoom."""

    actions = frozenset({"img2vid"})

    def validate(self, request: GenerationRequest) -> None:
        super().validate(request)
        if request.source_image_path and not request.source_image_path.startswith(("http:", "https:")) \
                and not Path(request.source_image_path).is_file():
            raise ProviderError("The picture to animate is missing; please pick an image again.",
                                kind="invalid_request", provider=self.name)

    def _with_audio(self, request: GenerationRequest) -> bool:
        # Veo clips carry sound (so does Sora); Leonardo Motion clips are silent.
        return str(request.params.get("model", "")).upper().startswith("VEO") or self.name in ("veo", "sora")

    async def _produce(self, job_id: str, request: GenerationRequest, out_dir: Path) -> list[FetchedFile]:
        dest = out_dir / f"{job_id}.mp4"
        if not dest.exists():
            await self._render(job_id, request, dest)
        info = await probe(dest)
        return [FetchedFile(local_path=str(dest.resolve()), media_type="video", provider_item_id=job_id,
                            width=info.width, height=info.height, duration_s=info.duration_s)]

    async def _render(self, job_id: str, request: GenerationRequest, dest: Path) -> None:
        params = request.params
        seconds = min(20.0, max(1.0, _number(params.get("duration") or params.get("seconds")) or 5.0))
        width, height = _dimensions(params)
        frames = max(1, round(seconds * _VIDEO_FPS))
        seconds = frames / _VIDEO_FPS
        with tempfile.TemporaryDirectory(prefix="ccbot-offvid-") as tmp:
            still = Path(tmp) / "still.png"
            source = request.source_image_path
            if source and Path(source).is_file():
                await asyncio.to_thread(fit_image, source, width, height, still, mode="cover")
            else:
                await _draw_scene(still, width, height, request.prompt or "a cozy pet", _seed(job_id), job_id)
            # One still in, `frames` frames out: zoom 1 -> 1.04 -> 1 (ends where it
            # starts, so it loops), from a 2x upscale done once, which keeps
            # zoompan's whole-pixel steps from jittering; plus a faint light shimmer.
            zoom = f"1+0.04*(1-cos(2*PI*on/{frames}))/2"
            video_filter = (
                f"[0:v]scale={width * 2}:{height * 2},"
                f"zoompan=z='{zoom}':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d={frames}"
                f":s={width}x{height}:fps={_VIDEO_FPS},"
                f"eq=eval=frame:brightness='0.012*sin(2*PI*t*2/{seconds:.4f})',format=yuv420p[v]"
            )
            args = ["-i", str(still)]
            maps = ["-map", "[v]"]
            if self._with_audio(request):
                args += ["-f", "lavfi", "-i", _ambient_source(seconds)]
                maps += ["-map", "1:a", "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "2"]
            tmp_out = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.part.mp4")
            args += ["-filter_complex", video_filter, *maps, "-frames:v", str(frames), "-t", f"{seconds:.4f}",
                     "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p",
                     "-r", str(_VIDEO_FPS), "-movflags", "+faststart", "-f", "mp4", str(tmp_out)]
            try:
                await run_ffmpeg(args, timeout=120 + seconds * 10)
                os.replace(tmp_out, dest)
            finally:
                tmp_out.unlink(missing_ok=True)


def _ambient_source(seconds: float) -> str:
    """A quiet room tone: two low, slowly breathing sines and a whisper of noise."""
    swell = f"(0.6+0.4*sin(2*PI*t/{max(seconds, 1):.3f}))"
    left = f"{swell}*(0.035*sin(2*PI*196*t)+0.02*sin(2*PI*293.7*t))+0.006*(random(0)-0.5)"
    right = f"{swell}*(0.035*sin(2*PI*196.5*t)+0.02*sin(2*PI*294.2*t))+0.006*(random(1)-0.5)"
    return f"aevalsrc=exprs='{left}|{right}':s=44100:d={seconds:.4f}"


_NOTE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _parse_key(text: str) -> tuple[int, bool] | None:
    match = re.search(r"\b([A-G])\s*(#|♯|b|♭|-?flat|-?sharp)?\s*(major|minor|maj|min)\b", text, re.IGNORECASE)
    if not match:
        return None
    semitone = _NOTE[match.group(1).upper()]
    accidental = (match.group(2) or "").lower()
    semitone += 1 if accidental in ("#", "♯", "sharp", "-sharp") else -1 if accidental else 0
    return semitone % 12, match.group(3).lower().startswith("min")


def _music_source(seconds: float, bpm: float, root: int, minor: bool) -> str:
    """A soft pad plus a plucked arpeggio over I-V-vi-IV (or i-VI-III-VII), one chord per bar (mono)."""
    progression = ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17)) if minor else \
        ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12))
    base = 48 + root  # pad around the third octave
    freq = [[440 * 2 ** ((base + n - 69) / 12) for n in chord] for chord in progression]
    beat = 60.0 / bpm
    bar = 4 * beat
    # Variables: 0 chord index, 1 pad swell, 2 pluck envelope, 3 beat in bar, 4-6 chord tones (Hz).
    steps = [
        f"st(0,mod(floor(t/{bar:.5f}),4))",
        f"st(1,0.5-0.5*cos(2*PI*mod(t,{bar:.5f})/{bar:.5f}))",  # swells to zero at chord changes: no clicks
        f"st(2,mod(t,{beat:.5f}))",
        "st(2,(1-exp(-60*ld(2)))*exp(-3.5*ld(2)))",  # pluck: soft attack, gentle decay
        f"st(3,mod(floor(t/{beat:.5f}),4))",
    ]
    for voice in range(3):
        steps.append(f"st({4 + voice}," + "+".join(f"eq(ld(0),{k})*{freq[k][voice]:.3f}" for k in range(4)) + ")")
    pad = "+".join(f"sin(2*PI*ld({4 + v})*t)" for v in range(3))
    arp = "eq(ld(3),0)*ld(4)+eq(ld(3),1)*ld(5)+eq(ld(3),2)*ld(6)+eq(ld(3),3)*ld(5)"  # root-3rd-5th-3rd
    expr = ";".join(steps) + f";0.1*ld(1)*({pad})+0.2*ld(2)*sin(4*PI*({arp})*t)"
    return f"aevalsrc=exprs='{expr}':s=44100:d={seconds:.4f}"


class OfflineMusicProvider(_OfflineJobs):
    """txt2audio: an MP3 lullaby (pad + arpeggio) at the requested length and tempo."""

    actions = frozenset({"txt2audio"})

    async def _produce(self, job_id: str, request: GenerationRequest, out_dir: Path) -> list[FetchedFile]:
        dest = out_dir / f"{job_id}.mp3"
        if not dest.exists():
            await self._render(job_id, request, dest)
        info = await probe(dest)
        return [FetchedFile(local_path=str(dest.resolve()), media_type="audio", provider_item_id=job_id,
                            duration_s=info.duration_s)]

    async def _render(self, job_id: str, request: GenerationRequest, dest: Path) -> None:
        params = request.params
        seconds = request.duration_hint_s
        if not seconds and (ms := _number(params.get("music_length_ms"))):
            seconds = ms / 1000
        seconds = min(120.0, max(3.0, seconds or _number(params.get("duration")) or 15.0))
        bpm = _number(params.get("bpm"))
        bpm = min(160.0, max(40.0, bpm)) if bpm else 60.0 + _seed(request.prompt) % 25
        key = _parse_key(str(params.get("key") or "")) or _parse_key(request.prompt)
        root, minor = key if key else ((0, 2, 5, 7)[_seed(request.prompt, "key") % 4], False)
        fade_out = min(2.0, seconds / 3)
        tmp_out = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.part.mp3")
        args = ["-f", "lavfi", "-i", _music_source(seconds, bpm, root, minor),
                # echo for warmth, haas to turn the mono source into a gentle stereo image
                "-af", f"aecho=0.8:0.5:90:0.25,haas,afade=t=in:d=0.6,"
                       f"afade=t=out:st={seconds - fade_out:.3f}:d={fade_out:.3f}",
                "-t", f"{seconds:.4f}", "-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100", "-ac", "2",
                "-f", "mp3", str(tmp_out)]
        try:
            await run_ffmpeg(args, timeout=60 + seconds)
            os.replace(tmp_out, dest)
        finally:
            tmp_out.unlink(missing_ok=True)
