"""Every SQLite connection Cumulo opens gets its PRAGMAs here, by role:

- ``"writer"``: the engine's connections (sessions, aiosqlite) and the statement lane's writer
  thread. WAL (readers never wait for the writer), ``synchronous=NORMAL`` (durable at each
  checkpoint; a commit does not fsync), foreign keys on, and a 30 s busy timeout: SQLite has one
  writer at a time, and a writer waits its turn instead of failing.
- ``"reader"``: the statement lane's readers on the event loop's thread. They never write
  (``query_only``) and wait at most briefly: a WAL reader only waits during a checkpoint's
  wal-index recovery, and the event loop must not stall.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Literal

Role = Literal["writer", "reader"]


def pragmas(conn: Any, role: Role) -> None:
    """Set the role's PRAGMAs on a DB-API connection (``sqlite3`` or SQLAlchemy's aiosqlite adapter)."""
    cur = conn.cursor()
    if role == "reader":
        cur.execute("PRAGMA query_only=ON")
        cur.execute("PRAGMA busy_timeout=1000")
    else:
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode")
        if str(cur.fetchone()[0]).lower() != "wal":  # switching needs a lock that does not wait: only once
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def connect(path: str, role: Role) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection in autocommit mode (``BEGIN`` is explicit), usable from any thread."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    pragmas(conn, role)
    return conn


def is_in_memory(database: str | None, query: dict[str, Any]) -> bool:
    """Whether a SQLite URL names an in-memory database (``sqlite://``, ``:memory:``, ``mode=memory``)."""
    return not database or ":memory:" in database or query.get("mode") == "memory"
