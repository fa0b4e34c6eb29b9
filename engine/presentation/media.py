"""A media-generation interaction, neutrally: each provider panel as shown,
the generated files numbered, the data around the panels, job progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.presentation.forms import Setting, panel_params, panel_settings, short_hash
from engine.presentation.values import Row, item_rows, properties, schema_at, section_rows, shorten
from engine.protocol import ContentItem, JobView, MediaDisplay, MediaPanel
from engine.selection import ux

CONTENT_KEY_LENGTH = 6
AVAILABILITY = {"live": "", "offline": "offline (test files)", "unavailable": "unavailable"}
NOTE_LIMIT = 300
PANEL_FIELD_LIMIT = 300


def provider_name(provider: str) -> str:
    """A provider id as a person reads it ("openai" -> "OpenAI", "eleven_labs" -> "Eleven Labs")."""
    return {"openai": "OpenAI"}.get(provider, provider.replace("_", " ").title())


@dataclass
class PanelView:
    """What a provider panel shows, its parameters as the person set them."""

    label: str
    usable: bool
    availability: str  # "" when live
    price: str  # "" when unavailable
    note: str
    prompt: Row | None  # the first free-text field (the prompt) and its value
    rows: list[Row]  # the visible fields of the prompt data
    settings: list[Setting]
    jobs: list[JobView] = field(default_factory=list)  # its jobs still under way (or failed)


def panel_view(disp: MediaDisplay, panel: MediaPanel, overrides: dict[str, Any] | None, field_limit: int) -> PanelView:
    """The panel with `overrides` applied; texts cut to `field_limit` (at most 300)."""
    limit = min(PANEL_FIELD_LIMIT, field_limit)
    params = panel_params(panel, overrides)
    texts = [f for f in panel.fields if f.input_type == "textarea"]
    prompt = Row(texts[0].title, shorten(params.get(texts[0].name), limit)) if texts and field_limit else None
    rows: list[Row] = []
    if isinstance(panel.prompt_data, dict):
        node = schema_at(disp.display_schema, panel.prompt_key.split("."))
        rows = item_rows(panel.prompt_data, node, limit, include_title=True)
    usable = panel.availability != "unavailable"
    return PanelView(
        label=panel.label,
        usable=usable,
        availability=AVAILABILITY[panel.availability],
        price=panel.price if usable else "",
        note=shorten(panel.note, NOTE_LIMIT),
        prompt=prompt,
        rows=rows,
        settings=panel_settings(panel, overrides),
        jobs=[j for j in disp.jobs if j.prompt_key == panel.prompt_key and j.status != "completed"],
    )


def holds_panel(schema: Any) -> bool:
    """True when a schema node is, or holds, a media panel (`render_as` tab.media / media)."""
    if not isinstance(schema, dict):
        return False
    if ux(schema).get("render_as") in ("tab.media", "media"):
        return True
    return any(holds_panel(sub) for sub in properties(schema).values())


def media_context(disp: MediaDisplay, limit: int) -> list[Row]:
    """The visible data outside the provider panels (e.g. a scene title and key moment)."""
    return section_rows(disp.data, disp.display_schema, limit, skip=holds_panel)


@dataclass
class ShownContent:
    number: int  # 1-based, as shown to the person ("Pick #3")
    content_id: str
    key: str  # a short stable name of the content (e.g. a button's argument)
    prompt_key: str
    item: ContentItem | None
    url: str | None


def generated_contents(disp: MediaDisplay) -> list[ShownContent]:
    """Every generated file of the interaction once, numbered in display order."""
    out: list[ShownContent] = []
    seen: set[str] = set()
    for prompt_key, batches in disp.generations.items():
        for batch in batches:
            if batch.contents:
                items = [(c.content_id, c, c.url) for c in batch.contents]
            else:
                urls = batch.urls
                items = [(cid, None, urls[k] if k < len(urls) else None) for k, cid in enumerate(batch.content_ids)]
            for content_id, item, url in items:
                if content_id in seen:
                    continue
                seen.add(content_id)
                key = short_hash(content_id, CONTENT_KEY_LENGTH)
                out.append(ShownContent(len(out) + 1, content_id, key, prompt_key, item, url))
    return out


def content_facts(shown: ShownContent, label: str | None = None) -> list[str]:
    """What a file's caption says: "#n", who made it, its length and size."""
    item = shown.item
    bits = [f"#{shown.number}", label or (provider_name(item.provider) if item else "")]
    if item and item.duration_s:
        bits.append(f"{item.duration_s:g} s")
    if item and item.width and item.height:
        bits.append(f"{item.width}×{item.height}")
    return [b for b in bits if b]


def job_progress(job: JobView, label: str | None = None) -> str:
    """One plain line: "⏳ Leonardo: rendering… 40%"."""
    name = label or provider_name(job.provider)
    message = shorten(job.message, 80)
    if job.status in ("created", "submitted"):
        return f"⏳ {name}: {message or 'queued'}…"
    if job.status == "running":
        pct = ""
        if job.progress is not None:
            value = job.progress * 100 if job.progress <= 1 else job.progress
            pct = f" {int(max(0, min(100, round(value))))}%"
        return f"⏳ {name}: {message or 'rendering'}…{pct}"
    if job.status == "completed":
        count = len(job.content_ids)
        return f"✅ {name}: done" + (f" ({count} file{'s' if count != 1 else ''})" if count else "")
    if job.status == "failed":
        error = shorten(job.error or job.message or "something went wrong", 200).rstrip(".")  # one full stop
        again = " You can try again." if job.retryable_error else ""
        return f"⚠️ {name}: failed: {error}.{again}"
    return f"✖️ {name}: cancelled"
