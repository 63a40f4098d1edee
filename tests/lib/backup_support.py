"""Databases and readers shared by the export/import tests."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection, make_url

from functions import demo
from functions.checkout.models import Refund
from functions.models import metadata
from functions.router import create_app
from functions.runtime import build_portal
from lib.backup import Summary, export_database, import_database
from lib.clock import FrozenClock
from lib.db import create_engine
from lib.migrate import current_revision, known_revisions, upgrade
from lib.runtime import Portal
from lib.security import Role
from tests.conftest import IN_CI, _admin_sync, postgres_url
from tests.conftest import test_settings as settings_for
from tests.factories import Factory
from tests.functions.checkout.support import pay_on_page, session_id_of, simulator_of

EXPORTED_AT = datetime(2026, 1, 5, 12, 30, 15, 250000, tzinfo=UTC)
HEAD = known_revisions()[0]
# Microseconds and a moment that is not midnight: precision survives the trip.
START = datetime(2026, 1, 5, 9, 15, 30, 123456, tzinfo=UTC)
ODD_PAYLOAD = {
    "text": 'María → 東京 🎓 "quoted" \\ back\nslash',
    "looks_like_a_date": "2026-01-05T09:00:00+00:00",
    "numbers": [0, -1, 2**53, 1.5, 1e-7],
    "flags": [True, False, None],
    "nested": {"empty": {}, "list": [], "deep": {"a": [{"b": "c"}]}},
}
_names = itertools.count(1)

FreshPostgres = Callable[[], Awaitable[str]]


@asynccontextmanager
async def postgres_databases() -> AsyncIterator[FreshPostgres]:
    """Makes empty PostgreSQL databases (not even a schema), dropped at the end.
    A test module turns it into its `fresh_postgres` fixture."""
    server = postgres_url()
    made: list[str] = []

    async def make() -> str:
        name = f"portal_backup_{os.getpid()}_{next(_names)}"
        try:
            _admin_sync(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _admin_sync(server, f'CREATE DATABASE "{name}"')
        except OSError as exc:
            message = f"PostgreSQL at TEST_DATABASE_URL is not reachable: {exc}"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        made.append(name)
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        for name in made:
            _admin_sync(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def empty_database(backend: str, tmp_path: Path, fresh_postgres: FreshPostgres) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'empty-{next(_names)}.db'}"
    return await fresh_postgres()


async def migrated(url: str, revision: str = "head") -> str:
    # migrations/env.py runs an event loop of its own, so not on this one.
    await asyncio.to_thread(upgrade, url, revision)
    return url


async def export_to(path: Path, url: str) -> Summary:
    engine = create_engine(url)
    try:
        with path.open("wb") as stream:
            return await export_database(engine, metadata, stream, now=EXPORTED_AT)
    finally:
        await engine.dispose()


async def import_from(path: Path, url: str) -> Summary:
    engine = create_engine(url)
    try:
        with path.open("rb") as stream:
            return await import_database(engine, stream)
    finally:
        await engine.dispose()


async def inspected(url: str, look: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def revision_of(connection: Connection) -> str | None:
    return current_revision(connection)


Rows = dict[str, list[tuple[tuple[str, Any], ...]]]


async def every_row(url: str) -> Rows:
    """Every row of every table, read through the models' types, each value
    with its Python type (so 1 and True differ), in primary-key order. Derived
    tables (the catalog version) are made afresh on import, not copied."""
    engine = create_engine(url)
    try:
        rows: Rows = {}
        async with engine.connect() as connection:
            for table in metadata.sorted_tables:
                if table.info.get("derived"):
                    continue
                result = await connection.execute(select(table))
                rows[table.name] = sorted(
                    tuple((type(value).__name__, value) for value in row) for row in result
                )
        return rows
    finally:
        await engine.dispose()


async def row_counts(url: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in (await every_row(url)).items()}


async def filled_database(tmp_path: Path) -> str:
    """A migrated SQLite database with the demo data and rows in every table,
    made through the real services and the payment flow."""
    url = await migrated(f"sqlite:///{tmp_path / 'source.db'}")
    clock = FrozenClock(START)
    portal = build_portal(settings_for(url, tmp_path), clock=clock)
    app = create_app(portal=portal)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await _fill(portal, Factory(portal, client), client, clock)
    finally:
        await portal.dispose()
    return url


async def _fill(
    portal: Portal, factory: Factory, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    async with portal.transaction() as session:
        await demo.load(session, portal)
    clock.advance(microseconds=654321)
    student = (await factory.signed_in(role=Role.STUDENT)).user  # a refresh token
    bad = await client.post("/api/auth/login", json={"login": "sam", "password": "wrong-one!"})
    assert bad.status_code == 401  # a throttle hit
    await factory.registered(full_name="Zoë Ørsted")  # a welcome message in the outbox
    await factory.queued(recipient=student, kind="test.odd", payload=ODD_PAYLOAD)
    paid_course = await factory.course(price=12900)
    result = await factory.checked_out(student=student, courses=[paid_course])
    assert result.checkout_url is not None
    assert (await pay_on_page(client, session_id_of(result.checkout_url))).status_code == 303
    assert await simulator_of(portal).deliver_pending() == 1  # a Stripe event, a paid payment
    full = await factory.course(capacity=1, price=0)
    await factory.enrollment(student=await factory.user(), course=full)
    await factory.waitlisted(student=student, course=full)
    clock.advance(days=1)
    await factory.reserved(student=student)  # a pending payment, due in a week
    await factory.in_cart(student=student, courses=[await factory.course(payment_due_days=7)])
    async with portal.transaction() as session:  # a refund owed, with an error to retry
        session.add(
            Refund(
                payment_id="pay_elsewhere",
                payment_intent="pi_elsewhere",
                amount=1500,
                reason="orphan",
                idempotency_key="refund:orphan:cs_elsewhere",
                status="owed",
                attempts=1,
                last_error="APIConnectionError: Stripe did not answer",
                created_at=clock.now(),
                next_attempt_at=clock.now(),
            )
        )
