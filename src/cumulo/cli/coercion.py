"""Typer (0.29) converts every command-line value with a pydantic ``TypeAdapter``; building the first one
imports pydantic, about half of a simple command's start-up. The values of nearly every Cumulo
command are plain text, whole numbers or decimals: ``install()`` converts those directly and leaves
everything else (paths, choices, ranges, parsers, a value in any other form: including each input
that would be refused, so the error message is typer's own) to typer's adapter, built only then.
When typer's internals are not the ones this was written for, nothing is changed."""

from __future__ import annotations

import re
from typing import Any, get_args, get_origin

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_PLAIN = (str, int, float, bool)  # bool: only a value that is one already (flags); text goes to typer


def _element(annotation: Any) -> Any:
    """``list[X]`` -> ``X``; None for anything else."""
    return get_args(annotation)[0] if get_origin(annotation) is list else None


def _plain(annotation: Any, value: Any) -> tuple[bool, Any]:
    """``(True, converted)`` when ``value`` is the plain form of ``annotation``, else ``(False, None)``."""
    if type(value) is annotation:
        return True, value
    if isinstance(value, str):
        if annotation is str:
            return True, value
        if annotation is int and _INT.fullmatch(value):
            return True, int(value)
        if annotation is float and _FLOAT.fullmatch(value):
            return True, float(value)
    return False, None


def install() -> bool:
    """Put the direct conversion in front of typer's adapters; False when typer is not as expected."""
    try:
        from typer import _coercion
        from typer import core as typer_core
    except ImportError:
        return False
    original: Any = getattr(typer_core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if original is None or base is None or getattr(original, "cumulo_direct", False):
        return original is not None and base is not None

    class DirectRuntimeParam(base):  # type: ignore[misc,valid-type]
        """str, int, float, bool (or a list of one of them) without bounds, parser or choices."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            element = _element(self.annotation)
            if element is None:
                done, out = _plain(self.annotation, value)
                if done:
                    return out
            elif isinstance(value, list | tuple):
                items = [_plain(element, item) for item in value]
                if all(done for done, _ in items):
                    return [out for _, out in items]
            full = original(self._descriptor)
            return full._coerce_value(value, param=param, ctx=ctx)

    def build(descriptor: Any) -> Any:
        info, annotation = descriptor.parameter_info, descriptor.annotation
        element = _element(annotation) or annotation
        simple = (element in _PLAIN and descriptor.file_annotation is None and getattr(info, "parser", None) is None
                  and getattr(info, "min", None) is None and getattr(info, "max", None) is None
                  and not getattr(info, "click_type", None))
        if not simple:
            return original(descriptor)
        runtime = DirectRuntimeParam(parameter_info=info, annotation=annotation)
        object.__setattr__(runtime, "_descriptor", descriptor)  # a frozen dataclass
        return runtime

    build.cumulo_direct = True  # type: ignore[attr-defined]
    typer_core.build_runtime_param = build  # type: ignore[attr-defined]
    return True
