"""`now()` in a template: a datetime for `now().strftime(...)` (the reference
design's templates), the same text as before wherever it is printed."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from engine.templating import TemplateEngine, Where

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def render(text: str):
    return TemplateEngine().render_value(text, {"state": {}}, Where("summary", "format_summary", "template"))


def test_now_strftime_works_in_a_template() -> None:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert render("Made on {{ now().strftime('%Y-%m-%d') }}.") == f"Made on {today}."
    assert render("{{ now().strftime('%Y') }}") == today[:4]
    assert render("{{ now().year }}") == int(today[:4])
    assert render("{{ now().tzinfo is not none }}") is True


def test_old_uses_of_now_print_what_they_printed() -> None:
    assert ISO.match(render("{{ now() }}"))  # a whole value: its ISO text, not an object
    assert ISO.match(render("at {{ now() }}")[3:])
    assert ISO.match(render("{{ now() ~ '' }}"))
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$", render("{{ now('%Y-%m-%d %H:%M UTC') }}"))  # the CC summary


def test_a_moment_inside_a_value_lands_in_state_as_text() -> None:
    value = render("{{ {'made': now(), 'at': [now()]} }}")
    assert ISO.match(value["made"]) and ISO.match(value["at"][0])
    json.dumps(value)  # state is JSON
