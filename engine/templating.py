"""Sandboxed Jinja2 over run state.

Rules (cc-workflow.md §1.4):
- a string that is exactly one `{{ expr }}` is evaluated as an expression and
  keeps its native type (list, dict, number, None); a missing value is None;
- any other string with template syntax renders to a string, missing values
  render empty;
- a missing value is logged once per rendered input with its step, module
  and input key; calling something undefined, or anything the sandbox
  forbids, raises TemplateError naming where it happened.
"""

from __future__ import annotations

import contextvars
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

log = logging.getLogger(__name__)

_WHOLE_VALUE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
_missing_names: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "missing_names", default=None
)


class LiteralText(str):
    """Text loaded from a `$ref` of type `text`: never rendered as a template."""


@dataclass(frozen=True)
class Where:
    """Names the place a template lives, for errors and logs."""

    step_id: str = ""
    module_name: str = ""
    input_key: str = ""

    def __str__(self) -> str:
        parts = [f"step '{self.step_id}'" if self.step_id else ""]
        parts.append(f"module '{self.module_name}'" if self.module_name else "")
        parts.append(f"input '{self.input_key}'" if self.input_key else "")
        return ", ".join(p for p in parts if p) or "template"


class TemplateError(Exception):
    def __init__(self, where: Where, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


class _TrackingUndefined(ChainableUndefined):
    """Lenient undefined (empty string, empty loop) that remembers its name."""

    def __init__(self, hint: Any = None, obj: Any = None, name: Any = None, exc: Any = UndefinedError) -> None:
        super().__init__(hint, obj, name, exc)  # type: ignore[arg-type]
        sink = _missing_names.get()
        if sink is not None and name is not None:
            sink.append(str(name))


class Moment(datetime):
    """What `now()` returns: a timezone-aware (UTC) datetime, so a template may
    call `now().strftime(...)` (as the reference design's templates do), whose
    text is the ISO form `now()` always printed ("2026-05-01T09:30:00+00:00")."""

    def __str__(self) -> str:
        return self.isoformat(timespec="seconds")

    def __format__(self, spec: str) -> str:
        return super().__format__(spec) if spec else str(self)


def _now(fmt: str | None = None) -> str | Moment:
    """`now()` -> the moment; `now('%Y-%m-%d')` -> that text (as before)."""
    moment = Moment.now(timezone.utc)
    return moment.strftime(fmt) if fmt else moment


def has_template_syntax(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


class TemplateEngine:
    def __init__(self) -> None:
        self.env = SandboxedEnvironment(
            undefined=_TrackingUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=False,
        )
        self.env.globals["now"] = _now
        self._compile_template = lru_cache(maxsize=2048)(self.env.from_string)
        self._compile_expression = lru_cache(maxsize=2048)(
            lambda expr: self.env.compile_expression(expr, undefined_to_none=True)
        )

    def add_function(self, name: str, function: Any) -> None:
        """A function workflows may call in templates (e.g. the provider registry's `estimate`)."""
        self.env.globals[name] = function

    # ----------------------------------------------------------- validation
    def check_syntax(self, text: str) -> str | None:
        """Return a syntax error message, or None when the template compiles."""
        try:
            whole = _WHOLE_VALUE.match(text)
            if whole and not has_template_syntax(whole.group("expr")):
                self._compile_expression(whole.group("expr").strip())
            else:
                self._compile_template(text)
        except TemplateSyntaxError as exc:
            return f"template syntax error (line {exc.lineno}): {exc.message}"
        return None

    def warm(self, texts: list[str]) -> None:
        """Compile these templates now: the first run to reach a step would otherwise
        compile its templates on the event loop (5-15 ms each), in someone's tap."""
        for text in texts:
            self.check_syntax(text)

    # -------------------------------------------------------------- render
    def render_value(self, value: Any, context: dict[str, Any], where: Where) -> Any:
        """Render a value and everything inside it (dicts, lists, strings)."""
        sink: list[str] = []
        token = _missing_names.set(sink)
        try:
            result = self._render(value, context, where)
        finally:
            _missing_names.reset(token)
        for name in dict.fromkeys(sink):  # each missing name once, in order
            log.info("missing value %r while rendering %s", name, where)
        return result

    def render_condition(self, text: str, context: dict[str, Any], where: Where) -> bool:
        """A `when` template as a yes or no (see `truthy`)."""
        return truthy(self.render_value(text, context, where))

    def render_text(self, text: str, context: dict[str, Any], where: Where) -> str:
        rendered = self.render_value(text, context, where)
        return "" if rendered is None else str(rendered)

    def _render(self, value: Any, context: dict[str, Any], where: Where) -> Any:
        if isinstance(value, LiteralText):
            return str(value)
        if isinstance(value, str):
            return self._render_string(value, context, where) if has_template_syntax(value) else value
        if isinstance(value, dict):
            return {k: self._render(v, context, where) for k, v in value.items()}
        if isinstance(value, list):
            return [self._render(v, context, where) for v in value]
        return value

    def _render_string(self, text: str, context: dict[str, Any], where: Where) -> Any:
        try:
            whole = _WHOLE_VALUE.match(text)
            if whole and not has_template_syntax(whole.group("expr")):
                expression = self._compile_expression(whole.group("expr").strip())
                result = expression(**context)
                return _plain(result)
            return self._compile_template(text).render(**context)
        except SecurityError as exc:
            raise TemplateError(where, f"not allowed in a template: {exc}") from None
        except UndefinedError as exc:
            raise TemplateError(where, f"undefined: {exc.message}") from None
        except TemplateSyntaxError as exc:
            raise TemplateError(where, f"template syntax error: {exc.message}") from None
        except TemplateError:
            raise
        except Exception as exc:  # a filter or call that failed on real data
            raise TemplateError(where, f"{type(exc).__name__}: {exc}") from None


_FALSE_WORDS = frozenset({"", "false", "0", "no", "none", "off", "null"})


def truthy(value: Any) -> bool:
    """A rendered condition: empty values, False, 0 and words like "false" or "no" are no."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    return bool(value)


def _plain(value: Any) -> Any:
    """Detach a native result from state (callers may keep or mutate it)."""
    if isinstance(value, ChainableUndefined):
        return None
    if isinstance(value, datetime):  # state is JSON: `{{ now() }}` keeps giving its ISO text
        return str(value) if isinstance(value, Moment) else value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes, dict, list)):
        # generators from filters such as map(): make them JSON-friendly lists
        return [_plain(v) for v in value]
    return value
