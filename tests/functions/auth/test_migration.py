"""Migration 0005: accounts made before addresses were verified stay able to pay."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lib.db import create_engine
from lib.migrate import alembic_config
from tests.conftest import postgres_url

DATABASE = f"portal_auth_migration_{os.getpid()}"
MADE = datetime(2025, 9, 1, 8, 30, tzinfo=UTC)


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server = postgres_url()
    await _admin(server, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await _admin(server, f'CREATE DATABASE "{DATABASE}"')
    try:
        yield make_url(server).set(database=DATABASE).render_as_string(hide_password=False)
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


async def test_existing_accounts_count_as_verified_since_they_were_made(
    empty_database: str,
) -> None:
    # GIVEN a database at revision 0004 with an account in it
    url = empty_database
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0004")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (id, username, email, email_key, full_name, role, "
                    "password_hash, is_active, created_at, updated_at) VALUES ('u1', 'ada', "
                    "'ada@example.com', 'ada@example.com', 'Ada', 'student', 'x', :yes, "
                    ":made, :made)"
                ),
                {
                    "yes": True,
                    "made": MADE if url.startswith("postgres") else MADE.replace(tzinfo=None),
                },
            )

        # WHEN it is migrated to 0005
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0005")

        # THEN the account's address counts as verified since it was made
        async with engine.connect() as connection:
            verified, created = (
                await connection.execute(text("SELECT email_verified_at, created_at FROM users"))
            ).one()
    finally:
        await engine.dispose()
    assert verified is not None
    assert verified == created
