"""Seats, holds and drops: the rules that guard capacity.

Seats are taken and given back only through conditional updates on the course
row (`seats_taken < capacity`), never read-then-write, so concurrent requests
in any number of processes cannot overbook. `courses.seats_taken` always
equals the course's enrollments in a seat-holding status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog.billing import bill
from functions.catalog.errors import (
    AlreadyEnrolled,
    CannotDrop,
    CourseClosed,
    CourseFull,
    CourseNotFound,
    EnrollmentNotFound,
)
from functions.catalog.models import Course, Enrollment, EnrollmentStatus
from functions.catalog.repository import CourseRepository, EnrollmentRepository
from functions.catalog.rules import accepting, course_starts_at, hold_due_at
from functions.catalog.waitlist import promote_waitlist
from functions.checkout import ledger
from lib.errors import Forbidden
from lib.runtime import CurrentUser
from lib.security import Role

S = EnrollmentStatus


async def hold_seats(
    session: AsyncSession,
    *,
    student_id: str,
    course_ids: Sequence[str],
    now: datetime,
    due_at: Callable[[Course, datetime], datetime] = hold_due_at,
) -> list[Enrollment]:
    """A seat in every course or in none. Free courses become active at once;
    the others are held (`pending_payment`) until their due time."""
    wanted = sorted(set(course_ids))
    courses = {c.id: c for c in await CourseRepository(session).get_many(wanted)}
    if len(courses) != len(wanted):
        raise CourseNotFound()
    closed = [courses[i].code for i in wanted if not accepting(courses[i], now)]
    if closed:
        raise CourseClosed(closed)
    enrollments = EnrollmentRepository(session)
    already = [
        courses[i].code
        for i in wanted
        if await enrollments.live(student_id=student_id, course_id=i) is not None
    ]
    if already:
        raise AlreadyEnrolled(already)
    try:
        async with session.begin_nested():
            await _take_seats(session, [courses[i] for i in wanted], now=now)
            return [
                await enrollments.add(_held(courses[i], student_id, now, due_at)) for i in wanted
            ]
    except IntegrityError:
        # A concurrent request of the same student won the unique index.
        raise AlreadyEnrolled([courses[i].code for i in wanted]) from None


async def _take_seats(session: AsyncSession, courses: Sequence[Course], *, now: datetime) -> None:
    seats = CourseRepository(session)
    # Sorted ids: concurrent multi-course holds lock rows in one order.
    full = [c for c in courses if not await seats.take_seat(c.id, today=now.date())]
    if full:
        raise CourseFull([c.id for c in full], [c.code for c in full])


def _held(
    course: Course,
    student_id: str,
    now: datetime,
    due_at: Callable[[Course, datetime], datetime],
) -> Enrollment:
    free = course.price_amount == 0
    return Enrollment(
        course_id=course.id,
        student_id=student_id,
        status=S.ACTIVE if free else S.PENDING_PAYMENT,
        due_at=None if free else due_at(course, now),
        created_at=now,
        updated_at=now,
    )


async def enroll(
    session: AsyncSession, *, student_id: str, course_id: str, now: datetime
) -> Enrollment:
    """One course from its page: a free one at once; a paid one holds a seat
    with a payment of its own, due when the hold is, to pay now or later."""
    (enrollment,) = await hold_seats(
        session, student_id=student_id, course_ids=[course_id], now=now
    )
    if enrollment.status == S.PENDING_PAYMENT and enrollment.due_at is not None:
        course = await CourseRepository(session).get(course_id)
        assert course is not None
        await bill(session, [(enrollment, course)], due_at=enrollment.due_at, now=now)
    return enrollment


async def confirm(session: AsyncSession, enrollment_ids: Sequence[str], *, now: datetime) -> int:
    """Held seats become active (a payment arrived). Returns how many moved."""
    enrollments = EnrollmentRepository(session)
    moved = 0
    for enrollment_id in enrollment_ids:
        if await enrollments.move(
            enrollment_id, from_statuses=[S.PENDING_PAYMENT], to_status=S.ACTIVE, now=now
        ):
            moved += 1
    return moved


async def release(
    session: AsyncSession,
    enrollment_ids: Sequence[str],
    *,
    now: datetime,
    to_status: EnrollmentStatus = S.EXPIRED,
    from_statuses: Sequence[EnrollmentStatus] = (S.PENDING_PAYMENT,),
) -> list[str]:
    """End enrollments that hold seats; each freed seat goes to the waitlist.
    Returns the ids that this call moved (a concurrent caller gets the rest)."""
    enrollments = EnrollmentRepository(session)
    courses = CourseRepository(session)
    moved: list[str] = []
    for enrollment_id in enrollment_ids:
        enrollment = await enrollments.get(enrollment_id)
        if enrollment is None:
            continue
        if await enrollments.move(
            enrollment_id,
            from_statuses=list(from_statuses),
            to_status=to_status,
            now=now,
            keep_due=True,
        ):
            moved.append(enrollment_id)
            await courses.free_seat(enrollment.course_id)
            await promote_waitlist(session, enrollment.course_id, now=now)
    return moved


async def release_expired_holds(session: AsyncSession, *, now: datetime, batch: int = 500) -> int:
    """Holds past their due time that no payment answers for give their seats
    back; the waitlist moves up. (A hold with a payment lapses with it.)"""
    expired = await EnrollmentRepository(session).expired_holds(now=now, limit=batch)
    return len(await release(session, [e.id for e in expired], now=now))


async def reinstate(session: AsyncSession, enrollment_id: str, *, now: datetime) -> bool:
    """A lapsed hold comes back to life (its payment arrived late), only if a
    seat is free: never at the cost of overbooking."""
    enrollments = EnrollmentRepository(session)
    enrollment = await enrollments.get(enrollment_id)
    if enrollment is None or enrollment.status != S.EXPIRED:
        return False
    courses = CourseRepository(session)
    if await enrollments.live(student_id=enrollment.student_id, course_id=enrollment.course_id):
        return False
    if not await courses.take_seat_for_promotion(enrollment.course_id, today=now.date()):
        return False
    if not await enrollments.move(
        enrollment.id, from_statuses=[S.EXPIRED], to_status=S.ACTIVE, now=now
    ):
        await courses.free_seat(enrollment.course_id)
        return False
    return True


async def link_payment(
    session: AsyncSession, enrollment_ids: Sequence[str], payment_id: str, *, due_at: datetime
) -> None:
    """Held seats answer to a payment from now on, and fall due with it."""
    enrollments = EnrollmentRepository(session)
    for enrollment_id in enrollment_ids:
        enrollment = await enrollments.get(enrollment_id)
        if enrollment is not None:
            enrollment.payment_id = payment_id
            enrollment.due_at = due_at
    await session.flush()


async def drop(
    session: AsyncSession, actor: CurrentUser, enrollment_id: str, *, now: datetime
) -> Enrollment:
    """A student drops their own enrollment before the course starts; an
    administrator may drop anyone's at any time."""
    enrollments = EnrollmentRepository(session)
    enrollment = await enrollments.get(enrollment_id)
    is_admin = actor.role == Role.ADMIN
    if enrollment is None or (not is_admin and enrollment.student_id != actor.id):
        # Someone else's enrollment does not exist, as far as they can tell.
        raise EnrollmentNotFound()
    course = await CourseRepository(session).get(enrollment.course_id)
    assert course is not None
    if not is_admin and now >= course_starts_at(course):
        raise CannotDrop("The course has started; ask an administrator to drop you.")
    if enrollment.status not in (S.WAITLISTED, S.PENDING_PAYMENT, S.ACTIVE):
        raise CannotDrop(f"An enrollment that is {enrollment.status} cannot be dropped.")
    if enrollment.status == S.WAITLISTED:
        moved = await enrollments.move(
            enrollment.id, from_statuses=[S.WAITLISTED], to_status=S.DROPPED, now=now
        )
    else:
        released = await release(
            session,
            [enrollment.id],
            now=now,
            to_status=S.DROPPED,
            from_statuses=(S.PENDING_PAYMENT, S.ACTIVE),
        )
        moved = bool(released)
    if not moved:
        raise CannotDrop("This enrollment changed meanwhile; reload and try again.")
    await _forget_payment(session, enrollment, now=now)
    dropped = await enrollments.get(enrollment.id)
    assert dropped is not None
    return dropped


async def _forget_payment(session: AsyncSession, enrollment: Enrollment, *, now: datetime) -> None:
    # A payment whose every seat was dropped before it was paid is owed no more.
    if enrollment.payment_id is None:
        return
    if await EnrollmentRepository(session).seated_for_payment(enrollment.payment_id) == 0:
        await ledger.close_unseated(session, enrollment.payment_id, now=now)


def require_course_staff(actor: CurrentUser, instructor_id: str) -> None:
    """The course's instructor (`instructor_id`) or an administrator."""
    if actor.role == Role.ADMIN:
        return
    if actor.role == Role.INSTRUCTOR and instructor_id == actor.id:
        return
    raise Forbidden("Only this course's instructor or an administrator may see this.")


async def enrollment_status(session: AsyncSession, enrollment_id: str) -> str | None:
    enrollment = await EnrollmentRepository(session).get(enrollment_id)
    return enrollment.status if enrollment else None


async def check_enrollable(
    session: AsyncSession, *, student_id: str, course_id: str, now: datetime
) -> Course:
    """Why this student could not enroll in this course right now, as an error."""
    course = await CourseRepository(session).get(course_id)
    if course is None or course.archived_at is not None:
        raise CourseNotFound()
    if not accepting(course, now):
        raise CourseClosed([course.code])
    if await EnrollmentRepository(session).live(student_id=student_id, course_id=course_id):
        raise AlreadyEnrolled([course.code])
    if course.seats_taken >= course.capacity:
        raise CourseFull([course.id], [course.code])
    return course


async def held_by(
    session: AsyncSession, *, student_id: str, enrollment_id: str
) -> tuple[Enrollment, Course]:
    """A student's seat hold awaiting payment, with its course."""
    enrollment = await EnrollmentRepository(session).get(enrollment_id)
    if enrollment is None or enrollment.student_id != student_id:
        raise EnrollmentNotFound()
    if enrollment.status != S.PENDING_PAYMENT:
        raise CannotDrop(f"This enrollment is {enrollment.status}; there is no seat to pay for.")
    course = await CourseRepository(session).get(enrollment.course_id)
    assert course is not None
    return enrollment, course
