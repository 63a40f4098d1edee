"""The conditional updates that seats rely on, one statement at a time."""

from __future__ import annotations

import pytest

from functions.catalog.repository import CourseRepository
from lib.clock import FrozenClock
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.catalog.support import course_row


async def test_take_seat_succeeds_only_while_a_seat_is_free(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a two-seat course
    course = await factory.course(capacity=2)

    # WHEN three seats are taken one statement at a time
    async with portal.transaction() as session:
        courses = CourseRepository(session)
        taken = [await courses.take_seat(course.id, today=clock.now().date()) for _ in range(3)]

    # THEN the third finds none left
    assert taken == [True, True, False]
    assert (await course_row(portal, course.id)).seats_taken == 2


@pytest.mark.parametrize(("opens_in_days", "closes_in_days"), [(1, 5), (-5, -1)])
async def test_take_seat_refuses_outside_the_enrollment_window(
    portal: Portal, factory: Factory, clock: FrozenClock, opens_in_days: int, closes_in_days: int
) -> None:
    course = await factory.course(opens_in_days=opens_in_days, closes_in_days=closes_in_days)
    async with portal.transaction() as session:
        assert not await CourseRepository(session).take_seat(course.id, today=clock.now().date())
    assert (await course_row(portal, course.id)).seats_taken == 0


async def test_a_promotion_seat_is_refused_once_a_started_course_stops_taking_enrollments(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a course starting tomorrow, taking enrollments until its first day
    course = await factory.course(starts_in_days=1)

    # WHEN a seat is taken for the waitlist today, on the first day, and the day after
    async with portal.transaction() as session:
        courses = CourseRepository(session)
        taken = []
        for _ in range(3):
            taken.append(await courses.take_seat_for_promotion(course.id, today=clock.now().date()))
            clock.advance(days=1)
        for _ in range(sum(taken)):
            await courses.free_seat(course.id)

    # THEN it is given while the course takes enrollments, and refused after
    assert taken == [True, True, False]


async def test_free_seat_never_goes_below_zero(portal: Portal, factory: Factory) -> None:
    course = await factory.course()
    async with portal.transaction() as session:
        await CourseRepository(session).free_seat(course.id)
    assert (await course_row(portal, course.id)).seats_taken == 0


async def test_set_capacity_only_when_the_seats_taken_still_fit(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a course with three seats taken
    course = await factory.course(capacity=5)
    async with portal.transaction() as session:
        courses = CourseRepository(session)
        for _ in range(3):
            await courses.take_seat(course.id, today=clock.now().date())

        # WHEN the capacity is set below, at and above the seats taken
        results = [await courses.set_capacity(course.id, n) for n in (2, 3, 4)]
        # (the seats taken above belong to no enrollment: give them back)
        for _ in range(3):
            await courses.free_seat(course.id)

    # THEN only the values that fit are applied
    assert results == [False, True, True]
    assert (await course_row(portal, course.id)).capacity == 4


async def test_waitlist_numbers_count_up_per_course_only_while_it_is_full(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN two full one-seat courses and one with a seat left
    first, second = await factory.course(capacity=1), await factory.course(capacity=1)
    roomy = await factory.course(capacity=2)
    for course in (first, second, roomy):
        await factory.enrollment(student=await factory.user(), course=course)

    # WHEN places in line are handed out
    async with portal.transaction() as session:
        courses = CourseRepository(session)
        numbers = [
            await courses.next_waitlist_number(first.id),
            await courses.next_waitlist_number(first.id),
            await courses.next_waitlist_number(second.id),
            await courses.next_waitlist_number(roomy.id),
        ]

    # THEN each full course counts on its own, and the one with a seat gives none
    assert numbers == [1, 2, 1, None]
