"""SQLite writes run on the event loop's thread (lib/sqlite_inline.py): a
writer that must wait for another process's write lock waits on the event
loop, never in SQLite's busy handler with the loop stopped."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from lib import db
from lib.db import create_engine
from lib.sqlite_inline import InlineConnection

# Turns of the event loop a waiting writer must leave to others.
TURNS = 200


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'inline.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE marks (writer INTEGER)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def elsewhere(tmp_path: Path, engine: AsyncEngine) -> Iterator[sqlite3.Connection]:
    """A connection of its own, as another process's would be."""
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    yield other
    other.close()


async def _write(engine: AsyncEngine, writer: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO marks VALUES (:w)"), {"w": writer})


async def _marks(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return [int(w) for (w,) in await conn.execute(text("SELECT writer FROM marks"))]


async def test_writes_run_inline(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)


async def test_a_writer_waiting_for_another_process_leaves_the_loop_running(
    engine: AsyncEngine, elsewhere: sqlite3.Connection
) -> None:
    # GIVEN another process in the middle of a write
    elsewhere.execute("BEGIN IMMEDIATE")
    elsewhere.execute("INSERT INTO marks VALUES (0)")
    # WHEN a writer of ours starts, and the event loop goes on turning
    writer = asyncio.create_task(_write(engine, 1))
    for _ in range(TURNS):
        await asyncio.sleep(0)
    # THEN the writer is still waiting, without having stopped the loop
    assert not writer.done()
    # AND once the other write commits, ours follows it
    elsewhere.execute("COMMIT")
    await writer
    assert await _marks(engine) == [0, 1]


async def test_a_writer_gives_up_after_the_busy_timeout(
    engine: AsyncEngine, elsewhere: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN another process that keeps the write lock longer than a short timeout
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 30)
    elsewhere.execute("BEGIN IMMEDIATE")
    # WHEN a writer of ours tries
    with pytest.raises(OperationalError, match="database is locked"):
        await _write(engine, 1)
    # THEN nothing of it was written, and the next writer, once free, writes
    elsewhere.execute("ROLLBACK")
    await _write(engine, 2)
    assert await _marks(engine) == [2]
