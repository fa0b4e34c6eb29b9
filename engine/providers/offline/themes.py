"""The cozy scenes the offline writer can describe."""

from __future__ import annotations

from dataclasses import dataclass


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
