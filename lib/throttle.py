"""Counting attempts where every server process sees them.

An attempt is reserved before the slow work it guards (a password hash, say):
checking the limits and counting the attempt are one atomic step, so a burst
of simultaneous requests cannot all pass the check before any of them counts.
An attempt that succeeds is given back (`release`), so only failures stay
counted. The database keeps the counts by default; with `REDIS_URL` set they
live in Redis through the `limits` library. Both count in a moving window.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from limits import RateLimitItem, RateLimitItemPerSecond
from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from lib.db import Base, UTCDateTime, new_id
from lib.errors import PortalError

if TYPE_CHECKING:
    from lib.config import Settings

# Redis down must mean a quick, clear answer, not requests that hang on a
# socket until the client gives up.
REDIS_CONNECT_TIMEOUT_SECONDS = 1.0
REDIS_READ_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Limit:
    key: str
    max_attempts: int
    window: timedelta


@dataclass(frozen=True)
class Reservation:
    """The outcome of `Throttle.reserve`: granted (retry_after 0) and counted
    under every limit, or refused and counted under none."""

    limits: tuple[Limit, ...]
    retry_after: int = 0
    # The database throttle's rows for this attempt, so that release removes
    # exactly them.
    hit_ids: tuple[str, ...] = ()

    @property
    def granted(self) -> bool:
        return self.retry_after == 0


class ThrottleUnavailable(PortalError):
    status_code = 503
    code = "throttle_unavailable"

    def __init__(self) -> None:
        super().__init__("Sign-in is briefly unavailable. Please try again in a minute.")


class Throttle(Protocol):
    async def reserve(self, limits: Sequence[Limit], now: datetime) -> Reservation:
        """Count one attempt under every limit in one atomic step, unless one
        of them is spent: then count nothing and say how long to wait."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """Give a granted attempt back: it succeeded and must not count."""
        ...

    async def reset(self, limit: Limit) -> None:
        """Forget every attempt counted under this limit."""
        ...

    async def close(self) -> None: ...


STORED_KEY_MAX = 200


class ThrottleHit(Base):
    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_key_created_at", "key", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(STORED_KEY_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DatabaseThrottle:
    # Hits are written in their own short transactions: a failed sign-in rolls
    # its request back, but the attempt must still count. The caller must not
    # hold SQLite's write lock in another session meanwhile.
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def reserve(self, limits: Sequence[Limit], now: datetime) -> Reservation:
        keyed = [(limit, _stored_key(limit.key)) for limit in limits]
        async with self._sessions() as session:
            # One writer per key at a time: SQLite's BEGIN IMMEDIATE (lib.db)
            # serializes every writer; PostgreSQL takes a transaction-scoped
            # advisory lock per key, in one order so that two never deadlock.
            if _dialect(session) == "postgresql":
                for key in sorted({key for _, key in keyed}):
                    await session.execute(select(func.pg_advisory_xact_lock(_lock_id(key))))
            wait = 0
            for limit, key in keyed:
                await session.execute(
                    delete(ThrottleHit).where(
                        ThrottleHit.key == key, ThrottleHit.created_at <= now - limit.window
                    )
                )
                wait = max(wait, await _wait_for(session, limit, key, now))
            if wait:
                await session.commit()
                return Reservation(tuple(limits), retry_after=wait)
            hits = [ThrottleHit(id=new_id(), key=key, created_at=now) for _, key in keyed]
            session.add_all(hits)
            await session.commit()
        return Reservation(tuple(limits), hit_ids=tuple(hit.id for hit in hits))

    async def release(self, reservation: Reservation) -> None:
        if not reservation.hit_ids:
            return
        async with self._sessions() as session:
            await session.execute(
                delete(ThrottleHit).where(ThrottleHit.id.in_(reservation.hit_ids))
            )
            await session.commit()

    async def reset(self, limit: Limit) -> None:
        async with self._sessions() as session:
            await session.execute(
                delete(ThrottleHit).where(ThrottleHit.key == _stored_key(limit.key))
            )
            await session.commit()

    async def close(self) -> None:
        return None


async def _wait_for(session: AsyncSession, limit: Limit, key: str, now: datetime) -> int:
    # The limit is spent while its max_attempts-th newest hit is inside the
    # window; the next attempt is allowed once that hit leaves it.
    spent_at = (
        await session.execute(
            select(ThrottleHit.created_at)
            .where(ThrottleHit.key == key, ThrottleHit.created_at > now - limit.window)
            .order_by(ThrottleHit.created_at.desc())
            .offset(limit.max_attempts - 1)
            .limit(1)
        )
    ).scalar_one_or_none()
    return 0 if spent_at is None else _seconds_until(spent_at + limit.window, now)


class RedisThrottle:
    """The same counts in Redis, through the `limits` library's moving window,
    whose `hit` checks and counts in one Lua script: atomic across processes."""

    def __init__(self, redis_url: str, *, key_prefix: str = "LIMITS") -> None:
        import coredis
        from coredis.retry import NoRetryPolicy
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        # The throttle owns the connection pool so that close() can release it:
        # `limits` never closes its connections. It hands the pool to coredis,
        # though its annotations only name scalar options. No retries: with
        # them one request could wait on a dead Redis several times over.
        self.key_prefix = key_prefix
        self._pool = coredis.ConnectionPool.from_url(
            redis_url,
            connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
            stream_timeout=REDIS_READ_TIMEOUT_SECONDS,
        )
        self._redis = coredis.Redis(connection_pool=self._pool, retry_policy=NoRetryPolicy())
        self._storage = RedisStorage(
            f"async+{redis_url}",
            connection_pool=self._pool,  # type: ignore[arg-type]
            retry_policy=NoRetryPolicy(),  # type: ignore[arg-type]
            key_prefix=key_prefix,
        )
        self._limiter = MovingWindowRateLimiter(self._storage)

    @staticmethod
    def _item(limit: Limit) -> RateLimitItem:
        seconds = int(limit.window.total_seconds())
        return RateLimitItemPerSecond(limit.max_attempts, seconds, namespace="portal")

    async def reserve(self, limits: Sequence[Limit], now: datetime) -> Reservation:
        async with _redis_errors():
            counted: list[Limit] = []
            for limit in limits:
                item = self._item(limit)
                if not await self._limiter.hit(item, limit.key):
                    # Counted under none: give back what the earlier limits took.
                    await self._give_back(counted)
                    stats = await self._limiter.get_window_stats(item, limit.key)
                    wait = max(1, math.ceil(stats.reset_time - time.time()))
                    return Reservation(tuple(limits), retry_after=wait)
                counted.append(limit)
        return Reservation(tuple(limits))

    async def release(self, reservation: Reservation) -> None:
        if reservation.granted:
            async with _redis_errors():
                await self._give_back(reservation.limits)

    async def _give_back(self, limits: Sequence[Limit]) -> None:
        # `limits` has no "un-hit": its moving window is a Redis list of hit
        # times, newest first. Popping the newest entry takes one attempt off
        # the count; any concurrent entry it may take instead of ours was made
        # within the same instant, so the window is the same either way.
        # tests/lib/test_throttle.py pins this layout down.
        for limit in limits:
            key = self._item(limit).key_for(limit.key)
            await self._redis.lpop(self._storage.bridge.prefixed_key(key))

    async def reset(self, limit: Limit) -> None:
        async with _redis_errors():
            await self._limiter.clear(self._item(limit), limit.key)

    async def close(self) -> None:
        self._pool.disconnect()


@asynccontextmanager
async def _redis_errors() -> AsyncIterator[None]:
    """Redis down or slow becomes a clear 503 instead of a 500."""
    from coredis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError, TimeoutError):
        raise ThrottleUnavailable() from None


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


def _lock_id(key: str) -> int:
    # pg_advisory_xact_lock takes a signed 64-bit number.
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def _stored_key(key: str) -> str:
    # A key may hold what a visitor typed (an unknown login, for one): it can
    # outgrow the column, or hold a NUL, which PostgreSQL cannot store in text.
    # A digest keeps such a key unique and storable.
    if len(key) <= STORED_KEY_MAX and "\x00" not in key:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _seconds_until(moment: datetime, now: datetime) -> int:
    seconds = (moment - now).total_seconds()
    return max(1, int(seconds) + (0 if seconds.is_integer() else 1))


def redis_key_prefix(database_url: str) -> str:
    """Counts belong to the accounts of one database: portals that share a
    Redis but not a database (staging and production, say) never share them."""
    return "portal:" + hashlib.sha256(database_url.encode()).hexdigest()[:16]


def create_throttle(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Throttle:
    if settings.redis_url:
        return RedisThrottle(settings.redis_url, key_prefix=redis_key_prefix(settings.database_url))
    return DatabaseThrottle(sessions)
