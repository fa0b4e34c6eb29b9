"""Fake OpenAI: `POST /v1/responses`, `POST /v1/images/generations`, `POST /v1/images/edits` and
`POST /v1/audio/transcriptions`.

Checks what the real API checks (as far as the facts brief documents it):
Bearer auth; Responses field names (max_output_tokens, not
max_completion_tokens; text.format, not response_format); the flat
json_schema format shape (type/name/schema/strict, no nested json_schema);
strict-mode schema rules; part types per role (assistant history must be
output_text); data URLs whose declared type matches the bytes; images:
`model` always sent, gpt-image sizes and qualities, no response_format;
edits: multipart only, 1-16 `image` parts (png/jpeg/webp by their bytes, each
under 50 MB), known form fields only, `input_fidelity` high|low; every edited
picture's bytes are kept in `edit_images` for tests to compare.

Transcriptions: multipart only, a known speech-to-text model, a non-empty
`file` part whose name has an extension the endpoint takes; the words are
`transcript` (or `transcribe_with(file bytes, filename)`).

Extra scenarios: "insufficient_quota", "incomplete", "content_filter",
"malformed_body" (a 200 whose body is not JSON), "reject_custom_size",
"reject_ogg" (transcriptions refuse .ogg files, as a model that does not take
the container would).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes import RECORDED, FakeServer, image_format, png_bytes

RESPONSES_FIELDS = {
    "model", "input", "instructions", "text", "max_output_tokens", "reasoning", "store",
    "metadata", "prompt_cache_key", "prompt_cache_retention", "prompt_cache_options",
    "temperature", "top_p", "tools", "tool_choice", "truncation", "user", "safety_identifier",
    "previous_response_id", "include", "service_tier", "parallel_tool_calls", "stream",
    "background", "conversation", "max_tool_calls", "prompt", "top_logprobs",
}  # fmt: skip
STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum",
    "const", "description", "title", "$defs", "definitions", "$ref", "pattern", "format",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minItems", "maxItems", "minLength", "maxLength",
}  # fmt: skip
IMAGE_FIELDS = {
    "model", "prompt", "n", "size", "quality", "output_format", "output_compression",
    "background", "moderation", "stream", "partial_images", "user", "response_format",
}  # fmt: skip
GPT_IMAGE_MODELS = {"gpt-image-2", "gpt-image-1.5", "gpt-image-1-mini", "chatgpt-image-latest"}
TRANSCRIBE_MODELS = {"gpt-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe", "whisper-1"}
AUDIO_EXTENSIONS = {"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "oga", "wav", "webm"}
EDIT_FIELDS = {
    "model", "prompt", "n", "size", "quality", "output_format", "output_compression", "background",
    "input_fidelity", "moderation", "user", "stream", "partial_images",
}  # fmt: skip
EDIT_LIMIT = 50 * 1024 * 1024
DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|webp|gif));base64,(.+)$", re.S)


def openai_error(status: int, message: str, *, etype: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> web.Response:  # fmt: skip
    body = {"error": {"message": message, "type": etype, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def sample_for(schema: dict[str, Any]) -> Any:
    """A minimal instance of a (strict-style) JSON schema."""
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return sample_for(schema["anyOf"][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {name: sample_for(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample_for(schema.get("items", {})) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 0.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "a fluffy cat"


class FakeOpenAI(FakeServer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reply_text: str | None = None  # overrides the generated JSON answer
        # writes the answer from the request body (e.g. the offline writer, for a whole workflow run)
        self.answer_with: Callable[[dict[str, Any]], Awaitable[str]] | None = None
        self.edit_images: list[bytes] = []  # the pictures edits were asked to start from, as received
        self.usage = {"input_tokens": 1500, "cached_tokens": 1024, "output_tokens": 80, "reasoning_tokens": 32}
        self.transcript = "the second one please"  # what every recording says
        self.transcribe_with: Callable[[bytes, str], str] | None = None

    def api_prefix(self) -> str:
        return "/v1"

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/responses", self.responses)
        app.router.add_post("/v1/images/generations", self.images)
        app.router.add_post("/v1/audio/transcriptions", self.transcriptions)
        app.router.add_post("/v1/images/edits", self.edits)

    # ------------------------------------------------------------ common

    def _auth_error(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header != f"Bearer {self.api_key}":
            shown = header[7:10] + "***" if header.startswith("Bearer ") else "none"
            return openai_error(
                401, f"Incorrect API key provided: {shown}. You can find your API key at the dashboard.",
                code="invalid_api_key",
            )  # fmt: skip
        return None

    def _pre_checks(self, request: web.Request) -> web.Response | None:
        auth = self._auth_error(request)
        if auth is not None:
            return auth
        if self.scenario == "server_error":
            return openai_error(500, "The server had an error while processing your request.", etype="server_error")
        if self.scenario == "insufficient_quota":
            return openai_error(
                429, "You exceeded your current quota, please check your plan and billing details.",
                etype="insufficient_quota", code="insufficient_quota",
            )  # fmt: skip
        if self.should_rate_limit(request):
            return openai_error(
                429, "Rate limit reached for requests", etype="requests", code="rate_limit_exceeded",
                headers={"retry-after-ms": str(int(float(self.retry_after) * 1000))},
            )  # fmt: skip
        if request[RECORDED].content_type != "application/json" and request.path != "/v1/audio/transcriptions":
            return openai_error(400, "Expected a JSON body")
        return None

    # --------------------------------------------------------- responses

    async def responses(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request)
        if early is not None:
            return early
        body = request[RECORDED].json
        try:
            self._check_responses_body(body)
        except BadRequest as exc:
            return openai_error(400, exc.message, param=exc.param, code=exc.code)
        if self.scenario == "malformed_body":
            return self.malformed_response()
        delay = self.delay_for("llm")
        if delay:
            await asyncio.sleep(delay)
        answer = await self.answer_with(body) if self.answer_with else None
        return web.json_response(self._response_object(body, answer))

    def _check_responses_body(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise BadRequest("We could not parse the JSON body of your request.")
        for key in body:
            if key not in RESPONSES_FIELDS:
                raise BadRequest(f"Unsupported parameter: '{key}'.", param=key, code="unsupported_parameter")
        if not isinstance(body.get("model"), str):
            raise BadRequest("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
        items = body.get("input")
        if isinstance(items, list):
            for index, item in enumerate(items):
                self._check_input_item(item, index)
        elif not isinstance(items, str):
            raise BadRequest("Invalid type for 'input'.", param="input", code="invalid_type")
        if "prompt_cache_retention" in body and body["prompt_cache_retention"] not in ("in_memory", "24h"):
            raise BadRequest("Invalid value for 'prompt_cache_retention'.", param="prompt_cache_retention")
        if "prompt_cache_key" in body and not isinstance(body["prompt_cache_key"], str):
            raise BadRequest("Invalid type for 'prompt_cache_key'.", param="prompt_cache_key", code="invalid_type")
        if "max_output_tokens" in body and not isinstance(body["max_output_tokens"], int):
            raise BadRequest("Invalid type for 'max_output_tokens'.", param="max_output_tokens", code="invalid_type")
        text = body.get("text")
        if text is not None:
            self._check_format(text)

    def _check_input_item(self, item: Any, index: int) -> None:
        param = f"input[{index}]"
        if not isinstance(item, dict) or item.get("role") not in ("developer", "system", "user", "assistant"):
            raise BadRequest(f"Invalid value for '{param}.role'.", param=f"{param}.role")
        content = item.get("content")
        if isinstance(content, str):
            return
        if not isinstance(content, list) or not content:
            raise BadRequest(f"Invalid type for '{param}.content'.", param=f"{param}.content", code="invalid_type")
        allowed = (
            {"output_text", "refusal"} if item["role"] == "assistant" else {"input_text", "input_image", "input_file"}
        )
        for part_index, part in enumerate(content):
            part_param = f"{param}.content[{part_index}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in allowed:
                supported = "', '".join(sorted(allowed))
                raise BadRequest(
                    f"Invalid value: '{kind}'. Supported values are: '{supported}'.", param=f"{part_param}.type",
                    code="invalid_value",
                )  # fmt: skip
            if kind in ("input_text", "output_text") and not isinstance(part.get("text"), str):
                raise BadRequest(f"Missing required parameter: '{part_param}.text'.", param=f"{part_param}.text")
            if kind == "input_image":
                self._check_image_part(part, part_param)

    def _check_image_part(self, part: dict[str, Any], param: str) -> None:
        if part.get("detail", "auto") not in ("auto", "low", "high", "original"):
            raise BadRequest(f"Invalid value for '{param}.detail'.", param=f"{param}.detail")
        url = part.get("image_url")
        if not isinstance(url, str):
            raise BadRequest(f"Invalid type for '{param}.image_url'.", param=f"{param}.image_url", code="invalid_type")
        if url.startswith(("http://", "https://")):
            return
        match = DATA_URL.match(url)
        if not match:
            raise BadRequest("Invalid image URL: expected a URL or a base64 data URL.", param=f"{param}.image_url",
                             code="invalid_image_url")  # fmt: skip
        declared, payload = match.groups()
        try:
            data = base64.b64decode(payload, validate=True)
        except ValueError:
            raise BadRequest("Invalid base64 image data.", param=f"{param}.image_url", code="invalid_image") from None
        actual = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}.get(
            image_format(data) or ""
        )
        if actual != declared:
            raise BadRequest(
                f"The image data does not match the declared type {declared}.", param=f"{param}.image_url",
                code="invalid_image_format",
            )  # fmt: skip

    def _check_format(self, text: Any) -> None:
        fmt = text.get("format") if isinstance(text, dict) else None
        if not isinstance(fmt, dict):
            raise BadRequest("Invalid type for 'text.format'.", param="text.format", code="invalid_type")
        if fmt.get("type") == "json_object":
            return
        if fmt.get("type") != "json_schema":
            raise BadRequest("Invalid value for 'text.format.type'.", param="text.format.type")
        if "json_schema" in fmt:
            raise BadRequest("Unknown parameter: 'text.format.json_schema'.", param="text.format.json_schema",
                             code="unknown_parameter")  # fmt: skip
        name = fmt.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
            raise BadRequest("Missing or invalid 'text.format.name'.", param="text.format.name")
        schema = fmt.get("schema")
        if not isinstance(schema, dict):
            raise BadRequest("Missing required parameter: 'text.format.schema'.", param="text.format.schema")
        if "strict" in fmt and not isinstance(fmt["strict"], bool):
            raise BadRequest("Invalid type for 'text.format.strict'.", param="text.format.strict", code="invalid_type")
        if _has_ux(schema):
            raise BadRequest("Invalid schema for response_format 'text.format': unknown keyword '_ux'.",
                             param="text.format.schema")  # fmt: skip
        if fmt.get("strict"):
            problem = strict_problem(schema, "root")
            if problem:
                raise BadRequest(f"Invalid schema for response_format '{name}': {problem}",
                                 param="text.format.schema", code="invalid_json_schema")  # fmt: skip

    def _response_object(self, body: dict[str, Any], answer: str | None = None) -> dict[str, Any]:
        fmt = (body.get("text") or {}).get("format") or {}
        if answer is not None:
            pass
        elif self.reply_text is not None:
            answer = self.reply_text
        elif fmt.get("type") == "json_schema":
            import json

            answer = json.dumps(sample_for(fmt["schema"]))
        else:
            answer = "Here is a cute pet."
        if self.scenario == "malformed_json":
            answer = '{"caption": "a cat", "mood": '
        content: list[dict[str, Any]] = [{"type": "output_text", "text": answer, "annotations": []}]
        status, incomplete = "completed", None
        if self.scenario == "refused":
            content = [{"type": "refusal", "refusal": "I'm sorry, I can't help with that."}]
        elif self.scenario == "incomplete":
            status, incomplete = "incomplete", {"reason": "max_output_tokens"}
            content = [{"type": "output_text", "text": answer[: len(answer) // 2], "annotations": []}]
        elif self.scenario == "content_filter":
            status, incomplete = "incomplete", {"reason": "content_filter"}
        u = self.usage
        return {
            "id": f"resp_{uuid.uuid4().hex}",
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "incomplete_details": incomplete,
            "error": None,
            "model": body["model"] if "-20" in body["model"] else f"{body['model']}-2025-12-11",
            "output": [
                {"id": f"rs_{uuid.uuid4().hex[:8]}", "type": "reasoning", "summary": []},
                {
                    "id": f"msg_{uuid.uuid4().hex[:8]}", "type": "message", "status": status,
                    "role": "assistant", "content": content,
                },
            ],
            "usage": {
                "input_tokens": u["input_tokens"],
                "input_tokens_details": {"cached_tokens": u["cached_tokens"]},
                "output_tokens": u["output_tokens"],
                "output_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]},
                "total_tokens": u["input_tokens"] + u["output_tokens"],
            },
            "prompt_cache_key": body.get("prompt_cache_key"),
            "prompt_cache_retention": body.get("prompt_cache_retention"),
            "text": body.get("text") or {"format": {"type": "text"}},
        }  # fmt: skip

    # ---------------------------------------------------- transcriptions

    async def transcriptions(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request)
        if early is not None:
            return early
        recorded = request[RECORDED]
        if recorded.content_type != "multipart/form-data":
            return openai_error(400, "Expected a multipart/form-data body")
        model = recorded.form.get("model")
        if model is None:
            return openai_error(400, "Missing required parameter: 'model'.", param="model",
                                code="missing_required_parameter")
        if model not in TRANSCRIBE_MODELS:
            return openai_error(400, f"Invalid value for 'model': {model}.", param="model", code="invalid_value")
        upload = recorded.files.get("file")
        if upload is None or not upload.data:
            return openai_error(400, "Missing required parameter: 'file'.", param="file",
                                code="missing_required_parameter")
        extension = (upload.filename or "").rsplit(".", 1)[-1].lower() if "." in (upload.filename or "") else ""
        if extension not in AUDIO_EXTENSIONS or (self.scenario == "reject_ogg" and extension in ("ogg", "oga")):
            return openai_error(400, "Invalid file format. Supported formats: " + ", ".join(sorted(AUDIO_EXTENSIONS)),
                                param="file", code="invalid_file_format")
        if len(upload.data) > 25 * 1024 * 1024:
            return openai_error(413, "Maximum content size limit (26214400) exceeded.")
        text = self.transcribe_with(upload.data, upload.filename or "") if self.transcribe_with else self.transcript
        seconds = max(1.0, len(upload.data) / 4000)
        return web.json_response({"text": text, "usage": {"type": "duration", "seconds": seconds}})

    # ------------------------------------------------------------ images

    async def images(self, request: web.Request) -> web.Response:
        early = self._pre_checks(request)
        if early is not None:
            return early
        body = request[RECORDED].json
        try:
            width, height, n = self._check_image_body(body)
        except BadRequest as exc:
            return openai_error(400, exc.message, param=exc.param, code=exc.code)
        if self.scenario == "refused":
            return openai_error(
                400, "Your request was rejected as a result of our safety system.",
                etype="image_generation_user_error", code="moderation_blocked",
            )  # fmt: skip
        if self.scenario == "malformed_body":
            return self.malformed_response()
        delay = self.delay_for("image")
        if delay:  # gpt-image answers only once the pictures are made
            await asyncio.sleep(delay)
        return await self.cpu(self._images_answer, body, width, height, n)

    def _images_answer(self, body: dict[str, Any], width: int, height: int, n: int) -> web.Response:
        if self.media is not None:
            images = [base64.b64encode(self.media.image(width, height, "png")).decode("ascii") for _ in range(n)]
        else:
            images = [base64.b64encode(png_bytes(width, height)).decode("ascii")] * n
        return web.json_response(
            {
                "created": int(time.time()),
                "data": [{"b64_json": image} for image in images],
                "size": f"{width}x{height}",
                "quality": body.get("quality", "auto"),
                "output_format": body.get("output_format", "png"),
                "background": "opaque",
                "usage": {"input_tokens": 40, "output_tokens": 1056 * n, "total_tokens": 40 + 1056 * n,
                          "input_tokens_details": {"text_tokens": 40, "image_tokens": 0}},
            }
        )  # fmt: skip

    async def edits(self, request: web.Request) -> web.Response:
        auth = self._auth_error(request)
        if auth is not None:
            return auth
        if self.scenario == "server_error":
            return openai_error(500, "The server had an error while processing your request.", etype="server_error")
        recorded = request[RECORDED]
        if recorded.content_type != "multipart/form-data":
            return openai_error(400, "Invalid content type: image edits take multipart/form-data.")
        try:
            width, height, n = self._check_edit(recorded)
        except BadRequest as exc:
            return openai_error(400, exc.message, param=exc.param, code=exc.code)
        if self.scenario == "refused":
            return openai_error(400, "Your request was rejected as a result of our safety system.",
                                etype="image_generation_user_error", code="moderation_blocked")
        self.edit_images += [f.data for name, f in recorded.files.items() if name in ("image", "image[]")]
        image = base64.b64encode(png_bytes(width, height, (120, 200, 140))).decode("ascii")
        return web.json_response({"created": int(time.time()), "data": [{"b64_json": image} for _ in range(n)],
                                  "size": f"{width}x{height}", "output_format": "png",
                                  "usage": {"input_tokens": 600, "output_tokens": 1056 * n,
                                            "total_tokens": 600 + 1056 * n}})

    def _check_edit(self, recorded: Any) -> tuple[int, int, int]:
        images = [f for name, f in recorded.files.items() if name in ("image", "image[]")]
        if not images:
            raise BadRequest("Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
        for name in recorded.files:
            if name not in ("image", "image[]", "mask"):
                raise BadRequest(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
        for part in images:
            kind = image_format(part.data)
            if kind not in ("png", "jpg", "webp"):
                raise BadRequest("Invalid image file: use png, webp or jpg.", param="image",
                                 code="invalid_image_format")
            declared = (part.content_type or "").split(";")[0]
            if declared != {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}[kind]:
                raise BadRequest(f"Invalid file type {declared!r} for the image's bytes.", param="image",
                                 code="invalid_image_format")
            if len(part.data) >= EDIT_LIMIT:
                raise BadRequest("Image file is too large (50 MB at most).", param="image")
        for key in recorded.form:
            if key not in EDIT_FIELDS:
                raise BadRequest(f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")
        form = dict(recorded.form)
        if form.get("input_fidelity") not in (None, "high", "low"):
            raise BadRequest("Invalid value for 'input_fidelity'.", param="input_fidelity", code="invalid_value")
        body: dict[str, Any] = {k: v for k, v in form.items() if k in IMAGE_FIELDS}
        if "n" in body:
            body["n"] = int(body["n"]) if str(body["n"]).isdigit() else body["n"]
        return self._check_image_body(body)

    def _check_image_body(self, body: Any) -> tuple[int, int, int]:
        if not isinstance(body, dict):
            raise BadRequest("We could not parse the JSON body of your request.")
        for key in body:
            if key not in IMAGE_FIELDS:
                raise BadRequest(f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")
        model = body.get("model")
        if model is None:
            # Without `model` the API falls back to dall-e-2, which is retired.
            raise BadRequest("The model 'dall-e-2' has been deprecated.", param="model", code="model_not_found")
        if model not in GPT_IMAGE_MODELS:
            raise BadRequest(f"Invalid value for 'model': {model}.", param="model", code="invalid_value")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt or len(prompt) > 32000:
            raise BadRequest("Invalid 'prompt'.", param="prompt")
        if "response_format" in body:
            raise BadRequest("Unknown parameter: 'response_format'.", param="response_format", code="unknown_parameter")
        n = body.get("n", 1)
        if not isinstance(n, int) or not 1 <= n <= 10:
            raise BadRequest("Invalid value for 'n'.", param="n")
        if body.get("quality", "auto") not in ("low", "medium", "high", "auto"):
            raise BadRequest("Invalid value for 'quality'.", param="quality", code="invalid_value")
        if body.get("output_format", "png") not in ("png", "jpeg", "webp"):
            raise BadRequest("Invalid value for 'output_format'.", param="output_format", code="invalid_value")
        size = body.get("size", "auto")
        if size == "auto":
            return 1024, 1536, n
        match = re.fullmatch(r"(\d+)x(\d+)", str(size))
        if not match:
            raise BadRequest(f"Invalid value: '{size}'.", param="size", code="invalid_value")
        width, height = int(match[1]), int(match[2])
        standard = {(1024, 1024), (1536, 1024), (1024, 1536)}
        if (width, height) not in standard:
            if self.scenario == "reject_custom_size" or model != "gpt-image-2":
                raise BadRequest(f"Invalid value: '{size}'. Supported values are: '1024x1024', '1024x1536', "
                                 "'1536x1024', and 'auto'.", param="size", code="invalid_value")  # fmt: skip
            if width % 16 or height % 16 or max(width, height) > 3840 or max(width, height) > 3 * min(width, height):
                raise BadRequest(f"Invalid size '{size}'.", param="size", code="invalid_value")
            if not 655_360 <= width * height <= 8_294_400:
                raise BadRequest(
                    f"Invalid size '{size}': pixel count out of range.", param="size", code="invalid_value"
                )
        return width, height, n


def _has_ux(node: Any) -> bool:
    if isinstance(node, dict):
        return any(str(k).startswith("_ux") or _has_ux(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_ux(v) for v in node)
    return False


def strict_problem(node: Any, where: str) -> str | None:
    """Why a schema breaks strict-mode rules (None when it is fine)."""
    if not isinstance(node, dict):
        return f"{where} is not a schema object"
    if where == "root" and (node.get("type") != "object" or "anyOf" in node):
        return "root must be an object and not anyOf"
    for key in node:
        if key not in STRICT_KEYWORDS:
            return f"'{key}' is not permitted (in {where})"
    types = node.get("type")
    is_object = "object" in (types if isinstance(types, list) else [types]) or "properties" in node
    if is_object:
        props = node.get("properties", {})
        if node.get("additionalProperties") is not False:
            return f"'additionalProperties' is required to be supplied and to be false (in {where})"
        missing = set(props) - set(node.get("required", []))
        if missing:
            return f"'required' is required to include every key in properties; missing {sorted(missing)} (in {where})"
        for name, sub in props.items():
            problem = strict_problem(sub, f"{where}.{name}")
            if problem:
                return problem
    if "items" in node:
        problem = strict_problem(node["items"], f"{where}[]")
        if problem:
            return problem
    for index, sub in enumerate(node.get("anyOf", [])):
        problem = strict_problem(sub, f"{where}.anyOf[{index}]")
        if problem:
            return problem
    return None
