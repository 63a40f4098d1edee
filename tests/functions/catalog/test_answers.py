"""The catalog's page and course answered from encoded parts kept per catalog
version: the same bytes as a fresh read for every caller, a student's own
enrollments laid in, never another's, and never older than the database for
anyone signed in, even when the change was made by another process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select

from functions.catalog.models import Course
from functions.router import create_app
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.config import Settings
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory
from tests.functions.catalog.test_read_equivalence import _catalog, _requests

LIST = "/api/catalog/courses"


@pytest.fixture
async def keeping(settings: Settings, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    """Another process on the same database that holds the catalog version a
    minute: what it keeps, it answers from. The `factory` writes through the
    test's own portal, so this one learns of no write but from the database."""
    built = build_portal(replace(settings, catalog_version_ttl_ms=60_000), clock=clock)
    transport = httpx.ASGITransport(app=create_app(portal=built))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await built.dispose()


def statements(response: httpx.Response) -> int:
    return int(response.headers["X-Portal-Statements"])


async def test_kept_parts_answer_byte_for_byte_as_fresh_reads(
    portal: Portal,
    factory: Factory,
    client: httpx.AsyncClient,
    keeping: httpx.AsyncClient,
    clock: FrozenClock,
) -> None:
    # GIVEN the varied catalog of the recorded answers and the people who read it
    people = await _catalog(portal, factory, clock)
    async with portal.read_sessions() as session:
        courses = {
            row.code: row.id for row in (await session.execute(select(Course.id, Course.code)))
        }
    asked = [(who, path) for who, path in _requests(people, courses) if path.startswith("/courses")]
    # WHEN each asks a process that keeps parts, twice (the second from what it kept),
    # and a process that reads every answer afresh
    for who, path in asked + asked:
        headers = {} if who == "anonymous" else factory.headers_for(people[who])
        kept = await keeping.get("/api/catalog" + path, headers=headers)
        fresh = await client.get("/api/catalog" + path, headers=headers)
        # THEN the answers are the same bytes, with the same validator
        assert (kept.status_code, kept.content) == (fresh.status_code, fresh.content), (who, path)
        assert kept.headers.get("ETag") == fresh.headers.get("ETag")


async def test_a_kept_page_costs_a_student_the_caller_and_their_own_enrollments(
    factory: Factory, keeping: httpx.AsyncClient
) -> None:
    # GIVEN a student waitlisted in one of several courses
    courses = [await factory.course(capacity=1) for _ in range(3)]
    await factory.enrollment(student=await factory.user(), course=courses[0])
    student = await factory.user()
    await factory.waitlisted(student=student, course=courses[0])
    mine, admin = (
        factory.headers_for(student),
        factory.headers_for(await factory.user(role=Role.ADMIN)),
    )
    detail = f"{LIST}/{courses[0].id}"
    # WHEN they read the page and the course twice, then an administrator and
    # an anonymous reader do
    first, again = await keeping.get(LIST, headers=mine), await keeping.get(LIST, headers=mine)
    course_first, course_again = (
        await keeping.get(detail, headers=mine),
        await keeping.get(detail, headers=mine),
    )
    staff = await keeping.get(LIST, headers=admin)
    anonymous = await keeping.get(LIST)
    # THEN the page costs the caller and one statement, read or kept; the
    # course read a statement more (the clashes), kept none more (the clashes
    # come with the student's own enrollment); a kept page costs the
    # anonymous reader nothing
    assert (statements(first), statements(again), statements(staff)) == (2, 2, 2)
    assert (statements(course_first), statements(course_again)) == (3, 2)
    assert statements(anonymous) == 0
    assert again.content == first.content
    assert first.json()["items"][0]["my_enrollment"]["position"] == 1
    assert anonymous.json()["items"][0]["my_enrollment"] is None


async def test_a_student_sees_their_own_change_from_another_process_at_once(
    factory: Factory, client: httpx.AsyncClient, keeping: httpx.AsyncClient
) -> None:
    # GIVEN a free course whose page and detail another process keeps
    course = await factory.course(capacity=4, price=0)
    student = factory.headers_for(await factory.user())
    detail = f"{LIST}/{course.id}"
    for path in (LIST, detail):
        assert (await keeping.get(path, headers=student)).status_code == 200
    # WHEN the student enrolls through this process
    enrolled = await client.post(f"{detail}/enroll", headers=student)
    assert enrolled.status_code == 201, enrolled.text
    enrollment_id = enrolled.json()["enrollment"]["id"]
    # THEN the other process shows them the seat taken and their enrollment
    page = (await keeping.get(LIST, headers=student)).json()["items"][0]
    one = (await keeping.get(detail, headers=student)).json()["course"]
    for shown in (page, one):
        assert shown["seats_left"] == 3
        assert shown["my_enrollment"]["id"] == enrollment_id


async def test_a_kept_part_never_carries_another_students_enrollment(
    factory: Factory, keeping: httpx.AsyncClient
) -> None:
    # GIVEN a student enrolled in a course, whose answers were kept first
    course = await factory.course(price=0)
    first = await factory.user()
    enrollment = await factory.enrollment(student=first, course=course)
    for path in (LIST, f"{LIST}/{course.id}"):
        own = await keeping.get(path, headers=factory.headers_for(first))
        assert enrollment.id in own.text
        # WHEN another student and an anonymous reader ask the same process
        other = await keeping.get(path, headers=factory.headers_for(await factory.user()))
        anonymous = await keeping.get(path)
        # THEN neither sees it, nor gets the first student's validator
        for answer in (other, anonymous):
            assert answer.status_code == 200
            assert enrollment.id not in answer.text
            assert answer.headers["ETag"] != own.headers["ETag"]


async def test_an_archived_course_kept_for_its_instructor_stays_hidden_from_others(
    factory: Factory, keeping: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    # GIVEN an archived course its instructor has read through the keeping process
    instructor = await factory.user(role=Role.INSTRUCTOR)
    course = await factory.course(instructor=instructor)
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    archived = await client.post(f"{LIST}/{course.id}/archive", headers=admin)
    assert archived.status_code == 200, archived.text
    detail = f"{LIST}/{course.id}"
    assert (await keeping.get(detail, headers=factory.headers_for(instructor))).status_code == 200
    # WHEN a student and an anonymous reader ask for it
    student = await keeping.get(detail, headers=factory.headers_for(await factory.user()))
    anonymous = await keeping.get(detail)
    # THEN it is not there for them
    assert (student.status_code, anonymous.status_code) == (404, 404)
