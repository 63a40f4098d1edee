"""What a catalog read costs in SQL statements: a fixed number whatever the
page size and however much is in the catalog (`X-Portal-Statements`)."""

from __future__ import annotations

from datetime import time

import httpx
import pytest

from functions.auth.models import User
from functions.catalog import service as catalog
from lib.http import STATEMENTS_HEADER
from lib.security import Role
from tests.factories import Factory

MONDAY = catalog.SessionSpec("monday", time(9, 0), time(10, 0), "Room 1")
FRIDAY = catalog.SessionSpec("friday", time(9, 30), time(11, 0), "Lab")


async def _busy_catalog(factory: Factory, *, courses: int) -> dict[str, User]:
    """Courses with sessions, held seats, a waitlist; a student in several."""
    ada = await factory.user(role=Role.INSTRUCTOR)
    student, other = await factory.user(), await factory.user()
    made = [
        await factory.course(instructor=ada, capacity=1, sessions=[MONDAY, FRIDAY])
        for _ in range(courses)
    ]
    for course in made:
        await factory.enrollment(student=other, course=course)
        await factory.waitlisted(student=student, course=course)
    return {"ada": ada, "student": student, "other": other}


async def _cost(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> int:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return int(response.headers[STATEMENTS_HEADER])


@pytest.mark.parametrize("limit", [1, 100])
async def test_a_catalog_page_costs_the_same_whatever_its_size(
    client: httpx.AsyncClient, factory: Factory, limit: int
) -> None:
    # GIVEN a catalog of busy courses and a student waitlisted in each
    people = await _busy_catalog(factory, courses=4)
    student = factory.headers_for(people["student"])
    # WHEN pages of 1 and of 100 courses are read, anonymously and signed in
    anonymous = await _cost(client, f"/api/catalog/courses?limit={limit}", {})
    signed_in = await _cost(client, f"/api/catalog/courses?limit={limit}", student)
    searched = await _cost(client, f"/api/catalog/courses?limit={limit}&q=course", student)
    # THEN the page is one statement, after the catalog version for an
    # anonymous reader (whose answer is cached); signing in adds the caller's row
    assert (anonymous, signed_in, searched) == (2, 2, 2)


@pytest.mark.parametrize("limit", [1, 100])
async def test_enrollments_and_rosters_cost_the_same_whatever_their_size(
    client: httpx.AsyncClient, factory: Factory, limit: int
) -> None:
    # GIVEN a student waitlisted in several courses, and their instructor
    people = await _busy_catalog(factory, courses=4)
    student = factory.headers_for(people["student"])
    instructor = factory.headers_for(people["ada"])
    course_id = (await client.get("/api/catalog/courses?limit=1")).json()["items"][0]["id"]
    # WHEN the student lists their enrollments and the instructor the roster
    mine = await _cost(client, f"/api/catalog/enrollments?limit={limit}", student)
    roster = await _cost(
        client, f"/api/catalog/courses/{course_id}/roster?limit={limit}", instructor
    )
    by_course = await _cost(
        client, f"/api/catalog/enrollments?course_id={course_id}&limit={limit}", instructor
    )
    csv = await _cost(client, f"/api/catalog/courses/{course_id}/roster.csv", instructor)
    # THEN: the caller, then one statement (plus the course, checked, for a roster)
    assert (mine, roster, by_course, csv) == (2, 3, 3, 3)


async def test_one_course_costs_a_fixed_few_statements(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a busy course, a student with a timetable and a cart, and an administrator
    people = await _busy_catalog(factory, courses=3)
    admin = await factory.user(role=Role.ADMIN)
    course_id = (await client.get("/api/catalog/courses?limit=1")).json()["items"][0]["id"]
    path = f"/api/catalog/courses/{course_id}"
    # WHEN each of them opens the course
    anonymous = await _cost(client, path, {})
    staff = await _cost(client, path, factory.headers_for(admin))
    student = await _cost(client, path, factory.headers_for(people["student"]))
    # THEN the course is one statement (after the catalog version for an
    # anonymous reader); the caller's row; a student's clashes one more
    assert (anonymous, staff, student) == (2, 2, 3)
