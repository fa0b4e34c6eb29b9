"""Static checks of the CC workflow files (workflows/cc).

These tests need no engine: they read the JSON, prompt, schema and template
files, resolve `$ref`s the way the engine contract describes, and check that
the workflow is complete and consistent:

- files parse, refs stay inside the workflow folder, module names are unique,
  the nine steps come in the spec's order;
- every LLM output schema is valid for OpenAI strict structured outputs and is
  a valid JSON Schema (and carries no `_ux` display hints);
- every `state.<key>` a template reads is written earlier by `outputs_to_state`;
- retry and jump targets exist;
- display schemas mark one selectable unit with a readable card title, and
  media panels point at prompt fields that exist;
- a dry run of all nine steps with schema-shaped sample answers renders every
  template with StrictUndefined (a missing key is an error);
- steps 4 and 5 equal the spec's files (shared/seed) except the changes that
  workflows/cc/README.md documents.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[1]
WF = REPO / "workflows" / "cc"
SHARED = REPO.parent / "shared"
SEED_FILE = SHARED / "seed" / "000_20f018dcc5af6641.txt"

STEP_FOLDERS = [
    "1_user_input",
    "2_scene_generation",
    "3_image_prompts",
    "4_image_analysis",
    "5_video_generation",
    "6_text_overlays",
    "7_titles_social",
    "8_music",
    "9_workflow_summary",
]
STEP_IDS = [folder.split("_", 1)[1] for folder in STEP_FOLDERS]

MODULE_IDS = {
    "user.select",
    "user.text_input",
    "api.llm",
    "media.generate",
    "io.render_template",
    "io.client_write",
    "io.weighted_keywords",
    "transform.extract",
    "media.compose",
    "user.file",
    "media.fit",
}
# (panel provider, sub-action type) pairs the engine's provider registry serves
PROVIDER_ACTIONS = {
    ("openai", "txt2img"),
    ("leonardo", "txt2img"),
    ("openai", "img2img"),
    ("leonardo", "img2img"),
    ("leonardo", "img2vid"),
    ("openai", "img2vid"),
    ("elevenlabs", "txt2audio"),
}
STRICT_KEYWORDS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "description",
    "pattern",
    "anyOf",
}
STATE_REF = re.compile(r"\bstate\.([A-Za-z_][A-Za-z0-9_]*)")
WHOLE_EXPR = re.compile(r"^\{\{(?P<expr>.*)\}\}$", re.S)


# ---------------------------------------------------------------- loading


def ref_target(holder: Path, ref: str) -> Path:
    """Where a `$ref` written in `holder` points (a leading / = workflow root)."""
    base = WF if ref.startswith("/") else holder.parent
    return (base / ref.lstrip("/")).resolve()


def inside_workflow(path: Path) -> bool:
    return path == WF.resolve() or WF.resolve() in path.parents


def is_ref(node: Any) -> bool:
    return isinstance(node, dict) and "$ref" in node


def resolve_refs(node: Any, holder: Path, seen: tuple[Path, ...] = ()) -> Any:
    """Replace every `$ref` node by its file: json parsed (recursively), else text."""
    if is_ref(node):
        target = ref_target(holder, node["$ref"])
        assert inside_workflow(target), f"{holder}: $ref {node['$ref']} leaves the workflow"
        assert target.is_file(), f"{holder}: $ref {node['$ref']} does not exist"
        assert target not in seen, f"$ref cycle through {target}"
        if node.get("type", "text") == "json":
            return resolve_refs(json.loads(target.read_text()), target, (*seen, target))
        return target.read_text()
    if isinstance(node, dict):
        return {key: resolve_refs(value, holder, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_refs(item, holder, seen) for item in node]
    return node


def iter_refs(node: Any):
    if is_ref(node):
        yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def iter_strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from iter_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_strings(item)


def step_path(folder: str) -> Path:
    return WF / "steps" / folder / "step.json"


def raw_step(folder: str) -> dict:
    return json.loads(step_path(folder).read_text())


def workflow() -> dict:
    path = WF / "workflow.json"
    return resolve_refs(json.loads(path.read_text()), path)


def all_modules() -> list[tuple[int, dict, dict, dict]]:
    """(step index, resolved step, resolved module, raw module) in run order."""
    rows = []
    for index, folder in enumerate(STEP_FOLDERS):
        raw = raw_step(folder)
        resolved = resolve_refs(raw, step_path(folder))
        for module, raw_module in zip(resolved["modules"], raw["modules"]):
            rows.append((index, resolved, module, raw_module))
    return rows


def ux(node: dict) -> dict:
    """The `_ux` hints of a display-schema node (nested `_ux` and dotted `_ux.x` keys)."""
    hints = dict(node.get("_ux", {})) if isinstance(node.get("_ux"), dict) else {}
    for key, value in node.items():
        if key.startswith("_ux."):
            hints[key[4:]] = value
    return hints


def output_schema_files() -> list[Path]:
    files = []
    for folder in STEP_FOLDERS:
        for module in raw_step(folder)["modules"]:
            ref = module.get("inputs", {}).get("output_schema")
            if is_ref(ref):
                files.append(ref_target(step_path(folder), ref["$ref"]))
    return files


# ------------------------------------------------------- files and structure


def test_every_json_file_parses():
    files = sorted(WF.rglob("*.json"))
    assert len(files) >= 30
    for path in files:
        json.loads(path.read_text())


def test_every_ref_exists_and_stays_inside_the_workflow():
    holders = [WF / "workflow.json", *[step_path(f) for f in STEP_FOLDERS]]
    count = 0
    for holder in holders:
        for node in iter_refs(json.loads(holder.read_text())):
            target = ref_target(holder, node["$ref"])
            assert inside_workflow(target), f"{holder}: {node['$ref']} leaves workflows/cc"
            assert target.is_file(), f"{holder}: {node['$ref']} is missing"
            assert node.get("type", "text") in {"json", "text", "jinja2"}
            count += 1
    assert count > 40
    # and the whole tree resolves (json refs inside json files too)
    assert len(workflow()["steps"]) == 9


def test_no_file_is_left_unreferenced():
    referenced: set[Path] = {(WF / "workflow.json").resolve()}
    pending = [WF / "workflow.json"]
    while pending:
        holder = pending.pop()
        for node in iter_refs(json.loads(holder.read_text())):
            target = ref_target(holder, node["$ref"])
            if target not in referenced:
                referenced.add(target)
                if node.get("type") == "json":
                    pending.append(target)
    on_disk = {p.resolve() for p in WF.rglob("*") if p.is_file() and p.name != "README.md"}
    assert on_disk - referenced == set()


def test_workflow_file_keys_and_step_order():
    wf = json.loads((WF / "workflow.json").read_text())
    assert wf["workflow_id"] == "cuddle_crew"
    assert wf["version"] == "1.0"
    assert wf["initial_state"] == {"workflow_name": "Cuddle Crew"}
    assert wf["config"]["llm_providers"]["openai"]["model"] == "gpt-5.2"
    assert [s["$ref"] for s in wf["steps"]] == [f"steps/{f}/step.json" for f in STEP_FOLDERS]
    assert all(s["type"] == "json" for s in wf["steps"])
    resolved = workflow()
    assert [s["step_id"] for s in resolved["steps"]] == STEP_IDS
    for step in resolved["steps"]:
        assert "{step_number}" in step["name"]
        assert step["description"] and step["modules"]


def test_status_display_fields_and_layout():
    status = workflow()["status_display"]
    ids = [field["id"] for field in status["fields"]]
    assert status["layout"] == [["pet", "aesthetic", "duration"], ["scene"], ["step"]]
    assert sorted(ids) == sorted(i for row in status["layout"] for i in row)
    env = SandboxedEnvironment()
    early = {"state": {"workflow_name": "Cuddle Crew"}, "current_step_name": "Step 1: Pet"}
    for field in status["fields"]:
        assert field["label"]
        env.from_string(field["value"]).render(early)  # nothing chosen yet: must not fail
    later = dict(early, state=dry_run_state())
    values = {f["id"]: env.from_string(f["value"]).render(later) for f in status["fields"]}
    assert values["pet"] and values["aesthetic"] and values["scene"]
    assert values["duration"].endswith("s") and values["step"] == "Step 1: Pet"


def test_module_names_unique_and_modules_known():
    names = [module["name"] for _, _, module, _ in all_modules()]
    assert len(names) == len(set(names)), names
    for _, _, module, _ in all_modules():
        assert module["module_id"] in MODULE_IDS, module["module_id"]
        assert re.fullmatch(r"[a-z][a-z0-9_]*", module["name"])
        assert "outputs_to_state" in module


def test_expected_modules_per_step():
    by_step = {STEP_IDS[i]: [] for i in range(9)}
    for index, _, module, _ in all_modules():
        by_step[STEP_IDS[index]].append(module["name"])
    assert by_step["user_input"] == [
        "get_pet_photo",
        "analyze_pet_photo",
        "describe_pet_photo",
        "pet_type_from_photo",
        "select_pet_type",
        "choose_photo_way",
        "select_aesthetic",
        "select_duration",
        "get_user_direction",
    ]
    assert by_step["scene_generation"] == [
        "load_selected_keywords",
        "load_keywords",
        "generate_scenes",
        "save_keywords",
        "select_scene",
        "update_selected_keywords",
    ]
    assert by_step["image_prompts"] == ["generate_image_prompts", "generate_and_select_images",
                                        "use_photo_as_reference", "generate_scenes_with_pet", "fit_pet_photo",
                                        "select_photo_frame"]
    assert by_step["image_analysis"] == ["analyze_image"]
    assert by_step["video_generation"] == [
        "select_motion_elements",
        "generate_video_prompts",
        "generate_and_select_videos",
    ]
    assert by_step["text_overlays"] == ["generate_text_overlays", "select_text_overlay"]
    assert by_step["titles_social"] == [
        "generate_titles_social",
        "select_title",
        "select_description",
    ]
    assert by_step["music"] == [
        "generate_music_options",
        "select_music_option",
        "generate_music_prompt",
        "generate_and_select_music",
    ]
    assert by_step["workflow_summary"] == ["compose_final_video", "review_final_video", "format_summary", "write_summary_file"]


def test_step3_image_module_writes_the_keys_steps_4_and_5_read():
    module = next(m for _, _, m, _ in all_modules() if m["name"] == "generate_and_select_images")
    assert module["outputs_to_state"] == {
        "selected_content_id": "selected_image_id",
        "selected_content": "selected_image_data",
        "generations": "image_generations",
    }


def test_text_refs_hold_no_template_syntax_and_jinja_refs_parse():
    env = SandboxedEnvironment()
    for folder in STEP_FOLDERS:
        for node in iter_refs(raw_step(folder)):
            target = ref_target(step_path(folder), node["$ref"])
            kind = node.get("type", "text")
            if kind == "text":
                text = target.read_text()
                assert "{{" not in text and "{%" not in text, target
            elif kind == "jinja2":
                env.parse(target.read_text())


# ---------------------------------------------------------- output schemas


def strict_problems(schema: Any, where: str = "$") -> list[str]:
    """Why `schema` would be refused by OpenAI strict structured outputs."""
    if not isinstance(schema, dict):
        return [f"{where}: not a schema object"]
    problems = [f"{where}: unsupported keyword {k!r}" for k in schema if k not in STRICT_KEYWORDS]
    if "anyOf" in schema:
        for i, option in enumerate(schema["anyOf"]):
            problems += strict_problems(option, f"{where}.anyOf[{i}]")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "object" in kinds:
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where}: additionalProperties must be false")
        if sorted(schema.get("required", [])) != sorted(props):
            problems.append(f"{where}: every property must be required")
        for name, sub in props.items():
            problems += strict_problems(sub, f"{where}.{name}")
    if "array" in kinds:
        if "items" not in schema:
            problems.append(f"{where}: array without items")
        else:
            problems += strict_problems(schema["items"], f"{where}[]")
    if "enum" in schema and not schema["enum"]:
        problems.append(f"{where}: empty enum")
    if kind is None and "anyOf" not in schema and "enum" not in schema:
        problems.append(f"{where}: no type")
    return problems


def test_strict_checker_catches_problems():
    assert strict_problems({"type": "object", "properties": {}, "additionalProperties": False}) == []
    loose = {"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}}
    problems = strict_problems(loose)
    assert any("additionalProperties" in p for p in problems)
    assert any("required" in p for p in problems)
    assert any("minLength" in p for p in problems)
    assert strict_problems({"type": "array", "_ux": {}})


def test_output_schemas_are_strict_and_valid():
    files = output_schema_files()
    assert len(files) == 9  # the photo's analysis in step 1, one each in steps 2-7, two in step 8
    for path in files:
        schema = json.loads(path.read_text())
        assert schema.get("type") == "object", f"{path}: root must be an object"
        assert strict_problems(schema) == [], (path, strict_problems(schema))
        Draft202012Validator.check_schema(schema)
        assert "_ux" not in path.read_text(), f"{path}: display hints in an output schema"


# ------------------------------------------------------------ retry / jump


def test_retryable_targets_exist():
    modules = all_modules()
    position = {(STEP_IDS[i], m["name"]): (i, n) for n, (i, _, m, _) in enumerate(modules)}
    count = 0
    for n, (index, step, module, _) in enumerate(modules):
        retryable = module.get("retryable")
        if not retryable:
            continue
        options = retryable["options"]
        ids = [o["id"] for o in options]
        assert len(ids) == len(set(ids))
        assert retryable["default_option"] in ids
        assert [o["mode"] for o in options].count("continue") == 1
        assert [o["mode"] for o in options].count("retry") <= 1
        for option in options:
            assert option["label"] and len(option["label"]) <= 40, option["label"]
            if option["mode"] == "retry":
                target = (step["step_id"], option["target_module"])
                assert target in position, target
                assert position[target][1] < n, "a retry target runs before the module"
                assert option["feedback"]["enabled"] is True
                assert option["feedback"]["prompt"] and option["feedback"]["default_message"]
            elif option["mode"] == "jump":
                target = (option["target_step"], option["target_module"])
                assert target in position, target
                assert position[target][1] < n, "a jump goes back"
            count += 1
    assert count >= 15


def test_every_choice_offers_a_way_to_redo():
    """Each LLM-fed choice can ask for new proposals with feedback."""
    for _, _, module, _ in all_modules():
        if module["module_id"] in {"user.select", "media.generate"}:
            data = json.dumps(module["inputs"].get("data", module["inputs"].get("prompts")))
            if "state." not in data or module["name"] in ("select_motion_elements", "select_photo_frame"):
                continue  # fixed lists (step 1), the spec's own motion-element pick, two fits of one photo
            if module["inputs"].get("mode") == "review":
                continue  # a final check offers ways back (jumps): nothing to regenerate
            modes = [o["mode"] for o in module["retryable"]["options"]]
            assert "retry" in modes, module["name"]


# -------------------------------------------------------- display schemas


def find_nodes(schema: dict, predicate, path: tuple = ()) -> list[tuple[tuple, dict]]:
    """Display-schema nodes matching `predicate`, with their data path (int 0 = array item)."""
    found = [(path, schema)] if predicate(schema) else []
    for name, sub in schema.get("properties", {}).items():
        found += find_nodes(sub, predicate, (*path, name))
    if isinstance(schema.get("items"), dict):
        found += find_nodes(schema["items"], predicate, (*path, 0))
    return found


def select_modules() -> list[dict]:
    """The picks (review-mode selects only show something and offer ways back)."""
    return [
        m
        for _, _, m, _ in all_modules()
        if m["module_id"] == "user.select" and m["inputs"].get("mode", "select") == "select"
    ]


def test_select_display_schemas_mark_one_selectable_unit_with_a_title():
    for module in select_modules():
        schema = module["inputs"]["schema"]
        selectable = find_nodes(schema, lambda n: ux(n).get("selectable") is True)
        assert len(selectable) == 1, module["name"]
        path, node = selectable[0]
        assert path and path[-1] == 0, "the selectable unit is an array item"
        assert ux(node).get("render_as") in {"card", "card-title"}
        titles = [node] if ux(node).get("render_as") == "card-title" else [
            sub for sub in node.get("properties", {}).values() if ux(sub).get("render_as") == "card-title"
        ]
        assert len(titles) == 1, f"{module['name']}: one card-title for the button label"
        assert ux(titles[0]).get("display_label")
        for _, sub in find_nodes(schema, lambda n: True):
            hints = ux(sub)
            if hints.get("display") not in (False, "passthrough") and sub is not schema:
                assert hints.get("display_label") or sub.get("type") in {"object", "array"} or hints == {}


def schema_at(schema: dict, path: tuple) -> dict | None:
    for key in path:
        if key == 0:
            schema = schema.get("items")
        else:
            schema = schema.get("properties", {}).get(key)
        if schema is None:
            return None
    return schema


def check_display_against_output(display: dict, output: dict, where: str) -> None:
    """Every property a display schema names exists in the data's output schema."""
    for name, sub in display.get("properties", {}).items():
        assert name in output.get("properties", {}), f"{where}.{name} not in the output schema"
        check_display_against_output(sub, output["properties"][name], f"{where}.{name}")
    if isinstance(display.get("items"), dict):
        assert isinstance(output.get("items"), dict), f"{where}[] is not an array"
        check_display_against_output(display["items"], output["items"], f"{where}[]")


def llm_output_schemas() -> dict[str, dict]:
    """state key -> output schema of the api.llm module that writes it."""
    found = {}
    for _, _, module, _ in all_modules():
        if module["module_id"] == "api.llm":
            found[module["outputs_to_state"]["response"]] = module["inputs"]["output_schema"]
    return found


def data_schema(expr: str) -> dict | None:
    """The output schema behind a `{{ state.key.sub }}` data template, if an LLM wrote it."""
    match = WHOLE_EXPR.match(expr.strip())
    if not match:
        return None
    parts = match.group("expr").strip().split(".")
    assert parts[0] == "state"
    schema = llm_output_schemas().get(parts[1])
    return schema_at(schema, tuple(parts[2:])) if schema else None


def test_display_schemas_match_the_data_they_show():
    checked = 0
    for _, _, module, _ in all_modules():
        inputs = module["inputs"]
        display = inputs.get("schema")
        data = inputs.get("data", inputs.get("prompts"))
        if display is None:
            continue
        if isinstance(data, str):
            output = data_schema(data)
            assert output is not None, module["name"]
            check_display_against_output(display, output, module["name"])
            checked += 1
        elif isinstance(data, dict) and module["name"] in ("choose_photo_way", "select_photo_frame"):
            continue  # a fixed list; the fitted photos (media.fit's frames, not an LLM's answer)
        elif isinstance(data, dict) and module["name"] == "select_motion_elements":
            analysis = llm_output_schemas()["image_analysis"]
            output = {
                "properties": {
                    "detected": schema_at(analysis, ("motion_elements", "detected_elements"))
                }
            }
            check_display_against_output(display, output, module["name"])
            checked += 1
    assert checked >= 8


def media_modules() -> list[dict]:
    return [m for _, _, m, _ in all_modules() if m["module_id"] == "media.generate"]


def test_media_panels_have_known_providers_and_valid_fields():
    seen_panels = {}
    for module in media_modules():
        actions = {a["action_type"] for a in module["sub_actions"]}
        assert len(actions) == 1
        action = actions.pop()
        assert all(a["result_key"] == "generations" for a in module["sub_actions"])
        panels = find_nodes(module["inputs"]["schema"], lambda n: ux(n).get("render_as") == "tab.media")
        assert panels, module["name"]
        for path, node in panels:
            hints = ux(node)
            assert (hints["provider"], action) in PROVIDER_ACTIONS, (module["name"], hints["provider"])
            assert hints["tab_label"]
            fields = hints["input_schema"]["properties"]
            assert fields["_text"]["destination_field"] == "prompt"
            prompt_props = set(node.get("properties", {}))
            for name, field in fields.items():
                source = field.get("_ux", {}).get("source_field")
                if source:
                    assert source in prompt_props, f"{module['name']}/{'.'.join(path)}: {source}"
                if "enum" in field:
                    assert field["default"] in field["enum"], (name, field)
                    if field.get("type") == "string":
                        assert all(isinstance(v, str) for v in field["enum"])
                    for value in field.get("enum_labels", {}):
                        assert value in field["enum"]
                if "minimum" in field and "default" in field:
                    assert field["minimum"] <= field["default"] <= field["maximum"]
            seen_panels[(module["name"], ".".join(str(p) for p in path))] = hints
    assert set(seen_panels) == {
        ("generate_and_select_images", "prompts.openai"),
        ("generate_and_select_images", "prompts.leonardo.phoenix_1_0"),
        ("generate_scenes_with_pet", "prompts.openai"),
        ("generate_scenes_with_pet", "prompts.leonardo.phoenix_1_0"),
        ("generate_and_select_videos", "leonardo"),
        ("generate_and_select_videos", "veo"),
        ("generate_and_select_videos", "sora"),
        ("generate_and_select_music", "elevenlabs"),
    }


def panel_fields(module_name: str, panel: str) -> dict:
    module = next(m for m in media_modules() if m["name"] == module_name)
    node = module["inputs"]["schema"]
    for key in panel.split("."):
        node = node["properties"][key]
    return ux(node)["input_schema"]["properties"]


def test_video_panels_follow_the_real_apis():
    sora = panel_fields("generate_and_select_videos", "sora")
    assert "duration" not in sora
    assert sora["seconds"]["enum"] == ["4", "8", "12"] and sora["seconds"]["default"] == "4"
    assert set(sora["aspect_ratio"]["enum"]) == {"9:16", "16:9"}
    assert sora["aspect_ratio"]["default"] == "9:16"
    assert sora["model"]["enum"] == ["sora-2", "sora-2-pro"] and sora["model"]["default"] == "sora-2"

    leonardo = panel_fields("generate_and_select_videos", "leonardo")
    # no such API field: the LLM's subtle/moderate/dynamic is a select the provider
    # folds into the prompt text (the spec's 1-10 slider is gone)
    strength = leonardo["motion_strength"]
    assert strength["enum"] == ["subtle", "moderate", "dynamic"]
    assert strength["_ux"]["source_field"] == "motion_strength"
    assert strength["_ux"]["input_type"] == "select"
    assert leonardo["model"]["enum"] == ["MOTION2", "MOTION2FAST"]
    assert leonardo["model"]["default"] == "MOTION2"
    assert set(leonardo["resolution"]["enum"]) <= {"RESOLUTION_480", "RESOLUTION_720"}
    assert leonardo["frame_interpolation"]["enum"] == ["true", "false"]
    assert "duration" not in leonardo  # Motion 2.0 is fixed at ~5 s: never send it

    veo = panel_fields("generate_and_select_videos", "veo")
    assert veo["model"]["enum"] == ["VEO3_1", "VEO3_1FAST"] and veo["model"]["default"] == "VEO3_1"
    assert veo["duration"]["enum"] == ["4", "6", "8"] and veo["duration"]["default"] == "8"
    assert veo["resolution"]["enum"] == ["RESOLUTION_720", "RESOLUTION_1080"]
    assert veo["_text"]["_ux"]["source_field"] == "prompt"
    assert veo["negative_prompt"]["_ux"]["source_field"] == "negative_prompt"

    display = next(m for m in media_modules() if m["name"] == "generate_and_select_videos")
    leonardo_info = display["inputs"]["schema"]["properties"]["leonardo"]["properties"]
    assert ux(leonardo_info["motion_strength"])["display"] is True  # shown as information


def test_image_and_music_panels():
    openai = panel_fields("generate_and_select_images", "prompts.openai")
    width, height = map(int, openai["size"]["default"].split("x"))
    assert width % 16 == 0 and height % 16 == 0 and width / height == 9 / 16
    phoenix = panel_fields("generate_and_select_images", "prompts.leonardo.phoenix_1_0")
    assert int(phoenix["width"]["default"]) / int(phoenix["height"]["default"]) == 9 / 16
    assert int(phoenix["height"]["default"]) <= 1536
    music = panel_fields("generate_and_select_music", "elevenlabs")
    assert music["_text"]["_ux"]["source_field"] == "prompt"
    assert music["music_length_ms"]["_ux"]["source_field"] == "music_length_ms"
    assert set(music) == {"_text", "music_length_ms"}  # the provider always forces instrumental


def test_server_resolved_inputs_hold_no_display_templates():
    """`display_format` templates over `value` must reach the front end untouched."""
    for _, _, module, _ in all_modules():
        inputs = module["inputs"]
        server = [
            name
            for name, spec in inputs.get("resolver_schema", {}).get("properties", {}).items()
            if spec.get("resolver") == "server"
        ]
        for name in server:
            assert name in inputs, f"{module['name']}: resolver lists missing input {name}"
            for text in iter_strings(inputs[name]):
                assert "value" not in re.findall(r"\{\{\s*(\w+)", text), (module["name"], name)
        if module["module_id"] == "io.render_template":
            assert "template" not in server


# ----------------------------------------------------------- step 1 content


def step1_data(name: str) -> list[dict]:
    module = next(m for m in select_modules() if m["name"] == name)
    return module["inputs"]["data"]


def test_pet_types():
    pets = step1_data("select_pet_type")
    assert [(p["id"], p["label"]) for p in pets] == [
        ("cat", "Cat"),
        ("dog", "Dog"),
        ("both", "Cat & Dog"),
    ]
    assert all(p["description"] for p in pets)


def test_eleven_distinct_aesthetics():
    aesthetics = step1_data("select_aesthetic")
    assert [a["id"] for a in aesthetics] == [
        "adventure",
        "comfort",
        "playful",
        "bond",
        "growth",
        "quiet",
        "rescue",
        "seasons",
        "rituals",
        "remembrance",
        "heavenly",
    ]
    seen: set[str] = set()
    for item in aesthetics:
        assert set(item) == {
            "id",
            "label",
            "description",
            "visual_tone",
            "story_angles",
            "visual_elements",
            "prompting_keywords",
        }
        assert set(item["visual_tone"]) == {"mood", "lighting", "energy", "warmth"}
        assert len(item["story_angles"]) == 6
        assert len(item["visual_elements"]) == (9 if item["id"] == "heavenly" else 5)
        assert item["prompting_keywords"]["positive"] and item["prompting_keywords"]["negative"]
        texts = [item["label"], item["description"], *item["story_angles"]]
        assert not seen & set(texts), "aesthetics must not share text"
        seen |= set(texts)


def test_duration_options_are_honest_about_clip_length():
    options = step1_data("select_duration")
    assert len(options) >= 2
    for option in options:
        assert set(option) >= {
            "id",
            "label",
            "description",
            "video_duration",
            "paragraph_line_count",
            "sound_track_duration",
        }
        assert option["sound_track_duration"] >= option["video_duration"]
        assert 3000 <= option["sound_track_duration"] * 1000 <= 600000  # ElevenLabs limits
        assert option["video_duration"] <= 30, "a 4-12 s clip looped past 30 s is not honest"
        if option["video_duration"] > 12:  # longer than any clip: say it loops
            assert "loop" in option["description"].lower(), option["id"]


def test_text_input_placeholder_fits_telegram():
    module = next(m for _, _, m, _ in all_modules() if m["name"] == "get_user_direction")
    assert module["inputs"]["allow_empty"] is True
    assert 1 <= len(module["inputs"]["placeholder"]) <= 64  # ForceReply placeholder limit
    assert module["outputs_to_state"] == {"value": "user_direction"}
    assert "retryable" not in module


# ----------------------------------------------------- dry run of the steps


def sample(schema: dict, name: str = "value", index: int = 0) -> Any:
    """A small instance of an output schema (distinct strings per array item)."""
    if "anyOf" in schema:
        return sample(schema["anyOf"][0], name, index)
    if "enum" in schema:
        return schema["enum"][index % len(schema["enum"])]
    kind = schema.get("type")
    if kind == "object":
        return {key: sample(sub, key, index) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        count = max(schema.get("minItems", 1), 1)
        return [sample(schema["items"], name, i) for i in range(count)]
    if kind == "integer":
        return schema.get("minimum", 1) + index
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if schema.get("pattern", "").startswith("^#"):
        return f"#sample{name}{index}"
    return f"sample {name} {index + 1}"


def sandbox(undefined=jinja2.StrictUndefined) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=undefined)
    env.globals["now"] = fake_now
    env.globals["estimate"] = lambda provider, action, params=None: "~$0.10"  # the registry's, in the engine
    return env


def fake_now(fmt: str | None = None) -> str:
    """The engine's now(): ISO text, or strftime(fmt) when a format is given."""
    moment = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)
    return moment.strftime(fmt) if fmt else moment.isoformat(timespec="seconds")


def resolve_value(env: SandboxedEnvironment, value: Any, context: dict) -> Any:
    """The engine's server resolution: whole `{{ expr }}` keeps its native type."""
    if isinstance(value, dict):
        return {key: resolve_value(env, sub, context) for key, sub in value.items()}
    if isinstance(value, list):
        return [resolve_value(env, sub, context) for sub in value]
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        match = WHOLE_EXPR.match(value.strip())
        if match and "{{" not in match.group("expr") and "{%" not in match.group("expr"):
            return env.compile_expression(match.group("expr").strip())(**context)
        return env.from_string(value).render(**context)
    return value


def item_at(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


PHOTO = {"local_path": "/data/media/alice/run/photo/pet_photo_1.jpg", "width": 1200, "height": 900,
         "format": "jpeg", "size_bytes": 90000, "original_width": 4032, "original_height": 3024,
         "caption": "this is Biscuit"}


def run_module(env, step: dict, module: dict, state: dict, reads: dict, photo: str | None = None) -> dict:
    """Resolve a module's inputs against `state` and return sample outputs."""
    context = {"state": state, "module": state, "step": step, "config": {}}
    inputs = dict(module["inputs"])
    server = inputs.pop("resolver_schema", {}).get("properties", {})
    for name, spec in server.items():
        if spec.get("resolver") == "server":
            for text in iter_strings(inputs[name]):
                reads.setdefault(module["name"], set()).update(STATE_REF.findall(text))
            inputs[name] = resolve_value(env, inputs[name], context)
    kind = module["module_id"]
    if kind == "user.select" and inputs.get("mode") == "review":
        return {"selected_indices": [], "selected_data": [], "retry_requested": False}
    if kind == "user.file":
        return {"file": dict(PHOTO) if photo else None, "skipped": not photo}
    if kind == "media.fit":
        assert inputs["image"]["local_path"]
        frames = [{"id": v["id"], "label": v["label"], "description": v["description"], "fit": v["mode"],
                   "local_path": f"/data/media/frame_{v['id']}.jpg", "width": inputs["width"],
                   "height": inputs["height"]} for v in inputs["variants"]]
        return {"frames": frames, "by_id": {f["id"]: f for f in frames}}
    if kind == "user.select":
        (path, _), = find_nodes(inputs["schema"], lambda n: ux(n).get("selectable") is True)
        if module["name"] == "choose_photo_way" and photo == "scenes":
            path = (*path[:-1], 1)
        first = item_at(inputs["data"], path)
        assert first is not None and first != "", module["name"]
        one_path = list(path)  # [0] or ["scenes", 0]
        if inputs.get("multi_select"):
            picked = one_path[0] if len(one_path) == 1 else one_path
            return {"selected_indices": [picked], "selected_data": [first]}
        return {"selected_indices": one_path, "selected_data": first}
    if kind == "user.text_input":
        return {"value": "Miso, a fluffy ginger cat"}
    if kind == "api.llm":
        text_parts = [p for p in iter_strings(inputs["input"]) if p] + list(iter_strings(inputs["system"]))
        assert all(part.strip() for part in text_parts)
        assert "{{" not in "".join(text_parts), f"{module['name']}: unrendered template"
        schema = inputs["output_schema"]
        response = sample(schema)
        Draft202012Validator(schema).validate(response)
        return {"response": response, "response_text": json.dumps(response), "model": "x", "usage": {}}
    if kind == "media.generate":
        kinds = {"txt2img": "png", "img2img": "png", "img2vid": "mp4", "txt2audio": "mp3"}
        ext = kinds[module["sub_actions"][0]["action_type"]]
        panels = find_nodes(inputs["schema"], lambda n: ux(n).get("render_as") == "tab.media")
        for path, node in panels:
            prompt_data = item_at(inputs["prompts"], path)
            for field in ux(node)["input_schema"]["properties"].values():
                source = field.get("_ux", {}).get("source_field")
                if source:
                    assert prompt_data[source] not in (None, ""), (module["name"], source)
        key = ".".join(panels[0][0])
        content = {
            "content_id": f"gc_{module['name']}",
            "url": f"https://example.invalid/{module['name']}.{ext}",
            "metadata_id": "job_1",
            "prompt_key": key,
            "local_path": f"/data/media/{module['name']}.{ext}",
        }
        return {
            "selected_content_id": content["content_id"],
            "selected_content": content,
            "generations": {key: []},
        }
    if kind == "io.weighted_keywords":
        if inputs["mode"] == "load":
            rows = [{"keyword": "blanket fort", "category": "setting", "weight": 40}]
            return {"weighted_keywords": rows, "count": len(rows)}
        keywords = inputs["keywords"]
        assert isinstance(keywords, list) and keywords, module["name"]
        for row in keywords:
            assert set(row) == {"keyword", "category", "weight"}
        return {"saved_count": len(keywords)}
    if kind == "io.render_template":
        rendered = env.from_string(inputs["template"]).render(**context)
        reads.setdefault(module["name"], set()).update(STATE_REF.findall(inputs["template"]))
        return {"rendered": rendered}
    if kind == "io.client_write":
        assert inputs["content"]
        return {"file_path": f"/data/runs/x/{inputs['filename']}", "filename": inputs["filename"], "success": True}
    if kind == "transform.extract":
        return {k: v for k, v in inputs.items() if not k.startswith("_")}
    if kind == "media.compose":
        assert inputs["video"]["local_path"] and inputs["duration_s"] > 0
        path = "/data/runs/x/final_1.mp4"
        return {"final_video": {"local_path": path, "duration_s": float(inputs["duration_s"])}, "final_video_path": path}
    raise AssertionError(kind)


def dry_run(env=None, photo: str | None = None) -> tuple[dict, dict, dict]:
    """Run all nine steps on sample answers: without a photo, or with one and the "animate"
    or "scenes" way. A module's `when` is tested as the engine does (missing keys are empty);
    the keys of a skipped module read as None. Returns (state, reads, writes)."""
    env = env or sandbox()
    lenient = sandbox(jinja2.ChainableUndefined)
    wf = workflow()
    state = dict(wf["initial_state"])
    writes: dict[str, int] = {key: -1 for key in state}  # state key -> module position
    reads: dict[str, set[str]] = {}
    order = 0
    for step in wf["steps"]:
        for module in step["modules"]:
            when = module.get("when")
            if when is not None and not resolve_value(lenient, when, {"state": state}):
                for state_key in module["outputs_to_state"].values():
                    state.setdefault(state_key, None)
                    writes.setdefault(state_key, order)
                order += 1
                continue
            outputs = run_module(env, step, module, state, reads, photo)
            for output_name, state_key in module["outputs_to_state"].items():
                value = outputs
                for part in output_name.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                state[state_key] = value
                writes.setdefault(state_key, order)
            order += 1
    return state, reads, writes


def dry_run_state() -> dict:
    return dry_run()[0]


@pytest.mark.parametrize("photo", [None, "animate", "scenes"])
def test_dry_run_renders_every_template_with_strict_undefined(photo):
    state, reads, _ = dry_run(photo=photo)
    summary = state["workflow_summary_text"]
    for expected in [
        state["selected_title"],
        state["selected_description"]["text"],
        state["selected_description"]["hashtags"][0],
        state["selected_scene"]["title"],
        state["selected_text_overlay"]["paragraphs"][0]["sentences"][0],
        state["selected_image_data"]["local_path"],
        state["selected_video_data"]["local_path"],
        state["selected_music_data"]["local_path"],
        state["music_prompt"]["prompt"],
        state["video_prompts"]["prompts"]["veo"]["prompt"],
        "2026-11-27",
    ]:
        assert expected in summary, expected
    if photo == "animate":
        assert state["selected_image_data"]["id"] == "crop" and "your own photo" in summary
        assert state["image_prompts"] is None  # no pictures are made
    if photo == "scenes":
        assert state["selected_image_data"]["content_id"] == "gc_generate_scenes_with_pet"
    if photo:
        assert state["pet_type_selection"]["label"] == "Cat" and "Biscuit" in state["pet_photo_notes"]
    assert "None" not in summary
    assert state["summary_filename"] == "cuddle_crew_summary.txt"
    # selected values are the items themselves (the engine follows the full path)
    assert state["selected_scene"] == state["scene_concepts"]["scenes"][0]
    assert state["selected_text_overlay"] == state["text_overlays"]["text_sets"][0]
    assert isinstance(state["selected_title"], str)
    assert state["selected_motion_elements"][0]["element"]


def test_music_panel_prompt_comes_from_the_llm_and_length_from_step1():
    env = sandbox()
    state = dry_run_state()
    module = next(m for m in media_modules() if m["name"] == "generate_and_select_music")
    context = {"state": state, "module": state, "step": {}, "config": {}}
    prompts = resolve_value(env, module["inputs"]["prompts"], context)
    assert prompts["elevenlabs"]["prompt"] == state["music_prompt"]["prompt"]
    assert prompts["elevenlabs"]["music_length_ms"] == state["duration_selection"]["sound_track_duration"] * 1000
    user = next(m for _, _, m, _ in all_modules() if m["name"] == "generate_music_prompt")
    text = user["inputs"]["input"]
    assert "audio_atmosphere" in text and "selected_scene" in text and "selected_music_option" in text


def test_scene_prompt_prints_keyword_history_and_first_run_lines():
    env = sandbox()
    module = next(m for _, _, m, _ in all_modules() if m["name"] == "generate_scenes")
    template = env.from_string(module["inputs"]["input"])
    state = dry_run_state()
    state["keyword_exclusions_selected"] = [
        {"keyword": "blanket fort", "category": "setting", "weight": 80},
        {"keyword": "rain", "category": "object", "weight": 20},
    ]
    state["keyword_exclusions_generated"] = []
    text = template.render(state=state, step={}, config={})
    assert "blanket fort:80, rain:20" in text
    assert "Total weight: 100" in text
    assert "HARD BAN" in text and "STRONGLY DISCOURAGED" in text
    assert "first run, every idea is fresh" in text
    state["keyword_exclusions_selected"] = None  # a load that returned nothing
    text = template.render(state=state, step={}, config={})
    assert "first run, nothing is banned" in text


def test_every_state_key_read_is_written_earlier():
    _, reads, writes = dry_run()
    order = [m["name"] for _, _, m, _ in all_modules()]
    for module_name, keys in reads.items():
        position = order.index(module_name)
        for key in keys:
            assert key in writes, f"{module_name} reads state.{key}, which nothing writes"
            assert writes[key] < position, f"{module_name} reads state.{key} before it is written"


def test_state_keys_steps_4_and_5_read():
    _, reads, writes = dry_run()
    read_45 = reads["analyze_image"] | reads["select_motion_elements"] | reads["generate_video_prompts"]
    assert read_45 >= {
        "selected_image_data",
        "selected_scene",
        "pet_type_selection",
        "aesthetic_selection",
        "duration_selection",
        "image_analysis",
        "selected_motion_elements",
    }
    first_step5 = [m["name"] for _, _, m, _ in all_modules()].index("select_motion_elements")
    for key in read_45 - {"image_analysis", "selected_motion_elements"}:
        assert writes[key] < first_step5
    state = dry_run_state()
    for path in [
        ("selected_scene", "title"),
        ("selected_scene", "narrative"),
        ("selected_scene", "pet_behavior"),
        ("selected_scene", "setting"),
        ("selected_scene", "emotional_arc"),
        ("pet_type_selection", "label"),
        ("aesthetic_selection", "visual_tone", "mood"),
        ("duration_selection", "video_duration"),
        ("selected_image_data", "local_path"),
    ]:
        assert item_at(state, path) not in (None, ""), path


# ------------------------------------------------- steps 4 and 5 vs the spec


def seed_blocks() -> dict[tuple[int, str], str]:
    """{(step, filename): text} of the spec's fenced file blocks for steps 4 and 5."""
    blocks: dict[tuple[int, str], str] = {}
    step = name = None
    buffer: list[str] | None = None
    for line in SEED_FILE.read_text().splitlines():
        if buffer is not None:
            if line.startswith("```"):
                blocks[(step, name)] = "\n".join(buffer) + "\n"
                buffer, name = None, None
            else:
                buffer.append(line)
            continue
        heading = re.match(r"^## Step (\d+):", line)
        if heading:
            step = int(heading.group(1))
        elif line.startswith("## "):
            step = None
        elif file_heading := re.match(r"^#{3,4} (\S+\.(?:json|txt))\s*$", line):
            name = file_heading.group(1)
        elif line.startswith("```") and step and name:
            buffer = []
    return blocks


needs_seed = pytest.mark.skipif(not SEED_FILE.is_file(), reason="shared/seed is not beside the repo")


def normalise(text: str) -> str:
    return " ".join(text.split())


def local_file(step: int, name: str) -> Path:
    folder = WF / "steps" / STEP_FOLDERS[step - 1]
    if name == "step.json":
        return folder / name
    return folder / ("prompts" if name.endswith(".txt") else "schemas") / name


@needs_seed
def test_seed_has_the_expected_blocks():
    assert set(seed_blocks()) == {
        (4, "step.json"),
        (4, "cc_role_visual_analyst.txt"),
        (4, "cc_image_analysis_system.txt"),
        (4, "cc_image_analysis_user.txt"),
        (4, "cc_image_analysis_schema.json"),
        (5, "step.json"),
        (5, "cc_video_prompts_system.txt"),
        (5, "cc_video_prompts_user.txt"),
        (5, "cc_motion_elements_display_schema.json"),
        (5, "cc_video_prompts_schema.json"),
        (5, "cc_video_generation_display_schema.json"),
    }


@needs_seed
@pytest.mark.parametrize(
    "name",
    [
        "step.json",
        "cc_role_visual_analyst.txt",
        "cc_image_analysis_system.txt",
        "cc_image_analysis_user.txt",
        "cc_image_analysis_schema.json",
    ],
)
def test_step4_files_equal_the_spec(name):
    ours = local_file(4, name).read_text()
    assert normalise(ours) == normalise(seed_blocks()[(4, name)])


@needs_seed
@pytest.mark.parametrize(
    "name",
    ["step.json", "cc_video_prompts_user.txt", "cc_motion_elements_display_schema.json"],
)
def test_step5_unchanged_files_equal_the_spec(name):
    ours = local_file(5, name).read_text()
    assert normalise(ours) == normalise(seed_blocks()[(5, name)])


# The documented changes (workflows/cc/README.md, "Changes to the spec's files").
SYSTEM_PROMPT_CHANGES = [
    (
        "Create prompts optimized\nfor Leonardo Motion and Sora 2.",
        "Create prompts optimized\nfor Leonardo Motion, Veo 3.1 and Sora 2.",
    ),
    (
        "### Sora 2\n",
        "### Veo 3.1 (through Leonardo)\n"
        "**Prompt:** Natural language description that starts from the image as the\n"
        "first frame: the selected elements and how they move, with the pet and the\n"
        "camera static\n"
        "**Negative Prompt:** Unselected elements + standard artifacts\n"
        "**Audio Notes:** Veo 3.1 also generates sound. Describe soft ambient sound that\n"
        "fits the scene (e.g. rain on the window, a ticking clock, quiet room tone); no\n"
        "music, no speech, no loud animal sounds. The chosen music is mixed over it.\n"
        "\n"
        "### Sora 2\n",
    ),
]


@needs_seed
def test_step5_system_prompt_equals_the_spec_plus_veo():
    expected = seed_blocks()[(5, "cc_video_prompts_system.txt")]
    for old, new in SYSTEM_PROMPT_CHANGES:
        assert expected.count(old) == 1
        expected = expected.replace(old, new)
    ours = local_file(5, "cc_video_prompts_system.txt").read_text()
    assert normalise(ours) == normalise(expected)


@needs_seed
def test_step5_video_prompts_schema_equals_the_spec_plus_veo():
    seed = json.loads(seed_blocks()[(5, "cc_video_prompts_schema.json")])
    ours = json.loads(local_file(5, "cc_video_prompts_schema.json").read_text())
    prompts = ours["properties"]["prompts"]
    assert prompts["properties"]["veo"] == {
        "type": "object",
        "properties": {
            "prompt": {"type": "string"},
            "negative_prompt": {"type": "string"},
            "audio_notes": {"type": "string"},
        },
        "required": ["prompt", "negative_prompt", "audio_notes"],
        "additionalProperties": False,
    }
    assert prompts["required"] == ["leonardo", "sora", "veo"]
    stripped = copy.deepcopy(ours)
    del stripped["properties"]["prompts"]["properties"]["veo"]
    stripped["properties"]["prompts"]["required"].remove("veo")
    assert stripped == seed


@needs_seed
def test_step5_display_schema_equals_the_spec_except_api_fixes_and_veo():
    seed = json.loads(seed_blocks()[(5, "cc_video_generation_display_schema.json")])
    ours = json.loads(local_file(5, "cc_video_generation_display_schema.json").read_text())
    assert list(ours["properties"]) == ["leonardo", "veo", "sora"]

    def fields(schema, panel):
        return schema["properties"][panel]["_ux"]["input_schema"]["properties"]

    # leonardo: the 1-10 motion_strength slider became a select fed by the LLM's
    # subtle/moderate/dynamic, plus model / resolution / frame_interpolation
    assert list(fields(seed, "leonardo")) == ["_text", "negative_prompt", "motion_strength"]
    assert fields(seed, "leonardo")["motion_strength"]["_ux"]["input_type"] == "slider"
    assert list(fields(ours, "leonardo")) == [
        "_text",
        "negative_prompt",
        "motion_strength",
        "model",
        "resolution",
        "frame_interpolation",
    ]
    # sora: duration -> seconds (4/8/12), a model select, no 1:1
    assert list(fields(seed, "sora")) == ["_text", "duration", "aspect_ratio"]
    assert list(fields(ours, "sora")) == ["_text", "model", "seconds", "aspect_ratio"]
    assert fields(ours, "sora")["aspect_ratio"]["enum"] == [
        v for v in fields(seed, "sora")["aspect_ratio"]["enum"] if v != "1:1"
    ]

    stripped = copy.deepcopy(ours)
    del stripped["properties"]["veo"]
    expected = copy.deepcopy(seed)
    for panel in ("leonardo", "sora"):
        for schema in (stripped, expected):
            for name in list(fields(schema, panel)):
                if name not in ("_text", "negative_prompt"):
                    del fields(schema, panel)[name]
    assert stripped == expected


@needs_seed
def test_readme_lists_every_changed_spec_file():
    readme = (WF / "README.md").read_text()
    for name in [
        "cc_video_prompts_system.txt",
        "cc_video_prompts_schema.json",
        "cc_video_generation_display_schema.json",
        "cc_role_motion_engineer.txt",
    ]:
        assert name in readme
    # and every file the spec names for step 5 exists, plus the missing role file
    for (step, name) in seed_blocks():
        assert local_file(step, name).is_file()
    assert local_file(5, "cc_role_motion_engineer.txt").is_file()


def test_engine_load_time_validation_accepts_the_workflow():
    """The same check as `ccbot validate workflows/cc`, when the engine is importable."""
    definitions = pytest.importorskip("engine.definitions")
    modules = pytest.importorskip("engine.modules")
    if not hasattr(definitions, "load_workflow") or not hasattr(modules, "default_modules"):
        pytest.skip("engine loader not available")
    loaded = definitions.load_workflow(WF, modules.default_modules())
    assert loaded.workflow_id == "cuddle_crew"
    assert [step.step_id for step in loaded.steps] == STEP_IDS
