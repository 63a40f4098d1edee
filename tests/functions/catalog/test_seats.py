"""Seats, holds, the waitlist and drops."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from functions.auth.models import User
from functions.catalog import rules, seats, service, waitlist
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
from functions.catalog.models import Course, Enrollment
from functions.catalog.repository import EnrollmentRepository
from functions.checkout import service as checkout
from lib.clock import FrozenClock
from lib.outbox import enqueue
from lib.runtime import CurrentUser, Portal
from lib.security import Role
from tests.factories import Factory
from tests.functions.catalog.support import (
    course_row,
    enrollment_row,
    enrollments_of,
    outbox,
    until_a_transaction_waits_for_a_lock,
)

pytestmark = pytest.mark.usefixtures("seat_invariant")

PROMOTED = "catalog.waitlist_promoted"


def actor(user: User) -> CurrentUser:
    return CurrentUser(id=user.id, username=user.username, role=Role(user.role))


async def hold(portal: Portal, student: User, *courses: Course) -> list[Enrollment]:
    async with portal.transaction() as session:
        return await seats.hold_seats(
            session,
            student_id=student.id,
            course_ids=[c.id for c in courses],
            now=portal.clock.now(),
        )


async def release(portal: Portal, *enrollments: Enrollment) -> list[str]:
    async with portal.transaction() as session:
        return await seats.release(session, [e.id for e in enrollments], now=portal.clock.now())


async def drop(portal: Portal, who: User, enrollment: Enrollment) -> Enrollment:
    async with portal.transaction() as session:
        return await seats.drop(session, actor(who), enrollment.id, now=portal.clock.now())


async def expire_due_holds(portal: Portal, *, batch: int = 500) -> int:
    async with portal.transaction() as session:
        return await seats.release_expired_holds(session, now=portal.clock.now(), batch=batch)


async def taken(portal: Portal, course: Course) -> int:
    return (await course_row(portal, course.id)).seats_taken


async def status(portal: Portal, enrollment: Enrollment) -> str:
    return (await enrollment_row(portal, enrollment.id)).status


async def position(portal: Portal, enrollment: Enrollment) -> int:
    async with portal.read_sessions() as session:
        return await EnrollmentRepository(session).position(
            await enrollment_row(portal, enrollment.id)
        )


# --- holding seats ------------------------------------------------------------------------


async def test_hold_takes_a_seat_in_every_course_at_once(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a paid course with deferred payment, a pay-now course and a free one
    later = await factory.course(payment_due_days=7)
    now_course = await factory.course(payment_due_days=0)
    free = await factory.course(price=0)
    student = await factory.user()

    # WHEN the student takes a seat in all three
    held = {e.course_id: e for e in await hold(portal, student, later, now_course, free)}

    # THEN each holds one seat: paid ones until their due time, the free one at once
    assert held[later.id].status == "pending_payment"
    assert held[later.id].due_at == clock.now() + timedelta(days=7)
    assert held[now_course.id].status == "pending_payment"
    assert held[now_course.id].due_at == clock.now() + timedelta(minutes=30)
    assert held[free.id].status == "active"
    assert held[free.id].due_at is None
    for course in (later, now_course, free):
        assert await taken(portal, course) == 1


async def test_one_full_course_means_no_seat_anywhere(portal: Portal, factory: Factory) -> None:
    # GIVEN two open courses and a full one between them
    first = await factory.course(code="AA-100")
    full = await factory.course(code="BB-200", capacity=1)
    last = await factory.course(code="CC-300")
    await factory.enrollment(student=await factory.user(), course=full)
    student = await factory.user()

    # WHEN a student asks for a seat in all three
    with pytest.raises(CourseFull) as caught:
        await hold(portal, student, first, full, last)

    # THEN nothing is held, and the answer names only the full course
    assert caught.value.status_code == 409
    assert caught.value.code == "course_full"
    assert caught.value.course_ids == [full.id]
    assert "BB-200" in caught.value.message
    assert "AA-100" not in caught.value.message
    assert "CC-300" not in caught.value.message
    assert await enrollments_of(portal, student_id=student.id) == []
    assert [await taken(portal, c) for c in (first, full, last)] == [0, 1, 0]


async def test_course_full_names_every_full_course(portal: Portal, factory: Factory) -> None:
    # GIVEN two full courses and an open one
    full = [await factory.course(capacity=1) for _ in range(2)]
    for course in full:
        await factory.enrollment(student=await factory.user(), course=course)
    open_course = await factory.course()

    # WHEN a student asks for all three THEN both full ones are named
    with pytest.raises(CourseFull) as caught:
        await hold(portal, await factory.user(), open_course, *full)
    assert sorted(caught.value.course_ids) == sorted(c.id for c in full)
    assert await taken(portal, open_course) == 0


async def test_the_last_seat_goes_and_the_next_student_finds_the_course_full(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a course with two seats
    course = await factory.course(capacity=2)

    # WHEN three students ask in turn
    await hold(portal, await factory.user(), course)
    await hold(portal, await factory.user(), course)
    with pytest.raises(CourseFull):
        await hold(portal, await factory.user(), course)

    # THEN exactly two seats are taken
    assert await taken(portal, course) == 2


async def test_a_live_enrollment_cannot_be_held_again(portal: Portal, factory: Factory) -> None:
    # GIVEN a student holding a seat in one course
    course = await factory.course(code="DUP-1")
    other = await factory.course(code="DUP-2")
    student = await factory.user()
    await hold(portal, student, course)

    # WHEN they ask again, alone or together with another course
    with pytest.raises(AlreadyEnrolled) as alone:
        await hold(portal, student, course)
    with pytest.raises(AlreadyEnrolled) as together:
        await hold(portal, student, course, other)

    # THEN both are refused, naming the course, and nothing more is held
    assert alone.value.code == "already_enrolled"
    assert "DUP-1" in together.value.message
    assert (await taken(portal, course), await taken(portal, other)) == (1, 0)


async def test_a_waitlisted_student_cannot_also_hold_a_seat(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a student on a full course's waitlist
    course = await factory.course(capacity=1)
    held = await factory.enrollment(student=await factory.user(), course=course)
    student = await factory.user()
    await factory.waitlisted(student=student, course=course)

    # WHEN the waitlisted student asks for a seat directly THEN they are already in line
    with pytest.raises(AlreadyEnrolled):
        await hold(portal, student, course)
    assert await status(portal, held) == "pending_payment"


async def test_after_an_expired_hold_the_student_may_hold_again(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a hold that expired
    course = await factory.course()
    student = await factory.user()
    [first] = await hold(portal, student, course)
    await release(portal, first)

    # WHEN the student asks again
    [second] = await hold(portal, student, course)

    # THEN a new enrollment holds the seat and the old one stays expired
    assert second.id != first.id
    assert await status(portal, first) == "expired"
    assert await taken(portal, course) == 1


@pytest.mark.parametrize(
    ("opens_in_days", "closes_in_days"),
    [(1, 20), (-20, -1)],
    ids=["not-yet-open", "window-over"],
)
async def test_a_course_outside_its_window_takes_no_enrollment(
    portal: Portal, factory: Factory, opens_in_days: int, closes_in_days: int
) -> None:
    # GIVEN a closed course and an open one
    closed = await factory.course(
        code="SHUT-1", opens_in_days=opens_in_days, closes_in_days=closes_in_days
    )
    open_course = await factory.course()
    student = await factory.user()

    # WHEN a student asks for both THEN the closed course is named and nothing is held
    with pytest.raises(CourseClosed) as caught:
        await hold(portal, student, open_course, closed)
    assert caught.value.code == "course_closed"
    assert "SHUT-1" in caught.value.message
    assert (await taken(portal, closed), await taken(portal, open_course)) == (0, 0)


async def test_an_archived_course_takes_no_enrollment(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN an archived course
    course = await factory.course()
    async with portal.transaction() as session:
        await service.archive_course(session, course.id, now=clock.now())

    # WHEN a student asks for a seat THEN it is closed
    with pytest.raises(CourseClosed):
        await hold(portal, await factory.user(), course)
    assert await taken(portal, course) == 0


async def test_an_unknown_course_is_not_found(portal: Portal, factory: Factory) -> None:
    # GIVEN one real course WHEN a hold names it and an unknown one THEN nothing is held
    course = await factory.course()
    student = await factory.user()
    async with portal.transaction() as session:
        with pytest.raises(CourseNotFound):
            await seats.hold_seats(
                session,
                student_id=student.id,
                course_ids=[course.id, "0" * 32],
                now=portal.clock.now(),
            )
    assert await taken(portal, course) == 0


# --- due times ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payment_due_days", "starts_in_days", "expected"),
    [
        (7, 30, timedelta(days=7)),
        (1, 30, timedelta(days=1)),
        (0, 30, timedelta(minutes=30)),
        # Never past the start: the course starts at midnight in 10 days.
        (60, 10, timedelta(days=10) - timedelta(hours=9)),
        (10, 10, timedelta(days=10) - timedelta(hours=9)),
    ],
)
async def test_a_hold_is_due_after_the_course_payment_days_but_never_past_its_start(
    portal: Portal,
    factory: Factory,
    clock: FrozenClock,
    payment_due_days: int,
    starts_in_days: int,
    expected: timedelta,
) -> None:
    # GIVEN a course with its payment terms (the clock reads 09:00)
    course = await factory.course(payment_due_days=payment_due_days, starts_in_days=starts_in_days)

    # WHEN a student holds a seat
    [held] = await hold(portal, await factory.user(), course)

    # THEN it is due that long from now
    assert held.due_at == clock.now() + expected


async def test_a_pay_now_hold_just_before_the_start_is_due_at_the_start(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a pay-now course that starts tomorrow, ten minutes before midnight
    course = await factory.course(payment_due_days=0, starts_in_days=1)
    clock.set(datetime(2026, 1, 5, 23, 50, tzinfo=UTC))

    # WHEN a student holds a seat THEN it is due at the start, not 30 minutes later
    [held] = await hold(portal, await factory.user(), course)
    assert held.due_at == datetime(2026, 1, 6, tzinfo=UTC)


async def test_a_late_enrollment_on_the_start_day_can_still_be_paid(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a course whose enrollment stays open through its first day
    course = await factory.course(payment_due_days=7, starts_in_days=3, closes_in_days=5)
    clock.advance(days=3)

    # WHEN a student enrolls on the first day
    [held] = await hold(portal, await factory.user(), course)

    # THEN the hold lasts the pay-now window instead of being due (and expired) at once
    assert held.due_at == clock.now() + rules.PAY_NOW_HOLD
    assert await expire_due_holds(portal) == 0
    assert await status(portal, held) == "pending_payment"


# --- confirming and releasing -------------------------------------------------------------


async def test_confirm_makes_held_seats_active_once(portal: Portal, factory: Factory) -> None:
    # GIVEN two holds, one of which expired
    course = await factory.course()
    [kept] = await hold(portal, await factory.user(), course)
    [lapsed] = await hold(portal, await factory.user(), course)
    await release(portal, lapsed)

    # WHEN both are confirmed, twice
    async with portal.transaction() as session:
        first = await seats.confirm(session, [kept.id, lapsed.id], now=portal.clock.now())
    async with portal.transaction() as session:
        second = await seats.confirm(session, [kept.id], now=portal.clock.now())

    # THEN only the live hold became active, and only the first time
    assert (first, second) == (1, 0)
    assert (await status(portal, kept), await status(portal, lapsed)) == ("active", "expired")
    assert await taken(portal, course) == 1


async def test_release_frees_the_seat_and_promotes_the_first_waitlisted(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a full one-seat course paid within 3 days, and two students waiting
    course = await factory.course(code="WL-101", capacity=1, payment_due_days=3)
    [held] = await hold(portal, await factory.user(), course)
    first, second = await factory.user(), await factory.user()
    first_wait = await factory.waitlisted(student=first, course=course)
    second_wait = await factory.waitlisted(student=second, course=course)

    # WHEN the hold expires
    moved = await release(portal, held)

    # THEN the seat goes to the first in line, with a due date, and they are told once
    assert moved == [held.id]
    assert await status(portal, held) == "expired"
    promoted = await enrollment_row(portal, first_wait.id)
    assert promoted.status == "pending_payment"
    assert promoted.due_at == clock.now() + timedelta(days=3)
    assert await status(portal, second_wait) == "waitlisted"
    assert await position(portal, second_wait) == 1
    assert await taken(portal, course) == 1
    [message] = await outbox(portal, kind=PROMOTED)
    assert message.recipient_id == first.id
    assert message.dedupe_key == f"{PROMOTED}:{first_wait.id}"
    assert message.status == "pending"
    assert message.payload == {
        "enrollment_id": first_wait.id,
        "course_id": course.id,
        "course_code": "WL-101",
        "course_title": course.title,
        "status": "pending_payment",
        "due_at": promoted.due_at.isoformat(),
        # The seat is held with a payment of its own, due with it.
        "payment_id": promoted.payment_id,
    }
    assert promoted.payment_id is not None


async def test_releasing_twice_frees_one_seat(portal: Portal, factory: Factory) -> None:
    # GIVEN a full course with two students waiting
    course = await factory.course(capacity=1)
    [held] = await hold(portal, await factory.user(), course)
    waiting = [await factory.waitlisted(student=await factory.user(), course=course)]
    waiting.append(await factory.waitlisted(student=await factory.user(), course=course))

    # WHEN the same hold is released twice
    first = await release(portal, held)
    second = await release(portal, held)

    # THEN the second release moves nothing and the second student still waits
    assert (first, second) == ([held.id], [])
    assert [await status(portal, e) for e in waiting] == ["pending_payment", "waitlisted"]
    assert len(await outbox(portal, kind=PROMOTED)) == 1


async def test_release_leaves_paid_enrollments_alone(portal: Portal, factory: Factory) -> None:
    # GIVEN an active (free) enrollment
    course = await factory.course(price=0)
    [active] = await hold(portal, await factory.user(), course)

    # WHEN it is released as if it were an unpaid hold THEN nothing moves
    assert await release(portal, active) == []
    assert await status(portal, active) == "active"
    assert await taken(portal, course) == 1


async def test_a_free_course_promotes_straight_to_active(portal: Portal, factory: Factory) -> None:
    # GIVEN a full free course with a student waiting
    course = await factory.course(price=0, capacity=1)
    student = await factory.user()
    holder = await factory.user()
    [held] = await hold(portal, holder, course)
    waiting = await factory.waitlisted(student=student, course=course)

    # WHEN the holder drops
    await drop(portal, holder, held)

    # THEN the waiting student is enrolled at once, with nothing to pay
    promoted = await enrollment_row(portal, waiting.id)
    assert (promoted.status, promoted.due_at) == ("active", None)
    [message] = await outbox(portal, kind=PROMOTED)
    assert message.payload["status"] == "active"
    assert message.payload["due_at"] is None


@pytest.mark.parametrize(
    ("payment_due_days", "starts_in_days", "clock_hour", "expected"),
    [
        (0, 30, 9, timedelta(days=1)),
        (5, 30, 9, timedelta(days=5)),
        (5, 1, 18, timedelta(hours=6)),
    ],
    ids=["pay-now-gets-a-day", "payment-days", "capped-at-start"],
)
async def test_a_promoted_hold_has_at_least_a_day_but_never_past_the_start(
    portal: Portal,
    factory: Factory,
    clock: FrozenClock,
    payment_due_days: int,
    starts_in_days: int,
    clock_hour: int,
    expected: timedelta,
) -> None:
    # GIVEN a full course and a waiting student
    course = await factory.course(
        capacity=1, payment_due_days=payment_due_days, starts_in_days=starts_in_days
    )
    [held] = await hold(portal, await factory.user(), course)
    waiting = await factory.waitlisted(student=await factory.user(), course=course)
    clock.set(clock.now().replace(hour=clock_hour))

    # WHEN the seat frees up
    await release(portal, held)

    # THEN the promoted hold is due after the promotion window
    assert (await enrollment_row(portal, waiting.id)).due_at == clock.now() + expected


async def test_a_seat_freed_after_the_start_goes_to_the_waitlist_while_enrollment_is_open(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a full paid course that started yesterday and takes enrollments
    # for a week more, with a waiting student
    course = await factory.course(capacity=1, starts_in_days=2, closes_in_days=9)
    [held] = await hold(portal, await factory.user(), course)
    waiting = await factory.waitlisted(student=await factory.user(), course=course)
    clock.advance(days=3)

    # WHEN an administrator drops the holder
    await drop(portal, await factory.user(role=Role.ADMIN), held)

    # THEN the seat goes to the one who waited, not to the next newcomer, with
    # a day to pay counted from now (not from a start that has passed)
    promoted = await enrollment_row(portal, waiting.id)
    assert promoted.status == "pending_payment"
    assert promoted.due_at == clock.now() + timedelta(days=1)
    assert promoted.payment_id is not None
    assert await taken(portal, course) == 1
    assert [m.recipient_id for m in await outbox(portal, kind=PROMOTED)] == [waiting.student_id]


async def test_no_promotion_once_a_started_course_stops_taking_enrollments(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a full course with a waiting student, the day after its start,
    # when enrollment closed (on the first day, by default)
    course = await factory.course(capacity=1, starts_in_days=2, price=0)
    holder = await factory.user()
    [held] = await hold(portal, holder, course)
    waiting = await factory.waitlisted(student=await factory.user(), course=course)
    clock.advance(days=3)

    # WHEN an administrator drops the holder
    await drop(portal, await factory.user(role=Role.ADMIN), held)

    # THEN the seat stays free: nobody is pulled into a course already running
    assert await status(portal, waiting) == "waitlisted"
    assert await taken(portal, course) == 0
    assert await outbox(portal, kind=PROMOTED) == []


async def test_a_promotion_notice_is_queued_once_under_its_key(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a promotion that was recorded
    course = await factory.course(capacity=1)
    [held] = await hold(portal, await factory.user(), course)
    student = await factory.user()
    waiting = await factory.waitlisted(student=student, course=course)
    await release(portal, held)
    [message] = await outbox(portal, kind=PROMOTED)

    # WHEN the same notice is queued again
    async with portal.transaction() as session:
        queued = await enqueue(
            session,
            kind=PROMOTED,
            recipient_id=student.id,
            payload={},
            dedupe_key=message.dedupe_key,
            now=clock.now(),
        )

    # THEN nothing more is queued: the student is told once
    assert queued is False
    assert message.dedupe_key == f"{PROMOTED}:{waiting.id}"
    assert len(await outbox(portal, kind=PROMOTED)) == 1


async def test_each_promotion_is_told_once_under_its_own_key(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a full two-seat course with four students waiting
    course = await factory.course(capacity=2)
    holders = [await hold(portal, await factory.user(), course) for _ in range(2)]
    waiting = [
        await factory.waitlisted(student=await factory.user(), course=course) for _ in range(4)
    ]

    # WHEN both holds expire, then the first promoted hold expires too
    await release(portal, *(h[0] for h in holders))
    await release(portal, waiting[0])

    # THEN three were promoted in joining order, each with one notice of its own
    assert [await status(portal, e) for e in waiting] == [
        "expired",
        "pending_payment",
        "pending_payment",
        "waitlisted",
    ]
    keys = [m.dedupe_key for m in await outbox(portal, kind=PROMOTED)]
    assert sorted(keys) == sorted(f"{PROMOTED}:{e.id}" for e in waiting[:3])


# --- expiring holds by the clock ----------------------------------------------------------


async def test_release_expired_holds_follows_the_clock(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a full three-seat pay-now course: holds taken 10 minutes apart, two waiting
    course = await factory.course(capacity=3, payment_due_days=0)
    start = clock.now()
    first = (await hold(portal, await factory.user(), course))[0]
    clock.advance(minutes=10)
    second = (await hold(portal, await factory.user(), course))[0]
    clock.advance(minutes=10)
    third = (await hold(portal, await factory.user(), course))[0]
    waiting = [
        await factory.waitlisted(student=await factory.user(), course=course) for _ in range(2)
    ]

    # WHEN the job runs just before the first hold is due THEN nothing happens
    clock.set(start + timedelta(minutes=29, seconds=59))
    assert await expire_due_holds(portal) == 0

    # WHEN it runs at the due time THEN that hold goes and the first in line is promoted
    clock.set(start + timedelta(minutes=30))
    assert await expire_due_holds(portal) == 1
    assert await status(portal, first) == "expired"
    assert [await status(portal, e) for e in waiting] == ["pending_payment", "waitlisted"]

    # WHEN it runs again at once THEN there is nothing more to do
    assert await expire_due_holds(portal) == 0

    # WHEN the second is overdue THEN the second in line is promoted
    clock.set(start + timedelta(minutes=45))
    assert await expire_due_holds(portal) == 1
    assert await status(portal, second) == "expired"
    assert await status(portal, waiting[1]) == "pending_payment"

    # WHEN a day passes, in batches of one THEN the remaining hold without a
    # payment has lapsed; the promoted ones, held with payments, lapse only
    # with their payments (the checkout's sweep)
    clock.advance(days=1)
    assert await expire_due_holds(portal, batch=1) == 1
    assert await expire_due_holds(portal, batch=5) == 0
    assert await status(portal, third) == "expired"
    assert [await status(portal, e) for e in waiting] == ["pending_payment"] * 2
    assert await checkout.expire_overdue_payments(portal) == 2
    assert [await status(portal, e) for e in waiting] == ["expired"] * 2
    assert await taken(portal, course) == 0


# --- drops --------------------------------------------------------------------------------


async def test_a_student_drops_before_the_start_and_the_seat_goes_to_the_waitlist(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a full course, paid for, and a waiting student
    course = await factory.course(capacity=1)
    student = await factory.user()
    [held] = await hold(portal, student, course)
    async with portal.transaction() as session:
        await seats.confirm(session, [held.id], now=portal.clock.now())
    waiting = await factory.waitlisted(student=await factory.user(), course=course)

    # WHEN the student drops
    dropped = await drop(portal, student, held)

    # THEN the enrollment is dropped and the waiting student holds the seat
    assert dropped.status == "dropped"
    assert await status(portal, waiting) == "pending_payment"
    assert await taken(portal, course) == 1


async def test_a_student_cannot_drop_once_the_course_has_started(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN an active enrollment in a course starting in two days
    course = await factory.course(starts_in_days=2, price=0)
    student = await factory.user()
    [held] = await hold(portal, student, course)

    # WHEN the student drops on the first day
    clock.advance(days=2)
    with pytest.raises(CannotDrop) as caught:
        await drop(portal, student, held)

    # THEN it is refused and the seat is still theirs
    assert (caught.value.status_code, caught.value.code) == (409, "cannot_drop")
    assert await status(portal, held) == "active"

    # AND an administrator may still drop it
    dropped = await drop(portal, await factory.user(role=Role.ADMIN), held)
    assert dropped.status == "dropped"
    assert await taken(portal, course) == 0


@pytest.mark.parametrize("who", [Role.STUDENT, Role.INSTRUCTOR])
async def test_someone_elses_enrollment_does_not_exist_for_them(
    portal: Portal, factory: Factory, who: Role
) -> None:
    # GIVEN a student's hold
    course = await factory.course()
    [held] = await hold(portal, await factory.user(), course)

    # WHEN another student or an instructor drops it THEN it is not found, and unchanged
    with pytest.raises(EnrollmentNotFound):
        await drop(portal, await factory.user(role=who), held)
    assert await status(portal, held) == "pending_payment"


async def test_dropping_an_unknown_enrollment_is_not_found(
    portal: Portal, factory: Factory
) -> None:
    admin = await factory.user(role=Role.ADMIN)
    async with portal.transaction() as session:
        with pytest.raises(EnrollmentNotFound):
            await seats.drop(session, actor(admin), "0" * 32, now=portal.clock.now())


async def test_dropping_a_waitlist_place_frees_no_seat(portal: Portal, factory: Factory) -> None:
    # GIVEN a full course with two students waiting
    course = await factory.course(capacity=1)
    await hold(portal, await factory.user(), course)
    first = await factory.user()
    first_wait = await factory.waitlisted(student=first, course=course)
    second_wait = await factory.waitlisted(student=await factory.user(), course=course)

    # WHEN the first drops their waitlist place
    await drop(portal, first, first_wait)

    # THEN the seat count is unchanged and the second moves up
    assert await status(portal, first_wait) == "dropped"
    assert await position(portal, second_wait) == 1
    assert await taken(portal, course) == 1


@pytest.mark.parametrize("ending", ["dropped", "expired"])
async def test_an_ended_enrollment_cannot_be_dropped(
    portal: Portal, factory: Factory, ending: str
) -> None:
    # GIVEN an enrollment that already ended
    course = await factory.course()
    student = await factory.user()
    [held] = await hold(portal, student, course)
    if ending == "dropped":
        await drop(portal, student, held)
    else:
        await release(portal, held)

    # WHEN it is dropped (again) THEN it is refused and no seat is given back twice
    with pytest.raises(CannotDrop):
        await drop(portal, student, held)
    assert await status(portal, held) == ending
    assert await taken(portal, course) == 0


# --- the waitlist ------------------------------------------------------------------------


async def test_waitlist_positions_follow_joining_order(portal: Portal, factory: Factory) -> None:
    # GIVEN a full course
    course = await factory.course(capacity=1)
    await hold(portal, await factory.user(), course)

    # WHEN three students join its waitlist
    positions = []
    for _ in range(3):
        async with portal.transaction() as session:
            enrollment, place = await waitlist.join_waitlist(
                session,
                student_id=(await factory.user()).id,
                course_id=course.id,
                now=portal.clock.now(),
            )
        assert enrollment.status == "waitlisted"
        positions.append(place)

    # THEN they are first, second and third, and hold no seat
    assert positions == [1, 2, 3]
    assert await taken(portal, course) == 1


async def test_leaving_the_waitlist_moves_the_others_up(portal: Portal, factory: Factory) -> None:
    # GIVEN a full course with three students waiting
    course = await factory.course(capacity=1)
    await hold(portal, await factory.user(), course)
    students = [await factory.user() for _ in range(3)]
    queued = [await factory.waitlisted(student=s, course=course) for s in students]

    # WHEN the second leaves
    async with portal.transaction() as session:
        left = await waitlist.leave_waitlist(
            session, student_id=students[1].id, course_id=course.id, now=portal.clock.now()
        )

    # THEN their place is dropped and the third is now second
    assert left.status == "dropped"
    assert [await position(portal, queued[0]), await position(portal, queued[2])] == [1, 2]

    # AND leaving again, or leaving a list one is not on, is not on the waitlist
    for student in (students[1], await factory.user()):
        async with portal.transaction() as session:
            with pytest.raises(NotOnWaitlist):
                await waitlist.leave_waitlist(
                    session, student_id=student.id, course_id=course.id, now=portal.clock.now()
                )

    # AND rejoining puts the student at the end
    again = await factory.waitlisted(student=students[1], course=course)
    assert await position(portal, again) == 3


async def test_a_seat_holder_is_not_on_the_waitlist(portal: Portal, factory: Factory) -> None:
    # GIVEN a student holding a seat
    course = await factory.course()
    student = await factory.user()
    [held] = await hold(portal, student, course)

    # WHEN they try to leave the waitlist THEN they are not on it, and keep the seat
    async with portal.transaction() as session:
        with pytest.raises(NotOnWaitlist):
            await waitlist.leave_waitlist(
                session, student_id=student.id, course_id=course.id, now=portal.clock.now()
            )
    assert await status(portal, held) == "pending_payment"


async def test_joining_the_waitlist_is_refused_when_it_makes_no_sense(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a course with seats, a full one, a closed full one and an archived one
    roomy = await factory.course()
    full = await factory.course(capacity=1)
    holder = await factory.user()
    await hold(portal, holder, full)
    ending = await factory.course(capacity=1, closes_in_days=1)
    await hold(portal, await factory.user(), ending)
    archived = await factory.course(capacity=1)
    await hold(portal, await factory.user(), archived)
    async with portal.transaction() as session:
        await service.archive_course(session, archived.id, now=clock.now())
    student = await factory.user()
    await factory.waitlisted(student=student, course=full)
    clock.advance(days=2)

    # WHEN students try to join each waitlist THEN each is refused with its reason
    cases: list[tuple[User, str, type[Exception]]] = [
        (student, roomy.id, CourseNotFull),
        (holder, full.id, AlreadyEnrolled),
        (student, full.id, AlreadyEnrolled),
        (student, ending.id, CourseClosed),
        (student, archived.id, CourseNotFound),
        (student, "0" * 32, CourseNotFound),
    ]
    for who, course_id, error in cases:
        async with portal.transaction() as session:
            with pytest.raises(error):
                await waitlist.join_waitlist(
                    session, student_id=who.id, course_id=course_id, now=clock.now()
                )


async def test_joining_the_waitlist_as_a_seat_frees_up_is_told_to_enroll(
    portal: Portal, factory: Factory, clock: FrozenClock, backend: str
) -> None:
    # GIVEN a full one-seat course with nobody waiting
    course = await factory.course(capacity=1)
    holder = await factory.user()
    [held] = await hold(portal, holder, course)
    late = await factory.user()

    async def join() -> None:
        async with portal.transaction() as session:
            await waitlist.join_waitlist(
                session, student_id=late.id, course_id=course.id, now=clock.now()
            )

    # WHEN the holder's drop is still uncommitted while another student joins the waitlist
    async with portal.sessions() as dropping:
        await seats.drop(dropping, actor(holder), held.id, now=clock.now())
        joining = asyncio.create_task(join())
        if backend == "postgresql":
            # The joiner has read the course as full and now waits for the drop's lock.
            await until_a_transaction_waits_for_a_lock(portal)
        await dropping.commit()
    with pytest.raises(CourseNotFull):
        await joining

    # THEN the free seat is not left behind a waitlist: the student is told to enroll, and can
    assert await enrollments_of(portal, student_id=late.id) == []
    [enrolled] = await hold(portal, late, course)
    assert enrolled.status == "pending_payment"
