"""A request's SQLite reads on the event loop's own thread.

aiosqlite runs every call (open a cursor, execute, fetch, close) on a thread
of its own and wakes the event loop when it is done: a statement costs several
trips there and back, each a context switch and a turn of the loop, and under
load the two threads take turns at the interpreter lock. A read in WAL mode
does not wait for writers, and a request's read statement takes a millisecond
or less: running it where the loop already is costs less than the trips.

`InlineConnection` looks like an aiosqlite connection to SQLAlchemy's aiosqlite
dialect, so the engine, the pool and every `AsyncSession` stay as they are; but
its coroutines call sqlite3 directly and finish without suspending, so
SQLAlchemy's `await_` returns at once and never leaves the thread.

The connection is `query_only`: a write sent through it fails at once instead
of waiting, with the whole event loop, for the write lock. Writes keep the
aiosqlite engine (BEGIN IMMEDIATE, queued on the busy timeout there)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only


class InlineCursor:
    """An aiosqlite cursor's face over a sqlite3 cursor: nothing awaits."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> Sequence[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """An aiosqlite connection's face over a sqlite3 connection.

    `_connection` carries aiosqlite's name for the same thing: SQLAlchemy's
    adapter looks at it to tell an open connection from a closed one."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = connection

    @property
    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            # aiosqlite's words: SQLAlchemy takes them for a lost connection.
            raise ValueError("Connection closed")
        return self._connection

    @property
    def in_transaction(self) -> bool:
        return self._connection is not None and self._connection.in_transaction

    @property
    def isolation_level(self) -> str | None:
        return self._open.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._open.cursor())

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open.create_function(*args, **kwargs)

    async def commit(self) -> None:
        self._open.commit()

    async def rollback(self) -> None:
        self._open.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Closes at once (SQLAlchemy's terminate, e.g. of a connection lost
        with its task)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# The dialect's connect arguments come as a list and a dict.
_sqlite_connect: Callable[..., sqlite3.Connection] = sqlite3.connect


def inline_connector(
    engine: Callable[[], AsyncEngine], timeout_seconds: float
) -> Callable[[], Awaitable[InlineConnection]]:
    """The `async_creator` of a read engine: a connection to the database of
    `engine()` (the engine being built) with the dialect's own connect
    arguments. Autocommit as on the write engine (isolation_level None): a
    statement outside BEGIN reads the latest commit and keeps no snapshot."""

    async def connect() -> InlineConnection:
        sync_engine = engine().sync_engine
        args, options = sync_engine.dialect.create_connect_args(sync_engine.url)
        options.update(timeout=timeout_seconds, isolation_level=None, check_same_thread=False)
        return InlineConnection(_sqlite_connect(*args, **options))

    return connect


def make_query_only(engine: AsyncEngine) -> None:
    """Each new connection of `engine` refuses to write (after the engine's own
    `connect` listeners, which may set the journal mode)."""

    def query_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    event.listen(engine.sync_engine, "connect", query_only)


# --- writes ---------------------------------------------------------------------------
# A write engine's connections are inline too: once a transaction holds the
# write lock (BEGIN IMMEDIATE), none of its statements waits in WAL mode, and
# this process's writers already queue on their turn (lib/writer_turns.py).
# The one wait left is for a writer of another process: SQLite's busy handler
# would wait there with the whole event loop stopped, so these connections
# have none (busy_timeout 0), and BEGIN IMMEDIATE is tried again after a
# pause on the event loop instead.

BUSY_FIRST_PAUSE_SECONDS = 0.001
BUSY_LONGEST_PAUSE_SECONDS = 0.02


def never_wait_in_sqlite(engine: AsyncEngine) -> None:
    """Each new connection of `engine` answers "busy" at once (after the
    engine's own `connect` listeners, which set the usual busy timeout for
    their own statements)."""

    def no_busy_handler(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    event.listen(engine.sync_engine, "connect", no_busy_handler)


def begin_immediate(connection: Any, *, timeout_seconds: float) -> None:
    """BEGIN IMMEDIATE on `connection` (SQLAlchemy's, inside its greenlet).
    On an inline connection, while another process holds the write lock, the
    pauses between tries are the event loop's, and after `timeout_seconds`
    the "database is locked" error stands, as the busy timeout's would."""
    if not isinstance(connection.connection.driver_connection, InlineConnection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    deadline = time.monotonic() + timeout_seconds
    pause = BUSY_FIRST_PAUSE_SECONDS
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except DBAPIError as exc:
            if not _busy(exc) or time.monotonic() + pause > deadline:
                raise
        await_only(asyncio.sleep(pause))
        pause = min(pause * 2, BUSY_LONGEST_PAUSE_SECONDS)


def _busy(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(exc.orig)
