"""Checks shared by the catalog tests."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from functions.catalog.models import SEAT_STATUSES, Course, Enrollment
from lib.outbox import OutboxMessage
from lib.runtime import Portal


async def assert_seats_consistent(portal: Portal) -> None:
    """For every course: seats_taken equals the enrollments that hold a seat, and
    never exceeds the capacity."""
    async with portal.read_sessions() as session:
        courses = (await session.execute(select(Course))).scalars().all()
        rows = await session.execute(
            select(Enrollment.course_id, func.count())
            .where(Enrollment.status.in_(SEAT_STATUSES))
            .group_by(Enrollment.course_id)
        )
        seated = dict(rows.all())
    for course in courses:
        held = seated.get(course.id, 0)
        assert course.seats_taken == held, (
            f"{course.code}: seats_taken={course.seats_taken} but {held} enrollments hold a seat"
        )
        assert course.seats_taken <= course.capacity, (
            f"{course.code}: {course.seats_taken} seats taken of {course.capacity}"
        )


async def course_row(portal: Portal, course_id: str) -> Course:
    async with portal.read_sessions() as session:
        course = await session.get(Course, course_id)
        assert course is not None
        return course


async def enrollment_row(portal: Portal, enrollment_id: str) -> Enrollment:
    async with portal.read_sessions() as session:
        enrollment = await session.get(Enrollment, enrollment_id)
        assert enrollment is not None
        return enrollment


async def enrollments_of(portal: Portal, *, student_id: str) -> list[Enrollment]:
    async with portal.read_sessions() as session:
        result = await session.execute(
            select(Enrollment)
            .where(Enrollment.student_id == student_id)
            .order_by(Enrollment.created_at, Enrollment.id)
        )
        return list(result.scalars().all())


async def outbox(portal: Portal, *, kind: str | None = None) -> list[OutboxMessage]:
    async with portal.read_sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        return list((await session.execute(query)).scalars().all())


async def until_a_transaction_waits_for_a_lock(portal: Portal) -> None:
    """PostgreSQL only: return once some transaction in this database waits for a
    lock, i.e. a concurrent step has reached the point the test is about."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with portal.read_sessions() as session:
        for _ in range(2000):
            if await session.scalar(query):
                return
            # pg_stat_activity is a snapshot per transaction: look again in a new one.
            await session.rollback()
    pytest.fail("no transaction ever waited for a lock")
