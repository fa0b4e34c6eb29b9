"""Field paths and aggregation expressions over JSON, with MongoDB's meaning.

`evaluate(expr, doc)` is what a `$project`, `$addFields`, `$replaceRoot` or
`$group` stage computes per document (engine/modules/aggregate.py): "$a.b",
"$$ROOT", {"$mergeObjects": [...]}, objects and arrays of expressions,
literals. An operator it does not know is a `QueryError`, never a guess.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

MISSING: Any = object()  # a field that is not there (different from null)


class QueryError(ValueError):
    """A pipeline this module cannot run; the message names the stage."""


# ------------------------------------------------------------------ fields


def get_field(doc: Any, path: str) -> Any:
    """The value at a dotted path; through an array, the values of its elements."""
    current = doc
    parts = path.split(".")
    for i, part in enumerate(parts):
        if isinstance(current, dict):
            current = current.get(part, MISSING)
        elif isinstance(current, list):
            rest = ".".join(parts[i:])
            found = [get_field(item, rest) for item in current]
            return [v for v in found if v is not MISSING]
        else:
            return MISSING
        if current is MISSING:
            return MISSING
    return current


def set_field(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value


def drop_field(doc: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


def sort_key(value: Any) -> tuple[int, Any]:
    """Mongo's sort order across types: null < numbers < strings < objects < arrays < booleans."""
    if value is None or value is MISSING:
        return (1, 0)
    if isinstance(value, bool):
        return (7, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4 if isinstance(value, dict) else 5, json.dumps(value, sort_keys=True, default=str))


# ------------------------------------------------------------- expressions


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise QueryError(f"{value!r} is not a number")
    return value


def _args(args: Any, doc: Any, root: Any) -> list[Any]:
    values = [evaluate(a, doc, root) for a in (args if isinstance(args, list) else [args])]
    return [None if v is MISSING else v for v in values]


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any, Any], Any]:
    def run(args: Any, doc: Any, root: Any) -> bool:
        a, b = _args(args, doc, root)[:2]
        return op(sort_key(a), sort_key(b))
    return run


def _merge(args: Any, doc: Any, root: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in _args(args, doc, root):
        if isinstance(part, dict):
            merged.update(part)
        elif part is not None:
            raise QueryError(f"$mergeObjects needs objects, not {part!r}")
    return merged


def _concat(args: Any, doc: Any, root: Any) -> str | None:
    parts = _args(args, doc, root)
    return None if any(p is None for p in parts) else "".join(str(p) for p in parts)


def _cond(args: Any, doc: Any, root: Any) -> Any:
    test, then, other = (args["if"], args["then"], args["else"]) if isinstance(args, dict) else args
    return evaluate(then if evaluate(test, doc, root) not in (None, False, 0, MISSING) else other, doc, root)


def _arith(fold: Callable[[list[Any]], Any]) -> Callable[[Any, Any, Any], Any]:
    def run(args: Any, doc: Any, root: Any) -> Any:
        values = _args(args, doc, root)
        return None if any(v is None for v in values) else fold([_number(v) for v in values])
    return run


def _product(values: list[Any]) -> Any:
    result: Any = 1
    for v in values:
        result *= v
    return result


OPERATORS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "$literal": lambda args, doc, root: copy.deepcopy(args),
    "$mergeObjects": _merge,
    "$ifNull": lambda args, doc, root: next((v for v in _args(args, doc, root) if v is not None), None),
    "$concat": _concat,
    "$concatArrays": lambda args, doc, root: [x for v in _args(args, doc, root) for x in (v or [])],
    "$toLower": lambda args, doc, root: str(_args(args, doc, root)[0] or "").lower(),
    "$toUpper": lambda args, doc, root: str(_args(args, doc, root)[0] or "").upper(),
    "$toString": lambda args, doc, root: (lambda v: None if v is None else str(v))(_args(args, doc, root)[0]),
    "$size": lambda args, doc, root: len(_args(args, doc, root)[0] or []),
    "$arrayElemAt": lambda args, doc, root: (lambda a, i: a[i] if -len(a) <= i < len(a) else MISSING)(
        *_args(args, doc, root)),
    "$add": _arith(sum),
    "$subtract": _arith(lambda v: v[0] - v[1]),
    "$multiply": _arith(_product),
    "$divide": _arith(lambda v: v[0] / v[1] if v[1] else None),
    "$cond": _cond,
    "$eq": _compare(lambda a, b: a == b),
    "$ne": _compare(lambda a, b: a != b),
    "$gt": _compare(lambda a, b: a[0] == b[0] and a > b),
    "$gte": _compare(lambda a, b: a[0] == b[0] and a >= b),
    "$lt": _compare(lambda a, b: a[0] == b[0] and a < b),
    "$lte": _compare(lambda a, b: a[0] == b[0] and a <= b),
    "$and": lambda args, doc, root: all(v not in (None, False, 0) for v in _args(args, doc, root)),
    "$or": lambda args, doc, root: any(v not in (None, False, 0) for v in _args(args, doc, root)),
    "$not": lambda args, doc, root: _args(args, doc, root)[0] in (None, False, 0),
    "$in": lambda args, doc, root: (lambda v, seq: v in (seq or []))(*_args(args, doc, root)),
}


def evaluate(expr: Any, doc: Any, root: Any = MISSING) -> Any:
    """An aggregation expression against one document: "$field.path", "$$ROOT",
    {"$operator": args}, objects and arrays of expressions, or a literal."""
    root = doc if root is MISSING else root
    if isinstance(expr, str) and expr.startswith("$$"):
        if expr in ("$$ROOT", "$$CURRENT"):
            return root if expr == "$$ROOT" else doc
        raise QueryError(f"the variable {expr!r} is not supported ($$ROOT and $$CURRENT are)")
    if isinstance(expr, str) and expr.startswith("$"):
        return get_field(doc, expr[1:])
    if isinstance(expr, list):
        return [None if v is MISSING else v for v in (evaluate(e, doc, root) for e in expr)]
    if isinstance(expr, dict):
        operators = [k for k in expr if str(k).startswith("$")]
        if operators:
            if len(expr) != 1 or operators[0] not in OPERATORS:
                raise QueryError(f"unsupported expression {json.dumps(expr)[:80]} "
                                 f"(operators: {', '.join(sorted(OPERATORS))})")
            return OPERATORS[operators[0]](expr[operators[0]], doc, root)
        out = {k: evaluate(v, doc, root) for k, v in expr.items()}
        return {k: v for k, v in out.items() if v is not MISSING}
    return expr


def check_expression(expr: Any) -> None:
    """Raise QueryError for an operator or variable `evaluate` does not know."""
    if isinstance(expr, str) and expr.startswith("$$") and expr not in ("$$ROOT", "$$CURRENT"):
        evaluate(expr, {})
    if isinstance(expr, list):
        for item in expr:
            check_expression(item)
    if isinstance(expr, dict):
        operators = [k for k in expr if str(k).startswith("$")]
        if operators and (len(expr) != 1 or operators[0] not in OPERATORS):
            evaluate(expr, {})
        if "$literal" not in expr:
            for value in expr.values():
                check_expression(value)
