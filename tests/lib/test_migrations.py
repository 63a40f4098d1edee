"""The Alembic migrations build exactly the schema the models describe, on a
fresh SQLite file and on a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url

from functions.models import metadata
from lib.db import create_engine, derived_tables
from lib.migrate import alembic_config, upgrade
from tests.conftest import IN_CI, postgres_url

# One name per test process, so that two runs on one server do not collide.
MIGRATION_DATABASE = f"portal_migration_test_{os.getpid()}"


async def _admin(url: str, statement: str) -> None:
    # CREATE and DROP DATABASE cannot run inside a transaction.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with nothing in it, not even the schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nested' / 'fresh.db'}"
        return
    server = postgres_url()
    try:
        await _admin(server, f'DROP DATABASE IF EXISTS "{MIGRATION_DATABASE}" WITH (FORCE)')
        await _admin(server, f'CREATE DATABASE "{MIGRATION_DATABASE}"')
    except OSError as exc:
        message = f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    fresh = make_url(server).set(database=MIGRATION_DATABASE)
    try:
        yield fresh.render_as_string(hide_password=False)
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{MIGRATION_DATABASE}" WITH (FORCE)')


async def _inspect(url: str, look: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


def _differences(connection: Connection) -> list[Any]:
    dialect = connection.dialect.name
    derived = derived_tables(connection)

    def for_this_dialect(obj: Any, name: Any, kind: str, reflected: bool, other: Any) -> bool:
        # SQLite's full-text tables come from migrations and triggers, not the models.
        if kind == "table" and reflected and name in derived:
            return False
        # A model object made only on another dialect (`.ddl_if(dialect=...)`,
        # such as PostgreSQL's trigram index) is not expected here.
        condition = getattr(obj, "_ddl_if", None)
        if reflected or condition is None or condition.dialect is None:
            return True
        wanted = condition.dialect
        return dialect == wanted if isinstance(wanted, str) else dialect in wanted

    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "target_metadata": metadata,
            "include_object": for_this_dialect,
        },
    )
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _upgrade(url: str) -> None:
    # migrations/env.py runs its own event loop, so it cannot run on this one.
    await asyncio.to_thread(upgrade, url)


async def test_upgrade_builds_the_models_schema(empty_database: str) -> None:
    # GIVEN an empty database
    # WHEN it is migrated to the newest revision
    await _upgrade(empty_database)
    # THEN every table of the models exists and nothing differs from them
    assert _tables_of_models() <= await _inspect(empty_database, _tables)
    assert await _inspect(empty_database, _differences) == []
    assert await _inspect(empty_database, _revision) is not None


async def test_upgrade_twice_changes_nothing(empty_database: str) -> None:
    # GIVEN a database already at the newest revision
    await _upgrade(empty_database)
    revision = await _inspect(empty_database, _revision)
    # WHEN `portal migrate` runs again, as it does before every deploy
    await _upgrade(empty_database)
    # THEN it is a no-op
    assert await _inspect(empty_database, _revision) == revision
    assert await _inspect(empty_database, _differences) == []


async def test_downgrade_to_base_and_back(empty_database: str) -> None:
    # GIVEN a migrated database
    await _upgrade(empty_database)
    # WHEN every migration is undone
    await asyncio.to_thread(command.downgrade, alembic_config(empty_database), "base")
    # THEN none of the portal's tables is left
    assert _tables_of_models() & await _inspect(empty_database, _tables) == set()
    # AND migrating again gives the full schema back
    await _upgrade(empty_database)
    assert await _inspect(empty_database, _differences) == []


async def test_0005_counts_existing_accounts_as_verified_since_they_were_made(
    empty_database: str,
) -> None:
    # GIVEN a database at revision 0004 with an account made before addresses
    # were verified
    await asyncio.to_thread(upgrade, empty_database, "0004")
    made = datetime(2025, 9, 1, 8, 30, tzinfo=UTC)
    if empty_database.startswith("sqlite"):
        made = made.replace(tzinfo=None)  # SQLite keeps UTC without a zone
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (id, username, email, email_key, full_name, role, "
                    "password_hash, is_active, created_at, updated_at) VALUES ('u1', 'ada', "
                    "'ada@example.com', 'ada@example.com', 'Ada', 'student', 'x', :yes, "
                    ":made, :made)"
                ),
                {"yes": True, "made": made},
            )

        # WHEN it is migrated on
        await _upgrade(empty_database)

        # THEN the account counts as verified since it was made: it may still pay
        async with engine.connect() as connection:
            verified, created = (
                await connection.execute(text("SELECT email_verified_at, created_at FROM users"))
            ).one()
    finally:
        await engine.dispose()
    assert verified is not None
    assert verified == created


def _tables_of_models() -> set[str]:
    return set(metadata.tables)
