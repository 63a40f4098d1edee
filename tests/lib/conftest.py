"""Fixtures of the export/import tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.lib.backup_support import FreshPostgres, filled_database, postgres_databases


@pytest.fixture
async def fresh_postgres() -> AsyncIterator[FreshPostgres]:
    """Empty PostgreSQL databases (not even a schema) of this test's own."""
    async with postgres_databases() as make:
        yield make


@pytest.fixture
async def filled(tmp_path: Path) -> str:
    """A migrated SQLite database with the demo data and rows in every table."""
    return await filled_database(tmp_path)
