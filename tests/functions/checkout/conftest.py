"""Fixtures for the tests that run real `portal serve` processes on one database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from functions.runtime import build_portal
from lib.clock import SystemClock
from lib.migrate import upgrade
from lib.runtime import Portal
from tests.conftest import test_settings as settings_for
from tests.servers import SECRET_KEY


@pytest.fixture
async def shared_database(backend: str, database_url: str, tmp_path: Path) -> str:
    """SQLite: a file migrated as `portal migrate` does (the servers migrate it
    again on start, which must then be a no-op). PostgreSQL: the test database,
    its tables in place."""
    if backend == "postgresql":
        return database_url
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    # Alembic runs its migrations on an event loop of its own.
    await asyncio.to_thread(upgrade, url)
    return url


@pytest.fixture
async def local_portal(shared_database: str, tmp_path: Path) -> AsyncIterator[Portal]:
    """This process's own view of the shared database, on the real clock like
    the servers, and with their simulator (`tmp_path` is the servers' folder)."""
    settings = settings_for(shared_database, tmp_path, secret_key=SECRET_KEY)
    portal = build_portal(settings, clock=SystemClock())
    try:
        yield portal
    finally:
        await portal.dispose()
