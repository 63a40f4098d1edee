"""Reads sent by the driver (`lib.fastreads`): the same rows as SQLAlchemy's
own execution, on SQLite and PostgreSQL, counted, never writing, seeing the
latest commit, and a GET that reads only this way opens no session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Select, bindparam, event, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from functions.auth.models import User
from functions.catalog.models import Course, Enrollment
from functions.catalog.reads import course_select
from lib import fastreads
from lib.db import counting_statements, create_engine, create_sessionmaker
from lib.fastreads import FAST_READS_KEY, Reads, read_rows
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory

users, courses, enrollments = User.__table__, Course.__table__, Enrollment.__table__


def _mixed() -> Select[Any]:
    """Every kind of value and parameter a read path uses: a caller's list,
    the statement's own list, a datetime, a flag, a labelled expression, a
    column named twice, a limit."""
    return (
        select(
            users.c.id,
            users.c.username,
            users.c.is_active,
            users.c.created_at,
            users.c.email_verified_at,
            func.upper(users.c.username).label("shout"),
            users.c.id,
            literal(3).label("three"),
        )
        .where(
            users.c.id.in_(bindparam("ids", expanding=True)),
            users.c.role.in_(["student", "instructor"]),
            users.c.created_at <= bindparam("before"),
        )
        .order_by(users.c.username)
        .limit(50)
    )


MIXED = _mixed()


async def _by_sqlalchemy(engine: AsyncEngine, statement: Select[Any], params: Any) -> list[Any]:
    async with engine.connect() as connection:
        result = await connection.execute(statement, params)
        return [(tuple(row), dict(row._mapping)) for row in result.all()]


async def test_rows_are_the_same_as_sqlalchemys(factory: Factory, portal: Portal) -> None:
    # GIVEN users of each role, one of them never confirmed
    made = [await factory.user(role=role) for role in Role]
    made.append(await factory.user(verified=False))
    ids = [user.id for user in made] + ["nobody"]
    reads = Reads(portal.read_engine or portal.engine)
    try:
        for subset in (ids, ids[:2], ids[:1]):
            params = {"ids": subset, "before": datetime.now(UTC)}
            # WHEN the same statement is read by the driver and by SQLAlchemy
            fast = await reads.rows(MIXED, params)
            expected = await _by_sqlalchemy(portal.engine, MIXED, params)
            # THEN the rows, their types and their names agree
            assert [(tuple(row), row._mapping) for row in fast] == expected
            assert all(isinstance(row.created_at, datetime) for row in fast)
            assert all(row.created_at.tzinfo is UTC for row in fast)
            assert {type(row.is_active) for row in fast} == {bool}
            assert [row.shout for row in fast] == [row.username.upper() for row in fast]
        assert len(fast) == 1
    finally:
        reads.close()


async def test_a_read_path_with_json_and_lists_agrees(factory: Factory, portal: Portal) -> None:
    # GIVEN a student enrolled in a course that has sessions
    student = await factory.user()
    course = await factory.course(code="FAST-1")
    enrolled = await factory.enrollment(student=student, course=course)
    statement = course_select(portal.engine.dialect.name, signed_in=True).where(
        courses.c.id.in_(bindparam("ids", expanding=True))
    )
    params = {"ids": [course.id], "student_id": student.id}
    reads = Reads(portal.read_engine or portal.engine)
    try:
        fast = await reads.rows(statement, params)
        expected = await _by_sqlalchemy(portal.engine, statement, params)
    finally:
        reads.close()
    assert [(tuple(row), row._mapping) for row in fast] == expected
    assert fast[0].mine_id == enrolled.id


async def test_a_statement_is_compiled_once_per_length_of_its_lists(
    factory: Factory, portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[int] = []
    original = fastreads.Plan.__init__

    def counted(self: fastreads.Plan, *args: Any) -> None:
        compiled.append(1)
        original(self, *args)

    monkeypatch.setattr(fastreads.Plan, "__init__", counted)
    reads = Reads(portal.read_engine or portal.engine)
    now = datetime.now(UTC)
    try:
        for ids in (["a"], ["b"], ["a", "b"], ["c", "d"], ["e"]):
            await reads.rows(MIXED, {"ids": ids, "before": now})
    finally:
        reads.close()
    assert len(compiled) == 2


async def test_fast_reads_are_counted_and_refuse_to_write(portal: Portal) -> None:
    with counting_statements() as counter:
        assert await portal.reads.scalar(select(literal(7))) == 7
        assert await portal.reads.scalar(select(func.count()).select_from(users)) == 0
    assert counter[0] == 2
    if portal.engine.dialect.name == "sqlite":
        with pytest.raises(Exception, match="readonly"):
            await portal.reads.rows(text("DELETE FROM users"))  # type: ignore[arg-type]


async def test_a_fast_read_sees_the_latest_commit(factory: Factory, portal: Portal) -> None:
    user = await factory.user()
    statement = select(users.c.full_name).where(users.c.id == bindparam("id"))
    assert await portal.reads.scalar(statement, {"id": user.id}) == user.full_name
    for name in ("Renamed Once", "Renamed Twice"):
        async with portal.transaction() as session:
            await session.execute(
                text("UPDATE users SET full_name = :n WHERE id = :id"), {"n": name, "id": user.id}
            )
        assert await portal.reads.scalar(statement, {"id": user.id}) == name


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_broken_postgresql_connection_is_replaced(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    reads = Reads(engine)
    try:
        backend_pid = select(func.pg_backend_pid())
        first = await reads.scalar(backend_pid)
        # GIVEN the server ends the pooled connection under the portal
        other = create_engine(database_url)
        async with other.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await other.dispose()
        # WHEN the next read fails on it
        with pytest.raises(Exception):  # noqa: B017, PT011 - asyncpg's own error
            await reads.scalar(backend_pid)
        # THEN the one after gets a new connection instead of the dead one again
        assert await reads.scalar(backend_pid) != first
    finally:
        reads.close()
        await engine.dispose()


async def test_a_signed_in_get_of_fast_reads_opens_no_session(
    factory: Factory, client: httpx.AsyncClient, portal: Portal
) -> None:
    # GIVEN a signed-in student
    student = await factory.signed_in()
    through_engines: list[str] = []

    def note(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        through_engines.append(statement)

    for engine in portal.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        # WHEN they ask who they are
        response = await client.get("/api/auth/me", headers=student.headers)
    finally:
        for engine in portal.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", note)
    # THEN one statement answered, sent by the driver: no engine saw any
    assert response.status_code == 200, response.text
    assert response.headers["X-Portal-Statements"] == "1"
    assert through_engines == []


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_read_session_lends_its_connection_instead_of_taking_a_second(
    database_url: str,
) -> None:
    # GIVEN a pool of one connection, held by a request's read session
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=2)
    reads = Reads(engine)
    sessions = create_sessionmaker(engine, read_only=True, info={FAST_READS_KEY: reads})
    try:
        async with sessions() as session:
            assert await session.scalar(select(literal(1))) == 1
            # WHEN a fast read runs in that session
            # THEN it runs on the same connection instead of waiting for the pool
            assert await read_rows(session, select(literal(2))) == [(2,)]
        # AND without a session it takes one from the pool as usual
        assert await reads.scalar(select(literal(3))) == 3
    finally:
        reads.close()
        await engine.dispose()
