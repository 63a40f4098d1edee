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
    # GIVEN a signed-in student: their notifications cost the caller's row, a page and a count
    student = await factory.user()
    headers = factory.headers_for(student)
    # WHEN they list their notifications, and the anonymous health check runs
    listed = await client.get("/api/messages/notifications", headers=headers)
    health = await client.get("/api/health")
    # THEN each answer carries its own count, and the list costs more than SELECT 1
    assert listed.status_code == 200
    assert int(listed.headers[STATEMENTS_HEADER]) > int(health.headers[STATEMENTS_HEADER])


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


async def test_who_am_i_costs_one_statement(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN a signed-in student
    student = await factory.user(full_name="Ada Lovelace")
    # WHEN they ask who they are
    me = await client.get("/api/auth/me", headers=factory.headers_for(student))
    # THEN the row that authenticates them answers too: one statement
    assert me.status_code == 200
    assert me.json()["user"]["full_name"] == "Ada Lovelace"
    assert me.headers[STATEMENTS_HEADER] == "1"
