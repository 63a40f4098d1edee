"""Every query of the catalog. Seats move only through conditional updates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog.models import (
    LIVE_STATUSES,
    SEAT_STATUSES,
    Course,
    Enrollment,
    EnrollmentStatus,
)
from lib.db import rowcount


def open_for_enrollment(today: date | ColumnElement[date]) -> ColumnElement[bool]:
    return and_(
        Course.archived_at.is_(None),
        Course.enrollment_opens_on <= today,
        Course.enrollment_closes_on >= today,
    )


def status_condition(status: str, today: date | ColumnElement[date]) -> ColumnElement[bool]:
    accepting = open_for_enrollment(today)
    if status == "open":
        return and_(accepting, Course.seats_taken < Course.capacity)
    if status == "full":
        return and_(accepting, Course.seats_taken >= Course.capacity)
    return ~accepting


class CourseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, course_id: str, *, for_update: bool = False) -> Course | None:
        # Seats move by UPDATE statements that bypass the identity map; always
        # read the row afresh.
        query = (
            select(Course).where(Course.id == course_id).execution_options(populate_existing=True)
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def get_many(self, course_ids: Sequence[str]) -> list[Course]:
        if not course_ids:
            return []
        result = await self.session.execute(
            select(Course)
            .where(Course.id.in_(course_ids))
            .execution_options(populate_existing=True)
        )
        return list(result.scalars().all())

    async def code_taken(self, code: str, *, except_id: str | None = None) -> bool:
        query = select(Course.id).where(Course.code == code)
        if except_id:
            query = query.where(Course.id != except_id)
        return (await self.session.execute(query.limit(1))).first() is not None

    async def add(self, course: Course) -> Course:
        self.session.add(course)
        await self.session.flush()
        return course

    async def take_seat(self, course_id: str, *, today: date) -> bool:
        """One seat, only if one is free and the course takes enrollments today."""
        result = await self.session.execute(
            update(Course)
            .where(
                Course.id == course_id,
                Course.seats_taken < Course.capacity,
                open_for_enrollment(today),
            )
            .values(seats_taken=Course.seats_taken + 1)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def take_seat_for_promotion(self, course_id: str, *, today: date) -> bool:
        """A seat for the waitlist: the course must be live and either not yet
        started or, started, still taking enrollments (as a newcomer could)."""
        result = await self.session.execute(
            update(Course)
            .where(
                Course.id == course_id,
                Course.seats_taken < Course.capacity,
                Course.archived_at.is_(None),
                or_(Course.starts_on > today, Course.enrollment_closes_on >= today),
            )
            .values(seats_taken=Course.seats_taken + 1)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def free_seat(self, course_id: str) -> None:
        await self.session.execute(
            update(Course)
            .where(Course.id == course_id, Course.seats_taken > 0)
            .values(seats_taken=Course.seats_taken - 1)
            .execution_options(synchronize_session=False)
        )

    async def set_capacity(self, course_id: str, capacity: int) -> bool:
        """Only if the seats already taken still fit."""
        result = await self.session.execute(
            update(Course)
            .where(Course.id == course_id, Course.seats_taken <= capacity)
            .values(capacity=capacity)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def next_waitlist_number(self, course_id: str) -> int | None:
        """A place in line, only while the course is full. The check is part of
        the update: a seat freed by a concurrent drop is seen here, not lost
        behind a waitlist that nobody promotes."""
        result = await self.session.execute(
            update(Course)
            .where(Course.id == course_id, Course.seats_taken >= Course.capacity)
            .values(waitlist_counter=Course.waitlist_counter + 1)
            .returning(Course.waitlist_counter)
            .execution_options(synchronize_session=False)
        )
        number = result.scalar_one_or_none()
        return None if number is None else int(number)

    async def refresh(self, course: Course) -> None:
        await self.session.refresh(course)


class EnrollmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, enrollment: Enrollment) -> Enrollment:
        self.session.add(enrollment)
        await self.session.flush()
        return enrollment

    async def get(self, enrollment_id: str) -> Enrollment | None:
        return await self.session.get(Enrollment, enrollment_id, populate_existing=True)

    async def live(self, *, student_id: str, course_id: str) -> Enrollment | None:
        result = await self.session.execute(
            select(Enrollment).where(
                Enrollment.student_id == student_id,
                Enrollment.course_id == course_id,
                Enrollment.status.in_(LIVE_STATUSES),
            )
        )
        return result.scalar_one_or_none()

    async def live_for_student(self, student_id: str) -> list[Enrollment]:
        result = await self.session.execute(
            select(Enrollment).where(
                Enrollment.student_id == student_id, Enrollment.status.in_(LIVE_STATUSES)
            )
        )
        return list(result.scalars().all())

    async def seated_for_payment(self, payment_id: str) -> int:
        """How many of a payment's enrollments still hold a seat."""
        result = await self.session.execute(
            select(func.count()).where(
                Enrollment.payment_id == payment_id, Enrollment.status.in_(SEAT_STATUSES)
            )
        )
        return int(result.scalar_one())

    async def waitlisted(self, course_id: str, *, limit: int) -> list[Enrollment]:
        result = await self.session.execute(
            select(Enrollment)
            .where(
                Enrollment.course_id == course_id,
                Enrollment.status == EnrollmentStatus.WAITLISTED,
            )
            .order_by(Enrollment.queue_number)
            .limit(limit)
        )
        return list(result.scalars().all())

    async def position(self, enrollment: Enrollment) -> int:
        result = await self.session.execute(
            select(func.count()).where(
                Enrollment.course_id == enrollment.course_id,
                Enrollment.status == EnrollmentStatus.WAITLISTED,
                Enrollment.queue_number < (enrollment.queue_number or 0),
            )
        )
        return int(result.scalar_one()) + 1

    async def move(
        self,
        enrollment_id: str,
        *,
        from_statuses: Sequence[str],
        to_status: str,
        now: datetime,
        due_at: datetime | None = None,
        keep_due: bool = False,
    ) -> bool:
        """Change status only from one of the expected ones: the loser of a race
        sees False and leaves the enrollment alone."""
        values: dict[str, Any] = {"status": to_status, "updated_at": now}
        if not keep_due:
            values["due_at"] = due_at
        result = await self.session.execute(
            update(Enrollment)
            .where(Enrollment.id == enrollment_id, Enrollment.status.in_(from_statuses))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def expired_holds(self, *, now: datetime, limit: int) -> list[Enrollment]:
        """Holds past their due time that no payment answers for: a held seat
        with a payment lapses with that payment, never on its own."""
        result = await self.session.execute(
            select(Enrollment)
            .where(
                Enrollment.status == EnrollmentStatus.PENDING_PAYMENT,
                Enrollment.payment_id.is_(None),
                Enrollment.due_at.is_not(None),
                Enrollment.due_at <= now,
            )
            .order_by(Enrollment.due_at)
            .limit(limit)
        )
        return list(result.scalars().all())
