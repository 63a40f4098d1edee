"""Databases and readers shared by the export/import tests."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection, make_url

from functions.models import metadata
from lib.backup import Summary, export_database, import_database
from lib.db import create_engine
from lib.migrate import current_revision, upgrade
from tests.conftest import IN_CI, _admin_sync, postgres_url

EXPORTED_AT = datetime(2026, 1, 5, 12, 30, 15, 250000, tzinfo=UTC)
_names = itertools.count(1)

FreshPostgres = Callable[[], Awaitable[str]]


@asynccontextmanager
async def postgres_databases() -> AsyncIterator[FreshPostgres]:
    """Makes empty PostgreSQL databases (not even a schema), dropped at the end.
    A test module turns it into its `fresh_postgres` fixture."""
    server = postgres_url()
    made: list[str] = []

    async def make() -> str:
        name = f"portal_backup_{os.getpid()}_{next(_names)}"
        try:
            _admin_sync(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _admin_sync(server, f'CREATE DATABASE "{name}"')
        except OSError as exc:
            message = f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc}"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        made.append(name)
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        for name in made:
            _admin_sync(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def empty_database(backend: str, tmp_path: Path, fresh_postgres: FreshPostgres) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'empty-{next(_names)}.db'}"
    return await fresh_postgres()


async def migrated(url: str, revision: str = "head") -> str:
    # migrations/env.py runs an event loop of its own, so not on this one.
    await asyncio.to_thread(upgrade, url, revision)
    return url


async def export_to(path: Path, url: str) -> Summary:
    engine = create_engine(url)
    try:
        with path.open("wb") as stream:
            return await export_database(engine, metadata, stream, now=EXPORTED_AT)
    finally:
        await engine.dispose()


async def import_from(path: Path, url: str) -> Summary:
    engine = create_engine(url)
    try:
        with path.open("rb") as stream:
            return await import_database(engine, stream)
    finally:
        await engine.dispose()


async def inspected(url: str, look: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def revision_of(connection: Connection) -> str | None:
    return current_revision(connection)


Rows = dict[str, list[tuple[tuple[str, Any], ...]]]


async def every_row(url: str) -> Rows:
    """Every row of every table, read through the models' types, each value
    with its Python type (so 1 and True differ), in primary-key order."""
    engine = create_engine(url)
    try:
        rows: Rows = {}
        async with engine.connect() as connection:
            for table in metadata.sorted_tables:
                result = await connection.execute(select(table))
                rows[table.name] = sorted(
                    tuple((type(value).__name__, value) for value in row) for row in result
                )
        return rows
    finally:
        await engine.dispose()


async def row_counts(url: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in (await every_row(url)).items()}
