"""A request's reads: on SQLite they run on the event loop's thread through an
engine of their own (`lib.sqlite_inline`), and on both backends a read sees
every commit before it, this process's and another's."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import aiosqlite
import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from lib.db import create_engine
from lib.runtime import Portal
from lib.sqlite_inline import InlineConnection
from tests.factories import Factory, SignedIn

ME = "/api/auth/me"
READERS = 64

# Another process renames a user through the portal's own write engine (on
# SQLite: BEGIN IMMEDIATE on an inline connection) and commits.
RENAME_ELSEWHERE = """
import asyncio, sys
from sqlalchemy import text
from lib.db import create_engine

async def main(url, user_id, name):
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET full_name = :name WHERE id = :id"), {"name": name, "id": user_id}
        )
    await engine.dispose()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture
def aiosqlite_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call that aiosqlite sends to its thread, by name."""
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


@pytest.fixture
def driver_connections(portal: Portal) -> Iterator[list[str]]:
    """The kind of driver connection under each statement the portal sends."""
    seen: list[str] = []

    def note(conn: Any, *_args: Any) -> None:
        seen.append(type(conn.connection.driver_connection).__name__)

    for engine in portal.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", note)
    yield seen
    for engine in portal.engines:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


async def full_name(client: httpx.AsyncClient, who: SignedIn) -> str:
    response = await client.get(ME, headers=who.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["user"]["full_name"])


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_get_read_stays_on_the_event_loops_thread(
    factory: Factory,
    client: httpx.AsyncClient,
    portal: Portal,
    aiosqlite_calls: list[str],
    driver_connections: list[str],
) -> None:
    # GIVEN a signed-in student
    student = await factory.signed_in()
    aiosqlite_calls.clear()
    driver_connections.clear()
    # WHEN they ask who they are, and anyone asks for the health check (both
    # read by the driver, lib/fastreads.py), and a request's read session reads
    assert await full_name(client, student) == student.user.full_name
    assert (await client.get("/api/health")).status_code == 200
    async with portal.read_sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM users")) == 1
    # THEN every statement ran on sqlite3 directly: not one trip to aiosqlite's thread
    assert driver_connections
    assert set(driver_connections) == {InlineConnection.__name__}
    assert aiosqlite_calls == []
    # AND so does a write, on the write engine's own inline connections
    async with portal.transaction() as session:
        await session.execute(text("UPDATE users SET full_name = full_name WHERE 0"))
    assert set(driver_connections) == {InlineConnection.__name__}
    assert aiosqlite_calls == []
    # AND the count above would have seen aiosqlite: an in-memory database still uses it
    memory = create_engine("sqlite://")
    async with memory.connect() as conn:
        await conn.execute(text("SELECT 1"))
    await memory.dispose()
    assert aiosqlite_calls


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_read_engine_refuses_writes_and_keeps_the_connection_settings(
    factory: Factory, portal: Portal
) -> None:
    student = await factory.user()
    async with portal.read_sessions() as session:
        # A write fails at once instead of waiting for the write lock on the event loop.
        with pytest.raises(OperationalError, match="readonly"):
            await session.execute(
                text("UPDATE users SET full_name = 'X' WHERE id = :id"), {"id": student.id}
            )
    async with portal.read_sessions() as session:
        assert await session.scalar(text("PRAGMA busy_timeout")) == 30_000
        assert await session.scalar(text("PRAGMA foreign_keys")) == 1
        assert await session.scalar(text("PRAGMA journal_mode")) == "wal"
        assert await session.scalar(text("SELECT lower('ÉCOLE')")) == "école"


async def test_a_read_right_after_a_write_in_this_process_sees_it(
    factory: Factory, client: httpx.AsyncClient
) -> None:
    # GIVEN a student who renames themselves (a PATCH: the write engine)
    student = await factory.signed_in()
    changed = await client.patch(ME, json={"full_name": "Renamed Once"}, headers=student.headers)
    assert changed.status_code == 200, changed.text
    # WHEN they read who they are at once (a GET: on SQLite the read engine)
    # THEN the read sees the commit
    assert await full_name(client, student) == "Renamed Once"


async def test_a_read_after_another_process_commits_sees_it(
    factory: Factory, client: httpx.AsyncClient, database_url: str
) -> None:
    # GIVEN a student whose name this process has read (its read connection is pooled)
    student = await factory.signed_in()
    assert await full_name(client, student) == student.user.full_name
    # WHEN another process renames them and commits
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", RENAME_ELSEWHERE, database_url, student.user.id, "Elsewhere"],
        check=True,
        timeout=60,
    )
    # THEN the next read here sees the new name: no snapshot was kept
    assert await full_name(client, student) == "Elsewhere"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_read_does_not_wait_for_a_writer_holding_the_lock(
    factory: Factory, client: httpx.AsyncClient, portal: Portal
) -> None:
    # GIVEN a write transaction that holds SQLite's write lock, its change not committed
    student = await factory.signed_in()
    async with portal.transaction() as session:
        await session.execute(
            text("UPDATE users SET full_name = 'Pending' WHERE id = :id"), {"id": student.user.id}
        )
        # WHEN a request reads meanwhile (on the event loop: waiting would stop everything)
        # THEN it answers at once with the last commit
        assert await full_name(client, student) == student.user.full_name
    # AND once the writer commits, the next read sees the change
    assert await full_name(client, student) == "Pending"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_many_readers_at_once_neither_wait_nor_reconnect(portal: Portal) -> None:
    # GIVEN as many readers at once as a worker's clients (64), each holding its
    # connection until all of them have one
    assert portal.read_engine is not None
    everyone_in = asyncio.Event()
    holding: list[int] = []

    async def reader() -> None:
        async with portal.read_sessions() as session:
            await session.execute(text("SELECT 1"))
            holding.append(1)
            if len(holding) == READERS:
                everyone_in.set()
            await everyone_in.wait()

    async def round_of_readers() -> None:
        holding.clear()
        everyone_in.clear()
        await asyncio.wait_for(asyncio.gather(*(reader() for _ in range(READERS))), 10)

    await round_of_readers()
    opened: list[object] = []
    event.listen(portal.read_engine.sync_engine, "connect", lambda *a: opened.append(a))
    # WHEN they come again
    await round_of_readers()
    # THEN none waited for another to give its connection back (that would never
    # happen: wait_for would time out), and each found one kept from the first round
    assert opened == []
