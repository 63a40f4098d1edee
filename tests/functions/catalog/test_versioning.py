"""The catalog version: every kind of change to what the catalog shows bumps
the changed course's shard, in the same transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from functions.catalog.models import EnrollmentStatus
from lib.caching import CATALOG_VERSION, catalog_versions
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory


async def shards(portal: Portal) -> dict[int, int]:
    async with portal.read_sessions() as session:
        rows = await session.execute(select(catalog_versions))
        return {int(shard): int(version) for shard, version in rows}


async def version(portal: Portal) -> int:
    async with portal.read_sessions() as session:
        return int(await session.scalar(CATALOG_VERSION) or 0)


def shard_of(course_id: str) -> int:
    return "0123456789abcdef".index(course_id[-1])


async def execute(portal: Portal, statement: str, **params: object) -> None:
    async with portal.transaction() as session:
        await session.execute(text(statement), params)


async def bumped(portal: Portal, before: dict[int, int]) -> dict[int, int]:
    after = await shards(portal)
    return {s: after.get(s, 0) - before.get(s, 0) for s in after if after[s] != before.get(s)}


async def test_a_new_database_has_sixteen_shards(portal: Portal) -> None:
    assert sorted(await shards(portal)) == list(range(16))


async def test_each_course_change_bumps_its_own_shard(portal: Portal, factory: Factory) -> None:
    # GIVEN the shards before a course exists
    before = await shards(portal)
    # WHEN a course is created (with its sessions)
    course = await factory.course()
    # THEN its shard, and only its shard, moved
    assert set(await bumped(portal, before)) == {shard_of(course.id)}
    for statement in (
        "UPDATE courses SET capacity = capacity + 1 WHERE id = :id",
        "UPDATE course_sessions SET location = 'Hall' WHERE course_id = :id",
        "INSERT INTO course_sessions (id, course_id, weekday, start_time, end_time, location) "
        "VALUES ('s-extra', :id, 2, '09:00:00', '10:00:00', 'Lab')",
        "DELETE FROM course_sessions WHERE course_id = :id",
        "DELETE FROM courses WHERE id = :id",
    ):
        before = await shards(portal)
        await execute(portal, statement, id=course.id)
        assert set(await bumped(portal, before)) == {shard_of(course.id)}, statement


async def test_enrollments_bump_on_insert_status_change_and_delete_only(
    portal: Portal, factory: Factory
) -> None:
    course = await factory.course(capacity=5)
    student = await factory.user()
    shard = shard_of(course.id)
    # WHEN a seat is held: the enrollment and the course's seats both changed
    before = await shards(portal)
    enrollment = await factory.enrollment(student=student, course=course)
    assert set(await bumped(portal, before)) == {shard}
    # WHEN only its status changes
    before = await shards(portal)
    await execute(
        portal,
        "UPDATE enrollments SET status = :status WHERE id = :id",
        status=EnrollmentStatus.ACTIVE.value,
        id=enrollment.id,
    )
    assert await bumped(portal, before) == {shard: 1}
    # WHEN something the catalog does not show changes
    before = await shards(portal)
    await execute(
        portal, "UPDATE enrollments SET queue_number = 7 WHERE id = :id", id=enrollment.id
    )
    await execute(portal, "UPDATE enrollments SET status = status WHERE id = :id", id=enrollment.id)
    assert await bumped(portal, before) == {}
    # WHEN it is deleted
    before = await shards(portal)
    await execute(portal, "DELETE FROM enrollments WHERE id = :id", id=enrollment.id)
    assert await bumped(portal, before) == {shard: 1}


async def test_an_instructors_new_name_bumps_their_courses_only(
    portal: Portal, factory: Factory
) -> None:
    instructor = await factory.user(role=Role.INSTRUCTOR)
    courses = [await factory.course(instructor=instructor) for _ in range(3)]
    other = await factory.user(role=Role.STUDENT)
    before = await shards(portal)
    await execute(portal, "UPDATE users SET full_name = 'Dr New' WHERE id = :id", id=instructor.id)
    assert set(await bumped(portal, before)) == {shard_of(c.id) for c in courses}
    # A student's name, or the same name again, is not in the catalog
    before = await shards(portal)
    await execute(portal, "UPDATE users SET full_name = 'Someone' WHERE id = :id", id=other.id)
    await execute(portal, "UPDATE users SET full_name = 'Dr New' WHERE id = :id", id=instructor.id)
    assert await bumped(portal, before) == {}


async def test_a_rolled_back_change_bumps_nothing(portal: Portal, factory: Factory) -> None:
    course = await factory.course()
    before = await version(portal)
    async with portal.sessions() as session:
        await session.execute(
            text("UPDATE courses SET capacity = 99 WHERE id = :id"), {"id": course.id}
        )
        await session.rollback()
    assert await version(portal) == before


async def test_one_transaction_bumps_each_shard_once(portal: Portal, factory: Factory) -> None:
    course = await factory.course()
    before = await shards(portal)
    async with portal.transaction() as session:
        for capacity in (20, 21, 22):
            await session.execute(
                text("UPDATE courses SET capacity = :c WHERE id = :id"),
                {"c": capacity, "id": course.id},
            )
    changed = await bumped(portal, before)
    # PostgreSQL bumps once at commit; SQLite once per row change.
    assert set(changed) == {shard_of(course.id)}
    assert changed[shard_of(course.id)] in {1, 3}


async def test_the_version_survives_a_table_emptied_of_its_rows(
    portal: Portal, factory: Factory
) -> None:
    # A restore or a test truncation may leave the table without rows: the
    # triggers insert the shard they need instead of failing.
    await execute(portal, "DELETE FROM catalog_versions")
    course = await factory.course()
    assert set(await shards(portal)) == {shard_of(course.id)}


# SQLite has one writer at a time: only PostgreSQL has writers to cross.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_writers_crossing_shards_in_opposite_orders_do_not_wait_for_each_other(
    portal: Portal, factory: Factory
) -> None:
    """On PostgreSQL the shards are bumped at commit, in shard order: two
    transactions that touch shards a then b and b then a never hold one shard
    while waiting for the other (which would deadlock)."""
    instructor = await factory.user(role=Role.INSTRUCTOR)
    by_shard: dict[int, list[str]] = {}
    while sum(len(ids) >= 2 for ids in by_shard.values()) < 2:
        course = await factory.course(instructor=instructor)
        by_shard.setdefault(shard_of(course.id), []).append(course.id)
    a, b = [ids for ids in by_shard.values() if len(ids) >= 2][:2]
    before = await version(portal)
    first, second = portal.sessions(), portal.sessions()
    async with first, second:
        change = text("UPDATE courses SET capacity = capacity + 1 WHERE id = :id")
        for session in (first, second):
            await session.execute(text("SET LOCAL lock_timeout = '2s'"))
        await first.execute(change, {"id": a[0]})
        await second.execute(change, {"id": b[0]})
        # Each now touches the other's shard (another course): no waiting.
        await first.execute(change, {"id": b[1]})
        await second.execute(change, {"id": a[1]})
        await first.commit()
        await second.commit()
    assert await version(portal) == before + 4
