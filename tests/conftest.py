"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from TEST_DATABASE_URL. Without it the PostgreSQL half is
skipped with a reason, except under CI=true, where a missing or unreachable
PostgreSQL fails the run: CI never passes by skipping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import coredis
import httpx
import pytest
from sqlalchemy import text

from functions.models import metadata
from functions.router import create_app
from functions.runtime import build_portal
from lib.caching import catalog_version_rows, catalog_versions
from lib.clock import FrozenClock
from lib.config import Settings
from lib.db import create_engine
from lib.payments.simulator import Deliver
from lib.runtime import Portal
from lib.throttle import RedisThrottle
from tests.factories import Factory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789abcdef"
BACKENDS = ["sqlite", "postgresql"]
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


_own_databases: dict[str, str] = {}


def postgres_url() -> str:
    """A PostgreSQL database of this test run's own, on TEST_DATABASE_URL's server.

    Each pytest process creates `<database>_<pid>` and drops it at the end, so
    runs that share one server (several developers, CI) never see each other's rows.
    """
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        if IN_CI:
            pytest.fail("CI=true but TEST_DATABASE_URL is not set: PostgreSQL tests cannot run")
        pytest.skip("TEST_DATABASE_URL is not set; PostgreSQL tests skipped outside CI")
    if url not in _own_databases:
        try:
            _own_databases[url] = _create_own_database(url)
        except OSError as exc:
            message = f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc}"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
    return _own_databases[url]


def _admin_dsn(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    base = parts.path.lstrip("/") or "postgres"
    name = f"{base}_{os.getpid()}"
    return parts._replace(path=f"/{name}").geturl(), name


def _create_own_database(url: str) -> str:
    own_url, name = _admin_dsn(url)
    _admin_sync(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return own_url


def _admin_sync(url: str, *statements: str) -> None:
    # Called from async fixtures too: run on a loop of its own in a thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _run_admin(url, *statements)).result()


async def _run_admin(url: str, *statements: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for url, own_url in _own_databases.items():
        name = urlsplit(own_url).path.lstrip("/")
        with contextlib.suppress(OSError):
            _admin_sync(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_pg_ready: dict[str, bool] = {}


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            if url not in _pg_ready:
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
                await conn.run_sync(metadata.drop_all)
                await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
                await conn.run_sync(metadata.create_all)
                _pg_ready[url] = True
            else:
                names = ", ".join(t.name for t in metadata.sorted_tables)
                await conn.execute(text(f"TRUNCATE {names} CASCADE"))
                await conn.execute(catalog_versions.insert(), catalog_version_rows())
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
        simulator_db=tmp_path / "stripe-simulator.db",
        simulator_auto_deliver=False,
        count_statements=True,
        catalog_version_ttl_ms=0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def deliver_webhook() -> Deliver | None:
    """Where the payment simulator sends its events: None is the portal's own
    webhook, in process. A test module that stands between them overrides this."""
    return None


@pytest.fixture
async def portal(
    settings: Settings, clock: FrozenClock, deliver_webhook: Deliver | None
) -> AsyncIterator[Portal]:
    built = build_portal(settings, clock=clock, deliver_webhook=deliver_webhook)
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


@pytest.fixture
def redis_url() -> str:
    """Redis from TEST_REDIS_URL (default: the local one). Unreachable, it skips
    the test with a reason, except under CI=true, where it fails."""
    url = os.environ.get("TEST_REDIS_URL") or DEFAULT_TEST_REDIS_URL
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            pass
    except OSError as exc:
        message = f"Redis at {url} is not reachable: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
async def redis_throttle(redis_url: str) -> AsyncIterator[RedisThrottle]:
    """A Redis throttle whose keys live under a prefix of this test alone and
    are deleted afterwards."""
    prefix = f"portal-test-{uuid.uuid4().hex}"
    throttle = RedisThrottle(redis_url, key_prefix=prefix)
    try:
        yield throttle
    finally:
        await throttle.close()
        await _delete_redis_keys(redis_url, f"{prefix}:*")


async def _delete_redis_keys(url: str, pattern: str) -> None:
    client = coredis.Redis.from_url(url)
    try:
        keys: list[str | bytes] = [key async for key in client.scan_iter(match=pattern)]
        if keys:
            await client.delete(keys)
    finally:
        client.connection_pool.disconnect()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Playwright's sync API keeps an event loop running in the main thread from
    # the first browser test to the end of the session, and every asyncio test
    # after that would fail to start its own. Browser tests therefore run last.
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
