"""Protocol -> Telegram-ready message specs. Pure: no network, no `telegram` import.

Everything here is driven by the interaction type and the display schema's
`_ux` hints (`render_as`, `display`, `display_label`, `display_format`,
`highlight`, `nudges`, `selectable`, `tab_label`, `provider`, `input_schema`),
never by step ids or state key names, so a new workflow renders without a
Python change.

Telegram limits kept here (provider-apis.md §6.1): text <= 4096 and caption
<= 1024 (measured in UTF-16 code units, which is never less than what
Telegram counts), callback data <= 64 bytes (bot.callbacks refuses more),
<= 100 buttons per keyboard, ForceReply placeholder <= 64 chars. All workflow
and LLM text is HTML-escaped; messages use parse_mode HTML.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from bot import callbacks
from engine.protocol import (
    ContentItem,
    InteractionRequest,
    JobView,
    MediaDisplay,
    MediaPanel,
    ParamField,
    Retryable,
    SelectDisplay,
    TextInputDisplay,
)
from engine.selection import Path, ux, wire_paths
from engine.selection import selectable_items as _engine_selectable_items

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
BUTTON_LABEL_LIMIT = 40
PLACEHOLDER_LIMIT = 64
MAX_BUTTONS = 100
MAX_SELECT_MESSAGES = 3  # beyond this, options are summarised rather than sent as a flood
PAGE_SIZE = 60  # options per page when a list is too long for one keyboard
FIELD_LIMITS = (700, 400, 200, 100, 50, 0)  # per-field characters, tried in turn until things fit

Kind = Literal["text", "photo", "video", "media_group", "document"]


@dataclass
class Button:
    text: str
    callback_data: str


@dataclass
class OutMessage:
    """One message to send. For photo/video/document `text` is the caption;
    for media_group `captions` holds one caption per item (no buttons: Telegram
    allows no keyboard on an album)."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    parse_mode: str | None = "HTML"
    kind: Kind = "text"
    media_paths: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    force_reply: bool = False
    placeholder: str | None = None

    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


# ----------------------------------------------------------------- text tools


def esc(value: Any) -> str:
    """HTML-escape for Telegram's HTML parse mode."""
    return html.escape("" if value is None else str(value), quote=False)


def tg_len(text: str) -> int:
    """Length in UTF-16 code units: an upper bound of what Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: Any, limit: int) -> str:
    """Collapse whitespace and cut at a word boundary with an ellipsis."""
    s = re.sub(r"\s+", " ", "" if text is None else str(text)).strip()
    if limit <= 0:
        return ""
    if len(s) <= limit:
        return s
    cut = s[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)([^>]*)>")


def _track_tags(stack: list[tuple[str, str]], piece: str) -> list[tuple[str, str]]:
    stack = list(stack)
    for m in _TAG.finditer(piece):
        closing, name = m.group(1), m.group(2).lower()
        if closing:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == name:
                    del stack[k:]
                    break
        elif not m.group(3).rstrip().endswith("/"):
            stack.append((name, m.group(0)))
    return stack


def _closers(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _char_index_for(text: str, budget: int) -> int:
    """The largest i with tg_len(text[:i]) <= budget."""
    i = min(len(text), max(0, budget))
    while i > 0 and tg_len(text[:i]) > budget:
        i -= max(1, (tg_len(text[:i]) - budget) // 2)
    return max(0, i)


def _find_cut(text: str, budget: int, markup: bool) -> int:
    end = _char_index_for(text, budget)
    if end >= len(text):
        return len(text)
    window = text[:end]
    cut = -1
    for sep in ("\n\n", "\n", " "):
        pos = window.rfind(sep)
        if pos > end * 0.3:
            cut = pos
            break
    if cut <= 0:
        cut = end
    if markup:  # never inside a tag or an entity
        head = text[:cut]
        lt, gt = head.rfind("<"), head.rfind(">")
        if lt > gt:
            cut = lt
        head = text[:cut]
        amp = head.rfind("&")
        if amp != -1 and ";" not in head[amp:] and cut - amp < 12:
            cut = amp
    return max(1, cut)


def split_text(text: str, limit: int = TEXT_LIMIT, html_markup: bool = True) -> list[str]:
    """Split on paragraph, then line, then word boundaries so that every piece
    fits `limit`. With HTML, tags open at a cut are closed and reopened."""
    if not text:
        return []
    if tg_len(text) <= limit:
        return [text]
    if limit < 200:
        raise ValueError(f"split_text needs a limit of at least 200, not {limit}")
    chunks: list[str] = []
    rest = text
    stack: list[tuple[str, str]] = []
    reserve = 0
    while rest:
        prefix = "".join(tag for _, tag in stack) if html_markup else ""
        whole = prefix + rest
        if tg_len(whole) <= limit:
            chunks.append(whole)
            break
        budget = max(16, limit - tg_len(prefix) - reserve - (64 if html_markup else 0))
        cut = _find_cut(rest, budget, html_markup)
        piece = rest[:cut]
        new_stack = _track_tags(stack, piece) if html_markup else []
        chunk = (prefix + piece).rstrip() + (_closers(new_stack) if html_markup else "")
        if tg_len(chunk) > limit and reserve < limit // 2:  # closing tags did not fit: cut shorter
            reserve += 64
            continue
        if tg_len(chunk) > limit:  # pathological nesting: give up on markup for this piece
            piece = rest[: _char_index_for(rest, limit - tg_len(prefix) - tg_len(_closers(stack)))]
            new_stack = stack
            chunk = prefix + piece + _closers(stack)
            cut = max(1, len(piece))
        reserve = 0
        if chunk.strip():
            chunks.append(chunk)
        rest = rest[cut:].lstrip()
        stack = new_stack
    return chunks


def fit_caption(text: str, limit: int = CAPTION_LIMIT) -> tuple[str, str]:
    """(caption <= limit, the rest to send as text after the media, "" if none)."""
    if tg_len(text) <= limit:
        return text, ""
    chunks = split_text(text, limit)
    return chunks[0], "\n\n".join(chunks[1:])


# -------------------------------------------------------------- schema tools


def _props(schema: Any) -> dict[str, Any]:
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def _display(schema: Any) -> Any:
    return ux(schema).get("display", True)


def _hidden(key: str, schema: Any) -> bool:
    if key.startswith("_"):
        return True
    shown = _display(schema)
    return shown is False or (isinstance(shown, str) and shown.lower() in ("false", "hidden", "none"))


def _humanize(key: str) -> str:
    words = re.sub(r"[_\-]+", " ", key).strip()
    return words[:1].upper() + words[1:] if words else key


def _label_for(key: str, schema: Any) -> str:
    label = ux(schema).get("display_label") or (schema.get("title") if isinstance(schema, dict) else None)
    return str(label) if label else _humanize(key)


def schema_at(schema: Any, path: Iterable[Any]) -> dict[str, Any]:
    """The schema node for a data path (str -> properties, int -> items)."""
    node: Any = schema if isinstance(schema, dict) else {}
    for part in path:
        if isinstance(part, int):
            node = node.get("items") if isinstance(node.get("items"), dict) else {}
        else:
            node = _props(node).get(part, {})
            if not isinstance(node, dict):
                node = {}
    return node


_TEMPLATES: Any = None


def _apply_format(fmt: str, value: Any) -> str | None:
    global _TEMPLATES
    try:
        if "{{" in fmt or "{%" in fmt:
            from engine.templating import TemplateEngine, Where

            if _TEMPLATES is None:
                _TEMPLATES = TemplateEngine()
            return _TEMPLATES.render_text(fmt, {"value": value}, Where(input_key="display_format"))
        if "{value" in fmt:
            return fmt.format(value=value)
    except Exception:  # a bad hint must never break the chat; fall back to the plain value
        return None
    return None


def _title_key(item: dict[str, Any], schema: Any) -> str | None:
    props = _props(schema)
    for key, sub in props.items():
        if key in item and ux(sub).get("render_as") in ("card-title", "section-title", "title"):
            return key
    for key, sub in props.items():
        value = item.get(key)
        if not _hidden(key, sub) and ux(sub).get("display_label") and isinstance(value, str) and value.strip():
            return key
    for key, sub in list(props.items()) + [(k, {}) for k in item if k not in props]:
        if key in item and not _hidden(key, sub) and isinstance(item[key], str) and item[key].strip():
            return key
    return None


def format_value(value: Any, schema: Any = None, limit: int = 700) -> str:
    """A field value as one line of plain text (not escaped), cut to `limit`."""
    hints = ux(schema)
    fmt = hints.get("display_format")
    if isinstance(fmt, str):
        formatted = _apply_format(fmt, value)
        if formatted is not None:
            return shorten(formatted, limit)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, str)):
        return shorten(value, limit)
    item_schema = schema.get("items", {}) if isinstance(schema, dict) else {}
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return shorten(", ".join(format_value(v, item_schema, limit) for v in value), limit)
        return shorten("; ".join(item_label(v, item_schema, limit) for v in value), limit)
    if isinstance(value, dict):
        props = _props(schema)
        parts = []
        for key, sub in value.items():
            sub_schema = props.get(key, {})
            if _hidden(key, sub_schema):
                continue
            text = format_value(sub, sub_schema, limit)
            if text:
                parts.append(f"{_label_for(key, sub_schema)}: {text}")
        return shorten(", ".join(parts), limit)
    return shorten(json.dumps(value, ensure_ascii=False, default=str), limit)


def item_label(item: Any, item_schema: Any = None, limit: int = BUTTON_LABEL_LIMIT) -> str:
    """A short plain-text title for an item: its card-title/section-title field,
    else the first labelled string field, else the first string, else str(item)."""
    if isinstance(item, dict):
        key = _title_key(item, item_schema)
        if key is not None:
            return format_value(item[key], _props(item_schema).get(key, {}), limit) or "…"
        return format_value(item, item_schema, limit) or "…"
    return format_value(item, item_schema, limit) or "…"


def item_details(
    item: Any, item_schema: Any = None, *, include_title: bool = False, field_limit: int = 700
) -> str:
    """The visible fields of an item as HTML lines (`Label: value`), hidden
    (`display: false`) fields left out, lists joined, nested objects summarised."""
    if not isinstance(item, dict):  # a plain item is all title
        return esc(format_value(item, item_schema, field_limit)) if include_title else ""
    if field_limit <= 0:
        return ""
    props = _props(item_schema)
    title = None if include_title else _title_key(item, item_schema)
    keys = [k for k in props if k in item] + ([k for k in item if k not in props] if not props else [])
    lines: list[str] = []
    for key in keys:
        sub = props.get(key, {})
        if key == title or _hidden(key, sub):
            continue
        hints = ux(sub)
        if hints.get("display") == "passthrough" and isinstance(item[key], dict):
            nested = item_details(item[key], sub, include_title=True, field_limit=field_limit)
            if nested:
                lines.append(nested)
            continue
        text = format_value(item[key], sub, field_limit)
        if not text:
            continue
        value = f"<b>{esc(text)}</b>" if hints.get("highlight") else esc(text)
        if hints.get("render_as") in ("card-subtitle", "section-summary"):
            lines.append(f"<i>{esc(text)}</i>")
        else:
            lines.append(f"<i>{esc(_label_for(key, sub))}:</i> {value}")
    return "\n".join(lines)


def selectable_items(data: Any, schema: Any) -> list[tuple[Path, Any, dict[str, Any]]]:
    """(path, item, item schema) per selectable unit: the node marked
    `_ux.selectable`, else the first array found (engine.selection)."""
    return _engine_selectable_items(data, schema)


def selection_indices(req: InteractionRequest, chosen: Iterable[int]) -> list[Any]:
    """`InteractionResponse.selected_indices` (wire form) for option numbers (0-based)."""
    disp = req.display_data
    assert isinstance(disp, SelectDisplay)
    items = selectable_items(disp.data, disp.display_schema)
    paths = [items[i][0] for i in sorted(set(chosen)) if 0 <= i < len(items)]
    return wire_paths(paths, disp.multi_select)


# ---------------------------------------------------------------- rendering


def _header(req: InteractionRequest, with_title: bool = True) -> str:
    parts = [f"<b>{esc(shorten(req.step_name, 120))}</b>"] if req.step_name else []
    if with_title and req.title and req.title != req.step_name:
        parts.append(esc(shorten(req.title, 400)))
    return "\n".join(parts)


def _label(text: str, limit: int = 48) -> str:
    return shorten(text, limit) or "…"


def _option_buttons(
    req: InteractionRequest, retryable: Retryable | None, secret: str | bytes, include_continue: bool
) -> list[list[Button]]:
    rows: list[list[Button]] = []
    if not retryable:
        return rows
    icons = {"continue": "✔️", "retry": "🔄", "jump": "↩️"}
    for idx, option in enumerate(retryable.options):
        if option.mode == "continue" and not include_continue:
            continue
        text = _label(f"{icons.get(option.mode, '•')} {option.label}")
        rows.append([Button(text, callbacks.encode("opt", req.interaction_id, idx, secret))])
    return rows


def _pack(blocks: list[str], limit: int = TEXT_LIMIT) -> list[str]:
    """Join blocks with blank lines into as few messages as fit; a block that is
    too long on its own is split."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        if not block:
            continue
        candidate = f"{current}\n\n{block}" if current else block
        if tg_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            messages.append(current)
        if tg_len(block) <= limit:
            current = block
        else:
            parts = split_text(block, limit)
            messages.extend(parts[:-1])
            current = parts[-1]
    if current:
        messages.append(current)
    return messages


def _grid(buttons: list[Button], per_row: int) -> list[list[Button]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _section_label(disp: SelectDisplay, items: list[tuple[Path, Any, dict[str, Any]]]) -> str:
    if not items:
        return ""
    parent = schema_at(disp.display_schema, items[0][0][:-1])
    label = ux(parent).get("display_label")
    return f"<i>{esc(label)}</i>" if label else ""


def render_select(
    req: InteractionRequest, chosen: set[int] | None, secret: str | bytes, page: int = 0
) -> list[OutMessage]:
    """A select / multi-select / review interaction as messages; the keyboard
    is on the last message. `chosen` holds the ticked option numbers (0-based)."""
    disp = req.display_data
    assert isinstance(disp, SelectDisplay), "render_select needs a SelectDisplay"
    chosen = set(chosen or ())
    iid = req.interaction_id
    items = selectable_items(disp.data, disp.display_schema)
    review = disp.mode == "review"
    multi = disp.multi_select and not review

    extra_rows = _option_buttons(req, disp.retryable, secret, include_continue=review)
    reserved = sum(len(r) for r in extra_rows) + 3  # confirm + two page buttons
    page_size = max(10, min(PAGE_SIZE, MAX_BUTTONS - reserved))
    pages = max(1, -(-len(items) // page_size))
    page = min(max(0, page), pages - 1)
    start = page * page_size
    shown = list(enumerate(items))[start : start + page_size]

    intro = [_header(req), _section_label(disp, items)]
    if multi:
        low, high = disp.min_selections, disp.max_selections
        if high is not None and high == low:
            want = f"exactly {low}"
        elif high is not None:
            want = f"{low}–{high}" if low else f"up to {high}"
        else:
            want = f"at least {low}" if low else "any number"
        intro.append(f"Tap to tick or untick, then <b>Done</b>. Choose {want}. Selected: {len(chosen)}.")
    elif not review and items:
        intro.append("Tap a button to choose.")
    if pages > 1:
        intro.append(f"Options {start + 1}–{start + len(shown)} of {len(items)}.")
    intro_text = "\n".join(p for p in intro if p)

    def blocks_for(field_limit: int) -> list[str]:
        out = []
        badge = any("index-badge" in (ux(s).get("nudges") or []) for _, _, s in items[:1])
        for i, (_path, item, item_schema) in shown:
            mark = ("✅ " if i in chosen else "▫️ ") if multi else ""
            number = f"#{i + 1}" if badge else f"{i + 1}."
            head = f"{mark}<b>{number} {esc(item_label(item, item_schema, 160 if field_limit else 60))}</b>"
            details = item_details(item, item_schema, field_limit=field_limit)
            block = f"{head}\n{details}" if details else head
            if tg_len(block) > TEXT_LIMIT - tg_len(intro_text) - 4:  # one option never needs two messages
                block = split_text(block, max(1000, TEXT_LIMIT - tg_len(intro_text) - 4))[0]
            out.append(block)
        return out

    def whole_for(field_limit: int) -> list[str]:  # nothing selectable (a review of an object)
        return [item_details(disp.data, disp.display_schema, include_title=True, field_limit=field_limit)]

    texts: list[str] = []
    for field_limit in FIELD_LIMITS:
        texts = _pack([intro_text] + (blocks_for(field_limit) if items else whole_for(field_limit)))
        if len(texts) <= MAX_SELECT_MESSAGES:
            break

    rows: list[list[Button]] = []
    if not review:
        action = "toggle" if multi else "pick"
        buttons = []
        for i, (_path, item, item_schema) in shown:
            mark = ("✅ " if i in chosen else "▫️ ") if multi else ""
            # always a readable label; long lists get shorter labels, two per row
            limit = BUTTON_LABEL_LIMIT if len(shown) <= 20 else 18
            text = f"{mark}{i + 1}. {item_label(item, item_schema, limit)}"
            buttons.append(Button(_label(text), callbacks.encode(action, iid, i, secret)))
        rows.extend(_grid(buttons, 1 if len(shown) <= 20 else 2))
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(Button("◀ Previous", callbacks.encode("page", iid, page - 1, secret)))
        if page < pages - 1:
            nav.append(Button("Next ▶", callbacks.encode("page", iid, page + 1, secret)))
        rows.append(nav)
    if multi:
        rows.append([Button(f"Done ({len(chosen)} selected)", callbacks.encode("confirm", iid, "", secret))])
    has_continue = any(o.mode == "continue" for o in (disp.retryable.options if disp.retryable else []))
    if review and not has_continue:
        rows.append([Button("✔️ Continue", callbacks.encode("confirm", iid, "", secret))])
    rows.extend(extra_rows)

    messages = [OutMessage(text=t) for t in texts] or [OutMessage(text=_header(req) or "…")]
    messages[-1].buttons = rows
    return messages


def render_text_input(req: InteractionRequest, secret: str | bytes) -> list[OutMessage]:
    """The prompt with ForceReply (+ placeholder); a second message carries
    "Use default" / "Skip" (Telegram allows one reply_markup per message)."""
    disp = req.display_data
    assert isinstance(disp, TextInputDisplay), "render_text_input needs a TextInputDisplay"
    parts = [_header(req)]
    if disp.prompt and disp.prompt != req.title:
        parts.append(esc(disp.prompt))
    if disp.default_value:
        parts.append(f"<i>Default:</i> {esc(shorten(disp.default_value, 1500))}")
    hint = "Reply with your text"
    if disp.max_length:
        hint += f" (up to {disp.max_length} characters)"
    parts.append(f"✏️ {hint}.")
    texts = _pack(["\n".join(p for p in parts if p)])
    default_hint = f"Default: {disp.default_value}" if disp.default_value else "Type your answer…"
    placeholder = disp.placeholder or default_hint
    messages = [OutMessage(text=t) for t in texts]
    messages[-1].force_reply = True
    messages[-1].placeholder = shorten(placeholder, PLACEHOLDER_LIMIT) or None
    if disp.default_value:
        messages.append(
            OutMessage(
                text="…or keep the default:",
                buttons=[[Button("Use default", callbacks.encode("text-default", req.interaction_id, "", secret))]],
            )
        )
    elif disp.allow_empty:
        messages.append(
            OutMessage(
                text="…or leave it empty:",
                buttons=[[Button("Skip", callbacks.encode("skip", req.interaction_id, "", secret))]],
            )
        )
    return messages


# ------------------------------------------------------------------- media


def param_values(f: ParamField) -> list[Any]:
    """The values a parameter button cycles through (enum, or a slider's steps;
    long ranges are sampled to at most ~7 values including the starting one)."""
    if f.enum:
        return list(f.enum)
    if f.minimum is None or f.maximum is None or f.maximum < f.minimum:
        return []
    step = f.step or 1
    count = int(round((f.maximum - f.minimum) / step)) + 1
    integral = f.type == "integer" or all(float(x).is_integer() for x in (f.minimum, f.maximum, step))
    if count <= 10:
        raw = [f.minimum + k * step for k in range(count)]
    else:
        raw = [f.minimum + round(k * (count - 1) / 5) * step for k in range(6)]
        if isinstance(f.value, (int, float)) and f.minimum <= f.value <= f.maximum:
            raw.append(f.value)
    values = sorted({int(round(v)) if integral else round(v, 6) for v in raw})
    return values


def is_choice_field(f: ParamField) -> bool:
    """A field shown as a button (not free text)."""
    return f.input_type not in ("textarea", "text") and len(param_values(f)) > 1


def panel_params(panel: MediaPanel, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every field's effective value (keyed by `ParamField.name`)."""
    overrides = overrides or {}
    return {f.name: overrides.get(f.name, f.value) for f in panel.fields}


def next_param_choice(
    panel: MediaPanel, field_index: int, overrides: dict[str, Any] | None = None, value_index: int | None = None
) -> dict[str, Any]:
    """New overrides for `panel` after a "param" tap: the next value in the
    cycle, or value number `value_index`."""
    new = dict(overrides or {})
    if not 0 <= field_index < len(panel.fields):
        return new
    f = panel.fields[field_index]
    values = param_values(f)
    if not values:
        return new
    if value_index is not None:
        if 0 <= value_index < len(values):
            new[f.name] = values[value_index]
        return new
    current = new.get(f.name, f.value)
    keyed = [str(v) for v in values]
    pos = keyed.index(str(current)) if str(current) in keyed else -1
    new[f.name] = values[(pos + 1) % len(values)]
    return new


def params_signature(params: dict[str, Any]) -> str:
    """4 chars naming a parameter set (stale-keyboard check, idempotency keys)."""
    return callbacks.short_key(json.dumps(params, sort_keys=True, default=str), 4)


def _value_label(f: ParamField, value: Any) -> str:
    return str(f.enum_labels.get(str(value), value))


@dataclass
class ShownContent:
    number: int  # 1-based, as shown to the person ("Pick #3")
    content_id: str
    key: str  # callback arg for "choose"
    prompt_key: str
    item: ContentItem | None
    url: str | None


def generated_contents(disp: MediaDisplay) -> list[ShownContent]:
    """Every generated file of the interaction, numbered in display order."""
    out: list[ShownContent] = []
    seen: set[str] = set()
    for prompt_key, batches in disp.generations.items():
        for batch in batches:
            items: list[tuple[str, ContentItem | None, str | None]] = []
            if batch.contents:
                items = [(c.content_id, c, c.url) for c in batch.contents]
            else:
                items = [
                    (cid, None, batch.urls[k] if k < len(batch.urls) else None)
                    for k, cid in enumerate(batch.content_ids)
                ]
            for content_id, item, url in items:
                if content_id in seen:
                    continue
                seen.add(content_id)
                out.append(
                    ShownContent(len(out) + 1, content_id, callbacks.short_key(content_id), prompt_key, item, url)
                )
    return out


def _provider_name(provider: str) -> str:
    return {"openai": "OpenAI"}.get(provider, provider.replace("_", " ").title())


def render_job_progress(job: JobView, label: str | None = None) -> str:
    """One HTML line: "⏳ Leonardo: rendering… 40%"."""
    name = esc(label or _provider_name(job.provider))
    message = esc(shorten(job.message, 80))
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
        error = esc(shorten(job.error or job.message or "something went wrong", 200).rstrip("."))  # one full stop
        again = " You can try again." if job.retryable_error else ""
        return f"⚠️ {name}: failed: {error}.{again}"
    return f"✖️ {name}: cancelled"


def _panel_block(
    p_idx: int, panel: MediaPanel, disp: MediaDisplay, overrides: dict[str, Any], field_limit: int
) -> str:
    availability = {
        "live": "",
        "offline": "offline (test files)",
        "unavailable": "unavailable",
    }[panel.availability]
    price = "" if panel.availability == "unavailable" else esc(panel.price)
    title = " · ".join(x for x in (f"<b>🎬 {esc(panel.label)}</b>", esc(availability), price) if x)
    lines = [title]
    if panel.note:
        warn = "⚠️ " if panel.availability == "unavailable" else ""
        lines.append(f"{warn}<i>{esc(shorten(panel.note, 300))}</i>")
    params = panel_params(panel, overrides)
    texts = [f for f in panel.fields if f.input_type == "textarea"]
    if texts and field_limit:
        lines.append(f"<i>{esc(texts[0].title)}:</i> {esc(shorten(params.get(texts[0].name), min(300, field_limit)))}")
    node = schema_at(disp.display_schema, panel.prompt_key.split("."))
    if isinstance(panel.prompt_data, dict):
        details = item_details(panel.prompt_data, node, include_title=True, field_limit=min(300, field_limit))
        if details:
            lines.append(details)
    settings = [
        f"{esc(f.title)} {esc(_value_label(f, params.get(f.name)))}" for f in panel.fields if is_choice_field(f)
    ]
    if settings:
        lines.append("<i>Settings:</i> " + " · ".join(settings))
    for job in disp.jobs:
        if job.prompt_key == panel.prompt_key and job.status != "completed":
            lines.append(render_job_progress(job, panel.label))
    return "\n".join(lines)


def _has_panel(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if ux(schema).get("render_as") in ("tab.media", "media"):
        return True
    return any(_has_panel(sub) for sub in _props(schema).values())


def _media_context(disp: MediaDisplay, field_limit: int) -> str:
    """The visible data outside the provider panels (e.g. a scene title and key moment)."""
    if not isinstance(disp.data, dict):
        return ""
    lines = []
    for key, sub in _props(disp.display_schema).items():
        if key not in disp.data or _hidden(key, sub) or _has_panel(sub):
            continue
        text = format_value(disp.data[key], sub, min(field_limit, 300) or 80)
        if not text:
            continue
        role = ux(sub).get("render_as")
        if role in ("section-title", "card-title", "title"):
            lines.append(f"<b>{esc(text)}</b>")
        elif role in ("section-summary", "card-subtitle"):
            lines.append(f"<i>{esc(text)}</i>")
        else:
            lines.append(f"<i>{esc(_label_for(key, sub))}:</i> {esc(text)}")
    return "\n".join(lines)


def render_media(
    req: InteractionRequest, secret: str | bytes, param_choices: dict[str, dict[str, Any]] | None = None
) -> list[OutMessage]:
    """The media-generation control message: every provider panel (availability,
    prompt, visible prompt fields, settings, price, running jobs), a generate
    button and parameter buttons per usable panel, "Pick #n" per generated file,
    then the retry/jump options. Send the files themselves with `render_contents`."""
    disp = req.display_data
    assert isinstance(disp, MediaDisplay), "render_media needs a MediaDisplay"
    choices = param_choices or {}
    iid = req.interaction_id
    contents = generated_contents(disp)

    blocks: list[str] = []
    for field_limit in FIELD_LIMITS:
        blocks = [_header(req), _media_context(disp, field_limit)]
        blocks += [
            _panel_block(i, p, disp, choices.get(p.prompt_key, {}), field_limit) for i, p in enumerate(disp.panels)
        ]
        if contents:
            plural = "s" if len(contents) != 1 else ""
            blocks.append(f"🎞 {len(contents)} result{plural} so far: tap <b>Pick</b> to use one.")
        elif disp.panels:
            blocks.append("Tap <b>Generate</b> to start; you can change the settings first.")
        if tg_len("\n\n".join(b for b in blocks if b)) <= TEXT_LIMIT:
            break
    text = "\n\n".join(b for b in blocks if b)
    if tg_len(text) > TEXT_LIMIT:
        text = split_text(text)[0]

    rows: list[list[Button]] = []
    for p_idx, panel in enumerate(disp.panels):
        if panel.availability == "unavailable":
            continue
        params = panel_params(panel, choices.get(panel.prompt_key, {}))
        arg = f"{p_idx}.{params_signature(params)}"
        price = f" ({panel.price})" if panel.price else ""
        generate = _label(f"▶ Generate with {panel.label}{price}", 56)
        rows.append([Button(generate, callbacks.encode("gen", iid, arg, secret))])
        param_buttons = [
            Button(
                _label(f"{shorten(f.title, 16)}: {shorten(_value_label(f, params.get(f.name)), 22)}"),
                callbacks.encode("param", iid, f"{p_idx}.{f_idx}", secret),
            )
            for f_idx, f in enumerate(panel.fields)
            if is_choice_field(f)
        ]
        rows.extend(_grid(param_buttons, 2))
    option_rows = _option_buttons(req, disp.retryable, secret, include_continue=False)
    room = MAX_BUTTONS - sum(len(r) for r in rows) - sum(len(r) for r in option_rows)
    shown = contents[-room:] if room > 0 else []  # the newest when there are too many
    picks = [Button(f"✅ Pick #{c.number}", callbacks.encode("choose", iid, c.key, secret)) for c in shown]
    rows.extend(_grid(picks, 4))
    rows.extend(option_rows)
    return [OutMessage(text=text, buttons=rows)]


def render_contents(req: InteractionRequest, secret: str | bytes) -> list[OutMessage]:
    """One media message per generated file (video/photo/document), captioned
    "#n · Provider" and carrying its own "Pick #n" button."""
    disp = req.display_data
    assert isinstance(disp, MediaDisplay), "render_contents needs a MediaDisplay"
    labels = {p.prompt_key: p.label for p in disp.panels}
    out: list[OutMessage] = []
    for c in generated_contents(disp):
        if c.item is None or not c.item.local_path:
            continue
        bits = [f"#{c.number}", labels.get(c.prompt_key) or _provider_name(c.item.provider)]
        if c.item.duration_s:
            bits.append(f"{c.item.duration_s:g} s")
        if c.item.width and c.item.height:
            bits.append(f"{c.item.width}×{c.item.height}")
        kind: Kind = {"video": "video", "image": "photo"}.get(c.item.media_type, "document")  # type: ignore[assignment]
        caption, _ = fit_caption(esc(" · ".join(bits)))
        pick = callbacks.encode("choose", req.interaction_id, c.key, secret)
        out.append(
            OutMessage(
                text=caption,
                kind=kind,
                media_paths=[c.item.local_path],
                buttons=[[Button(f"✅ Pick #{c.number}", pick)]],
            )
        )
    return out


# ----------------------------------------------------------- media previews

MEDIA_KINDS: dict[str, Kind] = {"video": "video", "image": "photo", "media": "document", "audio": "document"}


@dataclass
class Preview:
    kind: str  # video, photo, audio, document
    path: str
    label: str


def preview_media(data: Any, schema: Any) -> list[Preview]:
    """Files a select/review shows before its question: data fields whose schema
    says `_ux.render_as` video/image/audio/media and whose value is a local path
    (or an object holding one in `_ux.media_field`, default `local_path`)."""
    found: list[Preview] = []

    def walk(value: Any, node: Any) -> None:
        if not isinstance(node, dict):
            return
        hints = ux(node)
        kind = hints.get("render_as")
        if kind in MEDIA_KINDS and value:
            path = value.get(hints.get("media_field", "local_path")) if isinstance(value, dict) else value
            if isinstance(path, str) and path:
                media_kind = "audio" if kind == "audio" else MEDIA_KINDS[kind]
                found.append(Preview(media_kind, path, str(hints.get("display_label") or "")))
            return
        if isinstance(value, dict):
            for key, sub in _props(node).items():
                if key in value:
                    walk(value[key], sub)

    walk(data, schema)
    return found


# ------------------------------------------------------------------ dispatch


def render_request(
    req: InteractionRequest,
    secret: str | bytes,
    *,
    chosen: set[int] | None = None,
    param_choices: dict[str, dict[str, Any]] | None = None,
    page: int = 0,
) -> list[OutMessage]:
    """Render any interaction request by its display kind."""
    disp = req.display_data
    if isinstance(disp, SelectDisplay):
        return render_select(req, chosen, secret, page=page)
    if isinstance(disp, TextInputDisplay):
        return render_text_input(req, secret)
    return render_media(req, secret, param_choices)


def render_status(fields: list[list[tuple[str, str]]], step_name: str) -> str:
    """The pinned status message: the step, then one line per row of
    `(label, value)` pairs ("Pet: Cat · Mood: Cozy")."""
    lines = [f"📌 <b>{esc(shorten(step_name, 200))}</b>"]
    for row in fields:
        parts = [f"{esc(shorten(k, 40))}: <b>{esc(shorten(v, 120))}</b>" for k, v in row if v not in (None, "")]
        if parts:
            lines.append(" · ".join(parts))
    text = "\n".join(lines)
    return text if tg_len(text) <= TEXT_LIMIT else split_text(text)[0]
