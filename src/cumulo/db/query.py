"""Prepared reads for hot paths: a Core SELECT built once, compiled once per dialect, and run
straight on the driver's connection by ``Database.read(query, **params)``.

Building a statement, computing its cache key and setting up a ``CursorResult`` cost more than
the query itself when the query is a point lookup; a ``Query`` pays for them once. Values are
passed by the names of the statement's ``bindparam``s; the column types still convert values in
and out (SQLite keeps datetimes as text, for instance).

    KEYS_OF = Query(select(ApiKey.id, ApiKey.name).where(ApiKey.user_id == bindparam("user_id")))
    rows = await db.read(KEYS_OF, user_id=user.user_id)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Form:
    """A query compiled for one dialect: SQL text, parameter order and value converters."""

    sql: str
    names: tuple[str, ...]
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        try:
            raw = [values[name] for name in self.names]
        except KeyError as missing:
            raise TypeError(f"missing query parameter {missing}") from None
        return [conv(v) if conv is not None and v is not None else v for conv, v in zip(self.binds, raw)]

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if not any(self.results):
            return [tuple(r) for r in fetched]
        convs = self.results
        return [tuple(v if conv is None else conv(v) for conv, v in zip(convs, r)) for r in fetched]


class Query:
    __slots__ = ("_forms", "statement")

    def __init__(self, statement: Select[Any]):
        self.statement = statement
        self._forms: dict[str, Form] = {}

    def form(self, dialect: Dialect) -> Form:
        key = f"{dialect.name}:{dialect.driver}"
        found = self._forms.get(key)
        if found is None:
            found = self._forms[key] = _compile(self.statement, dialect)
        return found


def _compile(statement: Select[Any], dialect: Dialect) -> Form:
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup or ())
    for name in names:
        if compiled.binds[name].expanding:
            raise ValueError("a prepared Query cannot take an expanding IN parameter")
    binds = tuple(compiled.binds[name].type._cached_bind_processor(dialect) for name in names)
    results = tuple(col[3]._cached_result_processor(dialect, None) for col in compiled._result_columns)
    return Form(str(compiled), names, binds, results)
