"""Front-end-neutral presentation of the interaction protocol.

Both front ends (the Telegram bot, the terminal demo) show an
`InteractionRequest` from what is here: which fields are shown and with what
label, a value as text (`_ux.display_format` applied), an item's title, the
role of a row (title, subtitle, highlighted, plain), the options of a select
and their pages, a media panel's form state, the generated files, job progress
and the run's status. Plain text only: no markup, no escaping, no I/O; a front
end decides how a `Row` looks.

- `values`: rows and values of display data (`Row`, `item_title`, `item_rows`, ...);
- `choices`: options, paging and previews of a select / review;
- `forms`: a media panel's parameters (cycling, overrides, signature);
- `media`: panels, generated contents and job progress of a media interaction.
"""

from engine.presentation.choices import (
    Page,
    Preview,
    choice_bounds,
    index_badges,
    option_number,
    paginate,
    preview_media,
    section_label,
    selection_indices,
)
from engine.presentation.forms import (
    Setting,
    field_values,
    is_choice_field,
    next_param_choice,
    panel_params,
    panel_settings,
    param_values,
    params_signature,
    short_hash,
    value_label,
)
from engine.presentation.media import (
    PanelView,
    ShownContent,
    content_facts,
    generated_contents,
    holds_panel,
    job_progress,
    media_context,
    panel_view,
    provider_name,
)
from engine.presentation.values import (
    Role,
    Row,
    apply_display_format,
    display_templates,
    field_label,
    field_role,
    format_value,
    is_hidden,
    item_rows,
    item_title,
    properties,
    schema_at,
    section_rows,
    shorten,
    status_rows,
    title_key,
)
from engine.selection import selectable_items

__all__ = [
    "Page",
    "PanelView",
    "Preview",
    "Role",
    "Row",
    "Setting",
    "ShownContent",
    "apply_display_format",
    "choice_bounds",
    "content_facts",
    "display_templates",
    "field_label",
    "field_role",
    "field_values",
    "format_value",
    "generated_contents",
    "holds_panel",
    "index_badges",
    "is_choice_field",
    "is_hidden",
    "item_rows",
    "item_title",
    "job_progress",
    "media_context",
    "next_param_choice",
    "option_number",
    "paginate",
    "panel_params",
    "panel_settings",
    "panel_view",
    "param_values",
    "params_signature",
    "preview_media",
    "properties",
    "provider_name",
    "schema_at",
    "section_label",
    "section_rows",
    "selectable_items",
    "selection_indices",
    "short_hash",
    "shorten",
    "status_rows",
    "title_key",
    "value_label",
]
