"""Counting the SQL statements a request costs: the `X-Portal-Statements`
header that tests and the benchmark read (on in tests, off by default)."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from sqlalchemy import text

from functions.router import create_app
from lib.config import Settings
from lib.db import counting_statements
from lib.http import STATEMENTS_HEADER
from lib.runtime import Portal
from tests.factories import Factory


async def test_health_costs_one_statement(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.headers[STATEMENTS_HEADER] == "1"


async def test_the_count_grows_with_the_work(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN a signed-in student: reading who they are costs the user's row
    student = await factory.user()
    headers = factory.headers_for(student)
    # WHEN they ask who they are, and the anonymous health check runs
    me = await client.get("/api/auth/me", headers=headers)
    health = await client.get("/api/health")
    # THEN each answer carries its own count, and /me costs more than SELECT 1
    assert me.status_code == 200
    assert int(me.headers[STATEMENTS_HEADER]) > int(health.headers[STATEMENTS_HEADER])


async def test_transaction_control_is_not_counted(portal: Portal) -> None:
    # A writing session on SQLite begins with BEGIN IMMEDIATE: not a query.
    with counting_statements() as counter:
        async with portal.transaction() as session:
            await session.execute(text("SELECT 1"))
    assert counter[0] == 1


@pytest.mark.parametrize(("raw", "expected"), [("", False), ("1", True), ("off", False)])
def test_the_setting_comes_from_the_environment(raw: str, expected: bool) -> None:
    env = {"PORTAL_COUNT_STATEMENTS": raw, "SECRET_KEY": "x" * 40}
    assert Settings.from_env(env).count_statements is expected


async def test_without_the_setting_answers_carry_no_count(
    portal: Portal, client: httpx.AsyncClient
) -> None:
    quiet = create_app(
        portal=replace(portal, settings=replace(portal.settings, count_statements=False))
    )
    transport = httpx.ASGITransport(app=quiet)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        response = await other.get("/api/health")
    assert response.status_code == 200
    assert STATEMENTS_HEADER not in response.headers
