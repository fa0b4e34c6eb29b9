"""A media-generation interaction: the control message (every provider panel,
its generate and parameter buttons, a "Pick #n" per generated file, the
retry/jump options) and one message per generated file."""

from __future__ import annotations

from typing import Any

from bot import callbacks
from bot.render.html import TEXT_LIMIT, esc, fit_caption, row_html, rows_html, split_text, tg_len
from bot.render.messages import (
    FIELD_LIMITS,
    MAX_BUTTONS,
    Button,
    Kind,
    OutMessage,
    button_label,
    grid,
    header,
    option_buttons,
)
from bot.render.status import render_job_progress
from engine.presentation import (
    PanelView,
    content_facts,
    generated_contents,
    media_context,
    panel_params,
    panel_settings,
    panel_view,
    params_signature,
    shorten,
)
from engine.protocol import InteractionRequest, MediaDisplay

SEND_KIND: dict[str, Kind] = {"video": "video", "image": "photo"}  # anything else goes as a document
QUESTION_LIMIT = 1000  # the overview reads in one glance; a provider's settings may use a whole message


def _panel_block(view: PanelView) -> str:
    title = " · ".join(x for x in (f"<b>🎬 {esc(view.label)}</b>", esc(view.availability), esc(view.price)) if x)
    lines = [title]
    if view.note:
        warn = "" if view.usable else "⚠️ "
        lines.append(f"{warn}<i>{esc(view.note)}</i>")
    if view.prompt:
        lines.append(row_html(view.prompt))
    if view.rows:
        lines.append(rows_html(view.rows))
    if view.settings:
        lines.append("<i>Settings:</i> " + " · ".join(f"{esc(s.title)} {esc(s.value)}" for s in view.settings))
    lines += [render_job_progress(job, view.label) for job in view.jobs]
    return "\n".join(lines)


def _overview_block(view: PanelView) -> str:
    title = " · ".join(x for x in (f"<b>🎬 {esc(view.label)}</b>", esc(view.availability), esc(view.price)) if x)
    lines = [title]
    if view.note and not view.usable:
        lines.append(f"⚠️ <i>{esc(shorten(view.note, 160))}</i>")
    lines += [render_job_progress(job, view.label) for job in view.jobs]
    return "\n".join(lines)


def _control_text(req: InteractionRequest, disp: MediaDisplay, choices: dict[str, dict[str, Any]], count: int,
                  settings: str | None) -> str:
    """The overview (a line per provider: what it costs, what it is doing), or
    one provider's settings in full; texts cut shorter until all fits."""
    opened = next((p for p in disp.panels if p.prompt_key == settings), None)
    text, budget = "", TEXT_LIMIT if opened else QUESTION_LIMIT
    for field_limit in FIELD_LIMITS:
        if opened is not None:
            blocks = [header(req), _panel_block(panel_view(disp, opened, choices.get(opened.prompt_key), field_limit)),
                      "Tap a setting to change it, then <b>Generate</b>."]
        else:
            blocks = [header(req), rows_html(media_context(disp, min(field_limit, 160) or 60))]
            blocks += [_overview_block(panel_view(disp, p, choices.get(p.prompt_key), 0)) for p in disp.panels]
            if count:
                blocks.append(f"🎞 {count} result{'s' if count != 1 else ''} so far: tap <b>Pick</b> to use one.")
            elif disp.panels:
                blocks.append("Tap <b>Generate</b> to start, or ⚙️ to see the prompt and change the settings.")
        text = "\n\n".join(b for b in blocks if b)
        if tg_len(text) <= budget:
            break
    return text if tg_len(text) <= TEXT_LIMIT else split_text(text)[0]


def render_media(
    req: InteractionRequest, secret: str | bytes, param_choices: dict[str, dict[str, Any]] | None = None,
    settings: str | None = None,
) -> list[OutMessage]:
    """The media-generation control message. Overview: a line per provider
    (availability, price, running jobs), per usable provider one Generate
    button with its price and one ⚙️ button, "Pick #n" per generated file,
    then the retry/jump options. With `settings` (a panel's prompt key): that
    provider's prompt and settings in full, a button per setting, Generate and
    "◀ Back". Send the files themselves with `render_contents`."""
    disp = req.display_data
    assert isinstance(disp, MediaDisplay), "render_media needs a MediaDisplay"
    choices = param_choices or {}
    iid = req.interaction_id
    rows: list[list[Button]] = []
    opened = next((p for p in disp.panels if p.prompt_key == settings and p.availability != "unavailable"), None)
    for p_idx, panel in enumerate(disp.panels):
        if panel.availability == "unavailable" or (opened is not None and panel is not opened):
            continue
        overrides = choices.get(panel.prompt_key)
        price = f" ({panel.price})" if panel.price else ""
        signature = params_signature(panel_params(panel, overrides))
        # how many tries this panel has had: the control message is edited in place, so after
        # each try its Generate button is a new button (a new try), and an older one a replay
        tries = sum(1 for job in disp.jobs if job.prompt_key == panel.prompt_key)
        generate = Button(button_label(f"▶ Generate with {panel.label}{price}", 56),
                          callbacks.encode("gen", iid, f"{p_idx}.{signature}.{tries}", secret))
        if opened is None:
            rows.append([generate, Button("⚙️", callbacks.encode("settings", iid, p_idx, secret))])
            continue
        rows.extend(grid([
            Button(button_label(f"{shorten(s.title, 16)}: {shorten(s.value, 22)}"),
                   callbacks.encode("param", iid, f"{p_idx}.{s.index}", secret))
            for s in panel_settings(panel, overrides)
        ], 2))
        rows.append([generate])
        rows.append([Button("◀ Back", callbacks.encode("settings", iid, "", secret))])
    option_rows = [] if opened is not None else option_buttons(req, disp.retryable, secret, include_continue=False)
    room = MAX_BUTTONS - sum(len(r) for r in rows) - sum(len(r) for r in option_rows)
    contents = generated_contents(disp)
    shown = contents[-room:] if room > 0 and opened is None else []  # the newest when there are too many
    rows.extend(grid([_pick(req, c.number, c.key, secret) for c in shown], 4))
    rows.extend(option_rows)
    text = _control_text(req, disp, choices, len(contents), opened.prompt_key if opened else None)
    return [OutMessage(text=text, buttons=rows)]


def _pick(req: InteractionRequest, number: int, key: str, secret: str | bytes) -> Button:
    return Button(f"✅ Pick #{number}", callbacks.encode("choose", req.interaction_id, key, secret))


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
        caption, _ = fit_caption(esc(" · ".join(content_facts(c, labels.get(c.prompt_key)))))
        out.append(
            OutMessage(
                text=caption,
                kind=SEND_KIND.get(c.item.media_type, "document"),
                media_paths=[c.item.local_path],
                buttons=[[_pick(req, c.number, c.key, secret)]],
            )
        )
    return out
