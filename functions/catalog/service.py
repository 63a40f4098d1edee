"""The catalog's rules: courses, their derived status and how each viewer sees
them. Listings live in `listing`, seats in `seats` and `waitlist`, course
validation in `validation`; what other capabilities use is re-exported here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog.billing import bill
from functions.catalog.errors import CapacityBelowTaken, CodeTaken, CourseNotFound
from functions.catalog.models import WEEKDAYS, Course, CourseSession
from functions.catalog.reads import CatalogReads, course_record, mine_record
from functions.catalog.records import CourseRecord, MineRecord
from functions.catalog.repository import CourseRepository
from functions.catalog.rules import hold_due_at
from functions.catalog.seats import (
    check_enrollable,
    confirm,
    enrollment_status,
    held_by,
    hold_seats,
    link_payment,
    reinstate,
    release,
    release_expired_holds,
)
from functions.catalog.timetable import Clash, clashes, timetable_clashes
from functions.catalog.validation import CourseSpec, SessionSpec, validated
from functions.catalog.waitlist import promote_waitlist
from functions.checkout import ledger
from lib.runtime import CurrentUser
from lib.security import Role

__all__ = [
    "Clash",
    "CourseSpec",
    "SessionSpec",
    "bill",
    "check_enrollable",
    "clashes",
    "confirm",
    "enrollment_status",
    "held_by",
    "hold_due_at",
    "hold_seats",
    "link_payment",
    "reinstate",
    "release",
    "release_expired_holds",
]


@dataclass
class CourseView:
    course: CourseRecord
    instructor_name: str
    status: str
    waitlist_length: int | None = None
    mine: MineRecord | None = None
    my_position: int | None = None
    # For a signed-in student looking at one course: how it clashes with their
    # timetable (live enrollments and cart). None where it was not worked out.
    clashes: list[Clash] | None = None


class HasEnrollmentWindow(Protocol):
    archived_at: datetime | None
    enrollment_opens_on: date
    enrollment_closes_on: date
    seats_taken: int
    capacity: int


def derive_status(course: HasEnrollmentWindow, today: date) -> str:
    if (
        course.archived_at is not None
        or today < course.enrollment_opens_on
        or today > course.enrollment_closes_on
    ):
        return "closed"
    return "full" if course.seats_taken >= course.capacity else "open"


def view_of(row: Row[Any], today: date) -> CourseView:
    """A course as one row of the catalog's read statement shows it."""
    course = course_record(row)
    return CourseView(
        course=course,
        instructor_name=row.instructor_name,
        status=derive_status(course, today),
        waitlist_length=row.waitlist_length,
        mine=mine_record(row),
        my_position=row._mapping.get("my_position"),
    )


# --- courses ------------------------------------------------------------------------


async def create_course(
    session: AsyncSession, spec: CourseSpec, *, now: datetime, viewer: CurrentUser | None = None
) -> CourseView:
    values = await validated(session, spec, current=None, today=now.date())
    courses = CourseRepository(session)
    if await courses.code_taken(values["code"]):
        raise CodeTaken()
    course = Course(**values, seats_taken=0, waitlist_counter=0, created_at=now, updated_at=now)
    course.sessions = _sessions(spec.sessions or [])
    async with _code_guard(session):
        await courses.add(course)
    return (await views(session, [course.id], viewer=viewer, now=now))[0]


async def update_course(
    session: AsyncSession,
    course_id: str,
    spec: CourseSpec,
    *,
    now: datetime,
    viewer: CurrentUser | None = None,
) -> CourseView:
    courses = CourseRepository(session)
    course = await courses.get(course_id)
    if course is None:
        raise CourseNotFound()
    values = await validated(session, spec, current=course, today=now.date())
    if "code" in values and await courses.code_taken(values["code"], except_id=course.id):
        raise CodeTaken()
    capacity = values.pop("capacity", None)
    if capacity is not None and capacity != course.capacity:
        # Conditional: a hold racing this change either fits or makes it fail.
        if not await courses.set_capacity(course.id, capacity):
            await courses.refresh(course)
            raise CapacityBelowTaken(course.seats_taken)
        await courses.refresh(course)
    for name, value in values.items():
        setattr(course, name, value)
    if spec.sessions is not None:
        course.sessions = _sessions(spec.sessions)
    course.updated_at = now
    async with _code_guard(session):
        await session.flush()
    if capacity is not None:
        # More seats may let the waitlist in.
        await promote_waitlist(session, course.id, now=now)
        await courses.refresh(course)
    return (await views(session, [course.id], viewer=viewer, now=now))[0]


@asynccontextmanager
async def _code_guard(session: AsyncSession) -> AsyncIterator[None]:
    """Two administrators may race past `code_taken` with the same code: the
    unique index decides, and the loser hears code_taken, not a server error."""
    try:
        async with session.begin_nested():
            yield
    except IntegrityError as exc:
        if "code" not in str(exc.orig).lower():
            raise
        raise CodeTaken() from None


async def archive_course(
    session: AsyncSession, course_id: str, *, now: datetime, viewer: CurrentUser | None = None
) -> CourseView:
    courses = CourseRepository(session)
    course = await courses.get(course_id)
    if course is None:
        raise CourseNotFound()
    if course.archived_at is None:
        course.archived_at = now
        course.updated_at = now
        await session.flush()
    return (await views(session, [course.id], viewer=viewer, now=now))[0]


def _sessions(specs: Sequence[SessionSpec]) -> list[CourseSession]:
    return [
        CourseSession(
            weekday=WEEKDAYS.index(item.weekday),
            start_time=item.start_time,
            end_time=item.end_time,
            location=item.location.strip(),
        )
        for item in specs
    ]


async def get_course(
    session: AsyncSession, course_id: str, *, viewer: CurrentUser | None, now: datetime
) -> CourseView:
    """One course; a student also learns how it clashes with their timetable
    (one statement more)."""
    found = await views(session, [course_id], viewer=viewer, now=now)
    if not found:
        raise CourseNotFound()
    view = found[0]
    if view.course.archived_at is not None and not sees_archived(
        viewer, view.course.instructor_id, enrolled=view.mine is not None
    ):
        raise CourseNotFound()
    if viewer is not None and viewer.role == Role.STUDENT:
        view.clashes = await timetable_clashes(
            session,
            student_id=viewer.id,
            course=view.course,
            cart=ledger.cart_course_ids_select(viewer.id),
        )
    return view


def sees_archived(viewer: CurrentUser | None, instructor_id: str, *, enrolled: bool) -> bool:
    """An archived course stays visible to staff, its instructor, and the
    students who were in it: its history is theirs."""
    if viewer is None:
        return False
    if viewer.role == Role.ADMIN:
        return True
    if viewer.role == Role.INSTRUCTOR:
        return instructor_id == viewer.id
    return enrolled


async def views(
    session: AsyncSession,
    course_ids: Sequence[str],
    *,
    viewer: CurrentUser | None,
    now: datetime,
) -> list[CourseView]:
    """The courses, in the order asked, as the viewer sees them: a student
    sees their own enrollment. One statement."""
    student_id = viewer.id if viewer is not None and viewer.role == Role.STUDENT else None
    rows = await CatalogReads(session).courses(course_ids, student_id=student_id)
    found = {row.id: view_of(row, now.date()) for row in rows}
    return [found[i] for i in course_ids if i in found]


async def course_views(
    session: AsyncSession,
    course_ids: Sequence[str],
    *,
    now: datetime,
    student_id: str | None = None,
) -> dict[str, CourseView]:
    """Courses as a student sees them (with their own enrollment), or as anyone does."""
    viewer = CurrentUser(id=student_id, username="", role=Role.STUDENT) if student_id else None
    return {v.course.id: v for v in await views(session, course_ids, viewer=viewer, now=now)}
