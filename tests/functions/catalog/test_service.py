"""Course rules: validation, derived status, archiving, capacity, listings."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, time

import pytest

from functions.auth.models import User
from functions.catalog import listing, service
from functions.catalog.errors import CapacityBelowTaken, CodeTaken, CourseNotFound
from functions.catalog.listing import CourseFilter
from functions.catalog.models import WEEKDAYS, EnrollmentStatus
from functions.catalog.service import CourseSpec, SessionSpec
from lib.clock import FrozenClock
from lib.errors import Invalid
from lib.runtime import CurrentUser, Portal
from lib.security import Role
from tests.factories import Factory
from tests.functions.catalog.support import (
    course_row,
    enrollment_row,
    outbox,
    until_a_transaction_waits_for_a_lock,
)

pytestmark = pytest.mark.usefixtures("seat_invariant")

TODAY = date(2026, 1, 5)


def spec(instructor_id: str, **changes: object) -> CourseSpec:
    base = CourseSpec(
        code="CS-101",
        title="Intro to Computing",
        description="Programs and machines.",
        instructor_id=instructor_id,
        starts_on=date(2026, 2, 2),
        ends_on=date(2026, 5, 29),
        sessions=[SessionSpec("monday", time(9, 0), time(10, 30), "Room 1")],
        capacity=20,
        price_amount=12900,
        currency="usd",
        payment_due_days=7,
        enrollment_opens_on=None,
        enrollment_closes_on=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def viewer(user: User) -> CurrentUser:
    return CurrentUser(id=user.id, username=user.username, role=Role(user.role))


async def create(portal: Portal, course_spec: CourseSpec):  # type: ignore[no-untyped-def]
    async with portal.transaction() as session:
        return (await service.create_course(session, course_spec, now=portal.clock.now())).course


async def update(portal: Portal, course_id: str, course_spec: CourseSpec):  # type: ignore[no-untyped-def]
    async with portal.transaction() as session:
        view = await service.update_course(session, course_id, course_spec, now=portal.clock.now())
        return view.course


async def invalid_fields(portal: Portal, course_spec: CourseSpec) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        await create(portal, course_spec)
    return caught.value.fields


# --- creating -------------------------------------------------------------------------


async def test_create_course_normalises_and_fills_defaults(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN an active instructor
    teacher = await factory.user(role=Role.INSTRUCTOR, full_name="Ada Lovelace")

    # WHEN an administrator describes a course loosely
    course = await create(
        portal,
        spec(
            teacher.id,
            code=" cs-101 ",
            title="  Intro   to\tComputing ",
            description="  Programs.  ",
            currency="USD",
            payment_due_days=None,
            sessions=[
                SessionSpec("wednesday", time(14, 0), time(15, 0), " Lab "),
                SessionSpec("monday", time(9, 0), time(10, 30), "Room 1"),
            ],
        ),
    )

    # THEN it is stored in canonical form with the documented defaults
    stored = await course_row(portal, course.id)
    assert stored.code == "CS-101"
    assert stored.title == "Intro to Computing"
    assert stored.description == "Programs."
    assert stored.currency == "usd"
    assert stored.payment_due_days == 0
    assert stored.enrollment_opens_on == TODAY
    assert stored.enrollment_closes_on == date(2026, 2, 2)
    assert stored.seats_taken == 0
    # The answer lists the sessions in the week's order, as every read does.
    assert [(s.weekday, s.location) for s in course.sessions] == [(0, "Room 1"), (2, "Lab")]
    view = await _get(portal, course.id)
    assert view.instructor_name == "Ada Lovelace"
    assert view.status == "open"


async def test_create_course_accepts_every_boundary_value(portal: Portal, factory: Factory) -> None:
    # GIVEN values exactly at each limit
    teacher = await factory.user(role=Role.INSTRUCTOR)
    limits = spec(
        teacher.id,
        code="A" * 20,
        title="T" * 200,
        description="d" * 5000,
        capacity=10_000,
        price_amount=10_000_000,
        payment_due_days=365,
        starts_on=date(2026, 2, 2),
        ends_on=date(2026, 2, 2),
        sessions=[SessionSpec(day, time(8, 0), time(8, 1), "L" * 200) for day in WEEKDAYS] * 2,
        enrollment_opens_on=date(2026, 2, 2),
        enrollment_closes_on=date(2026, 2, 2),
    )

    # WHEN the course is created, and another at the low limits
    high = await create(portal, limits)
    low = await create(portal, replace(limits, code="AB", title="T", capacity=1, price_amount=0,
                                       payment_due_days=0, sessions=[]))  # fmt: skip

    # THEN both exist as given
    assert (high.capacity, high.price_amount, high.payment_due_days) == (10_000, 10_000_000, 365)
    assert len(high.sessions) == 14
    assert (low.capacity, low.price_amount, low.payment_due_days) == (1, 0, 0)


async def test_create_course_requires_every_mandatory_field(portal: Portal) -> None:
    # GIVEN an empty description WHEN it is created THEN each missing field is named
    fields = await invalid_fields(portal, CourseSpec())
    assert set(fields) == {
        "code",
        "title",
        "instructor_id",
        "schedule.starts_on",
        "schedule.ends_on",
        "capacity",
        "price.amount",
        "price.currency",
    }
    assert set(fields.values()) == {"is required"}


ONE_FIELD_WRONG: list[tuple[dict[str, object], str]] = [
    ({"code": "X"}, "code"),
    ({"code": "CS 101"}, "code"),
    ({"code": "-CS101"}, "code"),
    ({"code": "CS_101"}, "code"),
    ({"code": "A" * 21}, "code"),
    ({"title": "   "}, "title"),
    ({"title": "T" * 201}, "title"),
    ({"description": "d" * 5001}, "description"),
    (
        {"ends_on": date(2026, 2, 1), "enrollment_closes_on": date(2026, 1, 20)},
        "schedule.ends_on",
    ),
    (
        {"sessions": [SessionSpec("funday", time(9, 0), time(10, 0))]},
        "schedule.sessions.0.weekday",
    ),
    (
        {"sessions": [SessionSpec("monday", time(9, 0), time(9, 0))]},
        "schedule.sessions.0.end_time",
    ),
    (
        {
            "sessions": [
                SessionSpec("monday", time(9, 0), time(10, 0)),
                SessionSpec("monday", time(11, 0), time(10, 0)),
            ]
        },
        "schedule.sessions.1.end_time",
    ),
    (
        {"sessions": [SessionSpec("monday", time(9, 0), time(10, 0), "L" * 201)]},
        "schedule.sessions.0.location",
    ),
    ({"sessions": [SessionSpec("monday", time(9, 0), time(10, 0))] * 15}, "schedule.sessions"),
    ({"capacity": 0}, "capacity"),
    ({"capacity": -5}, "capacity"),
    ({"capacity": 10_001}, "capacity"),
    ({"price_amount": -1}, "price.amount"),
    ({"price_amount": 10_000_001}, "price.amount"),
    ({"currency": "xyz"}, "price.currency"),
    ({"currency": ""}, "price.currency"),
    ({"payment_due_days": -1}, "payment_due_days"),
    ({"payment_due_days": 366}, "payment_due_days"),
    (
        {"enrollment_opens_on": date(2026, 1, 20), "enrollment_closes_on": date(2026, 1, 19)},
        "enrollment_closes_on",
    ),
    ({"enrollment_closes_on": date(2026, 5, 30)}, "enrollment_closes_on"),
]


async def test_create_course_rejects_each_invalid_field(portal: Portal, factory: Factory) -> None:
    # GIVEN valid course descriptions, each with one field wrong
    teacher = await factory.user(role=Role.INSTRUCTOR)

    # WHEN each is created
    reported = [
        list(await invalid_fields(portal, spec(teacher.id, **changes)))
        for changes, _ in ONE_FIELD_WRONG
    ]

    # THEN exactly that field is reported each time and nothing is stored
    assert reported == [[field] for _, field in ONE_FIELD_WRONG]
    assert await _codes(portal) == []


async def test_instructor_must_be_an_active_instructor(portal: Portal, factory: Factory) -> None:
    # GIVEN a student, an administrator, an inactive instructor and an unknown id
    candidates = [
        (await factory.user(role=Role.STUDENT)).id,
        (await factory.user(role=Role.ADMIN)).id,
        (await factory.user(role=Role.INSTRUCTOR, active=False)).id,
        "0" * 32,
    ]

    # WHEN a course names each as its instructor THEN the instructor field is refused
    for instructor_id in candidates:
        fields = await invalid_fields(portal, spec(instructor_id))
        assert fields == {"instructor_id": "must be an active instructor"}


async def test_all_problems_are_reported_together(portal: Portal, factory: Factory) -> None:
    # GIVEN a description wrong in almost every field
    student = await factory.user(role=Role.STUDENT)
    bad = spec(
        student.id,
        code="x y",
        title="",
        description="d" * 5001,
        starts_on=date(2026, 3, 1),
        ends_on=date(2026, 2, 1),
        sessions=[SessionSpec("funday", time(10, 0), time(9, 0), "L" * 201)],
        capacity=0,
        price_amount=-1,
        currency="zzz",
        payment_due_days=400,
        enrollment_opens_on=date(2026, 1, 20),
        enrollment_closes_on=date(2026, 1, 10),
    )

    # WHEN it is created
    fields = await invalid_fields(portal, bad)

    # THEN every problem is in the one answer, under dotted field names
    assert set(fields) == {
        "code",
        "title",
        "description",
        "instructor_id",
        "schedule.ends_on",
        "schedule.sessions.0.weekday",
        "schedule.sessions.0.end_time",
        "schedule.sessions.0.location",
        "capacity",
        "price.amount",
        "price.currency",
        "payment_due_days",
        "enrollment_closes_on",
    }


async def test_code_is_unique_regardless_of_case(portal: Portal, factory: Factory) -> None:
    # GIVEN a course CS-101
    teacher = await factory.user(role=Role.INSTRUCTOR)
    await create(portal, spec(teacher.id, code="CS-101"))

    # WHEN another course is created as cs-101 THEN the code is taken
    with pytest.raises(CodeTaken) as caught:
        await create(portal, spec(teacher.id, code="cs-101", title="Other"))
    assert caught.value.status_code == 409
    assert caught.value.fields == {"code": "is already used"}
    assert await _codes(portal) == ["CS-101"]


async def test_two_administrators_racing_for_one_code_get_code_taken(
    portal: Portal, factory: Factory, clock: FrozenClock, backend: str
) -> None:
    # GIVEN an uncommitted course RACE-1
    teacher = await factory.user(role=Role.INSTRUCTOR)

    async def second() -> None:
        await create(portal, spec(teacher.id, code="RACE-1", title="Second"))

    async with portal.sessions() as first:
        await service.create_course(
            first, spec(teacher.id, code="RACE-1", title="First"), now=clock.now()
        )
        # WHEN another administrator creates RACE-1 before the first commits
        racing = asyncio.create_task(second())
        if backend == "postgresql":
            # The second has passed the code check and waits on the unique index.
            await until_a_transaction_waits_for_a_lock(portal)
        await first.commit()

    # THEN the second hears code_taken, not a server error, and the first course stands
    with pytest.raises(CodeTaken):
        await racing
    assert await _codes(portal) == ["RACE-1"]
    assert (await _list(portal, text="RACE-1"))[0][0].course.title == "First"


# --- changing -------------------------------------------------------------------------


async def test_update_changes_only_the_given_fields(portal: Portal, factory: Factory) -> None:
    # GIVEN a course
    teacher = await factory.user(role=Role.INSTRUCTOR)
    other = await factory.user(role=Role.INSTRUCTOR, full_name="Grace Hopper")
    course = await create(portal, spec(teacher.id))

    # WHEN the title, instructor and price change
    await update(
        portal,
        course.id,
        CourseSpec(title="Computing Today", instructor_id=other.id, price_amount=9900),
    )

    # THEN those change and everything else stays
    stored = await course_row(portal, course.id)
    assert (stored.title, stored.instructor_id, stored.price_amount) == (
        "Computing Today",
        other.id,
        9900,
    )
    assert (stored.code, stored.capacity, stored.currency, stored.payment_due_days) == (
        "CS-101",
        20,
        "usd",
        7,
    )
    assert stored.starts_on == date(2026, 2, 2)
    assert "computing today" in stored.search_text


async def test_update_validates_against_the_current_values(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a course running 2026-02-02 to 2026-05-29
    teacher = await factory.user(role=Role.INSTRUCTOR)
    course = await create(portal, spec(teacher.id))

    # WHEN the end date moves before the start, the capacity to 0 and the title to nothing
    with pytest.raises(Invalid) as caught:
        await update(
            portal,
            course.id,
            CourseSpec(ends_on=date(2026, 1, 31), capacity=0, title=""),
        )

    # THEN each is reported (enrollment would now close after the end), and the
    # course is unchanged
    assert set(caught.value.fields) == {
        "schedule.ends_on",
        "enrollment_closes_on",
        "capacity",
        "title",
    }
    with pytest.raises(Invalid) as late:
        await update(portal, course.id, CourseSpec(enrollment_closes_on=date(2026, 6, 1)))
    assert late.value.fields == {"enrollment_closes_on": "must not be after the course ends"}
    stored = await course_row(portal, course.id)
    assert (stored.ends_on, stored.capacity, stored.title) == (
        date(2026, 5, 29),
        20,
        "Intro to Computing",
    )


async def test_update_to_another_courses_code_is_refused(portal: Portal, factory: Factory) -> None:
    # GIVEN two courses
    teacher = await factory.user(role=Role.INSTRUCTOR)
    first = await create(portal, spec(teacher.id, code="CS-101"))
    second = await create(portal, spec(teacher.id, code="CS-102"))

    # WHEN the second takes the first one's code THEN it is refused
    with pytest.raises(CodeTaken):
        await update(portal, second.id, CourseSpec(code="cs-101"))

    # AND a course may keep its own code
    await update(portal, first.id, CourseSpec(code="cs-101", title="Renamed"))
    assert (await course_row(portal, first.id)).title == "Renamed"


async def test_update_of_an_unknown_course_is_not_found(portal: Portal) -> None:
    with pytest.raises(CourseNotFound):
        await update(portal, "0" * 32, CourseSpec(title="x"))


async def test_capacity_never_goes_below_the_seats_taken(portal: Portal, factory: Factory) -> None:
    # GIVEN a course with 3 of 5 seats taken
    course = await factory.course(capacity=5)
    for _ in range(3):
        await factory.enrollment(student=await factory.user(), course=course)

    # WHEN the capacity is lowered to 2
    with pytest.raises(CapacityBelowTaken) as caught:
        await update(portal, course.id, CourseSpec(capacity=2))

    # THEN it is refused with a clear code, and the capacity is unchanged
    assert caught.value.status_code == 409
    assert caught.value.code == "capacity_below_taken"
    assert caught.value.fields == {"capacity": "must be at least 3, the seats already taken"}
    assert (await course_row(portal, course.id)).capacity == 5

    # AND lowering it to exactly the seats taken makes the course full
    await update(portal, course.id, CourseSpec(capacity=3))
    assert (await _get(portal, course.id)).status == "full"


async def test_raising_capacity_promotes_the_waitlist_in_order(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a full one-seat course with three students waiting
    course = await factory.course(capacity=1, payment_due_days=3)
    await factory.enrollment(student=await factory.user(), course=course)
    waiting = [await factory.user() for _ in range(3)]
    queued = [await factory.waitlisted(student=s, course=course) for s in waiting]

    # WHEN the capacity grows to 3
    await update(portal, course.id, CourseSpec(capacity=3))

    # THEN the first two in joining order hold seats, each told once; the third waits
    statuses = [(await enrollment_row(portal, e.id)).status for e in queued]
    assert statuses == ["pending_payment", "pending_payment", "waitlisted"]
    messages = await outbox(portal, kind="catalog.waitlist_promoted")
    assert sorted(m.recipient_id for m in messages) == sorted([waiting[0].id, waiting[1].id])
    stored = await course_row(portal, course.id)
    assert (stored.capacity, stored.seats_taken) == (3, 3)


# --- status and archiving -------------------------------------------------------------


async def test_status_is_derived_from_window_seats_and_archive(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN courses in every situation
    future = await factory.course(opens_in_days=3, closes_in_days=10)
    past = await factory.course(opens_in_days=-10, closes_in_days=-1)
    closing_today = await factory.course(opens_in_days=-3, closes_in_days=0)
    full = await factory.course(capacity=1)
    await factory.enrollment(student=await factory.user(), course=full)
    archived = await factory.course()
    async with portal.transaction() as session:
        await service.archive_course(session, archived.id, now=clock.now())

    # WHEN each is read THEN its status follows from its dates, seats and archive
    assert (await _get(portal, future.id)).status == "closed"
    assert (await _get(portal, past.id)).status == "closed"
    assert (await _get(portal, closing_today.id)).status == "open"
    assert (await _get(portal, full.id)).status == "full"
    admin = await factory.user(role=Role.ADMIN)
    assert (await _get(portal, archived.id, viewer=viewer(admin))).status == "closed"

    # AND the same courses change status as the days pass
    clock.advance(days=3)
    assert (await _get(portal, future.id)).status == "open"
    assert (await _get(portal, closing_today.id)).status == "closed"


async def test_status_filter_agrees_with_the_derived_status(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN open, full and closed courses
    open_course = await factory.course(code="ST-OPEN")
    full = await factory.course(code="ST-FULL", capacity=1)
    await factory.enrollment(student=await factory.user(), course=full)
    await factory.course(code="ST-SOON", opens_in_days=1, closes_in_days=5)
    await factory.course(code="ST-PAST", opens_in_days=-5, closes_in_days=-1)

    # WHEN the catalog is filtered by each status
    found = {
        status: [v.course.code for v in (await _list(portal, status=status))[0]]
        for status in ("open", "full", "closed")
    }

    # THEN each course is under exactly the status it shows
    assert found == {
        "open": [open_course.code],
        "full": ["ST-FULL"],
        "closed": ["ST-PAST", "ST-SOON"],
    }


async def test_archiving_hides_the_course_but_keeps_its_history(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a course with an enrolled student
    course = await factory.course(code="AR-100")
    student = await factory.user()
    held = await factory.enrollment(student=student, course=course)
    first_moment = clock.now()

    # WHEN it is archived, twice
    async with portal.transaction() as session:
        await service.archive_course(session, course.id, now=clock.now())
    clock.advance(hours=1)
    async with portal.transaction() as session:
        again = (await service.archive_course(session, course.id, now=clock.now())).course

    # THEN it keeps the first archive time and its enrollment
    assert again.archived_at == first_moment
    assert (await enrollment_row(portal, held.id)).status == "pending_payment"

    # AND anonymous visitors and other students no longer find it
    stranger = await factory.user()
    for who in (None, viewer(stranger)):
        with pytest.raises(CourseNotFound):
            await _get(portal, course.id, viewer=who)
        assert (await _list(portal, viewer=who, include_archived=True))[0] == []
    # AND the enrolled student still reads it (their history), without listing it
    assert (await _get(portal, course.id, viewer=viewer(student))).course.archived_at is not None
    assert (await _list(portal, viewer=viewer(student), include_archived=True))[0] == []

    # AND administrators and the course's own instructor still read it; another
    # instructor does not; administrators list archived courses
    admin = viewer(await factory.user(role=Role.ADMIN))
    other_instructor = viewer(await factory.user(role=Role.INSTRUCTOR))
    with pytest.raises(CourseNotFound):
        await _get(portal, course.id, viewer=other_instructor)
    own = viewer(await portal_user(portal, course.instructor_id))
    assert (await _get(portal, course.id, viewer=own)).course.archived_at is not None
    assert (await _list(portal, viewer=admin))[0] == []
    assert [
        v.course.code for v in (await _list(portal, viewer=admin, include_archived=True))[0]
    ] == ["AR-100"]
    assert (await _list(portal, viewer=other_instructor, include_archived=True))[0] == []


async def portal_user(portal: Portal, user_id: str) -> User:
    async with portal.read_sessions() as session:
        found = await session.get(User, user_id)
    assert found is not None
    return found


async def test_archiving_an_unknown_course_is_not_found(portal: Portal, clock: FrozenClock) -> None:
    with pytest.raises(CourseNotFound):
        async with portal.transaction() as session:
            await service.archive_course(session, "0" * 32, now=clock.now())


# --- what a student sees ----------------------------------------------------------------


async def test_student_sees_their_own_enrollment_and_waitlist_position(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a full course, a holder and two students on its waitlist
    course = await factory.course(capacity=1)
    holder, first, second = [await factory.user() for _ in range(3)]
    await factory.enrollment(student=holder, course=course)
    await factory.waitlisted(student=first, course=course)
    await factory.waitlisted(student=second, course=course)

    # WHEN each reads the course
    held = await _get(portal, course.id, viewer=viewer(holder))
    waiting = await _get(portal, course.id, viewer=viewer(second))
    anonymous = await _get(portal, course.id)

    # THEN each sees their own state; an anonymous visitor sees none
    assert held.mine is not None
    assert held.mine.status == EnrollmentStatus.PENDING_PAYMENT
    assert waiting.mine is not None
    assert (waiting.mine.status, waiting.my_position) == ("waitlisted", 2)
    assert anonymous.mine is None
    assert anonymous.waitlist_length == 2


async def _get(portal: Portal, course_id: str, *, viewer: CurrentUser | None = None):  # type: ignore[no-untyped-def]
    async with portal.read_sessions() as session:
        return await service.get_course(session, course_id, viewer=viewer, now=portal.clock.now())


async def _list(portal: Portal, *, viewer: CurrentUser | None = None, **filters: object):  # type: ignore[no-untyped-def]
    async with portal.read_sessions() as session:
        return await listing.list_courses(
            session,
            CourseFilter(**filters),
            viewer=viewer,
            now=portal.clock.now(),  # type: ignore[arg-type]
        )


async def _codes(portal: Portal) -> list[str]:
    async with portal.read_sessions() as session:
        views, _ = await listing.list_courses(
            session, CourseFilter(limit=100), viewer=None, now=portal.clock.now()
        )
    return [v.course.code for v in views]
