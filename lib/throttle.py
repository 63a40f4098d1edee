"""Counting failed attempts where every server process sees them.

The database keeps the counts by default; with `REDIS_URL` set they live in
Redis through the `limits` library. Both count failures in a moving window.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from limits import RateLimitItem, RateLimitItemPerSecond
from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from lib.db import Base, UTCDateTime, new_id

if TYPE_CHECKING:
    from lib.config import Settings


@dataclass(frozen=True)
class Limit:
    key: str
    max_failures: int
    window: timedelta


class Throttle(Protocol):
    async def blocked_for(self, limits: Sequence[Limit], now: datetime) -> int:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        ...

    async def record_failure(self, limits: Sequence[Limit], now: datetime) -> None: ...

    async def reset(self, limit: Limit) -> None: ...

    async def close(self) -> None: ...


STORED_KEY_MAX = 200


class ThrottleHit(Base):
    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_key_created_at", "key", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(STORED_KEY_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DatabaseThrottle:
    # Hits are written in their own short transactions: a failed login rolls
    # its request back, but the failure must still count.
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions

    async def blocked_for(self, limits: Sequence[Limit], now: datetime) -> int:
        wait = 0
        async with self._read_sessions() as session:
            for limit in limits:
                since = now - limit.window
                count, oldest = (
                    await session.execute(
                        select(func.count(), func.min(ThrottleHit.created_at)).where(
                            ThrottleHit.key == _stored_key(limit.key),
                            ThrottleHit.created_at > since,
                        )
                    )
                ).one()
                if count >= limit.max_failures and oldest is not None:
                    wait = max(wait, _seconds_until(oldest + limit.window, now))
        return wait

    async def record_failure(self, limits: Sequence[Limit], now: datetime) -> None:
        async with self._sessions() as session:
            for limit in limits:
                key = _stored_key(limit.key)
                await session.execute(
                    delete(ThrottleHit).where(
                        ThrottleHit.key == key,
                        ThrottleHit.created_at <= now - limit.window,
                    )
                )
                session.add(ThrottleHit(key=key, created_at=now))
            await session.commit()

    async def reset(self, limit: Limit) -> None:
        async with self._sessions() as session:
            await session.execute(
                delete(ThrottleHit).where(ThrottleHit.key == _stored_key(limit.key))
            )
            await session.commit()

    async def close(self) -> None:
        return None


class RedisThrottle:
    """The same counts in Redis, through the `limits` library's moving window."""

    def __init__(self, redis_url: str, *, key_prefix: str = "LIMITS") -> None:
        import coredis
        from limits.aio.strategies import MovingWindowRateLimiter
        from limits.storage import storage_from_string

        # The throttle owns the connection pool so that close() can release it:
        # `limits` never closes its connections. It hands the pool to coredis,
        # though its annotations only name scalar options.
        self.key_prefix = key_prefix
        self._pool = coredis.ConnectionPool.from_url(redis_url)
        self._storage = storage_from_string(
            f"async+{redis_url}",
            connection_pool=self._pool,  # type: ignore[arg-type]
            key_prefix=key_prefix,
        )
        self._limiter = MovingWindowRateLimiter(self._storage)

    @staticmethod
    def _item(limit: Limit) -> RateLimitItem:
        seconds = int(limit.window.total_seconds())
        return RateLimitItemPerSecond(limit.max_failures, seconds, namespace="portal")

    async def blocked_for(self, limits: Sequence[Limit], now: datetime) -> int:
        wait = 0
        for limit in limits:
            item = self._item(limit)
            if not await self._limiter.test(item, limit.key):
                stats = await self._limiter.get_window_stats(item, limit.key)
                wait = max(wait, max(1, math.ceil(stats.reset_time - time.time())))
        return wait

    async def record_failure(self, limits: Sequence[Limit], now: datetime) -> None:
        for limit in limits:
            await self._limiter.hit(self._item(limit), limit.key)

    async def reset(self, limit: Limit) -> None:
        await self._limiter.clear(self._item(limit), limit.key)

    async def close(self) -> None:
        self._pool.disconnect()


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


def create_throttle(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    read_sessions: async_sessionmaker[AsyncSession],
) -> Throttle:
    if settings.redis_url:
        return RedisThrottle(settings.redis_url)
    return DatabaseThrottle(sessions, read_sessions)
