"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from TEST_DATABASE_URL. Without it the PostgreSQL half is
skipped with a reason, except under CI=true, where a missing or unreachable
PostgreSQL fails the run: CI never passes by skipping it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from functions.models import metadata
from functions.router import create_app
from lib.clock import FrozenClock
from lib.config import Settings
from lib.db import create_engine
from lib.runtime import Portal
from tests.factories import Factory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789abcdef"
BACKENDS = ["sqlite", "postgresql"]


def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        if IN_CI:
            pytest.fail("CI=true but TEST_DATABASE_URL is not set: PostgreSQL tests cannot run")
        pytest.skip("TEST_DATABASE_URL is not set; PostgreSQL tests skipped outside CI")
    return url


_pg_ready: dict[str, bool] = {}


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            if url not in _pg_ready:
                await conn.run_sync(metadata.drop_all)
                await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
                await conn.run_sync(metadata.create_all)
                _pg_ready[url] = True
            else:
                names = ", ".join(t.name for t in metadata.sorted_tables)
                await conn.execute(text(f"TRUNCATE {names} CASCADE"))
    finally:
        await engine.dispose()


async def _create_sqlite(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> str:
    """A fresh, empty database of the given backend with the current schema."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'portal.db'}"
        await _create_sqlite(url)
        return url
    url = postgres_url()
    try:
        await _reset_postgres(url)
    except OSError as exc:
        message = f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return test_settings(database_url, tmp_path)


def test_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    base = Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        env="test",
        site_url="http://testserver",
        mail_dir=tmp_path / "mail",
        argon2_time_cost=1,
        argon2_memory_cost=8,
        argon2_parallelism=1,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture
async def portal(settings: Settings, clock: FrozenClock) -> AsyncIterator[Portal]:
    built = Portal.build(settings, clock=clock)
    try:
        yield built
    finally:
        await built.dispose()


@pytest.fixture
def app(portal: Portal):  # type: ignore[no-untyped-def]
    return create_app(portal=portal)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def factory(portal: Portal, client: httpx.AsyncClient) -> Factory:
    return Factory(portal, client)
