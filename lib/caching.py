"""Versioned data and an in-process page cache.

The catalog version lives in the database (`catalog_versions`, 16 shard rows
bumped by triggers in the same transaction as the change; see
functions/catalog/versioning.py), so every process sees a change the moment it
commits. A process reads the version, `SUM(version)`, in one small statement,
and keeps it for at most `ttl_ms`; any write this process commits forgets it at
once. Pages are kept under the version they were read at, so a page is never
served for a version newer than its data.

Staleness bound: a process answers from its cache at most `ttl_ms` after
another process committed a change (0 ms for changes it committed itself).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import BigInteger, Column, Integer, Table, event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from lib.db import READ_ONLY_OPTION, STATEMENT_READS_OPTION, Base
from lib.fastreads import Reads

CATALOG_SHARDS = 16

# Derived data: recreated, not copied, by `portal export` / `portal import`.
catalog_versions = Table(
    "catalog_versions",
    Base.metadata,
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    info={"derived": True},
)

CATALOG_VERSION = select(func.coalesce(func.sum(catalog_versions.c.version), 0))


def catalog_version_rows() -> list[dict[str, int]]:
    """The 16 shards at their start. A random base makes a recreated table
    (an import, a restored database) never repeat a version of the old one,
    which a running process might still hold pages under."""
    base = secrets.randbits(40)
    return [{"shard": s, "version": base if s == 0 else 0} for s in range(CATALOG_SHARDS)]


@event.listens_for(catalog_versions, "after_create")
def _seed(target: Table, connection: Connection, **_kw: Any) -> None:
    connection.execute(target.insert(), catalog_version_rows())


class VersionClock:
    """One process's copy of a database version: re-read at most every `ttl`
    seconds, by one caller at a time (the others wait for its answer)."""

    def __init__(
        self,
        read: Callable[[], Awaitable[int]],
        *,
        ttl_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._value: int | None = None
        self._read_at = 0.0
        self._generation = 0
        self._pending: asyncio.Future[int] | None = None

    @property
    def generation(self) -> int:
        """Changes whenever this process commits a write: take it before a read
        whose version is `offer`ed afterwards."""
        return self._generation

    def peek(self) -> int | None:
        """The version if known and fresh, without reading it."""
        value = self._value
        if value is not None and self._monotonic() - self._read_at < self._ttl:
            return value
        return None

    def offer(self, value: int, generation: int) -> None:
        """A version read by some other statement (taken with `generation`
        before it ran): kept as if read here, unless a write was committed
        here meanwhile or a newer one is already known."""
        if generation != self._generation or self._ttl <= 0:
            return
        if self._value is None or value >= self._value:
            self._value, self._read_at = value, self._monotonic()

    def forget(self) -> None:
        """A write was committed here: the next caller reads the version again.
        A read already under way may have missed the write, so it is not kept."""
        self._generation += 1
        self._value = None

    async def current(self) -> int:
        value = self._value
        if value is not None and self._monotonic() - self._read_at < self._ttl:
            return value
        pending = self._pending
        if pending is not None and not pending.done():
            return await asyncio.shield(pending)
        return await self._refresh()

    async def _refresh(self) -> int:
        generation = self._generation
        pending: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending = pending
        try:
            value = await self._read()
        except BaseException as exc:
            pending.set_exception(_ReadFailed() if not isinstance(exc, Exception) else exc)
            pending.exception()  # retrieved: waiters get it, nobody else must
            raise
        finally:
            self._pending = None
        if generation == self._generation and self._ttl > 0:
            self._value, self._read_at = value, self._monotonic()
        pending.set_result(value)
        return value


class _ReadFailed(Exception):
    """The caller reading for everyone was cancelled."""


def version_reader(reads: Reads) -> Callable[[], Awaitable[int]]:
    async def read() -> int:
        return int(await reads.scalar(CATALOG_VERSION) or 0)

    return read


def forget_on_commit(engine: AsyncEngine, clock: VersionClock) -> None:
    """Every write transaction this process commits forgets its copy of the version."""

    def committed(connection: Connection) -> None:
        options = connection.get_execution_options()
        # A request's reads (no transaction) and an export's snapshot write nothing.
        if not (options.get(READ_ONLY_OPTION) or options.get(STATEMENT_READS_OPTION)):
            clock.forget()

    event.listen(engine.sync_engine, "commit", committed)


class Weighed(Protocol):
    """What a page cache keeps: anything that knows its size in bytes."""

    @property
    def size(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    etag: str
    media_type: str

    @property
    def size(self) -> int:
        """Its body and tag as allocated (the media type is shared)."""
        return sys.getsizeof(self.body) + sys.getsizeof(self.etag)


# What an entry costs beyond its key, body and tag: the Page itself and the
# OrderedDict's slot, link and table growth (measured on CPython 3.11).
ENTRY_OVERHEAD_BYTES = 160


def entry_bytes(key: Hashable, entry: Weighed) -> int:
    """The memory an entry kept under `key` holds."""
    return _footprint(key) + entry.size + ENTRY_OVERHEAD_BYTES


def _footprint(value: object) -> int:
    # Keys are small tuples of strings, numbers and dates.
    size = sys.getsizeof(value)
    if isinstance(value, tuple):
        size += sum(_footprint(item) for item in value)
    return size


KeyT = TypeVar("KeyT", bound=Hashable)
EntryT = TypeVar("EntryT", bound=Weighed)


class NotCacheable(Exception):
    """What a page maker raises for an answer that must not be kept (it carries it)."""

    def __init__(self, answer: object) -> None:
        super().__init__("not cacheable")
        self.answer = answer


class PageCache(Generic[KeyT, EntryT]):
    """Encoded answers (or parts of them) by key, least recently used out first, bounded in entries
    and bytes. Concurrent misses of one key make the page once."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._pages: OrderedDict[KeyT, EntryT] = OrderedDict()
        self._bytes = 0
        self._making: dict[KeyT, asyncio.Future[EntryT]] = {}

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: KeyT) -> EntryT | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def put(self, key: KeyT, page: EntryT) -> None:
        size = entry_bytes(key, page)
        if size > self.max_bytes:
            return
        self.discard(key)
        self._pages[key] = page
        self._bytes += size
        while len(self._pages) > self.max_entries or self._bytes > self.max_bytes:
            oldest_key, oldest = self._pages.popitem(last=False)
            self._bytes -= entry_bytes(oldest_key, oldest)

    def discard(self, key: KeyT) -> None:
        page = self._pages.pop(key, None)
        if page is not None:
            self._bytes -= entry_bytes(key, page)

    def clear(self) -> None:
        self._pages.clear()
        self._bytes = 0

    async def get_or_make(self, key: KeyT, make: Callable[[], Awaitable[EntryT]]) -> EntryT:
        """The page under `key`, made by `make` if absent. `make` may raise
        NotCacheable(answer): that caller gets the exception, and each caller
        that waited on it makes its own answer."""
        page = self.get(key)
        if page is not None:
            return page
        making = self._making.get(key)
        if making is not None:
            try:
                return await asyncio.shield(making)
            except (NotCacheable, _ReadFailed):
                return await make()
        return await self._make(key, make)

    async def _make(self, key: KeyT, make: Callable[[], Awaitable[EntryT]]) -> EntryT:
        making: asyncio.Future[EntryT] = asyncio.get_running_loop().create_future()
        self._making[key] = making
        try:
            page = await make()
        except BaseException as exc:
            making.set_exception(exc if isinstance(exc, Exception) else _ReadFailed())
            making.exception()
            raise
        finally:
            del self._making[key]
        self.put(key, page)
        making.set_result(page)
        return page


class VersionedPages:
    """A page cache whose keys carry the data version they were read at: pages
    of older versions are dropped as soon as a newer version is seen."""

    def __init__(self, clock: VersionClock, pages: PageCache[Any, Any]) -> None:
        self.clock = clock
        self.pages = pages
        self._seen: int | None = None

    async def version(self) -> int:
        version = await self.clock.current()
        self.observe(version)
        return version

    def observe(self, version: int) -> None:
        """A version read anywhere: pages of older ones are dropped."""
        if self._seen is None or version > self._seen:
            if self._seen is not None:
                self.pages.clear()
            self._seen = version
