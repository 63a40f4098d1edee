"""The long-lived parts of a running portal, built once per process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lib.clock import Clock, SystemClock
from lib.config import Settings
from lib.db import create_engine, create_sessionmaker
from lib.mail import Mailer, create_mailer
from lib.payments.gateway import PaymentGateway
from lib.payments.simulator import Simulator
from lib.security import AccessTokens, PasswordHashing, Role
from lib.throttle import Throttle, create_throttle


@dataclass(frozen=True)
class CurrentUser:
    id: str
    username: str
    role: Role


UserLoader = Callable[[AsyncSession, str], Awaitable[CurrentUser | None]]


@dataclass
class Portal:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    passwords: PasswordHashing
    tokens: AccessTokens
    throttle: Throttle
    clock: Clock = field(default_factory=SystemClock)
    load_user: UserLoader | None = None
    # Set when the app is built: the Stripe gateway, and the local simulator
    # when no Stripe key is configured.
    payments: PaymentGateway | None = None
    simulator: Simulator | None = None
    mailer: Mailer | None = None

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Portal:
        engine = create_engine(settings.database_url)
        sessions = create_sessionmaker(engine)
        read_sessions = create_sessionmaker(engine, read_only=True)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            read_sessions=read_sessions,
            passwords=PasswordHashing(
                time_cost=settings.argon2_time_cost,
                memory_cost=settings.argon2_memory_cost,
                parallelism=settings.argon2_parallelism,
            ),
            tokens=AccessTokens(
                settings.secret_key, ttl=timedelta(seconds=settings.access_token_ttl_seconds)
            ),
            throttle=create_throttle(settings, sessions),
            clock=clock or SystemClock(),
            mailer=create_mailer(settings.smtp_url, settings.mail_dir),
        )

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
        await self.engine.dispose()
