"""Seats, holds, the waitlist and drops: the rules that guard capacity.

Seats are taken and given back only through conditional updates on the course
row (`seats_taken < capacity`), never read-then-write, so concurrent requests
in any number of processes cannot overbook. `courses.seats_taken` always
equals the course's enrollments in a seat-holding status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog.errors import (
    AlreadyEnrolled,
    CannotDrop,
    CourseClosed,
    CourseFull,
    CourseNotFound,
    CourseNotFull,
    EnrollmentNotFound,
    NotOnWaitlist,
)
from functions.catalog.models import Course, Enrollment, EnrollmentStatus
from functions.catalog.repository import CourseRepository, EnrollmentRepository
from lib.errors import Forbidden
from lib.outbox import enqueue
from lib.runtime import CurrentUser
from lib.security import Role

PAY_NOW_HOLD = timedelta(minutes=30)
MIN_PROMOTION_WINDOW = timedelta(days=1)

S = EnrollmentStatus


def course_starts_at(course: Course) -> datetime:
    return datetime.combine(course.starts_on, time(0, 0), tzinfo=UTC)


def hold_due_at(
    course: Course, now: datetime, *, pay_now_hold: timedelta = PAY_NOW_HOLD
) -> datetime:
    """How long a seat is held before it must be paid: `payment_due_days` days,
    or the checkout's lifetime for pay-now courses; never past the course start."""
    starts_at = course_starts_at(course)
    if now >= starts_at:
        # Enrollment may stay open after the first day; capping at a start that
        # has passed would make the hold due (and released) before it is paid.
        return now + pay_now_hold
    if course.payment_due_days > 0:
        due = now + timedelta(days=course.payment_due_days)
    else:
        due = now + pay_now_hold
    return min(due, starts_at)


def accepting(course: Course, now: datetime) -> bool:
    today = now.date()
    return (
        course.archived_at is None
        and course.enrollment_opens_on <= today <= course.enrollment_closes_on
    )


async def hold_seats(
    session: AsyncSession,
    *,
    student_id: str,
    course_ids: Sequence[str],
    now: datetime,
    due_at: Callable[[Course, datetime], datetime] = hold_due_at,
    payment_id: str | None = None,
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

    seats = CourseRepository(session)
    held: list[Enrollment] = []
    full: list[str] = []
    try:
        async with session.begin_nested():
            # Sorted ids: concurrent multi-course holds lock rows in one order.
            for course_id in wanted:
                if not await seats.take_seat(course_id, today=now.date()):
                    full.append(course_id)
            if full:
                raise CourseFull(full, [courses[i].code for i in full])
            for course_id in wanted:
                course = courses[course_id]
                free = course.price_amount == 0
                enrollment = Enrollment(
                    course_id=course_id,
                    student_id=student_id,
                    status=S.ACTIVE if free else S.PENDING_PAYMENT,
                    due_at=None if free else due_at(course, now),
                    payment_id=payment_id,
                    created_at=now,
                    updated_at=now,
                )
                held.append(await enrollments.add(enrollment))
    except IntegrityError:
        # A concurrent request of the same student won the unique index.
        raise AlreadyEnrolled([courses[i].code for i in wanted]) from None
    return held


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


async def keep_held(session: AsyncSession, enrollment_ids: Sequence[str], *, now: datetime) -> int:
    """Held seats whose payment is under way (a bank debit that settles later) no
    longer run out: they stay held until the payment settles or fails."""
    enrollments = EnrollmentRepository(session)
    kept = 0
    for enrollment_id in enrollment_ids:
        if await enrollments.move(
            enrollment_id,
            from_statuses=[S.PENDING_PAYMENT],
            to_status=S.PENDING_PAYMENT,
            now=now,
            due_at=None,
        ):
            kept += 1
    return kept


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
    """Holds past their due time give their seats back; the waitlist moves up."""
    expired = await EnrollmentRepository(session).expired_holds(now=now, limit=batch)
    return len(await release(session, [e.id for e in expired], now=now))


async def promote_waitlist(
    session: AsyncSession, course_id: str, *, now: datetime
) -> list[Enrollment]:
    """Give free seats to the waitlist, first come first served."""
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
            free = course.price_amount == 0
            due = None if free else promotion_due_at(course, now)
            if await enrollments.move(
                candidate.id,
                from_statuses=[S.WAITLISTED],
                to_status=S.ACTIVE if free else S.PENDING_PAYMENT,
                now=now,
                due_at=due,
            ):
                promoted.append(candidate)
                await enqueue(
                    session,
                    kind="catalog.waitlist_promoted",
                    recipient_id=candidate.student_id,
                    payload={
                        "enrollment_id": candidate.id,
                        "course_id": course.id,
                        "course_code": course.code,
                        "course_title": course.title,
                        "status": "active" if free else "pending_payment",
                        "due_at": due.isoformat() if due else None,
                    },
                    dedupe_key=f"catalog.waitlist_promoted:{candidate.id}",
                    now=now,
                )
                break
        else:
            # Everyone we saw left or was promoted by someone else meanwhile.
            await courses.free_seat(course_id)


def promotion_due_at(course: Course, now: datetime) -> datetime:
    window = max(timedelta(days=course.payment_due_days), MIN_PROMOTION_WINDOW)
    return max(now, min(now + window, course_starts_at(course)))


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
    return await _reloaded(enrollments, enrollment.id)


async def drop(
    session: AsyncSession, actor: CurrentUser, enrollment_id: str, *, now: datetime
) -> Enrollment:
    """A student drops their own enrollment before the course starts; an
    administrator may drop anyone's at any time."""
    enrollments = EnrollmentRepository(session)
    enrollment = await enrollments.get(enrollment_id)
    if enrollment is None:
        raise EnrollmentNotFound()
    is_admin = actor.role == Role.ADMIN
    if not is_admin and enrollment.student_id != actor.id:
        # Someone else's enrollment does not exist, as far as they can tell.
        raise EnrollmentNotFound()
    course = await CourseRepository(session).get(enrollment.course_id)
    assert course is not None
    if not is_admin and now >= course_starts_at(course):
        raise CannotDrop("The course has started; ask an administrator to drop you.")
    if enrollment.status == S.WAITLISTED:
        if not await enrollments.move(
            enrollment.id, from_statuses=[S.WAITLISTED], to_status=S.DROPPED, now=now
        ):
            raise CannotDrop("This enrollment changed meanwhile; reload and try again.")
    elif enrollment.status in (S.PENDING_PAYMENT, S.ACTIVE):
        moved = await release(
            session,
            [enrollment.id],
            now=now,
            to_status=S.DROPPED,
            from_statuses=(S.PENDING_PAYMENT, S.ACTIVE),
        )
        if not moved:
            raise CannotDrop("This enrollment changed meanwhile; reload and try again.")
    else:
        raise CannotDrop(f"An enrollment that is {enrollment.status} cannot be dropped.")
    return await _reloaded(enrollments, enrollment.id)


async def _reloaded(enrollments: EnrollmentRepository, enrollment_id: str) -> Enrollment:
    enrollment = await enrollments.get(enrollment_id)
    assert enrollment is not None
    return enrollment


def require_course_staff(actor: CurrentUser, course: Course) -> None:
    """The course's instructor or an administrator."""
    if actor.role == Role.ADMIN:
        return
    if actor.role == Role.INSTRUCTOR and course.instructor_id == actor.id:
        return
    raise Forbidden("Only this course's instructor or an administrator may see this.")


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


async def enrollment_status(session: AsyncSession, enrollment_id: str) -> str | None:
    enrollment = await EnrollmentRepository(session).get(enrollment_id)
    return enrollment.status if enrollment else None


async def link_payment(
    session: AsyncSession, enrollment_ids: Sequence[str], payment_id: str
) -> None:
    enrollments = EnrollmentRepository(session)
    for enrollment_id in enrollment_ids:
        enrollment = await enrollments.get(enrollment_id)
        if enrollment is not None:
            enrollment.payment_id = payment_id
    await session.flush()


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
