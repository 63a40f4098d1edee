"""The long-lived parts of a running portal, built once per process.

`functions.runtime.build_portal` is the one place that builds a Portal; the web
app, the scheduler, the CLI and each Lambda function only use it, and nothing
changes it afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lib.caching import VersionedPages
from lib.clock import Clock
from lib.config import Settings
from lib.fastreads import Reads
from lib.mail import Mailer
from lib.payments.gateway import PaymentGateway
from lib.payments.simulator import Simulator
from lib.security import AccessTokens, PasswordHashing, Role
from lib.throttle import Throttle


@dataclass(frozen=True)
class Profile:
    """The caller's account as read to authenticate them: "who am I" answers
    from it without reading the row a second time."""

    email: str
    full_name: str
    email_verified: bool
    created_at: datetime


@dataclass(frozen=True)
class CurrentUser:
    id: str
    username: str
    role: Role
    # None for a caller made up outside a request (jobs, tests).
    profile: Profile | None = field(default=None, compare=False)


# (fast reads, user id, when the access token was issued) -> the caller, or
# None when the account is gone, deactivated, or its sessions ended after that.
UserLoader = Callable[[Reads, str, datetime], Awaitable[CurrentUser | None]]


@dataclass(frozen=True)
class Portal:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    passwords: PasswordHashing
    tokens: AccessTokens
    throttle: Throttle
    clock: Clock
    payments: PaymentGateway
    mailer: Mailer
    load_user: UserLoader
    # A request's reads sent by the driver (`lib.fastreads`), on the read engine.
    reads: Reads
    # The local stand-in for Stripe, when no Stripe key is configured: the
    # gateway talks to it, and it serves its hosted checkout page.
    simulator: Simulator | None = None
    # Page caches by the data version they follow (`lib.httpcache`), e.g. "catalog".
    caches: Mapping[str, VersionedPages] = field(default_factory=dict)
    # Where `read_sessions` run, when not on `engine`: on SQLite, an engine
    # whose reads stay on the event loop's thread (`lib.db.create_read_engine`).
    read_engine: AsyncEngine | None = None

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine this portal sends statements through, the writer first."""
        if self.read_engine is None or self.read_engine is self.engine:
            return (self.engine,)
        return (self.engine, self.read_engine)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work outside a request (CLI, jobs): commit on success."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        if self.simulator is not None:
            await self.simulator.close()
        await self.throttle.close()
        self.reads.close()
        for engine in self.engines:
            await engine.dispose()
        self.passwords.close()
