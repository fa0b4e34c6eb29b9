"""A light normaliser for what people type: words, stems, numbers and the
small vocabularies the matcher reads (fillers, "done", "no", going back).

English only, on purpose: a word list that is small enough to read. What it
does not know it leaves alone, and the matcher then says "not sure" rather
than guess.
"""

from __future__ import annotations

import re
import unicodedata

# one spelling for words that mean the same thing here (both sides are normalised alike)
SYNONYMS = {
    "cosy": "cozy", "cosier": "cozy", "cozier": "cozy", "colour": "color", "grey": "gray",
    "favourite": "favorite", "picture": "image", "pic": "image", "photo": "image", "frame": "image",
    "clip": "video", "movie": "video", "animation": "video", "song": "music", "track": "music",
    "tune": "music", "soundtrack": "music", "subtitle": "caption", "overlay": "caption",
    "kitty": "cat", "kitten": "cat", "puppy": "dog", "pup": "dog", "doggo": "dog", "doggy": "dog",
    "prompts": "prompt", "element": "motion", "movement": "motion", "moving": "motion", "move": "motion",
    "vibe": "mood", "aesthetic": "mood", "style": "style", "length": "length", "duration": "length",
    "long": "length", "second": "second", "sec": "second", "secs": "second",
}  # fmt: skip

# words that carry no choice of their own ("the cozy one please")
FILLER = frozenset("""
a an the of to in on at for with from by and or but it its it's is are be this that these those one ones
please pls plz thanks thank i i'd id i'll ill i'm im me my we us our you your want wanna would like love
prefer take pick choose choosing select go going let lets let's use using do does can could maybe just
think guess obviously definitely really probably actually surely sure rather perhaps now then so
number num option choice item which what will gonna ll d s how about
""".split())

ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
    "ninth": 9, "9th": 9, "tenth": 10, "10th": 10,
}  # fmt: skip
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10}
POSITION_WORDS = frozenset({"last", "middle"})

DONE = frozenset("""done ok okay k finished finish confirm continue next good great perfect fine happy yes yep
yeah yup sure accept ready proceed onward onwards lgtm""".split())
DONE_HELPERS = frozenset("looks look sounds sound all that's thats that it this is to go with keep these them "
                         "i'm im am we're are those".split())
NO = frozenset("no nope nah cancel stop nevermind never mind forget don't dont not wait".split())
YES = frozenset("yes yep yeah yup sure ok okay y absolutely definitely".split())
YES_HELPERS = frozenset("do it go ahead please of course that one sounds good great fine perfect".split())

BACK = frozenset("back return change different another switch previous earlier revisit redo undo fix edit "
                 "instead other".split())
GENERATE_STRONG = frozenset("generate render create produce start".split())
GENERATE_WEAK = frozenset("make try use with run".split())
MEDIA = frozenset("image video music it them one some now more new again please another".split())

GREETINGS = frozenset("hi hello hey hiya yo howdy morning evening afternoon sup thanks thank thx ty cheers bye "
                      "goodbye lol haha hmm um uh".split())
BOT_QUESTIONS = (
    r"^(what|who) (is|are) (this|you|it)\b", r"^what can (you|i) do\b", r"^how (does|do|did) (this|it|you|i)\b",
    r"^help\b", r"^how much\b", r"^(is|are) (this|it|you) (free|paid|a bot|real)\b", r"\b(cost|price|pay)\b.*\?$",
    r"^(are|r) (you|u) (there|a bot|real|human)\b", r"^what now\b", r"^and now\b", r"^now what\b",
    r"^(is|are) (it|this|that|they|we) (done|ready|finished)\b", r"\b(done|ready|finished) yet\b", r"^how long\b",
)  # fmt: skip

# very common words of other languages the bot is not written for (Latin script only)
FOREIGN = frozenset("""
el la los las un una unos del que y es en por para con mi quiero segundo segunda primero primera tercero
otro otra gato perro más mas gracias hola por favor le les des et est je veux une deux deuxième premier
avec chat chien merci bonjour der die das und ist ich möchte bitte zweite erste dritte mit katze hund danke
hallo il lo gli è voglio secondo prima con gatto cane grazie ciao um uma eu não com obrigado olá
""".split())
ENGLISH = frozenset("""
a an the of to in on at for with and or but it is are this that make more less much very too bit little
some something add remove without no not please try again new different other instead like want need
should could would can so just also maybe less funnier funny silly cute cozy warm happy sad bright dark
calm slow fast big small his her their they he she we you i my our me us be was were has have had do
go get see look looks where when what which who how why all any each every than then there here into
out up down over under after before about around make made let show give ball toy snow rain sun garden
""".split())


def fold(text: str) -> str:
    """Lower case, typographic quotes and dashes made plain, accents kept."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"}))


def raw_words(text: str) -> list[str]:
    """The words of a text, lower case, punctuation dropped ("#3" -> "3", "it's" kept)."""
    return re.findall(r"[^\W_]+(?:'[^\W_]+)?", fold(text))


def stem(word: str) -> str:
    """A crude English stem, then the synonym table: "kittens" -> "cat", "sillier" -> "silly"."""
    w = word.removesuffix("'s")
    if w in SYNONYMS:
        return SYNONYMS[w]
    if len(w) > 4 and w.endswith("iest"):
        w = w[:-4] + "y"
    elif len(w) > 4 and w.endswith(("ier", "ies")):
        w = w[:-3] + "y"
    elif len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith(("ches", "shes", "xes", "sses")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    return SYNONYMS.get(w, w)


def stems(text: str) -> list[str]:
    return [stem(w) for w in raw_words(text)]


def content(text: str, extra: frozenset[str] = frozenset()) -> list[str]:
    """The stems that say something: fillers (and `extra`) left out."""
    return [stem(w) for w in raw_words(text) if w not in FILLER and w not in extra and stem(w) not in FILLER]


def letters(text: str) -> int:
    return sum(1 for ch in text if ch.isalpha())


def has_words(text: str) -> bool:
    """At least one word of two letters or more (not only emoji, digits or punctuation)."""
    return any(sum(ch.isalpha() for ch in w) >= 2 for w in raw_words(text))


def foreign(text: str) -> bool:
    """True when the text reads as another language: mostly non-Latin letters,
    or more common words of other languages than of English."""
    total = letters(text)
    latin = sum(1 for ch in fold(text) if ch.isalpha() and ("a" <= ch <= "z" or "\u00c0" <= ch <= "\u024f"))
    if total and latin / total < 0.7:
        return True
    words = raw_words(text)
    return sum(w in FOREIGN for w in words) > sum(w in ENGLISH for w in words)


def chat(text: str) -> bool:
    """A greeting, thanks, or a question about the bot itself, not about the video."""
    words = raw_words(text)
    if words and all(w in GREETINGS or w in FILLER for w in words) and any(w in GREETINGS for w in words):
        return True
    plain = " ".join(words) + ("?" if text.strip().endswith("?") else "")
    return any(re.search(pattern, plain) for pattern in BOT_QUESTIONS)


def is_no(text: str) -> bool:
    """ "no", "cancel", "never mind": a refusal and nothing else."""
    words = raw_words(text)
    return bool(words) and len(words) <= 4 and words[0] in NO and all(w in NO or w in FILLER for w in words)


def is_yes(text: str) -> bool:
    """ "yes", "ok", "sure, do it": a plain yes and nothing else."""
    words = raw_words(text)
    return bool(words) and len(words) <= 4 and all(w in YES or w in YES_HELPERS or w in FILLER for w in words) \
        and any(w in YES for w in words) and not is_no(text)


def is_done(text: str) -> bool:
    """ "done", "looks good", "that's it": finished with this step."""
    words = raw_words(text)
    if not words or len(words) > 6:
        return False
    return any(w in DONE for w in words) and all(w in DONE or w in DONE_HELPERS or w in FILLER for w in words)


IDEA_LIMIT = 500


def reads_like_idea(text: str) -> bool:
    """A video idea ("a corgi chasing bubbles"): words about something, not a
    greeting, a question about the bot, a yes or no, or another language."""
    t = (text or "").strip()
    if not has_words(t) or len(t) > IDEA_LIMIT or chat(t) or is_yes(t) or is_no(t) or is_done(t) or foreign(t):
        return False
    words = raw_words(t)
    if t.endswith("?") and len(words) <= 6:  # a short question: ask it back rather than start
        return False
    return any(w not in FILLER and sum(ch.isalpha() for ch in w) >= 3 for w in words)
