"""The bot's ⚙️ settings of a reference-shaped panel (object enums, a model that
controls the sizes): labels on the buttons, values in the request, a stale
size corrected when the model changes."""

from __future__ import annotations

from bot import callbacks
from bot.render import next_param_choice, panel_params, params_signature, render_media
from engine.protocol import InteractionType, MediaDisplay
from tests.display_samples import request
from tests.engine.test_media_form import form, panel_schema, the_panel

SECRET = "test-secret-for-forms"


def settings_buttons(display: MediaDisplay, overrides: dict[str, dict[str, str]]) -> tuple[list[str], set[str]]:
    req = request(display, InteractionType.MEDIA_GENERATION, "Make clips")
    messages = render_media(req, SECRET, overrides, settings="video.sora")
    decoded = [(b.text, callbacks.decode(b.callback_data, SECRET)) for m in messages for b in m.all_buttons()]
    params = [t for t, d in decoded if d is not None and d.action == "param"]
    gens = {d.arg for _, d in decoded if d is not None and d.action == "gen"}
    return params, gens


def test_object_enum_labels_and_a_controlled_size_in_the_settings() -> None:
    panel = the_panel(form("1024x1792"))
    display = MediaDisplay(data={"video": {"sora": panel.prompt_data}}, schema=panel_schema(form()), panels=[panel])
    params, _ = settings_buttons(display, {})
    assert params == ["Model: Sora 2", "Size: Portrait 720p"]  # labels, not the objects' values or dicts
    pro = next_param_choice(panel, 1, {})  # tap "Model" as the bot does
    hd = next_param_choice(panel, 2, pro, value_index=2)
    params, gens = settings_buttons(display, {"video.sora": hd})
    assert params == ["Model: Sora 2 Pro", "Size: Portrait HD"]
    assert f"0.{params_signature(panel_params(panel, hd))}.0" in gens
    back = next_param_choice(panel, 1, hd)  # the model again: HD is not offered by Sora 2
    params, _ = settings_buttons(display, {"video.sora": back})
    assert params == ["Model: Sora 2", "Size: Portrait 720p"] and back["size"] == "720x1280"
