"""Workflow definitions: models, `$ref` resolution and load-time validation.

A workflow is a folder: `workflow.json` (or the reference design's versioned
`workflow_v<N>.json`) whose `steps` are given inline or by `$ref`, each step a
`step.json` with modules. `$ref` nodes are resolved once,
at load time, relative to the file that holds them; none may leave the
workflow folder. Every problem found is reported with its file, step and
module, all at once.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.protocol import Retryable, SubAction
from engine.templating import LiteralText, TemplateEngine, has_template_syntax

REF_TYPES = {"json", "text", "jinja2", "raw", "template"}
ENTRY_FILE = "workflow.json"
_VERSIONED_ENTRY = re.compile(r"^workflow_v(\d+)\.json$")


class WorkflowError(Exception):
    """One or more problems in a workflow folder, each naming where."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ModuleDef(BaseModel):
    model_config = ConfigDict(extra="allow")

    module_id: str
    name: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs_to_state: dict[str, str] = Field(default_factory=dict)
    retryable: Retryable | None = None
    sub_actions: list[SubAction] | None = None
    # a template over state: when it renders false, the module is skipped (a `module_skipped` event)
    when: str | None = None

    @property
    def server_inputs(self) -> set[str]:
        """Inputs the resolver renders; unlisted inputs pass through untouched."""
        schema = self.inputs.get("resolver_schema") or {}
        props = schema.get("properties") or {}
        return {k for k, v in props.items() if isinstance(v, dict) and v.get("resolver", "server") == "server"}


class StepDef(BaseModel):
    model_config = ConfigDict(extra="allow")

    step_id: str
    name: str = ""
    description: str = ""
    modules: list[ModuleDef]
    source_file: str = ""

    def display_name(self, number: int) -> str:
        return (self.name or self.step_id).replace("{step_number}", str(number))

    def template_view(self) -> dict[str, Any]:
        """What `{{ step.* }}` sees."""
        return {"step_id": self.step_id, "name": self.name, "description": self.description}


class WorkflowDef(BaseModel):
    model_config = ConfigDict(extra="allow")

    workflow_id: str
    name: str = ""
    description: str = ""
    version: str = "1.0"
    initial_state: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    status_display: dict[str, Any] = Field(default_factory=dict)
    # what a finished run hands over: {title, text, video, duration_s, summary} as templates over state
    result_display: dict[str, str] = Field(default_factory=dict)
    steps: list[StepDef]
    root: str = ""
    fingerprint: str = ""  # a hash of everything loaded: a run records the one it started with

    def step_index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.step_id == step_id:
                return i
        raise KeyError(step_id)

    def locate(self, module_name: str) -> tuple[int, int]:
        """(step index, module index) of a module, by its workflow-wide unique name."""
        for si, step in enumerate(self.steps):
            for mi, module in enumerate(step.modules):
                if module.name == module_name:
                    return si, mi
        raise KeyError(module_name)


# ------------------------------------------------------------------ $ref


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


class _RefResolver:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.problems: list[str] = []

    def load_json(self, path: Path, stack: tuple[Path, ...] = ()) -> Any:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            self.problems.append(f"{self._rel(path)}: invalid JSON: {exc}")
            return None
        except OSError as exc:
            self.problems.append(f"{self._rel(path)}: cannot read: {exc.strerror}")
            return None
        return self.resolve(data, path, stack + (path.resolve(),))

    def resolve(self, node: Any, holder: Path, stack: tuple[Path, ...]) -> Any:
        if isinstance(node, list):
            return [self.resolve(item, holder, stack) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" not in node:
            return {k: self.resolve(v, holder, stack) for k, v in node.items()}
        return self._load_ref(node, holder, stack)

    def _load_ref(self, node: dict[str, Any], holder: Path, stack: tuple[Path, ...]) -> Any:
        ref = node["$ref"]
        ref_type = node.get("type", "text")
        where = self._rel(holder)
        if not isinstance(ref, str) or not ref:
            self.problems.append(f"{where}: $ref must be a non-empty string")
            return None
        if ref_type not in REF_TYPES:
            self.problems.append(f"{where}: $ref {ref!r} has unknown type {ref_type!r}")
            return None
        target = (self.root / ref.lstrip("/")) if ref.startswith("/") else (holder.parent / ref)
        if not _inside(target, self.root):
            self.problems.append(f"{where}: $ref {ref!r} leaves the workflow folder")
            return None
        target = target.resolve()
        if target in stack:
            self.problems.append(f"{where}: $ref {ref!r} forms a cycle")
            return None
        if not target.is_file():
            self.problems.append(f"{where}: $ref {ref!r} not found")
            return None
        if ref_type == "json":
            return self.load_json(target, stack)
        text = target.read_text(encoding="utf-8")
        content: str = LiteralText(text) if ref_type in ("text", "raw") else text
        siblings = {k: v for k, v in node.items() if k not in ("$ref", "type")}
        if not siblings:
            return content
        # A part such as {"$ref": "...", "type": "text", "cache_ttl": 10800}
        # keeps its metadata: it becomes {"type": "text", "content": ..., ...}.
        return {"type": "text", "content": content, **siblings}

    def _rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)


# ------------------------------------------------------------------ loading


def entry_file(folder: Path) -> Path | None:
    """A folder's workflow file: `workflow.json`, else the reference design's
    `workflow_v<N>.json` with the highest N; None when there is neither."""
    plain = folder / ENTRY_FILE
    if plain.is_file():
        return plain
    versioned = []
    for candidate in folder.glob("workflow_v*.json"):
        match = _VERSIONED_ENTRY.match(candidate.name)
        if match and candidate.is_file():
            versioned.append((int(match.group(1)), candidate))
    return max(versioned)[1] if versioned else None


def load_workflow(path: str | Path, known_modules: dict[str, Any] | None = None) -> WorkflowDef:
    """Load and validate a workflow folder (or its workflow file)."""
    path = Path(path)
    found = entry_file(path) if path.is_dir() else path
    if found is None or not found.is_file():
        raise WorkflowError([f"{path}: no {ENTRY_FILE} (or workflow_v<N>.json) found"])
    workflow_file = found
    root = workflow_file.parent
    name = workflow_file.name
    resolver = _RefResolver(root)
    try:
        raw_workflow = json.loads(workflow_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WorkflowError([f"{name}: invalid JSON: {exc}"]) from None
    if not isinstance(raw_workflow, dict):
        raise WorkflowError([f"{name}: must be a JSON object"])
    raw_steps = raw_workflow.get("steps")
    steps: list[dict[str, Any]] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        resolver.problems.append(f"{name}: 'steps' must be a non-empty list")
        raw_steps = []
    for i, entry in enumerate(raw_steps):
        source = name
        if isinstance(entry, dict) and "$ref" in entry:
            target = root / str(entry["$ref"]).lstrip("/")
            source = str(entry["$ref"])
            if not _inside(target, root):
                resolver.problems.append(f"{name}: step {i + 1} $ref {source!r} leaves the workflow folder")
                continue
            if not target.is_file():
                resolver.problems.append(f"{name}: step {i + 1} $ref {source!r} not found")
                continue
            step = resolver.load_json(target.resolve())
        else:
            step = resolver.resolve(entry, workflow_file, ())
        if isinstance(step, dict):
            step["source_file"] = source
            steps.append(step)
        elif step is not None:
            resolver.problems.append(f"{source}: a step must be a JSON object")
    rest = {k: resolver.resolve(v, workflow_file, ()) for k, v in raw_workflow.items() if k != "steps"}
    if resolver.problems:
        raise WorkflowError(resolver.problems)
    try:
        workflow = WorkflowDef(**rest, steps=steps, root=str(root.resolve()))
    except ValidationError as exc:
        raise WorkflowError([_pydantic_problem(exc, steps, name)]) from None
    problems = validate_workflow(workflow, known_modules)
    if problems:
        raise WorkflowError(problems)
    workflow.fingerprint = fingerprint(workflow)
    return workflow


def fingerprint(workflow: WorkflowDef) -> str:
    """16 hex chars naming this exact definition (prompts, schemas, steps)."""
    content = workflow.model_dump(mode="json", exclude={"root", "fingerprint"})
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _pydantic_problem(exc: ValidationError, steps: list[dict[str, Any]], name: str = ENTRY_FILE) -> str:
    lines = []
    for err in exc.errors():
        loc = err["loc"]
        where = name
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int) and loc[1] < len(steps):
            step = steps[loc[1]]
            where = f"{step.get('source_file', '?')} (step {step.get('step_id', loc[1])})"
            if len(loc) >= 4 and loc[2] == "modules" and isinstance(loc[3], int):
                modules = step.get("modules") or []
                name = modules[loc[3]].get("name", loc[3]) if loc[3] < len(modules) else loc[3]
                where += f" module {name}"
        field = ".".join(str(p) for p in loc)
        lines.append(f"{where}: {field}: {err['msg']}")
    return "\n".join(lines)


def validate_workflow(workflow: WorkflowDef, known_modules: dict[str, Any] | None = None) -> list[str]:
    """Whole-workflow checks; each problem names file, step and module."""
    problems: list[str] = []
    templates = TemplateEngine()
    seen_steps: set[str] = set()
    seen_modules: dict[str, str] = {}
    for step in workflow.steps:
        if step.step_id in seen_steps:
            problems.append(f"{step.source_file}: duplicate step_id '{step.step_id}'")
        seen_steps.add(step.step_id)
        if not step.modules:
            problems.append(f"{step.source_file} (step {step.step_id}): no modules")
    for step in workflow.steps:
        for module in step.modules:
            where = f"{step.source_file} (step {step.step_id}) module {module.name}"
            if module.name in seen_modules:
                problems.append(f"{where}: module name already used in step {seen_modules[module.name]}")
            seen_modules[module.name] = step.step_id
            if known_modules is not None:
                impl = known_modules.get(module.module_id)
                if impl is None:
                    problems.append(f"{where}: unknown module_id '{module.module_id}'")
                else:
                    problems.extend(f"{where}: {p}" for p in impl.check_config(module))
            problems.extend(f"{where}: {p}" for p in _check_templates(module, templates))
            problems.extend(f"{where}: {p}" for p in _check_when(module, templates))
            problems.extend(f"{where}: {p}" for p in _check_retryable(workflow, step, module))
            schema = module.inputs.get("output_schema")
            if schema is not None:
                problems.extend(f"{where}: output_schema: {p}" for p in _check_json_schema(schema))
    return problems


def _check_templates(module: ModuleDef, templates: TemplateEngine) -> list[str]:
    errors = [(key, templates.check_syntax(text)) for key, text in _input_templates(module)]
    return [f"input '{key}': {error}" for key, error in errors if error]


def _input_templates(module: ModuleDef) -> list[tuple[str, str]]:
    return [(key, text) for key in module.server_inputs for text in _strings(module.inputs.get(key))
            if has_template_syntax(text)]


def template_texts(workflow: WorkflowDef) -> list[str]:
    """Every template the run loop renders for this workflow: its modules' inputs and `when`s."""
    texts = []
    for step in workflow.steps:
        for module in step.modules:
            texts += [text for _key, text in _input_templates(module)]
            if module.when is not None and has_template_syntax(module.when):
                texts.append(module.when)
    return texts


def _check_when(module: ModuleDef, templates: TemplateEngine) -> list[str]:
    if module.when is None:
        return []
    if not has_template_syntax(module.when):
        return [f"when must be a template such as \"{{{{ state.x }}}}\", not {module.when!r}"]
    error = templates.check_syntax(module.when)
    return [f"when: {error}"] if error else []


def _strings(value: Any) -> list[str]:
    if isinstance(value, LiteralText):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _check_retryable(workflow: WorkflowDef, step: StepDef, module: ModuleDef) -> list[str]:
    if not module.retryable:
        return []
    problems = []
    for option in module.retryable.options:
        if option.mode in ("retry", "jump") and not option.target_module:
            problems.append(f"retryable option '{option.id}': {option.mode} needs target_module")
            continue
        if option.mode == "retry":
            names = [m.name for m in step.modules]
            if option.target_module not in names:
                problems.append(
                    f"retryable option '{option.id}': retry target '{option.target_module}' is not in step {step.step_id}"
                )
        if option.mode == "jump":
            target_step = option.target_step or step.step_id
            try:
                target = workflow.steps[workflow.step_index(target_step)]
            except KeyError:
                problems.append(f"retryable option '{option.id}': unknown target_step '{target_step}'")
                continue
            if option.target_module not in [m.name for m in target.modules]:
                problems.append(
                    f"retryable option '{option.id}': module '{option.target_module}' is not in step {target_step}"
                )
    return problems


def _check_json_schema(schema: Any) -> list[str]:
    if not isinstance(schema, dict):
        return ["must be a JSON object"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [f"not a valid JSON Schema: {exc.message}"]
    if _has_ux_keys(schema):
        return ["contains _ux display hints: an output schema is sent to the LLM and must not"]
    return []


def _has_ux_keys(node: Any) -> bool:
    if isinstance(node, dict):
        return any(str(k).startswith("_ux") or _has_ux_keys(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_ux_keys(v) for v in node)
    return False
