"""The migrations that bring an existing installation up to what billing meters now: billing_0006
adds the database storage price to a price table written before it (a new one has it from
billing_0001), functions_0002 the ``ended_at`` index the function meter's window reads by."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect, text

from cumulo.db import migrate


def _to(url: str, revision: str, down: bool = False) -> None:
    cfg = migrate.alembic_config(url)
    engine = create_engine(cfg.attributes["sync_url"])
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
        conn.commit()
    engine.dispose()


def test_an_older_installation_gets_the_storage_price_and_the_invocations_index(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url)
    _to(url, "billing_0005", down=True)  # as an installation before them
    _to(url, "functions_0001", down=True)
    engine = create_engine(migrate.alembic_config(url).attributes["sync_url"])
    price = text("SELECT amount, unit FROM billing_prices WHERE key = 'database_storage.gib_month'")

    def indexes() -> set[str]:
        return {i["name"] for i in inspect(engine).get_indexes("function_invocations")}

    with engine.connect() as conn:
        assert conn.execute(price).first() is None
    assert "ix_function_invocations_ended" not in indexes()
    migrate.upgrade(url)
    with engine.connect() as conn:
        assert tuple(conn.execute(price).one()) == (50_000, "GiB-month")  # 0.05 credits, in micro-credits
    assert "ix_function_invocations_ended" in indexes()
    engine.dispose()


def test_an_older_installation_gets_the_request_and_app_prices_and_their_tables(tmp_path: Path) -> None:
    """billing_0007 adds the S3 request prices, storage_0006 the table the S3 endpoint's counts go to;
    billing_0008 the apps' prices, apps_0003 the apps' change stamps."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url)
    _to(url, "billing_0006", down=True)
    _to(url, "storage_0005", down=True)
    _to(url, "apps_0002", down=True)
    engine = create_engine(migrate.alembic_config(url).attributes["sync_url"])
    prices = text("SELECT key, amount FROM billing_prices WHERE key LIKE 'storage.thousand_%' OR key LIKE 'app.%' "
                  "ORDER BY key")

    def app_columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("apps")}

    with engine.connect() as conn:
        assert conn.execute(prices).all() == []
    assert "storage_request_usage" not in inspect(engine).get_table_names()
    assert "state_changed_at" not in app_columns()
    migrate.upgrade(url)
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(prices).all()] == [
            ("app.core_hour", 200_000), ("app.gb_ram_hour", 100_000), ("app.hour", 500_000),
            ("storage.thousand_get_requests", 400), ("storage.thousand_put_requests", 5000)]
    assert "storage_request_usage" in inspect(engine).get_table_names()
    assert {"state_changed_at", "state_changed_key"} <= app_columns()
    engine.dispose()
