"""A request's reads sent by the database driver itself.

A SELECT run through SQLAlchemy's async engine costs 100 to 250 µs of the
worker's time before the database does anything: a pool checkout, greenlet
switches, an execution context, a result object; an unused `AsyncSession`
opened and committed costs 110 µs more. The same SELECT sent by sqlite3
costs 8 µs (README, "Writing a fast read path"). With 64 clients and one
worker, those microseconds are the queue.

So a read path keeps its statement in SQLAlchemy Core (written once, for
every dialect), and `Reads` sends it by the driver: compiled once per
dialect (and per length of each expanding IN list), its parameters put in
the driver's order through the column types' bind processors, and its rows
through their result processors, as SQLAlchemy does; the rows answer by
attribute, like SQLAlchemy's. Statements are found again by identity, so a
read path keeps its statements (module constants, `functools.lru_cache`).

- SQLite (a file): one connection per thread, `query_only`, autocommit: each
  statement reads the latest commit. Its statements never suspend (the data
  is in the memory map or the page cache), so every request of the event
  loop shares it; nothing else runs while one executes.
- PostgreSQL: a pooled connection per statement, its asyncpg connection
  used directly (asyncpg prepares each statement once per connection), no
  transaction. A connection that breaks is invalidated, as SQLAlchemy would.
- Elsewhere (in-memory SQLite): through the engine, as the same SQL.

Writes stay on the ORM session: the fast path is for reads that run on every
request (the caller, a page's own part, a list)."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from lib.db import add_statement_count, sqlite_reader_opener

Params = Mapping[str, Any]
# Where a read session finds its process's `Reads` (`AsyncSession.info`).
FAST_READS_KEY = "portal_fast_reads"
# Plans kept per process: a few per read path (one per length of an IN list).
MAX_PLANS = 2048
_EXPANDED = re.compile(r"^(?P<name>.+)_(?P<index>\d+)$")


class Row(tuple[Any, ...]):
    """A row of a fast read: a tuple whose fields answer by name, like
    SQLAlchemy's rows (`row.title`, `row._mapping["title"]`)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _index: Mapping[str, int] = {}

    @property
    def _mapping(self) -> Mapping[str, Any]:
        return _Mapped(self)

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...


class _Mapped(Mapping[str, Any]):
    """A row by its field names, without copying it into a dict."""

    __slots__ = ("_row",)

    def __init__(self, row: Row) -> None:
        self._row = row

    def __getitem__(self, name: str) -> Any:
        return self._row[self._row._index[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._row._fields)

    def __len__(self) -> int:
        return len(self._row._fields)


def _row_class(fields: Sequence[str]) -> type[Row]:
    """A `Row` with a property per field (namedtuple's names: a field that is
    no identifier, or repeated, is renamed to its position, `_2`)."""
    names: tuple[str, ...] = cast(Any, namedtuple)("_Names", fields, rename=True)._fields
    index = {field: i for i, field in reversed(list(enumerate(fields)))}
    members: dict[str, Any] = {"__slots__": (), "_fields": tuple(fields), "_index": index}
    members.update({name: property(itemgetter(i)) for i, name in enumerate(names)})
    return type("FastRow", (Row,), members)


class Plan:
    """One statement compiled for one dialect: its SQL, how to get the
    driver's parameters from the caller's, and how to shape its rows."""

    __slots__ = ("_results", "_row", "_values", "sql", "statement")

    def __init__(self, statement: Select[Any], dialect: Dialect, params: Params) -> None:
        self.statement = statement  # kept: plans are found by its identity
        plain = statement.compile(dialect=dialect)
        names = plain.positiontup or ()
        # Expanding IN lists by their compiled names: the caller's ("ids")
        # and the statement's own constants ("status_1" for `in_(STATUSES)`).
        expanding = {name: plain.binds[name] for name in names if plain.binds[name].expanding}
        # render_postcompile renders each list's elements as parameters of
        # their own, and asks a value of every parameter (any will do).
        given = {bind.key for bind in plain.binds.values()} & params.keys()
        compiled = (
            cast(Any, statement)
            .params(**{key: params[key] for key in given})
            .compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        )
        self.sql: str = compiled.string
        self._values = tuple(
            _value_getter(name, plain.binds, expanding, dialect)
            for name in compiled.positiontup or ()
        )
        columns = compiled._result_columns
        self._results = tuple(
            column.type._cached_result_processor(dialect, None) for column in columns
        )
        self._row = _row_class([column.keyname for column in columns])

    def arguments(self, params: Params) -> list[Any]:
        return [get(params) for get in self._values]

    def shape(self, raw: Sequence[Sequence[Any]]) -> list[Row]:
        results, row = self._results, self._row
        if not any(results):
            return [row(values) for values in raw]
        return [
            row(
                [value if p is None else p(value) for p, value in zip(results, values, strict=True)]
            )
            for values in raw
        ]


def _value_getter(
    name: str, binds: Mapping[str, Any], expanding: Mapping[str, Any], dialect: Dialect
) -> Callable[[Params], Any]:
    bind = binds.get(name)
    index = 0
    if bind is None or bind.expanding:
        # One element of an expanding list: "ids_3" is the third of "ids".
        match = _EXPANDED.match(name)
        if match is None or match["name"] not in expanding:
            raise ValueError(f"no parameter for {name!r}")
        bind, index = expanding[match["name"]], int(match["index"])
    process = bind.type._cached_bind_processor(dialect)
    key, constant = bind.key, bind.value
    if index:
        return lambda p: _bound(process, p.get(key, constant)[index - 1])
    return lambda p: _bound(process, p.get(key, constant))


def _bound(process: Callable[[Any], Any] | None, value: Any) -> Any:
    return value if process is None else process(value)


class Reads:
    """The fast reads of one portal process, on its read engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self._open_sqlite = sqlite_reader_opener(engine)
        self._sqlite: dict[int, sqlite3.Connection] = {}
        self._plans: dict[tuple[int, tuple[tuple[str, int], ...]], Plan] = {}
        self._lock = threading.Lock()
        # Called with each statement and its parameters as sent (tests look
        # at plans; SQLAlchemy's `before_cursor_execute` does not see these).
        self.listeners: list[Callable[[str, Sequence[Any]], None]] = []

    def plan(self, statement: Select[Any], params: Params) -> Plan:
        lengths = tuple(
            (name, len(value)) for name, value in sorted(params.items()) if isinstance(value, list)
        )
        key = (id(statement), lengths)
        found = self._plans.get(key)
        if found is not None and found.statement is statement:
            return found
        made = Plan(statement, self.dialect, params)
        if len(self._plans) >= MAX_PLANS:
            self._plans.clear()
        self._plans[key] = made
        return made

    async def rows(
        self,
        statement: Select[Any],
        params: Params | None = None,
        *,
        held: AsyncConnection | None = None,
    ) -> list[Row]:
        """The statement's rows. `held`: a pooled connection the caller holds
        already (its read session's), used instead of taking a second one;
        requests that each waited for a second would empty the pool."""
        params = params or {}
        plan = self.plan(statement, params)
        arguments = plan.arguments(params)
        add_statement_count()
        for listener in self.listeners:
            listener(plan.sql, arguments)
        if self._open_sqlite is not None:
            return plan.shape(self._connection().execute(plan.sql, arguments).fetchall())
        if held is not None:
            return plan.shape(await self._send(held, plan.sql, arguments))
        async with self.engine.connect() as connection:
            return plan.shape(await self._send(connection, plan.sql, arguments))

    async def first(self, statement: Select[Any], params: Params | None = None) -> Row | None:
        found = await self.rows(statement, params)
        return found[0] if found else None

    async def scalar(self, statement: Select[Any], params: Params | None = None) -> Any:
        found = await self.first(statement, params)
        return None if found is None else found[0]

    def _connection(self) -> sqlite3.Connection:
        thread = threading.get_ident()
        connection = self._sqlite.get(thread)
        if connection is None:
            assert self._open_sqlite is not None
            with self._lock:
                connection = self._sqlite[thread] = self._open_sqlite()
        return connection

    @property
    def pooled(self) -> bool:
        """Whether each read takes a connection from the engine's pool."""
        return self._open_sqlite is None

    async def _send(
        self, connection: AsyncConnection, sql: str, arguments: list[Any]
    ) -> Sequence[Sequence[Any]]:
        if self.dialect.name != "postgresql":
            # In-memory SQLite: the same SQL through the engine's connection.
            result = await connection.exec_driver_sql(sql, tuple(arguments))
            return result.all()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        try:
            rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *arguments)
            return rows
        except BaseException:
            if driver.is_closed():
                await connection.invalidate()
            raise

    def close(self) -> None:
        with self._lock:
            for connection in self._sqlite.values():
                connection.close()
            self._sqlite.clear()


def reads_of(session: AsyncSession) -> Reads | None:
    """The fast reads behind a request's read session; None in a write
    session, whose reads must see its own transaction."""
    found = session.info.get(FAST_READS_KEY)
    return found if isinstance(found, Reads) else None


async def read_rows(
    session: AsyncSession, statement: Select[Any], params: Params | None = None
) -> Sequence[Any]:
    """A kept statement's rows: by the driver in a request's read session,
    else through the session (a write session's reads see its own changes)."""
    fast = reads_of(session)
    if fast is not None:
        # A session that holds a pooled connection lends it (see `Reads.rows`).
        held = await session.connection() if fast.pooled and session.in_transaction() else None
        return await fast.rows(statement, params, held=held)
    result = await session.execute(statement, dict(params or {}))
    return list(result.all())
