"""Prepared statements for hot paths: a SQLAlchemy Core statement (SELECT, INSERT, UPDATE, DELETE,
with RETURNING, or ``text()``) built once, compiled once per dialect, and run straight on the
driver by the database's statement lane (``db/lane.py``: ``db.lane.rows(query, **params)``, or a
``Step`` of ``db.lane.batch``; ``db.read(query, **params)`` for reads).

Building a statement, computing its cache key and setting up a ``CursorResult`` cost more than
the statement itself when it is a point lookup or a one-row write; a ``Query`` pays for them once.
Values are passed by the names of the statement's ``bindparam``s; values the statement fixes
itself (``.limit(3)``, a literal in a comparison) are filled in from the statement.

One conversion policy, on both databases: values go in and come out exactly as SQLAlchemy converts
them for the dialect, through the column types' bind and result processors. On SQLite datetimes
are stored as text, JSON as text, booleans as 0/1; on asyncpg the types are native and a JSON value
is encoded once, by its type (the pool's codec passes the text through: ``engine._json_codecs``).
A row the lane writes therefore reads back the same through the ORM, and the other way round.

    KEYS_OF = Query(select(ApiKey.id, ApiKey.name).where(ApiKey.user_id == bindparam("user_id")))
    rows = await db.read(KEYS_OF, user_id=user.user_id)

A list parameter is ``any_of(column, "name")``: one parameter whatever the list's length, so the
statement compiles once (SQLAlchemy's expanding IN would be a new statement per length, and is
refused).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ARRAY, String, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement, ColumnElement
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType, TypeDecorator, TypeEngine

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Form:
    """A statement compiled for one dialect: SQL text, parameter order, value converters."""

    sql: str
    names: tuple[str, ...]
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)  # values the statement fixes itself
    writes: bool = True  # anything but a SELECT (on SQLite it runs on the writer, not a reader)

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        fixed = self.fixed
        try:
            raw = ([values[name] for name in self.names] if not fixed else
                   [values[name] if name in values else fixed[name] for name in self.names])
        except KeyError as missing:
            raise TypeError(f"missing query parameter {missing}") from None
        return [conv(v) if conv is not None and v is not None else v for conv, v in zip(self.binds, raw, strict=True)]

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if not any(self.results):
            return [tuple(r) for r in fetched]
        convs = self.results
        return [tuple(v if conv is None else conv(v) for conv, v in zip(convs, r, strict=False)) for r in fetched]


class Query:
    __slots__ = ("_forms", "statement")

    def __init__(self, statement: Executable):
        self.statement = statement
        self._forms: dict[str, Form] = {}

    def form(self, dialect: Dialect) -> Form:
        key = f"{dialect.name}:{dialect.driver}"
        found = self._forms.get(key)
        if found is None:
            found = self._forms[key] = _compile(self.statement, dialect)
        return found


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of a ``Lane.batch``: run once with ``params`` (its rows are the step's result),
    or, with ``many``, once per mapping (``executemany``; no rows). ``check(rows)`` runs inside the
    transaction right after the statement; raising there rolls the whole batch back."""

    query: Query
    params: Mapping[str, Any] = field(default_factory=dict)
    many: Sequence[Mapping[str, Any]] | None = None
    check: Callable[[list[tuple[Any, ...]]], None] | None = None


def _compile(statement: Executable, dialect: Dialect) -> Form:
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    fixed: dict[str, Any] = {}
    for name in names:
        bind = compiled.binds[name]
        if bind.expanding:
            raise ValueError("a prepared Query cannot take an expanding IN parameter: use any_of(column, name)")
        if not bind.required:
            fixed[name] = bind.effective_value
    binds = tuple(compiled.binds[name].type._cached_bind_processor(dialect) for name in names)
    results = tuple(col[3]._cached_result_processor(dialect, None) for col in compiled._result_columns)
    return Form(str(compiled), names, binds, results, fixed, writes=not getattr(statement, "is_select", False))


# --- list parameters ------------------------------------------------------------------------------

class StringList(TypeDecorator[Sequence[str]]):
    """A list of strings as one parameter: a ``text[]`` on PostgreSQL, a JSON array on SQLite."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(ARRAY(String()) if dialect.name == "postgresql" else String())

    def process_bind_param(self, value: Sequence[str] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return list(value) if dialect.name == "postgresql" else json.dumps(list(value))


class any_of(FunctionElement[Any]):  # lower case: reads as SQL, like func.*
    """``column`` is one of the strings of the list parameter ``name``."""

    type = NullType()  # not Boolean: SQLite would compare it with 1
    inherit_cache = True
    name = "any_of"

    def __init__(self, column: ColumnElement[Any], name: str):
        super().__init__(column, bindparam(name, type_=StringList()))


@compiles(any_of)
def _any_of(element: any_of, compiler: SQLCompiler, **kw: Any) -> str:
    column, param = element.clauses
    return f"{compiler.process(column, **kw)} IN (SELECT value FROM json_each({compiler.process(param, **kw)}))"


@compiles(any_of, "postgresql")
def _any_of_pg(element: any_of, compiler: SQLCompiler, **kw: Any) -> str:
    column, param = element.clauses
    return f"{compiler.process(column, **kw)} = ANY({compiler.process(param, **kw)})"
