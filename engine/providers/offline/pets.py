"""Which pet a text is about, and how to talk about it in agreeing grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass


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

LOOKS = {
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
NAMED = re.compile(r"\b(?:named|called|name is)\s+([A-Z][a-z]{1,15})\b")


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
