"""The catalog's read statements use indexes, on a seeded and analyzed
catalog of a few thousand courses: text search goes through SQLite's FTS5
trigram table or PostgreSQL's trigram GIN index, never through every course;
a student's enrollments, a roster and places in line go through the
enrollments' indexes. The plans are those of the statements the portal
really sends for a request."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest

from functions.auth.models import User
from functions.router import create_app
from functions.runtime import build_portal
from lib.config import Settings
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory
from tests.functions.catalog.seeding import Seeded, plan_of, seed_catalog, sent_statements

COURSES = "/api/catalog/courses"
# A full pass over a table of rows: SQLite's "SCAN t" (with or without a
# covering index, but not a virtual table), PostgreSQL's sequential scan.
_SQLITE_FULL_SCAN = re.compile(r"^SCAN (?!course_search VIRTUAL TABLE)(\w+)", re.MULTILINE)
_POSTGRES_FULL_SCAN = re.compile(r"Seq Scan on (\w+)")


@pytest.fixture
async def seeded(portal: Portal) -> Seeded:
    return await seed_catalog(portal.engine, courses=3000, students=400)


async def _plans(
    portal: Portal, client: httpx.AsyncClient, path: str, headers: dict[str, str], marker: str
) -> list[str]:
    """The plans of the statements a request sends that mention `marker`."""
    with sent_statements(*portal.engines, reads=portal.reads) as sent:
        response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    chosen = [(s, p) for s, p in sent if marker in s]
    assert chosen, f"no statement mentions {marker!r}"
    return [await plan_of(portal.engine, s, p) for s, p in chosen]


# The catalog version is summed over its 16 shard rows, with the page it
# versions (on SQLite through a one-row subquery named `version`).
_READ_WHOLE = {"catalog_versions", "version"}


def _full_scans(backend: str, plan: str) -> list[str]:
    pattern = _SQLITE_FULL_SCAN if backend == "sqlite" else _POSTGRES_FULL_SCAN
    return [table for table in pattern.findall(plan) if table not in _READ_WHOLE]


@pytest.mark.parametrize(
    "query", ["q=physics", "q=PHYSICS&weekday=monday&max_price=5000&status=open"]
)
async def test_text_search_uses_the_index(
    portal: Portal, client: httpx.AsyncClient, backend: str, seeded: Seeded, query: str
) -> None:
    # GIVEN a seeded, analyzed catalog in which few courses are about physics
    # WHEN the catalog is searched for it, alone and with filters
    [plan] = await _plans(portal, client, f"{COURSES}?{query}", {}, "FROM courses")
    # THEN the full-text table or the trigram index finds the courses, and no
    # table is read from end to end
    if backend == "sqlite":
        assert re.search(r"SCAN course_search VIRTUAL TABLE INDEX \d+:M", plan), plan
        assert "SEARCH courses USING INDEX sqlite_autoindex_courses_1 (id=?)" in plan, plan
    else:
        assert "Bitmap Index Scan on ix_courses_search_text_trgm" in plan, plan
    assert _full_scans(backend, plan) == [], plan


async def test_a_short_query_scans_the_search_text_and_still_answers(
    portal: Portal, client: httpx.AsyncClient, backend: str, seeded: Seeded
) -> None:
    # GIVEN a seeded catalog
    # WHEN it is searched for two letters, too few for a trigram
    [plan] = await _plans(portal, client, f"{COURSES}?q=ph", {}, "FROM courses")
    # THEN the courses are read in order of the page (a scan, by design), not
    # through the full-text table
    assert "course_search" not in plan
    response = await client.get(f"{COURSES}?q=ph&limit=100")
    assert len(response.json()["items"]) == 3000 // 500


async def test_enrollments_roster_and_places_in_line_use_the_enrollments_indexes(
    portal: Portal, client: httpx.AsyncClient, factory: Factory, backend: str, seeded: Seeded
) -> None:
    # GIVEN a seeded catalog with a long waitlist for one course
    student = User(id=seeded.waiting_student_id, role=Role.STUDENT)
    instructor = User(id=seeded.instructor_ids[1], role=Role.INSTRUCTOR)
    busy = seeded.busy_course_id
    as_student, as_instructor = factory.headers_for(student), factory.headers_for(instructor)
    # WHEN the student lists their enrollments (each with its place in line and
    # the waitlist's length), and the instructor the roster and the enrollments
    plans = [
        *await _plans(portal, client, "/api/catalog/enrollments", as_student, "FROM enrollments"),
        *await _plans(portal, client, f"{COURSES}/{busy}/roster", as_instructor, "ahead"),
        *await _plans(
            portal, client, f"/api/catalog/enrollments?course_id={busy}", as_instructor, "ahead"
        ),
        *await _plans(portal, client, f"{COURSES}/{busy}", as_student, "waiting"),
    ]
    # THEN no statement reads a table from end to end
    for plan in plans:
        assert _full_scans(backend, plan) == [], plan
    # AND the lines are counted through the (course, status, queue) index
    for plan in plans:
        assert "ix_enrollments_course_status_queue" in plan, plan
    assert "ix_enrollments_student_id_created_at" in plans[0], plans[0]


async def test_a_students_timetable_and_own_enrollments_are_read_by_key(
    portal: Portal, factory: Factory, backend: str, seeded: Seeded, settings: Settings
) -> None:
    # GIVEN a seeded catalog, a student on a waitlist, and a process that keeps
    # the catalog's parts (so that the student's own part is read on its own)
    as_student = factory.headers_for(User(id=seeded.waiting_student_id, role=Role.STUDENT))
    course = f"{COURSES}/{seeded.busy_course_id}"
    keeping = build_portal(replace(settings, catalog_version_ttl_ms=60_000), clock=portal.clock)
    transport = httpx.ASGITransport(app=create_app(portal=keeping))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            # WHEN the student opens a course, read and then kept, and a kept page
            assert (await client.get(COURSES, headers=as_student)).status_code == 200
            plans = [
                *await _plans(keeping, client, course, as_student, "cart_items"),
                *await _plans(keeping, client, course, as_student, "cart_items"),
                *await _plans(keeping, client, COURSES, as_student, "mine"),
            ]
    finally:
        await keeping.dispose()
    # THEN no statement reads a table from end to end (the timetable's courses
    # are looked up by key, not filtered from all of them); the seeded catalog
    # has no carts, and PostgreSQL reads an empty table whole
    assert len(plans) == 3
    for plan in plans:
        assert [t for t in _full_scans(backend, plan) if t != "cart_items"] == [], plan
    # AND the timetable's courses are found by their key, not walked in order
    by_key = (
        "pk_courses on courses"
        if backend == "postgresql"
        else "courses USING INDEX sqlite_autoindex_courses_1 (id=?)"
    )
    for plan in plans[:2]:
        assert by_key in plan, plan
