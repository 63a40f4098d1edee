"""The catalog over HTTP: who may call what, the JSON shapes, listings and rosters."""

from __future__ import annotations

import csv
import io
from datetime import time
from typing import Any

import httpx
import pytest

from functions.auth.models import User
from functions.catalog.models import Course
from functions.catalog.service import SessionSpec
from lib.clock import FrozenClock
from lib.pagination import CursorKey
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory
from tests.functions.catalog.support import course_row, enrollment_row

pytestmark = pytest.mark.usefixtures("seat_invariant")


def encode_cursor(values: list[object]) -> str:
    """A cursor holding any values, as a crafted one would."""
    return CursorKey().encode(values)


COURSES = "/api/catalog/courses"
ENROLLMENTS = "/api/catalog/enrollments"


def course_body(instructor_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "CS-101",
        "title": "Intro to Computing",
        "description": "Programs and machines.",
        "instructor_id": instructor_id,
        "schedule": {
            "starts_on": "2026-02-02",
            "ends_on": "2026-05-29",
            "sessions": [
                {"weekday": "monday", "start_time": "09:00", "end_time": "10:30", "location": "A1"}
            ],
        },
        "capacity": 20,
        "price": {"amount": 12900, "currency": "usd"},
        "payment_due_days": 7,
    }
    body.update(changes)
    return body


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def codes(client: httpx.AsyncClient, query: str = "", **kwargs: Any) -> list[str]:
    response = await client.get(f"{COURSES}?{query}", **kwargs)
    assert response.status_code == 200, response.text
    return [c["code"] for c in response.json()["items"]]


# --- creating and changing courses ----------------------------------------------------------


async def test_admin_creates_a_course_and_anyone_reads_it(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN an administrator and an instructor
    admin = await factory.user(role=Role.ADMIN)
    teacher = await factory.user(role=Role.INSTRUCTOR, full_name="Ada Lovelace")

    # WHEN the administrator creates a course
    created = await client.post(
        COURSES, json=course_body(teacher.id), headers=factory.headers_for(admin)
    )

    # THEN it answers 201 with the documented course shape, and anyone can read it
    assert created.status_code == 201, created.text
    course = created.json()["course"]
    assert course == {
        "id": course["id"],
        "code": "CS-101",
        "title": "Intro to Computing",
        "description": "Programs and machines.",
        "instructor": {"id": teacher.id, "full_name": "Ada Lovelace"},
        "schedule": {
            "starts_on": "2026-02-02",
            "ends_on": "2026-05-29",
            "sessions": [
                {"weekday": "monday", "start_time": "09:00", "end_time": "10:30", "location": "A1"}
            ],
        },
        "capacity": 20,
        "seats_left": 20,
        "price": {"amount": 12900, "currency": "usd"},
        "status": "open",
        "payment_due_days": 7,
        "enrollment_opens_on": "2026-01-05",
        "enrollment_closes_on": "2026-02-02",
        "archived": False,
        "waitlist_length": 0,
        "my_enrollment": None,
        "clashes": None,
    }
    assert not course["id"].isdigit()
    read = await client.get(f"{COURSES}/{course['id']}")
    assert read.status_code == 200
    assert read.json()["course"] == course


@pytest.mark.parametrize("role", [None, Role.STUDENT, Role.INSTRUCTOR])
async def test_only_administrators_manage_courses(
    client: httpx.AsyncClient, factory: Factory, role: Role | None
) -> None:
    # GIVEN a course, and a caller who is not an administrator
    course = await factory.course()
    headers = {} if role is None else factory.headers_for(await factory.user(role=role))
    teacher = await factory.user(role=Role.INSTRUCTOR)

    # WHEN they create, change or archive a course
    answers = [
        await client.post(COURSES, json=course_body(teacher.id), headers=headers),
        await client.patch(f"{COURSES}/{course.id}", json={"capacity": 99}, headers=headers),
        await client.post(f"{COURSES}/{course.id}/archive", headers=headers),
    ]

    # THEN each is refused: 401 without a token, 403 with the wrong role
    expected = 401 if role is None else 403
    assert [a.status_code for a in answers] == [expected] * 3
    assert (await codes(client)) == [course.code]


async def test_create_reports_every_rule_broken_with_dotted_fields(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a body of the right shape whose values break the rules
    admin = await factory.user(role=Role.ADMIN)
    student = await factory.user()
    body = course_body(
        student.id,
        code="no spaces",
        title=" ",
        description="d" * 5001,
        schedule={
            "starts_on": "2026-03-01",
            "ends_on": "2026-02-01",
            "sessions": [
                {
                    "weekday": "monday",
                    "start_time": "10:00",
                    "end_time": "09:00",
                    "location": "L" * 201,
                },
            ],
        },
        capacity=0,
        price={"amount": -100, "currency": "xyz"},
        payment_due_days=366,
        enrollment_opens_on="2026-01-20",
        enrollment_closes_on="2026-01-10",
    )

    # WHEN it is posted
    response = await client.post(COURSES, json=body, headers=factory.headers_for(admin))

    # THEN one 422 answer names every field
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {
        "code",
        "title",
        "description",
        "instructor_id",
        "schedule.ends_on",
        "schedule.sessions.0.end_time",
        "schedule.sessions.0.location",
        "capacity",
        "price.amount",
        "price.currency",
        "payment_due_days",
        "enrollment_closes_on",
    }


WRONG_SHAPES: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({"capacity": "ten"}, {"capacity": "must be an integer"}),
    ({"seats_taken": 3}, {"seats_taken": "is not an accepted field"}),
    ({"status": "full"}, {"status": "is not an accepted field"}),
    ({"price": {"amount": 100}}, {"price.currency": "is required"}),
    (
        {
            "schedule": {
                "starts_on": "2026-02-02",
                "ends_on": "2026-05-29",
                "sessions": [{"weekday": "funday", "start_time": "09:00", "end_time": "10:00"}],
            }
        },
        {"schedule.sessions.0.weekday": "is not one of the accepted values"},
    ),
]


async def test_create_refuses_a_body_of_the_wrong_shape(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN bodies with a wrong type, a derived field or a missing part
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    teacher = await factory.user(role=Role.INSTRUCTOR)

    # WHEN each is posted
    answers = [
        await client.post(COURSES, json=course_body(teacher.id, **changes), headers=admin)
        for changes, _ in WRONG_SHAPES
    ]

    # THEN each is 422 naming that field, and nothing is created
    assert [(a.status_code, error_of(a)["fields"]) for a in answers] == [
        (422, fields) for _, fields in WRONG_SHAPES
    ]
    assert await codes(client) == []


async def test_a_taken_code_is_a_conflict(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN a course CS-101
    admin = await factory.user(role=Role.ADMIN)
    teacher = await factory.user(role=Role.INSTRUCTOR)
    await factory.course(code="CS-101", instructor=teacher)

    # WHEN another is created as cs-101
    response = await client.post(
        COURSES, json=course_body(teacher.id, code="cs-101"), headers=factory.headers_for(admin)
    )

    # THEN it is 409 code_taken
    assert response.status_code == 409
    assert error_of(response)["code"] == "code_taken"
    assert error_of(response)["fields"] == {"code": "is already used"}


async def test_patch_changes_a_course(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN a course
    admin = await factory.user(role=Role.ADMIN)
    course = await factory.course(price=12900, capacity=10)

    # WHEN its price and schedule change
    response = await client.patch(
        f"{COURSES}/{course.id}",
        json={
            "price": {"amount": 4500, "currency": "EUR"},
            "schedule": {
                "starts_on": "2026-03-02",
                "ends_on": "2026-04-30",
                "sessions": [
                    {"weekday": "friday", "start_time": "13:15", "end_time": "15:00"},
                ],
            },
        },
        headers=factory.headers_for(admin),
    )

    # THEN the course shows the change and keeps the rest
    assert response.status_code == 200, response.text
    changed = response.json()["course"]
    assert changed["price"] == {"amount": 4500, "currency": "eur"}
    assert changed["schedule"]["sessions"] == [
        {"weekday": "friday", "start_time": "13:15", "end_time": "15:00", "location": ""}
    ]
    assert (changed["capacity"], changed["code"]) == (10, course.code)


async def test_patch_moving_the_dates_keeps_the_sessions_unless_they_are_given(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a course meeting on Mondays
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    course = await factory.course()
    dates = {"starts_on": "2026-03-02", "ends_on": "2026-04-30"}

    # WHEN only its dates move
    moved = await client.patch(f"{COURSES}/{course.id}", json={"schedule": dates}, headers=admin)

    # THEN the sessions stay; an explicit empty list clears them
    assert moved.status_code == 200, moved.text
    assert moved.json()["course"]["schedule"]["starts_on"] == "2026-03-02"
    assert [s["weekday"] for s in moved.json()["course"]["schedule"]["sessions"]] == ["monday"]
    cleared = await client.patch(
        f"{COURSES}/{course.id}", json={"schedule": dates | {"sessions": []}}, headers=admin
    )
    assert cleared.json()["course"]["schedule"]["sessions"] == []


async def test_patch_an_unknown_course_is_not_found(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.user(role=Role.ADMIN)
    response = await client.patch(
        f"{COURSES}/{'0' * 32}", json={"title": "x"}, headers=factory.headers_for(admin)
    )
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


async def test_capacity_below_the_seats_taken_is_a_conflict_and_more_lets_the_waitlist_in(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a full two-seat course and a waiting student
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    course = await factory.course(capacity=2)
    for _ in range(2):
        await factory.enrollment(student=await factory.user(), course=course)
    waiting = await factory.waitlisted(student=await factory.user(), course=course)

    # WHEN the capacity is lowered to one
    lower = await client.patch(f"{COURSES}/{course.id}", json={"capacity": 1}, headers=admin)

    # THEN it is a 409 with a clear code, and nothing changed
    assert lower.status_code == 409
    assert error_of(lower)["code"] == "capacity_below_taken"
    assert error_of(lower)["fields"] == {"capacity": "must be at least 2, the seats already taken"}
    assert (await course_row(portal, course.id)).capacity == 2

    # WHEN it is raised to three THEN the waiting student holds the new seat
    higher = await client.patch(f"{COURSES}/{course.id}", json={"capacity": 3}, headers=admin)
    assert higher.status_code == 200
    assert (higher.json()["course"]["seats_left"], higher.json()["course"]["status"]) == (0, "full")
    assert (await enrollment_row(portal, waiting.id)).status == "pending_payment"


async def test_archived_courses_leave_the_catalog_but_not_their_history(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN two courses of one instructor, a student enrolled in the second, which the
    # administrator archives
    admin = await factory.user(role=Role.ADMIN)
    teacher = await factory.user(role=Role.INSTRUCTOR)
    await factory.course(code="KEEP-1", instructor=teacher)
    gone = await factory.course(code="GONE-1", instructor=teacher)
    member = await factory.user()
    await factory.enrollment(student=member, course=gone)
    archived = await client.post(f"{COURSES}/{gone.id}/archive", headers=factory.headers_for(admin))
    assert archived.status_code == 200
    assert archived.json()["course"]["archived"] is True
    assert archived.json()["course"]["status"] == "closed"

    # WHEN anonymous visitors and students look for it THEN it is gone from the catalog,
    # and only the student who was in it can still open it
    stranger = factory.headers_for(await factory.user())
    as_member = factory.headers_for(member)
    assert (await client.get(f"{COURSES}/{gone.id}")).status_code == 404
    assert (await client.get(f"{COURSES}/{gone.id}", headers=stranger)).status_code == 404
    assert (await client.get(f"{COURSES}/{gone.id}", headers=as_member)).status_code == 200
    for headers in ({}, stranger, as_member):
        assert await codes(client, "include_archived=1", headers=headers) == ["KEEP-1"]

    # WHEN staff look for it THEN administrators list it on request, its instructor
    # lists it among their own courses, another instructor does neither
    as_admin = factory.headers_for(admin)
    assert await codes(client, headers=as_admin) == ["KEEP-1"]
    assert await codes(client, "include_archived=1", headers=as_admin) == ["GONE-1", "KEEP-1"]
    own = {"include_archived": "1", "instructor": teacher.id}
    as_teacher = factory.headers_for(teacher)
    assert await codes(client, params=own, headers=as_teacher) == ["GONE-1", "KEEP-1"]
    other = await factory.user(role=Role.INSTRUCTOR)
    as_other = factory.headers_for(other)
    assert await codes(client, params=own, headers=as_other) == ["KEEP-1"]
    assert (await client.get(f"{COURSES}/{gone.id}", headers=as_other)).status_code == 404

    # AND nobody can enroll in it any more
    enroll = await client.post(f"{COURSES}/{gone.id}/enroll", headers=stranger)
    assert (enroll.status_code, error_of(enroll)["code"]) == (409, "course_closed")


# --- listing ------------------------------------------------------------------------------


async def test_text_search_looks_through_code_title_description_and_instructor(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN courses whose words, codes and instructors differ
    grace = await factory.user(role=Role.INSTRUCTOR, full_name="Grace Hopper")
    await factory.course(code="CS-101", title="Linear Algebra", description="Vectors and matrices",
                         instructor=grace)  # fmt: skip
    await factory.course(code="HIST-2", title="Pass rate 100% guaranteed")
    await factory.course(code="HIST-3", title="Pass rate 1000 students")
    await factory.course(code="SN-1", title="Snakes", description="the snake_case style")
    await factory.course(code="SN-2", title="Snakes too", description="the snakeXcase style")
    await factory.course(code="WIN-1", title="Paths", description="saved in C:\\temp")

    # WHEN the catalog is searched THEN case does not matter and % _ \ are plain characters
    expectations = {
        "cs-10": ["CS-101"],
        "ALGEBRA": ["CS-101"],
        "MaTrIcEs": ["CS-101"],
        "hopper": ["CS-101"],
        "grace h": ["CS-101"],
        "pass rate": ["HIST-2", "HIST-3"],
        "100%": ["HIST-2"],
        "%": ["HIST-2"],
        "e_c": ["SN-1"],
        "_": ["SN-1"],
        "c:\\t": ["WIN-1"],
        "  snakes  ": ["SN-1", "SN-2"],
        "nothing like it": [],
    }
    for query, expected in expectations.items():
        assert await codes(client, params={"q": query}) == expected, query


async def test_filters_by_instructor_status_weekday_and_price(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN courses with different instructors, states, days and prices
    ada = await factory.user(role=Role.INSTRUCTOR)
    tuesday = [SessionSpec("tuesday", time(9, 0), time(10, 0))]
    await factory.course(code="F-FREE", price=0, instructor=ada)
    await factory.course(code="F-100", price=100, sessions=tuesday)
    await factory.course(code="F-500", price=500, instructor=ada, opens_in_days=2, closes_in_days=9)
    full = await factory.course(code="F-900", price=900, capacity=1, sessions=tuesday)
    await factory.enrollment(student=await factory.user(), course=full)

    # WHEN the catalog is filtered THEN only the matching courses come back
    assert await codes(client, params={"instructor": ada.id}) == ["F-500", "F-FREE"]
    assert await codes(client, params={"status": "open"}) == ["F-100", "F-FREE"]
    assert await codes(client, params={"status": "full"}) == ["F-900"]
    assert await codes(client, params={"status": "closed"}) == ["F-500"]
    assert await codes(client, params={"weekday": "tuesday"}) == ["F-100", "F-900"]
    assert await codes(client, params={"weekday": "Tuesday"}) == ["F-100", "F-900"]
    assert await codes(client, params={"min_price": "100", "max_price": "500"}) == [
        "F-100",
        "F-500",
    ]
    assert await codes(client, params={"max_price": "0"}) == ["F-FREE"]
    assert await codes(client, params={"min_price": "901"}) == []
    assert await codes(
        client, params={"instructor": ada.id, "status": "open", "max_price": "500"}
    ) == ["F-FREE"]


SORT_ROWS = [
    # code, title, price, starts_in_days
    ("S-07", "Biology", 500, 10),
    ("S-03", "Algebra", 500, 20),
    ("S-05", "Biology", 100, 10),
    ("S-01", "Chemistry", 0, 30),
    ("S-06", "Algebra", 900, 20),
    ("S-02", "Drawing", 500, 10),
    ("S-04", "Biology", 100, 40),
]


@pytest.mark.parametrize(
    "sort",
    ["code", "-code", "title", "-title", "starts_on", "-starts_on", "price", "-price"],
)
async def test_cursor_paging_visits_every_course_once_in_sort_order(
    client: httpx.AsyncClient, factory: Factory, sort: str
) -> None:
    # GIVEN seven courses with ties in title, price and start date
    courses: list[Course] = []
    for code, title, price, starts_in in SORT_ROWS:
        courses.append(
            await factory.course(code=code, title=title, price=price, starts_in_days=starts_in)
        )
    key = sort.lstrip("-")
    attribute = {"price": "price_amount"}.get(key, key)
    expected = sorted(courses, key=lambda c: (getattr(c, attribute), c.id))
    if sort.startswith("-"):
        expected.reverse()

    # WHEN the catalog is read two at a time, following next_cursor
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"sort": sort, "limit": "2"} | ({"cursor": cursor} if cursor else {})
        response = await client.get(COURSES, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen.extend(c["id"] for c in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10

    # THEN every course comes once, in order, with no gap
    assert seen == [c.id for c in expected]
    assert pages == 4


async def test_a_page_with_room_to_spare_has_no_next_cursor(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    for _ in range(3):
        await factory.course()
    page = (await client.get(COURSES, params={"limit": "3"})).json()
    assert (len(page["items"]), page["next_cursor"]) == (3, None)
    page = (await client.get(COURSES, params={"limit": "2"})).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] is not None


BAD_LISTING_PARAMETERS: list[tuple[dict[str, str], str]] = [
    ({"sort": "seats"}, "sort"),
    ({"sort": "--price"}, "sort"),
    ({"status": "half"}, "status"),
    ({"weekday": "funday"}, "weekday"),
    ({"min_price": "cheap"}, "min_price"),
    ({"min_price": "-1"}, "min_price"),
    ({"max_price": "1.5"}, "max_price"),
    ({"max_price": "99999999999999999999"}, "max_price"),
    ({"instructor": "\x00"}, "instructor"),
    ({"q": "a\x00b"}, "q"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"cursor": "not-a-cursor!"}, "cursor"),
    ({"cursor": encode_cursor(["CS-101", 7])}, "cursor"),
    ({"cursor": encode_cursor(["CS-101", "\x00"])}, "cursor"),
    ({"sort": "price", "cursor": encode_cursor([10**12, "a"])}, "cursor"),
    ({"sort": "starts_on", "cursor": encode_cursor(["2026-13-01", "a"])}, "cursor"),
    ({"q": "x" * 201}, "q"),
]


async def test_bad_listing_parameters_are_422_naming_the_field(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a catalog
    await factory.course()

    # WHEN it is listed with each bad parameter
    answers = [await client.get(COURSES, params=params) for params, _ in BAD_LISTING_PARAMETERS]

    # THEN each is 422 naming that parameter (a server error would show up here too)
    assert [(a.status_code, list(error_of(a).get("fields", {}))) for a in answers] == [
        (422, [field]) for _, field in BAD_LISTING_PARAMETERS
    ]


async def test_several_bad_listing_parameters_are_reported_together(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        COURSES,
        params={"sort": "x", "status": "y", "weekday": "z", "min_price": "a", "max_price": "b"},
    )
    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {
        "sort",
        "status",
        "weekday",
        "min_price",
        "max_price",
    }


@pytest.mark.parametrize(("made_for", "used_with"), [("code", "price"), ("price", "starts_on")])
async def test_a_cursor_from_another_sort_is_422_not_a_failure(
    client: httpx.AsyncClient, factory: Factory, made_for: str, used_with: str
) -> None:
    # GIVEN a cursor handed out for one sort order
    for _ in range(3):
        await factory.course()
    cursor = (await client.get(COURSES, params={"sort": made_for, "limit": "1"})).json()[
        "next_cursor"
    ]

    # WHEN it is used with another THEN the cursor is refused, not a server error
    response = await client.get(COURSES, params={"sort": used_with, "cursor": cursor})
    assert response.status_code == 422
    assert list(error_of(response)["fields"]) == ["cursor"]


async def test_a_signed_in_student_sees_their_enrollments_and_seats_left(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student holding a seat in one course and waiting for another
    student = await factory.user()
    held_course = await factory.course(code="MY-1", capacity=3)
    full_course = await factory.course(code="MY-2", capacity=1)
    await factory.course(code="MY-3")
    held = await factory.enrollment(student=student, course=held_course)
    await factory.enrollment(student=await factory.user(), course=full_course)
    waiting = await factory.waitlisted(student=student, course=full_course)

    # WHEN the student lists the catalog
    listing = await client.get(COURSES, headers=factory.headers_for(student))
    anonymous = await client.get(COURSES)

    # THEN each course shows their own enrollment and the seats left
    items = {c["code"]: c for c in listing.json()["items"]}
    assert items["MY-1"]["my_enrollment"] == {
        "id": held.id,
        "status": "pending_payment",
        "due_at": "2026-01-05T09:30:00Z",
        "position": None,
        "payment_id": None,
    }
    assert items["MY-2"]["my_enrollment"] == {
        "id": waiting.id,
        "status": "waitlisted",
        "due_at": None,
        "position": 1,
        "payment_id": None,
    }
    assert items["MY-3"]["my_enrollment"] is None
    assert [items[c]["seats_left"] for c in ("MY-1", "MY-2", "MY-3")] == [2, 0, 10]
    assert [items[c]["status"] for c in ("MY-1", "MY-2", "MY-3")] == ["open", "full", "open"]
    assert items["MY-2"]["waitlist_length"] == 1
    assert all(c["my_enrollment"] is None for c in anonymous.json()["items"])


async def test_an_unknown_course_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{COURSES}/{'0' * 32}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# --- enrolling, the waitlist and drops over HTTP ---------------------------------------------


async def test_enroll_join_leave_and_drop(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a one-seat course and two students
    course = await factory.course(capacity=1)
    first, second = (
        factory.headers_for(await factory.user()),
        factory.headers_for(await factory.user()),
    )

    # WHEN the first enrolls THEN a seat is held
    enrolled = await client.post(f"{COURSES}/{course.id}/enroll", headers=first)
    assert enrolled.status_code == 201
    enrollment = enrolled.json()["enrollment"]
    assert (enrollment["status"], enrollment["course_id"]) == ("pending_payment", course.id)

    # WHEN the first joins the waitlist too THEN they already have a place
    again = await client.post(f"{COURSES}/{course.id}/waitlist", headers=first)
    assert (again.status_code, error_of(again)["code"]) == (409, "already_enrolled")

    # WHEN the second enrolls THEN the course is full, naming it
    full = await client.post(f"{COURSES}/{course.id}/enroll", headers=second)
    assert (full.status_code, error_of(full)["code"]) == (409, "course_full")
    assert course.code in error_of(full)["message"]

    # WHEN the second joins the waitlist, leaves, and joins again
    joined = await client.post(f"{COURSES}/{course.id}/waitlist", headers=second)
    assert joined.status_code == 201
    assert (joined.json()["enrollment"]["status"], joined.json()["enrollment"]["position"]) == (
        "waitlisted",
        1,
    )
    left = await client.delete(f"{COURSES}/{course.id}/waitlist", headers=second)
    assert (left.status_code, left.json()["enrollment"]["status"]) == (200, "dropped")
    not_there = await client.delete(f"{COURSES}/{course.id}/waitlist", headers=second)
    assert (not_there.status_code, error_of(not_there)["code"]) == (404, "not_on_waitlist")
    rejoined = await client.post(f"{COURSES}/{course.id}/waitlist", headers=second)
    assert rejoined.status_code == 201

    # WHEN the second tries to drop the first's enrollment THEN it does not exist for them
    other = await client.post(f"{ENROLLMENTS}/{enrollment['id']}/drop", headers=second)
    assert other.status_code == 404

    # WHEN the first drops THEN the second is promoted
    dropped = await client.post(f"{ENROLLMENTS}/{enrollment['id']}/drop", headers=first)
    assert (dropped.status_code, dropped.json()["enrollment"]["status"]) == (200, "dropped")
    promoted = await enrollment_row(portal, rejoined.json()["enrollment"]["id"])
    assert promoted.status == "pending_payment"


async def test_joining_the_waitlist_of_a_course_with_seats_is_refused(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    course = await factory.course()
    student = factory.headers_for(await factory.user())
    response = await client.post(f"{COURSES}/{course.id}/waitlist", headers=student)
    assert (response.status_code, error_of(response)["code"]) == (409, "course_not_full")


@pytest.mark.parametrize("role", [Role.INSTRUCTOR, Role.ADMIN])
async def test_only_students_enroll(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, role: Role
) -> None:
    course = await factory.course()
    headers = factory.headers_for(await factory.user(role=role))
    for path in ("enroll", "waitlist"):
        assert (
            await client.post(f"{COURSES}/{course.id}/{path}", headers=headers)
        ).status_code == 403
    assert (await client.post(f"{COURSES}/{course.id}/enroll")).status_code == 401
    assert (await course_row(portal, course.id)).seats_taken == 0


async def test_drop_after_the_start_is_for_administrators(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a student's enrollment in a course that started yesterday
    course = await factory.course(starts_in_days=1, price=0)
    student = await factory.user()
    enrollment = await factory.enrollment(student=student, course=course)
    clock.advance(days=2)

    # WHEN the student drops THEN it is 409 cannot_drop
    refused = await client.post(
        f"{ENROLLMENTS}/{enrollment.id}/drop", headers=factory.headers_for(student)
    )
    assert (refused.status_code, error_of(refused)["code"]) == (409, "cannot_drop")

    # WHEN an administrator drops it THEN it is dropped
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    dropped = await client.post(f"{ENROLLMENTS}/{enrollment.id}/drop", headers=admin)
    assert (dropped.status_code, dropped.json()["enrollment"]["status"]) == (200, "dropped")


async def test_my_enrollments_are_paged_newest_first(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a student with four enrollments, two made at the same moment, and another
    # student's enrollment
    student = await factory.user()
    made = []
    for hours in (0, 1, 0, 1):
        clock.advance(hours=hours)
        made.append(await factory.enrollment(student=student, course=await factory.course()))
    await factory.enrollment(student=await factory.user(), course=await factory.course())

    # WHEN they read their enrollments one at a time
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"limit": "1"} | ({"cursor": cursor} if cursor else {})
        response = await client.get(
            ENROLLMENTS, params=params, headers=factory.headers_for(student)
        )
        assert response.status_code == 200, response.text
        seen.extend(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    # THEN they see exactly their own, newest first (ties by id), each with its course
    newest_first = sorted(made, key=lambda e: (e.created_at, e.id), reverse=True)
    assert [e["id"] for e in seen] == [e.id for e in newest_first]
    assert all(e["course"]["id"] == e["course_id"] for e in seen)


async def test_a_bad_enrollment_or_roster_cursor_is_422(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a course with one enrollment
    course = await factory.course()
    student = await factory.user()
    await factory.enrollment(student=student, course=course)
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))

    # WHEN enrollments and the roster are read with cursors that no page handed out
    mine = [
        encode_cursor(["yesterday", "x"]),
        encode_cursor([5, "x"]),
        encode_cursor(["2026-01-05T09:00:00", "x"]),
        encode_cursor(["2026-01-05T09:00:00+00:00", "\x00"]),
    ]
    answers = [
        await client.get(ENROLLMENTS, params={"cursor": c}, headers=factory.headers_for(student))
        for c in mine
    ]
    for cursor in (encode_cursor(["a\x00"]), encode_cursor([5])):
        answers.append(
            await client.get(
                f"{COURSES}/{course.id}/roster", params={"cursor": cursor}, headers=admin
            )
        )
        answers.append(
            await client.get(
                ENROLLMENTS, params={"course_id": course.id, "cursor": cursor}, headers=admin
            )
        )

    # THEN each is refused as an invalid cursor, never a server error
    assert [(a.status_code, error_of(a).get("fields")) for a in answers] == [
        (422, {"cursor": "is not a valid cursor"})
    ] * 8


# --- rosters --------------------------------------------------------------------------------


async def _course_with_roster(factory: Factory, *, teacher: User) -> tuple[Course, list[User]]:
    """A full two-seat course with two holders and two students waiting."""
    course = await factory.course(code="RO-101", capacity=2, instructor=teacher)
    students = [await factory.user(username=f"student-{c}") for c in "dcba"]
    for student in students[:2]:
        await factory.enrollment(student=student, course=course)
    for student in students[2:]:
        await factory.waitlisted(student=student, course=course)
    return course, students


@pytest.mark.parametrize("who", ["instructor", "admin"])
async def test_course_staff_read_the_roster_page_by_page(
    client: httpx.AsyncClient, factory: Factory, who: str
) -> None:
    # GIVEN a course with two seats taken and two students waiting
    teacher = await factory.user(role=Role.INSTRUCTOR)
    course, _ = await _course_with_roster(factory, teacher=teacher)
    reader = teacher if who == "instructor" else await factory.user(role=Role.ADMIN)

    # WHEN its instructor or an administrator reads the roster three at a time
    first = await client.get(
        f"{COURSES}/{course.id}/roster", params={"limit": "3"}, headers=factory.headers_for(reader)
    )
    second = await client.get(
        f"{COURSES}/{course.id}/roster",
        params={"limit": "3", "cursor": first.json()["next_cursor"]},
        headers=factory.headers_for(reader),
    )

    # THEN everyone is listed once by username, the waiting ones with their place in line
    assert first.status_code == second.status_code == 200
    entries = first.json()["items"] + second.json()["items"]
    assert second.json()["next_cursor"] is None
    assert [
        (e["student"]["username"], e["enrollment"]["status"], e["enrollment"]["position"])
        for e in entries
    ] == [
        ("student-a", "waitlisted", 2),
        ("student-b", "waitlisted", 1),
        ("student-c", "pending_payment", None),
        ("student-d", "pending_payment", None),
    ]


@pytest.mark.parametrize("who", ["other instructor", "student"])
async def test_others_may_not_read_a_roster(
    client: httpx.AsyncClient, factory: Factory, who: str
) -> None:
    # GIVEN a course and someone who is neither its instructor nor an administrator
    teacher = await factory.user(role=Role.INSTRUCTOR)
    course, students = await _course_with_roster(factory, teacher=teacher)
    reader = await factory.user(role=Role.INSTRUCTOR) if who == "other instructor" else students[0]
    headers = factory.headers_for(reader)

    # WHEN they ask for the roster in any form THEN it is 403
    answers = [
        await client.get(f"{COURSES}/{course.id}/roster", headers=headers),
        await client.get(f"{COURSES}/{course.id}/roster.csv", headers=headers),
        await client.get(ENROLLMENTS, params={"course_id": course.id}, headers=headers),
    ]
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert (await client.get(f"{COURSES}/{course.id}/roster")).status_code == 401


async def test_the_instructor_lists_a_courses_enrollments(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    teacher = await factory.user(role=Role.INSTRUCTOR)
    course, _ = await _course_with_roster(factory, teacher=teacher)
    response = await client.get(
        ENROLLMENTS, params={"course_id": course.id}, headers=factory.headers_for(teacher)
    )
    assert response.status_code == 200
    assert sorted((e["status"], e["position"]) for e in response.json()["items"]) == [
        ("pending_payment", None),
        ("pending_payment", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]


async def test_the_roster_of_an_unknown_course_is_404(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    assert (await client.get(f"{COURSES}/{'0' * 32}/roster", headers=admin)).status_code == 404


async def test_roster_csv_has_a_header_and_a_row_per_entry_and_defuses_formulas(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a course whose students include one named like a spreadsheet formula
    teacher = await factory.user(role=Role.INSTRUCTOR)
    course, _ = await _course_with_roster(factory, teacher=teacher)
    sly = await factory.user(username="student-e", full_name='=HYPERLINK("http://x","y")')
    roomy = await factory.course(code="RO-102", instructor=teacher)
    await factory.enrollment(student=sly, course=roomy)
    await factory.enrollment(student=await factory.user(username="student-f", full_name="-1+2"),
                             course=roomy)  # fmt: skip

    # WHEN the instructor downloads both rosters
    full = await client.get(
        f"{COURSES}/{course.id}/roster.csv", headers=factory.headers_for(teacher)
    )
    tricky = await client.get(
        f"{COURSES}/{roomy.id}/roster.csv", headers=factory.headers_for(teacher)
    )

    # THEN each is a CSV file: a header, then one row per entry
    assert full.status_code == 200
    assert full.headers["content-type"].startswith("text/csv")
    assert full.headers["content-disposition"] == 'attachment; filename="roster-RO-101.csv"'
    rows = list(csv.reader(io.StringIO(full.text)))
    assert rows[0] == [
        "username",
        "full_name",
        "email",
        "status",
        "waitlist_position",
        "due_at",
        "enrolled_at",
    ]
    assert [(r[0], r[3], r[4]) for r in rows[1:]] == [
        ("student-a", "waitlisted", "2"),
        ("student-b", "waitlisted", "1"),
        ("student-c", "pending_payment", ""),
        ("student-d", "pending_payment", ""),
    ]

    # AND a cell that a spreadsheet would run as a formula is neutralised
    cells = {r[0]: r[1] for r in list(csv.reader(io.StringIO(tricky.text)))[1:]}
    assert cells == {"student-e": '\'=HYPERLINK("http://x","y")', "student-f": "'-1+2"}
