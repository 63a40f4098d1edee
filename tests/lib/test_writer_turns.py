"""SQLite writers of one process take turns (lib/writer_turns.py) instead of
sleeping in SQLite's busy handler while the write lock stands free.

The busy timeout is set to 0 here: a writer that met SQLite's lock held by
another writer of the process would fail at once with "database is locked";
with turns, none ever meets it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lib import db
from lib.db import create_engine, create_sessionmaker

WRITERS = 24


@pytest.fixture
async def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncEngine]:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 0)
    engine = create_engine(f"sqlite:///{tmp_path / 'turns.db'}", pool_size=WRITERS)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE marks (writer INTEGER, step INTEGER)"))
    yield engine
    await engine.dispose()


async def _write(engine: AsyncEngine, writer: int, *, fail: bool = False) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        for step in range(3):
            await session.execute(
                text("INSERT INTO marks VALUES (:w, :s)"), {"w": writer, "s": step}
            )
            await asyncio.sleep(0)  # let every other writer run up to its own BEGIN
        if fail:
            raise LookupError("this writer changes its mind")


async def _marks(engine: AsyncEngine) -> list[tuple[int, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT writer, step FROM marks ORDER BY rowid"))
        return [(int(w), int(s)) for w, s in rows]


def _whole(marks: list[tuple[int, int]]) -> set[int]:
    """The writers whose three rows stand together, in their order."""
    runs = [marks[i : i + 3] for i in range(0, len(marks), 3)]
    assert all(run == [(run[0][0], s) for s in range(3)] for run in runs), marks
    writers = [run[0][0] for run in runs]
    assert len(writers) == len(set(writers)), marks
    return set(writers)


async def test_many_writers_of_one_process_never_meet_the_lock(engine: AsyncEngine) -> None:
    # WHEN many writers of this process write at once
    await asyncio.gather(*(_write(engine, w) for w in range(WRITERS)))
    # THEN every one committed, each transaction whole, one after another
    marks = await _marks(engine)
    assert _whole(marks) == set(range(WRITERS))


async def test_a_rolled_back_writer_hands_the_turn_on(engine: AsyncEngine) -> None:
    # WHEN every other writer fails and rolls back
    results = await asyncio.gather(
        *(_write(engine, w, fail=w % 2 == 0) for w in range(WRITERS)), return_exceptions=True
    )
    # THEN the failures are their own, and the others still wrote, whole
    assert [type(r) for r in results[::2]] == [LookupError] * (WRITERS // 2)
    assert all(r is None for r in results[1::2])
    assert _whole(await _marks(engine)) == set(range(1, WRITERS, 2))


async def test_a_writer_cancelled_in_line_or_mid_transaction_blocks_nobody(
    tmp_path: Path,
) -> None:
    # GIVEN the usual busy timeout: a transaction cancelled midway may leave
    # SQLite's lock to its connection's closing, which the next writer waits for
    engine = create_engine(f"sqlite:///{tmp_path / 'cancel.db'}", pool_size=WRITERS)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE marks (writer INTEGER, step INTEGER)"))
    # AND writers in line, two of them cancelled: one while writing, one while waiting
    tasks = [asyncio.create_task(_write(engine, w)) for w in range(WRITERS)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    tasks[WRITERS - 1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    # THEN every other writer committed, and a writer afterwards gets its turn
    await _write(engine, 99)
    assert all(r is None for r in results[1:-1]), results
    assert set(range(1, WRITERS - 1)) | {99} <= _whole(await _marks(engine))
    await engine.dispose()


async def test_reads_and_snapshots_take_no_turn(engine: AsyncEngine) -> None:
    # GIVEN a writer in the middle of its transaction
    sessions = create_sessionmaker(engine)
    readers = create_sessionmaker(engine, read_only=True)
    async with sessions() as writer, writer.begin():
        await writer.execute(text("INSERT INTO marks VALUES (1, 0)"))
        # WHEN a request's reads run meanwhile
        async with readers() as reader:
            seen = await reader.scalar(text("SELECT count(*) FROM marks"))
    # THEN they did not wait for the writer's turn (they would never return),
    # and saw the last commit
    assert seen == 0
