"""Database engine, declarative base and the portable column types."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import ColumnElement, DateTime, MetaData, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from lib.sqlite_inline import (
    begin_immediate,
    inline_connector,
    make_query_only,
    never_wait_in_sqlite,
)
from lib.writer_turns import WriterTurns

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Reads from memory-mapped pages skip a copy through SQLite's page cache: a
# search that reads thousands of pages costs about a fifth less CPU (README,
# "Benchmark"). The mapped pages are the kernel's page cache of the file,
# shared and reclaimable, not the worker's own memory.
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
# Each pooled connection's own page cache (pages past the map, written pages),
# in KiB: SQLite's default, stated so that its bound is ours.
SQLITE_CACHE_KIB = 2000
# A read-only transaction on one snapshot (on SQLite a deferred BEGIN): an
# export reads every table at the same moment.
READ_ONLY_OPTION = "portal_read_only"
# Connections kept for a request's reads on SQLite: as many as the clients a
# worker serves at once (the benchmark's 64). Each is a file handle and a small
# page cache (reads come from the memory-mapped file).
SQLITE_READ_POOL_SIZE = 64
# A request's reads on SQLite: no BEGIN, each statement reads the latest
# commit on its own. A read path is one or two statements; a transaction
# around them would cost three more round trips to the driver's thread.
STATEMENT_READS_OPTION = "portal_statement_reads"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def async_url(url: str) -> str:
    """Turn the documented `sqlite:///` / `postgresql://` URLs into async driver URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + _asyncpg_query(url[len("postgresql://") :])
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def _asyncpg_query(rest: str) -> str:
    # Hosted databases hand out libpq URLs with `?sslmode=require`; asyncpg
    # refuses that keyword and takes the same values as `ssl`.
    base, separator, query = rest.partition("?")
    if not separator:
        return rest
    params = [
        ("ssl" if name == "sslmode" else name, value)
        for name, value in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{base}?{urlencode(params)}"


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE touched: how a conditional statement says it won."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def escape_like(text: str) -> str:
    """Text for a LIKE pattern (with ESCAPE '\\'), its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def json_rows(dialect: str, *columns: ColumnElement[Any]) -> ColumnElement[Any]:
    """An aggregate of the group's rows as one JSON array of arrays, the same
    on both backends: a read statement brings a list along with each row (a
    course's sessions) instead of one more query per row. Order is not kept."""
    if dialect == "postgresql":
        return func.json_agg(func.json_build_array(*columns))
    return func.json_group_array(func.json_array(*columns))


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, which offers ON CONFLICT DO NOTHING on both backends."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def derived_tables(connection: Connection) -> set[str]:
    """Tables the database keeps from other tables' rows, not data of their
    own: SQLite's full-text (virtual) tables and their shadow tables. Exports,
    imports and schema comparisons leave them out; triggers rebuild them."""
    if connection.dialect.name != "sqlite":
        return set()
    rows = connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    tables = {str(name): str(sql or "") for name, sql in rows}
    virtual = [n for n, sql in tables.items() if sql.upper().startswith("CREATE VIRTUAL TABLE")]
    return {n for n in tables if any(n == v or n.startswith(v + "_") for v in virtual)}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# The statements sent to the database in the current context (one request),
# when someone counts them: tests and the benchmark read it per request.
_statement_count: ContextVar[list[int] | None] = ContextVar("statement_count", default=None)


@contextmanager
def counting_statements() -> Iterator[list[int]]:
    """Counts the statements this context sends, in `counter[0]`."""
    counter = [0]
    token = _statement_count.set(counter)
    try:
        yield counter
    finally:
        _statement_count.reset(token)


def _count_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    counter = _statement_count.get()
    # Transaction control is not a query of ours (SQLite's BEGIN goes through here).
    if counter is not None and not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
        counter[0] += 1


_sqlite_connect: Callable[..., sqlite3.Connection] = sqlite3.connect


def add_statement_count() -> None:
    """A statement sent past the engine (`lib.fastreads`) counts as well."""
    counter = _statement_count.get()
    if counter is not None:
        counter[0] += 1


def sqlite_reader_opener(engine: AsyncEngine) -> Callable[[], sqlite3.Connection] | None:
    """For an engine on a SQLite file: how to open a connection configured as
    its read connections are (autocommit, `query_only`); else None."""
    if engine.dialect.name != "sqlite" or _in_memory(engine.url.database):
        return None
    args, options = engine.sync_engine.dialect.create_connect_args(engine.sync_engine.url)
    options.update(isolation_level=None, check_same_thread=False)

    def open_reader() -> sqlite3.Connection:
        connection: sqlite3.Connection = _sqlite_connect(*args, **options)
        _configure_sqlite(connection, None)
        connection.execute("PRAGMA query_only=ON")
        return connection

    return open_reader


def create_engine(url: str, *, reads_only: bool = False, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`; with `reads_only`, on a SQLite file, one whose
    connections refuse to write (`create_read_engine`)."""
    engine = _create_engine(url, reads_only=reads_only, **kwargs)
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    return engine


def create_read_engine(engine: AsyncEngine, **kwargs: Any) -> AsyncEngine:
    """The engine for a request's reads. On a SQLite file: one of its own whose
    statements run on the event loop's thread (`lib.sqlite_inline`), on the
    same file as `engine`, refusing writes. Elsewhere `engine` itself (an
    in-memory SQLite database would be another database)."""
    if engine.dialect.name != "sqlite" or _in_memory(engine.url.database):
        return engine
    # A connection opened past the pool's size is closed when it comes back:
    # the pool keeps as many as requests are likely to read at once, and
    # never makes a reader wait (one that waited while holding a connection,
    # for the catalog version another reader is fetching, would stall both).
    kwargs.setdefault("pool_size", SQLITE_READ_POOL_SIZE)
    kwargs.setdefault("max_overflow", -1)
    # Its connections hold no transaction of their own (BEGIN IMMEDIATE would
    # be refused): each statement reads the latest commit.
    kwargs.setdefault("execution_options", {STATEMENT_READS_OPTION: True})
    url = engine.url.render_as_string(hide_password=False)
    return create_engine(url, reads_only=True, **kwargs)


def _in_memory(database: str | None) -> bool:
    return not database or database == ":memory:" or "mode=memory" in database


# PostgreSQL connections one server's workers share (PostgreSQL allows 100 by
# default; the scheduler and the CLI need some too).
SERVER_CONNECTIONS = 40
MAX_POOL_SIZE = 20


def pool_size(env: Mapping[str, str]) -> int:
    """PostgreSQL connections per process: `PORTAL_DB_POOL_SIZE`, or the
    server's share divided among its workers (`WEB_CONCURRENCY`, which `portal
    serve` sets for them), at most 20: one event loop keeps no more busy."""
    configured = env.get("PORTAL_DB_POOL_SIZE")
    if configured:
        return int(configured)
    workers = max(1, int(env.get("WEB_CONCURRENCY") or 1))
    return max(2, min(MAX_POOL_SIZE, SERVER_CONNECTIONS // workers))


def _create_engine(url: str, *, reads_only: bool, **kwargs: Any) -> AsyncEngine:
    url = async_url(url)
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        # A Lambda instance may run each invocation on a new event loop; pooled
        # asyncpg connections are bound to the loop that opened them.
        kwargs.setdefault("poolclass", NullPool)
    if kwargs.get("poolclass") is NullPool:
        # Nothing is kept, so there is no size to give (SQLAlchemy refuses one).
        kwargs.pop("pool_size", None)
        kwargs.pop("max_overflow", None)
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        # A file's statements run on the event loop's thread (lib/sqlite_inline.py).
        built: list[AsyncEngine] = []
        inline = not _in_memory(make_url(url).database)
        if inline:
            kwargs.setdefault(
                "async_creator", inline_connector(lambda: built[0], SQLITE_BUSY_TIMEOUT_MS / 1000)
            )
        engine = create_async_engine(url, **kwargs)
        built.append(engine)
        turns = WriterTurns()
        turns.watch(engine.sync_engine)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        if inline and reads_only:
            make_query_only(engine)
        elif inline:
            never_wait_in_sqlite(engine)
        event.listen(engine.sync_engine, "begin", partial(_begin, turns))
        _skip_idle_transaction_ends(engine.sync_engine.dialect)
        return engine
    if kwargs.get("poolclass") is not NullPool:
        kwargs.setdefault("pool_size", pool_size(os.environ))
        # Connections past the pool's size are closed as soon as they come
        # back: under steady load above the size, every few requests would pay
        # for a new connection (TCP, authentication, SQLAlchemy's first-connect
        # queries). Without overflow a request waits for a pooled one instead.
        kwargs.setdefault("max_overflow", int(os.environ.get("PORTAL_DB_MAX_OVERFLOW", "0")))
    # No pre-ping: it costs a round trip on every checkout. A connection the
    # server dropped fails its statement once and the pool is invalidated
    # (SQLAlchemy's disconnect handling); idle ones are replaced before any
    # server or proxy timeout is likely to have closed them.
    kwargs.setdefault("pool_recycle", int(os.environ.get("PORTAL_DB_POOL_RECYCLE", "1800")))
    return create_async_engine(url, **kwargs)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is switched off so that BEGIN
    # IMMEDIATE (below) takes the write lock up front: concurrent writers in
    # several processes then queue on the busy timeout instead of failing with
    # "database is locked" when a read lock cannot be upgraded.
    if dbapi_connection.isolation_level is not None:
        dbapi_connection.isolation_level = None
    # SQLite's own lower() folds ASCII only; case-insensitive search must
    # treat "É" and "é" alike, as PostgreSQL does.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _begin(turns: WriterTurns, connection: Any) -> None:
    options = connection.get_execution_options()
    if options.get(STATEMENT_READS_OPTION):
        return
    if options.get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
        return
    # This process's writers queue in turn first (lib/writer_turns.py).
    turns.take(connection.connection.info)
    try:
        begin_immediate(connection, timeout_seconds=SQLITE_BUSY_TIMEOUT_MS / 1000)
    except BaseException:
        turns.give_back(connection.connection.info)
        raise


def _skip_idle_transaction_ends(dialect: Dialect) -> None:
    """COMMIT and ROLLBACK only when SQLite has a transaction open; either
    ends the connection's turn to write.

    Each call to aiosqlite is a trip to its thread and back. A request's reads
    open no transaction (above), and the pool rolls back every connection it
    takes back, even one whose transaction already ended: both trips are
    skipped when there is nothing to end."""
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            if dbapi_connection.driver_connection.in_transaction:
                commit(dbapi_connection)
        finally:
            WriterTurns.end(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            if dbapi_connection.driver_connection.in_transaction:
                rollback(dbapi_connection)
        finally:
            WriterTurns.end(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def create_sessionmaker(
    engine: AsyncEngine, *, read_only: bool = False, info: Mapping[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    # A request's reads run without a transaction around them, each statement
    # on the latest commit: readers never queue behind writers, and neither
    # backend pays for BEGIN and COMMIT (on PostgreSQL two more round trips,
    # on SQLite three more trips to aiosqlite's thread).
    bind = engine
    if read_only and engine.dialect.name == "postgresql":
        bind = engine.execution_options(
            isolation_level="AUTOCOMMIT", **{STATEMENT_READS_OPTION: True}
        )
    elif read_only:
        bind = engine.execution_options(**{STATEMENT_READS_OPTION: True})
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=True, info=dict(info or {}))
