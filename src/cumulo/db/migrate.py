"""Alembic, with one version branch per service (``services/<name>/migrations``).

Every service owns its schema history; ``upgrade()`` applies all heads. On PostgreSQL an
advisory lock makes concurrent starts (api + worker) safe.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from cumulo.db.engine import sync_url

_LOCK_ID = 0x43554D55  # "CUMU"


def version_locations() -> list[str]:
    services = Path(str(importlib.resources.files("cumulo.services")))
    return sorted(str(p) for p in services.glob("*/migrations") if any(p.glob("*.py")))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("version_locations", " ".join(version_locations()))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["sync_url"] = sync_url(url)
    return cfg


def upgrade(url: str) -> None:
    cfg = alembic_config(url)
    engine = create_engine(cfg.attributes["sync_url"])
    try:
        with engine.connect() as conn:
            is_pg = conn.dialect.name == "postgresql"
            if is_pg:
                conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
                conn.commit()
            finally:
                if is_pg:
                    conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                    conn.commit()
    finally:
        engine.dispose()
