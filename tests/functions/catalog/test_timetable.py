"""Timetable clashes: in the cart and on a course's page for a signed-in
student. A warning, never a refusal."""

from __future__ import annotations

from datetime import date, time

import httpx

from functions.catalog.models import Course, CourseSession
from functions.catalog.timetable import Overlap, overlaps
from functions.catalog.validation import SessionSpec
from tests.factories import Factory

CART = "/api/checkout/cart"


def course(starts: date, ends: date, *sessions: tuple[int, str, str]) -> Course:
    built = Course(starts_on=starts, ends_on=ends)
    built.sessions = [
        CourseSession(weekday=d, start_time=time.fromisoformat(a), end_time=time.fromisoformat(b))
        for d, a, b in sessions
    ]
    return built


SPRING = (date(2026, 2, 2), date(2026, 5, 29))


def test_sessions_that_overlap_on_the_same_weekday_clash_for_the_dates_both_run() -> None:
    early = course(*SPRING, (0, "09:00", "10:30"))
    late = course(date(2026, 3, 4), date(2026, 7, 1), (0, "10:00", "11:00"), (2, "09:00", "10:00"))
    assert overlaps(early, late) == [
        Overlap("monday", time(10, 0), time(10, 30), date(2026, 3, 9), date(2026, 5, 25))
    ]


def test_touching_sessions_other_days_or_other_terms_do_not_clash() -> None:
    base = course(*SPRING, (0, "09:00", "10:00"))
    assert overlaps(base, course(*SPRING, (0, "10:00", "11:00"))) == []
    assert overlaps(base, course(*SPRING, (1, "09:00", "10:00"))) == []
    assert overlaps(base, course(date(2026, 6, 1), date(2026, 8, 1), (0, "09:00", "10:00"))) == []
    # Both run from a Tuesday to a Saturday only: no Monday in common.
    short = (date(2026, 6, 2), date(2026, 6, 6))
    assert (
        overlaps(course(*short, (0, "09:00", "10:00")), course(*short, (0, "09:00", "10:00"))) == []
    )


def monday(start: str, end: str) -> list[SessionSpec]:
    return [SessionSpec("monday", time.fromisoformat(start), time.fromisoformat(end))]


async def test_the_cart_warns_about_clashes_and_still_checks_out(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student enrolled in one Monday-morning course, with two more
    # Monday-morning courses and a Monday-evening one in the cart
    student = await factory.user()
    me = factory.headers_for(student)
    enrolled = await factory.course(code="TT-1", sessions=monday("09:00", "10:00"))
    await factory.reserved_seat(student=student, course=enrolled)
    first = await factory.course(code="TT-2", sessions=monday("09:30", "11:00"))
    second = await factory.course(code="TT-3", sessions=monday("10:30", "12:00"))
    evening = await factory.course(code="TT-4", sessions=monday("18:00", "20:00"))
    await factory.in_cart(student=student, courses=[first, second, evening])

    # WHEN the cart is read
    cart = (await client.get(CART, headers=me)).json()

    # THEN each clash is named once (a pair in the cart from either side):
    # which courses, where the other one is, when
    found = {
        (
            frozenset({c["course_id"], c["other_course"]["id"]}),
            c["other_is"],
            c["start_time"],
            c["end_time"],
        )
        for c in cart["clashes"]
    }
    assert found == {
        (frozenset({first.id, enrolled.id}), "pending_payment", "09:30", "10:00"),
        (frozenset({first.id, second.id}), "cart", "10:30", "11:00"),
    }
    assert len(cart["clashes"]) == 2
    clash = cart["clashes"][0]
    assert clash["weekday"] == "monday"
    assert clash["first_date"] <= clash["last_date"]
    # ... and checking out still works: a warning, not a refusal
    assert (await client.post("/api/checkout", headers=me)).status_code == 201


async def test_a_course_page_tells_a_student_what_it_clashes_with(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student with a Monday-morning enrollment and a Monday-noon course in the cart
    student = await factory.user()
    me = factory.headers_for(student)
    enrolled = await factory.course(code="CP-1", sessions=monday("09:00", "10:00"))
    await factory.reserved_seat(student=student, course=enrolled)
    carted = await factory.course(code="CP-2", sessions=monday("11:30", "13:00"))
    await factory.in_cart(student=student, courses=[carted])
    viewed = await factory.course(code="CP-3", sessions=monday("09:45", "12:00"))

    # WHEN the student, and a visitor, open a course meeting across both
    mine = (await client.get(f"/api/catalog/courses/{viewed.id}", headers=me)).json()["course"]
    anyone = (await client.get(f"/api/catalog/courses/{viewed.id}")).json()["course"]

    # THEN the student learns both clashes; the visitor has no timetable
    assert sorted((c["other_course"]["code"], c["other_is"]) for c in mine["clashes"]) == [
        ("CP-1", "pending_payment"),
        ("CP-2", "cart"),
    ]
    assert anyone["clashes"] is None
