"""SNS-style filter policies on message attributes.

A policy maps attribute names to a list of conditions. Every name must match (AND); within one
name any condition may match (OR). A condition is an exact value (string, number, boolean) or one
of ``{"prefix": "abc"}``, ``{"suffix": "xyz"}``, ``{"anything-but": value | [values] | {"prefix": ..}}``,
``{"numeric": [">", 0, "<=", 100]}`` and ``{"exists": true|false}``.
"""

from __future__ import annotations

from typing import Any

MAX_KEYS = 5
MAX_VALUES = 150
_OPS = {"=", "<", "<=", ">", ">="}
Scalar = str | int | float | bool


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate(policy: Any) -> dict[str, list[Any]]:
    """The policy in normal form, or ValueError saying what is wrong."""
    if not isinstance(policy, dict) or not policy:
        raise ValueError("filter_policy must be a non-empty object of attribute name -> conditions")
    if len(policy) > MAX_KEYS:
        raise ValueError(f"filter_policy may name at most {MAX_KEYS} attributes")
    out: dict[str, list[Any]] = {}
    total = 0
    for name, conditions in policy.items():
        items = conditions if isinstance(conditions, list) else [conditions]
        if not items:
            raise ValueError(f"filter_policy.{name}: give at least one condition")
        for cond in items:
            _check(name, cond)
        total += len(items)
        out[str(name)] = items
    if total > MAX_VALUES:
        raise ValueError(f"filter_policy may hold at most {MAX_VALUES} conditions")
    return out


def _check(name: str, cond: Any) -> None:
    where = f"filter_policy.{name}"
    if isinstance(cond, (str, int, float, bool)):
        return
    if not isinstance(cond, dict) or len(cond) != 1:
        raise ValueError(f"{where}: a condition is a value or an object with one operator")
    (op, arg), = cond.items()
    if op in ("prefix", "suffix"):
        if not isinstance(arg, str) or not arg:
            raise ValueError(f"{where}: {op} takes a non-empty string")
    elif op == "exists":
        if not isinstance(arg, bool):
            raise ValueError(f"{where}: exists takes true or false")
    elif op == "anything-but":
        values = arg if isinstance(arg, list) else [arg]
        for value in values:
            if isinstance(value, dict):
                if set(value) != {"prefix"} or not isinstance(value["prefix"], str):
                    raise ValueError(f"{where}: anything-but takes values or {{\"prefix\": \"...\"}}")
            elif not isinstance(value, (str, int, float, bool)):
                raise ValueError(f"{where}: anything-but takes strings, numbers or booleans")
    elif op == "numeric":
        if not isinstance(arg, list) or len(arg) not in (2, 4):
            raise ValueError(f"{where}: numeric takes [op, number] or [op, number, op, number]")
        for i in range(0, len(arg), 2):
            if arg[i] not in _OPS or not _is_number(arg[i + 1]):
                raise ValueError(f"{where}: numeric operators are =, <, <=, >, >= followed by a number")
    else:
        raise ValueError(f"{where}: unknown operator '{op}' (use prefix, suffix, anything-but, numeric, exists)")


def _compare(value: float, op: str, bound: float) -> bool:
    return {"=": value == bound, "<": value < bound, "<=": value <= bound, ">": value > bound,
            ">=": value >= bound}[op]


def _as_number(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return isinstance(a, str) and isinstance(b, str) and a == b


def _one(cond: Any, present: bool, value: Any) -> bool:
    if not isinstance(cond, dict):
        return present and _equal(cond, value)
    (op, arg), = cond.items()
    if op == "exists":
        return present is arg
    if not present:
        return False
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "anything-but":
        for bad in (arg if isinstance(arg, list) else [arg]):
            if isinstance(bad, dict):
                if isinstance(value, str) and value.startswith(bad["prefix"]):
                    return False
            elif _equal(bad, value):
                return False
        return True
    number = _as_number(value)
    if number is None:
        return False
    return all(_compare(number, arg[i], float(arg[i + 1])) for i in range(0, len(arg), 2))


def matches(policy: dict[str, list[Any]] | None, attributes: dict[str, Any]) -> bool:
    if not policy:
        return True
    return all(any(_one(c, name in attributes, attributes.get(name)) for c in conds)
               for name, conds in policy.items())
