"""Which pet a text is about, and how to talk about it in agreeing grammar.

The pets themselves (nouns, sounds, looks) are data: `pets.json` beside this file.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PETS_FILE = Path(__file__).with_name("pets.json")


@dataclass(frozen=True)
class Pet:
    """How to talk about the pet(s) in a request, in agreeing grammar."""

    kind: str  # cat | dog | both | pet
    label: str  # "Cat", "Dog", "Cat & Dog"
    noun: str  # "kitten"
    title_noun: str  # "Kitten"; "Friends" for two
    subject: str  # "the kitten", or the pet's name
    a_noun: str  # "a kitten"
    plural: bool = False
    emojis: str = "🐾💛✨"
    parts: tuple[str, ...] = ()  # body parts that could drift in a video
    sound: str = "soft, sleepy breathing"
    looks: tuple[str, ...] = ()  # ways to describe the animal in a picture prompt
    named: bool = False  # the request gave the pet a name (it is the subject)

    @property
    def is_(self) -> str:
        return "are" if self.plural else "is"

    @property
    def has(self) -> str:
        return "have" if self.plural else "has"

    @property
    def s(self) -> str:  # verb ending: "the kitten curls" / "they curl"
        return "" if self.plural else "s"


@cache
def pets() -> dict[str, Pet]:
    raw = json.loads(PETS_FILE.read_text(encoding="utf-8"))
    return {kind: Pet(kind=kind, **{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
            for kind, fields in raw.items()}


_CAT = re.compile(r"\b(cats?|kittens?|kitty|kitties)\b", re.IGNORECASE)
_DOG = re.compile(r"\b(dogs?|pupp(?:y|ies)|pups?|doggos?)\b", re.IGNORECASE)
_BOTH = re.compile(r"\bcats?\s*(?:&|and|\+)\s*dogs?\b|\bdogs?\s*(?:&|and|\+)\s*cats?\b", re.IGNORECASE)
NAMED = re.compile(r"\b(?:named|called|name is|[Tt]his is|[Mm]eet)\s+"
                   r"(?!(?:The|A|An|My|Our|Your|His|Her|Their|This|That|Home|It)\b)([A-Z][a-z]{1,15})\b")


def detect_pet(text: str, *, name: str | None = None) -> Pet:
    """Which pet a text is about: "Cat & Dog" before either word alone."""
    table = pets()
    if _BOTH.search(text):
        pet = table["both"]
    else:
        cats, dogs = len(_CAT.findall(text)), len(_DOG.findall(text))
        if cats and dogs:
            pet = table["both"] if min(cats, dogs) * 3 >= max(cats, dogs) else table["cat" if cats > dogs else "dog"]
        elif cats or dogs:
            pet = table["cat" if cats else "dog"]
        else:
            pet = table["pet"]
    if name and not pet.plural:
        pet = dataclasses.replace(pet, subject=name, named=True)
    return pet
