"""Alembic environment: runs migrations over the portal's own async engine."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from functions.models import metadata
from lib.db import create_engine, derived_tables

config = context.config


def _include(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    # Full-text tables are made by migrations and triggers, not by the models.
    if kind == "table" and reflected and name in derived_tables(context.get_bind()):
        return False
    # PostgreSQL-only objects (the trigram index) are not expected on SQLite.
    if kind == "index" and not reflected and name == "ix_courses_search_text_trgm":
        return bool(context.get_bind().dialect.name == "postgresql")
    return True


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=_include,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; run `portal migrate`")
run_migrations_online()
