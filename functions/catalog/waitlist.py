"""The waitlist: joining a full course, leaving, and the seats that free up
going to those who waited, first come first served."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog.billing import bill
from functions.catalog.errors import (
    AlreadyEnrolled,
    CourseClosed,
    CourseNotFound,
    CourseNotFull,
    NotOnWaitlist,
)
from functions.catalog.models import Course, Enrollment, EnrollmentStatus
from functions.catalog.repository import CourseRepository, EnrollmentRepository
from functions.catalog.rules import accepting, promotion_due_at
from functions.messages.notices import WaitlistPromoted, notify

S = EnrollmentStatus


async def promote_waitlist(
    session: AsyncSession, course_id: str, *, now: datetime
) -> list[Enrollment]:
    """Give free seats to the waitlist, first come first served. A seat in a
    paid course is held with a payment of its own, due a day or more later."""
    courses = CourseRepository(session)
    enrollments = EnrollmentRepository(session)
    course = await courses.get(course_id)
    if course is None:
        return []
    promoted: list[Enrollment] = []
    while True:
        queue = await enrollments.waitlisted(course_id, limit=5)
        if not queue:
            return promoted
        if not await courses.take_seat_for_promotion(course_id, today=now.date()):
            return promoted
        for candidate in queue:
            if await _promote(session, course, candidate, now=now):
                promoted.append(candidate)
                break
        else:
            # Everyone we saw left or was promoted by someone else meanwhile.
            await courses.free_seat(course_id)


async def _promote(
    session: AsyncSession, course: Course, candidate: Enrollment, *, now: datetime
) -> bool:
    free = course.price_amount == 0
    due = None if free else promotion_due_at(course, now)
    if not await EnrollmentRepository(session).move(
        candidate.id,
        from_statuses=[S.WAITLISTED],
        to_status=S.ACTIVE if free else S.PENDING_PAYMENT,
        now=now,
        due_at=due,
    ):
        return False
    payment_id = None
    if due is not None:
        payment_id = await bill(session, [(candidate, course)], due_at=due, now=now)
    notice = WaitlistPromoted(
        enrollment_id=candidate.id,
        course_id=course.id,
        course_code=course.code,
        course_title=course.title,
        status=(S.ACTIVE if free else S.PENDING_PAYMENT).value,
        due_at=due,
        payment_id=payment_id,
    )
    await notify(session, notice, to=candidate.student_id, now=now, once_per=candidate.id)
    return True


async def join_waitlist(
    session: AsyncSession, *, student_id: str, course_id: str, now: datetime
) -> tuple[Enrollment, int]:
    courses = CourseRepository(session)
    course = await courses.get(course_id)
    if course is None or course.archived_at is not None:
        raise CourseNotFound()
    if not accepting(course, now):
        raise CourseClosed([course.code])
    if course.seats_taken < course.capacity:
        raise CourseNotFull()
    enrollments = EnrollmentRepository(session)
    if await enrollments.live(student_id=student_id, course_id=course_id) is not None:
        raise AlreadyEnrolled([course.code])
    number = await courses.next_waitlist_number(course_id)
    if number is None:
        raise CourseNotFull()
    enrollment = Enrollment(
        course_id=course_id,
        student_id=student_id,
        status=S.WAITLISTED,
        queued_at=now,
        queue_number=number,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            await enrollments.add(enrollment)
    except IntegrityError:
        raise AlreadyEnrolled([course.code]) from None
    return enrollment, await enrollments.position(enrollment)


async def leave_waitlist(
    session: AsyncSession, *, student_id: str, course_id: str, now: datetime
) -> Enrollment:
    enrollments = EnrollmentRepository(session)
    enrollment = await enrollments.live(student_id=student_id, course_id=course_id)
    if enrollment is None or enrollment.status != S.WAITLISTED:
        raise NotOnWaitlist()
    if not await enrollments.move(
        enrollment.id, from_statuses=[S.WAITLISTED], to_status=S.DROPPED, now=now
    ):
        raise NotOnWaitlist()
    left = await enrollments.get(enrollment.id)
    assert left is not None
    return left
