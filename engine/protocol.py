"""The interaction protocol every front end speaks (Telegram bot, terminal demo).

The engine emits an `InteractionRequest` and waits; a front end answers with an
`InteractionResponse` naming the same `interaction_id`. Anything else is
refused with `StaleInteraction` and never applied. All models are JSON
serializable (`model_dump(mode="json")`).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class InteractionType(str, Enum):
    SELECT = "select_from_structured"
    REVIEW = "review_grouped"
    TEXT_INPUT = "text_input"
    MEDIA_GENERATION = "media_generation"
    FILE_INPUT = "file_input"


# ------------------------------------------------------------------ retryable


class FeedbackConfig(BaseModel):
    enabled: bool = False
    prompt: str = "What should be different?"
    default_message: str = ""


class RetryOption(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    label: str
    mode: Literal["continue", "retry", "jump"]
    shortcut: str | None = None
    target_module: str | None = None
    target_step: str | None = None
    feedback: FeedbackConfig | None = None


class Retryable(BaseModel):
    default_option: str = "continue"
    options: list[RetryOption] = Field(default_factory=list)


# --------------------------------------------------------------- display data


class SelectDisplay(BaseModel):
    """`user.select`: pick one or several items out of `data` (paths into it)."""

    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["select"] = "select"
    data: Any
    display_schema: dict[str, Any] = Field(alias="schema")
    multi_select: bool = False
    mode: Literal["select", "review"] = "select"
    min_selections: int = 1
    max_selections: int | None = None
    retryable: Retryable | None = None


class TextInputDisplay(BaseModel):
    kind: Literal["text_input"] = "text_input"
    prompt: str
    default_value: str = ""
    allow_empty: bool = True
    max_length: int = 2000
    placeholder: str | None = None


class FileInputDisplay(BaseModel):
    """`user.file`: a file from the person (e.g. a photo of their pet).

    Front ends check what they can before fetching the file (its size, its
    kind); the module checks the bytes themselves."""

    kind: Literal["file_input"] = "file_input"
    prompt: str
    accept: list[str] = Field(default_factory=lambda: ["jpeg", "png", "webp", "heic"])  # real formats taken
    max_bytes: int = 20 * 1024 * 1024
    min_short_side: int = 512  # pixels, after the EXIF rotation
    allow_skip: bool = True
    skip_label: str = "Skip"


class ParamField(BaseModel):
    """One field of a provider panel's parameter form (from `_ux.input_schema`)."""

    name: str  # the name sent to the provider (after destination_field)
    source_name: str  # the property name in the input schema
    title: str
    type: str = "string"
    input_type: str | None = None  # textarea, select, slider...
    enum: list[Any] | None = None
    enum_labels: dict[str, str] = Field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    value: Any = None  # the starting value: source_field from the prompt data, else default
    # this field's choice restricts others: {other field's name: {this value (as text): its allowed values}}
    controls: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)


class SubAction(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    label: str
    # None: the module's `action_type` input names it (the reference's later format)
    action_type: Literal["txt2img", "img2img", "img2vid", "txt2audio"] | None = None
    loading_label: str = "Working..."
    result_key: str = "generations"


class MediaPanel(BaseModel):
    """One provider tab of a media-generation step."""

    prompt_key: str  # dotted path of the prompt object inside `data`
    label: str
    provider: str
    availability: Literal["live", "offline", "unavailable"] = "offline"
    prompt_data: Any = None  # the prompt object this panel generates from
    fields: list[ParamField] = Field(default_factory=list)
    price: str = "free"  # estimate for the default parameters, e.g. "~$0.40"
    price_usd: float = 0.0  # the same in dollars (credits at their dollar value)
    note: str = ""  # e.g. why a provider is unavailable

    def allowed(self, field: ParamField, params: dict[str, Any]) -> list[Any] | None:
        """The values `field` may take now: its `enum`, narrowed by every field
        whose current value (in `params`, by name) controls it; None without an enum."""
        if field.enum is None:
            return None
        allowed = list(field.enum)
        for other in self.fields:
            rule = other.controls.get(field.name)
            permitted = rule.get(str(params.get(other.name, other.value))) if rule and other is not field else None
            if permitted is not None:
                keyed = {str(v) for v in permitted}
                allowed = [v for v in allowed if str(v) in keyed]
        return allowed

    def settle(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` (by field name) with every controlled field that holds no value,
        or one its controller no longer allows, moved to its starting value if
        allowed, else to the first allowed one. A value outside the field's
        choices is left for the provider request to refuse."""
        out = dict(params)
        controlled = [f for f in self.fields if f.enum and any(f.name in o.controls for o in self.fields)]
        for _ in range(len(controlled)):  # a chain A -> B -> C settles in as many passes
            changed = False
            for f in controlled:
                allowed = self.allowed(f, out) or []
                keys = [str(v) for v in allowed]
                value = out.get(f.name, f.value)
                stale = value is None or str(value) in {str(v) for v in f.enum or []}
                if keys and str(value) not in keys and stale:
                    out[f.name] = f.value if str(f.value) in keys else allowed[0]
                    changed = True
            if not changed:
                break
        return out


class ContentItem(BaseModel):
    """One generated file, as stored in the run's content records."""

    content_id: str
    media_type: Literal["image", "video", "audio"]
    local_path: str
    url: str | None = None
    metadata_id: str  # the job id that made it
    prompt_key: str
    provider: str
    provider_item_id: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None


class Generation(BaseModel):
    """One batch: the result of one job."""

    urls: list[str] = Field(default_factory=list)
    metadata_id: str
    content_ids: list[str] = Field(default_factory=list)
    contents: list[ContentItem] = Field(default_factory=list)


class JobView(BaseModel):
    job_id: str
    interaction_id: str
    prompt_key: str
    provider: str
    action_type: str
    status: Literal["created", "submitted", "running", "completed", "failed", "cancelled"]
    progress: float | None = None
    message: str = ""
    error: str | None = None
    retryable_error: bool = False
    cost: str = "free"
    params: dict[str, Any] = Field(default_factory=dict)
    content_ids: list[str] = Field(default_factory=list)
    request_key: str | None = None  # the front end's idempotency key it was started with


class MediaDisplay(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["media"] = "media"
    data: Any  # the prompts
    display_schema: dict[str, Any] = Field(alias="schema")
    sub_actions: list[SubAction] = Field(default_factory=list)
    source_image: dict[str, Any] | None = None
    generations: dict[str, list[Generation]] = Field(default_factory=dict)
    retryable: Retryable | None = None
    panels: list[MediaPanel] = Field(default_factory=list)
    jobs: list[JobView] = Field(default_factory=list)


DisplayData = SelectDisplay | TextInputDisplay | MediaDisplay | FileInputDisplay


class InteractionRequest(BaseModel):
    interaction_id: str
    interaction_type: InteractionType
    run_id: str
    step_id: str
    step_name: str  # with {step_number} filled in, e.g. "Step 5: Video Generation"
    step_number: int
    module_name: str
    title: str
    display_data: DisplayData = Field(discriminator="kind")
    context: dict[str, Any] = Field(default_factory=dict)  # {"module_id": ...}
    # answering sets off provider calls (an LLM...) before the next question: it takes a moment
    answer_sets_off_calls: bool = False


# ------------------------------------------------------------------ responses


class FileAnswer(BaseModel):
    """A file the front end fetched for a `file_input` question (a local path it
    may delete afterwards: the engine keeps its own normalised copy)."""

    path: str
    name: str | None = None  # the original file name, if any
    mime_type: str | None = None  # what the sender claimed (the bytes decide)
    size: int | None = None
    caption: str | None = None  # words sent with it ("this is Biscuit")


class InteractionResponse(BaseModel):
    interaction_id: str
    # select / review: paths to the picked items ([2], ["scenes", 1], or lists of those)
    selected_indices: list[Any] | None = None
    # text input
    value: str | None = None
    # media generation
    selected_content_id: str | None = None
    # file input (no file: skip, where the question allows it)
    file: FileAnswer | None = None
    # any interaction
    retry_requested: bool = False
    retry_feedback: str | None = None
    retry_option_id: str | None = None
    jump_back_requested: bool = False
    jump_back_target: str | None = None  # the option id or its target_module
    cancelled: bool = False


class SubActionRequest(BaseModel):
    """Start a generation from a media panel (e.g. "generate with Leonardo")."""

    interaction_id: str
    action_id: str = "generate"
    prompt_key: str
    params: dict[str, Any] = Field(default_factory=dict)  # overrides of the panel's fields
    request_key: str | None = None  # idempotency: the same key never submits twice


# -------------------------------------------------------------- understanding


class Understanding(BaseModel):
    """What free text means at the pending question (`Engine.understand`):
    the answer it would send, said in words, and what that would cost.
    Nothing is applied: a front end shows `summary` and, when `confirm`,
    asks before it sends `response` (or starts `sub_action`)."""

    interaction_id: str | None = None
    text: str = ""  # the person's words as taken
    kind: Literal["choose", "tick", "confirm", "jump", "feedback", "generate", "pick", "answer", "cancel",
                  "unclear"]
    summary: str = ""  # e.g. "Pick #2 ‘Cozy window nap’", "🔄 New scene ideas with: ‘sillier’"
    response: InteractionResponse | None = None
    sub_action: SubActionRequest | None = None  # generate: the generation it would start
    ticks: list[int] | None = None  # tick: the option numbers (0-based) to tick; free, nothing is sent
    confirm: bool = True  # ask before applying (a guess, or an LLM or paid call follows)
    costs_money: bool = False
    price: str = "free"  # e.g. "~$0.04" when `costs_money`
    via: Literal["matcher", "llm", "direct"] = "matcher"
    reason: str = ""  # unclear: why, for a person
    options: list[str] = Field(default_factory=list)  # unclear: what the step offers, one line each


# ------------------------------------------------------------------ run views


class RunStatus(str, Enum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class RunResult(BaseModel):
    """What a finished run hands over, from the workflow's `result_display`
    (and, where it says nothing, from the files the run wrote)."""

    title: str = ""
    text: str = ""  # what to post with it (a description, hashtags)
    video: str | None = None  # the finished video's local path
    duration_s: float | None = None
    summary: str = ""  # a text summary of the run
    files: list[dict[str, Any]] = Field(default_factory=list)  # every file written: path, filename, format, kind
    media_deleted: bool = False  # its files went after the retention period


class RunView(BaseModel):
    run_id: str
    owner: str
    workflow_id: str
    status: RunStatus
    created_at: float
    updated_at: float
    current_step_id: str | None = None
    current_step_name: str | None = None
    pending: InteractionRequest | None = None
    working: str | None = None  # the module under way off the tap (e.g. the final render), if any
    error: str | None = None  # the last module error, readable by a person
    error_options: list[dict[str, str]] = Field(default_factory=list)  # recovery choices: {id, label}
    spent: str = "free"  # money recorded for this run so far
    spent_usd: float = 0.0  # the same in dollars (credits at their dollar value)
    origin: dict[str, Any] = Field(default_factory=dict)  # what the front end gave start_run, untouched
    result: RunResult | None = None  # once the run is completed


class EngineEvent(BaseModel):
    """What the engine tells front ends as a run moves (job progress, results...)."""

    run_id: str
    owner: str
    origin: dict[str, Any] = Field(default_factory=dict)  # the run's front-end address (start_run)
    type: str  # job_progress, job_completed, job_failed, file_ready, run_completed, ...
    data: dict[str, Any] = Field(default_factory=dict)
