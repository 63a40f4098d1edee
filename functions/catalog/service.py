"""The catalog's rules: courses, their derived status, listings and rosters.
Seat rules live in `seats` and are re-exported here for other capabilities."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import service as auth
from functions.catalog.errors import CapacityBelowTaken, CodeTaken, CourseNotFound
from functions.catalog.models import Course, CourseSession, Enrollment, EnrollmentStatus
from functions.catalog.repository import SORTS, CourseQuery, CourseRepository, EnrollmentRepository
from functions.catalog.seats import (
    check_enrollable,
    confirm,
    drop,
    enrollment_status,
    held_by,
    hold_due_at,
    hold_seats,
    join_waitlist,
    keep_held,
    leave_waitlist,
    link_payment,
    promote_waitlist,
    reinstate,
    release,
    release_expired_holds,
    require_course_staff,
)
from lib.errors import Invalid, NotFound
from lib.pagination import decode_cursor, encode_cursor
from lib.runtime import CurrentUser
from lib.security import Role

__all__ = [
    "check_enrollable",
    "confirm",
    "drop",
    "enrollment_status",
    "held_by",
    "hold_due_at",
    "hold_seats",
    "join_waitlist",
    "keep_held",
    "leave_waitlist",
    "link_payment",
    "reinstate",
    "release",
    "release_expired_holds",
]

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
# Two-decimal currencies only: amounts are shown and charged in hundredths.
CURRENCIES = {"usd", "eur", "gbp", "chf", "cad", "aud", "sek", "nok", "dkk", "inr"}
MAX_CAPACITY = 10_000
MAX_PRICE = 10_000_000
MAX_DUE_DAYS = 365
MAX_SESSIONS = 14
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@dataclass(frozen=True)
class SessionSpec:
    weekday: str
    start_time: time
    end_time: time
    location: str = ""


@dataclass(frozen=True)
class CourseSpec:
    """A course as the administrator describes it; any field may be missing in a change."""

    code: str | None = None
    title: str | None = None
    description: str | None = None
    instructor_id: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    sessions: Sequence[SessionSpec] | None = None
    capacity: int | None = None
    price_amount: int | None = None
    currency: str | None = None
    payment_due_days: int | None = None
    enrollment_opens_on: date | None = None
    enrollment_closes_on: date | None = None


@dataclass
class CourseView:
    course: Course
    instructor_name: str
    status: str
    waitlist_length: int | None = None
    mine: Enrollment | None = None
    my_position: int | None = None


@dataclass(frozen=True)
class CourseFilter:
    text: str | None = None
    instructor_id: str | None = None
    status: str | None = None
    weekday: str | None = None
    min_price: str | None = None
    max_price: str | None = None
    sort: str | None = None
    cursor: str | None = None
    limit: int = 20
    include_archived: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def derive_status(course: Course, today: date) -> str:
    if (
        course.archived_at is not None
        or today < course.enrollment_opens_on
        or today > course.enrollment_closes_on
    ):
        return "closed"
    return "full" if course.seats_taken >= course.capacity else "open"


# --- validation -------------------------------------------------------------------


async def _validated(
    session: AsyncSession, spec: CourseSpec, *, current: Course | None, today: date
) -> dict[str, Any]:
    """Check every field, report all problems at once, return the column values."""
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}

    def need(name: str, value: object) -> bool:
        if value is None and current is None:
            problems[name] = "is required"
            return False
        return value is not None

    if need("code", spec.code):
        assert spec.code is not None
        code = spec.code.strip().upper()
        if not CODE_PATTERN.match(code):
            problems["code"] = "must be 2 to 20 of A-Z, 0-9 and hyphens, e.g. CS-101"
        else:
            values["code"] = code
    if need("title", spec.title):
        assert spec.title is not None
        title = " ".join(spec.title.split())
        if not 1 <= len(title) <= 200:
            problems["title"] = "must be 1 to 200 characters"
        else:
            values["title"] = title
    if spec.description is not None:
        if len(spec.description) > 5000:
            problems["description"] = "must be at most 5000 characters"
        else:
            values["description"] = spec.description.strip()
    elif current is None:
        values["description"] = ""
    if need("instructor_id", spec.instructor_id):
        assert spec.instructor_id is not None
        try:
            instructor = await auth.get_user(session, spec.instructor_id)
        except NotFound:
            instructor = None
        if instructor is None or instructor.role != Role.INSTRUCTOR or not instructor.is_active:
            problems["instructor_id"] = "must be an active instructor"
        else:
            values["instructor_id"] = instructor.id
    starts_on = spec.starts_on or (current.starts_on if current else None)
    ends_on = spec.ends_on or (current.ends_on if current else None)
    if need("schedule.starts_on", spec.starts_on) and spec.starts_on is not None:
        values["starts_on"] = spec.starts_on
    if need("schedule.ends_on", spec.ends_on) and spec.ends_on is not None:
        values["ends_on"] = spec.ends_on
    if starts_on and ends_on and ends_on < starts_on:
        problems["schedule.ends_on"] = "must not be before the start date"
    if spec.sessions is not None:
        if len(spec.sessions) > MAX_SESSIONS:
            problems["schedule.sessions"] = f"must be at most {MAX_SESSIONS} sessions a week"
        for index, item in enumerate(spec.sessions):
            if item.weekday not in WEEKDAYS:
                problems[f"schedule.sessions.{index}.weekday"] = "must be a weekday name"
            if item.end_time <= item.start_time:
                problems[f"schedule.sessions.{index}.end_time"] = "must be after the start time"
            if len(item.location) > 200:
                problems[f"schedule.sessions.{index}.location"] = "must be at most 200 characters"
    if need("capacity", spec.capacity):
        assert spec.capacity is not None
        if not 1 <= spec.capacity <= MAX_CAPACITY:
            problems["capacity"] = f"must be between 1 and {MAX_CAPACITY}"
        else:
            values["capacity"] = spec.capacity
    if need("price.amount", spec.price_amount):
        assert spec.price_amount is not None
        if not 0 <= spec.price_amount <= MAX_PRICE:
            problems["price.amount"] = f"must be between 0 and {MAX_PRICE} (minor units)"
        else:
            values["price_amount"] = spec.price_amount
    if need("price.currency", spec.currency):
        assert spec.currency is not None
        currency = spec.currency.strip().lower()
        if currency not in CURRENCIES:
            problems["price.currency"] = "must be one of " + ", ".join(sorted(CURRENCIES))
        else:
            values["currency"] = currency
    if spec.payment_due_days is not None:
        if not 0 <= spec.payment_due_days <= MAX_DUE_DAYS:
            problems["payment_due_days"] = f"must be between 0 and {MAX_DUE_DAYS}"
        else:
            values["payment_due_days"] = spec.payment_due_days
    elif current is None:
        values["payment_due_days"] = 0
    opens = spec.enrollment_opens_on or (current.enrollment_opens_on if current else today)
    closes = spec.enrollment_closes_on or (current.enrollment_closes_on if current else starts_on)
    values["enrollment_opens_on"] = opens
    if closes is not None:
        values["enrollment_closes_on"] = closes
    if opens and closes and closes < opens:
        problems["enrollment_closes_on"] = "must not be before enrollment opens"
    if closes and ends_on and closes > ends_on:
        problems["enrollment_closes_on"] = "must not be after the course ends"
    if problems:
        raise Invalid(fields=problems)
    return values


def _search_text(course: Course) -> str:
    return " ".join([course.code, course.title, course.description]).lower()


# --- courses ------------------------------------------------------------------------


async def create_course(session: AsyncSession, spec: CourseSpec, *, now: datetime) -> Course:
    values = await _validated(session, spec, current=None, today=now.date())
    courses = CourseRepository(session)
    if await courses.code_taken(values["code"]):
        raise CodeTaken()
    course = Course(**values, seats_taken=0, waitlist_counter=0, created_at=now, updated_at=now)
    course.sessions = _sessions(spec.sessions or [])
    course.search_text = _search_text(course)
    async with _code_guard(session):
        await courses.add(course)
    return course


async def update_course(
    session: AsyncSession, course_id: str, spec: CourseSpec, *, now: datetime
) -> Course:
    courses = CourseRepository(session)
    course = await courses.get(course_id)
    if course is None:
        raise CourseNotFound()
    values = await _validated(session, spec, current=course, today=now.date())
    if "code" in values and await courses.code_taken(values["code"], except_id=course.id):
        raise CodeTaken()
    capacity = values.pop("capacity", None)
    if capacity is not None and capacity != course.capacity:
        # Conditional: a hold racing this change either fits or makes it fail.
        if not await courses.set_capacity(course.id, capacity):
            await courses.refresh(course)
            raise CapacityBelowTaken(course.seats_taken)
        await courses.refresh(course)
    for name, value in values.items():
        setattr(course, name, value)
    if spec.sessions is not None:
        course.sessions = _sessions(spec.sessions)
    course.search_text = _search_text(course)
    course.updated_at = now
    async with _code_guard(session):
        await session.flush()
    if capacity is not None:
        # More seats may let the waitlist in.
        await promote_waitlist(session, course.id, now=now)
        await courses.refresh(course)
    return course


@asynccontextmanager
async def _code_guard(session: AsyncSession) -> AsyncIterator[None]:
    """Two administrators may race past `code_taken` with the same code: the
    unique index decides, and the loser hears code_taken, not a server error."""
    try:
        async with session.begin_nested():
            yield
    except IntegrityError as exc:
        if "code" not in str(exc.orig).lower():
            raise
        raise CodeTaken() from None


async def archive_course(session: AsyncSession, course_id: str, *, now: datetime) -> Course:
    courses = CourseRepository(session)
    course = await courses.get(course_id)
    if course is None:
        raise CourseNotFound()
    if course.archived_at is None:
        course.archived_at = now
        course.updated_at = now
        await session.flush()
    return course


def _sessions(specs: Sequence[SessionSpec]) -> list[CourseSession]:
    return [
        CourseSession(
            weekday=WEEKDAYS.index(item.weekday),
            start_time=item.start_time,
            end_time=item.end_time,
            location=item.location.strip(),
        )
        for item in specs
    ]


async def get_course(
    session: AsyncSession, course_id: str, *, viewer: CurrentUser | None, now: datetime
) -> CourseView:
    course = await CourseRepository(session).get(course_id)
    if course is None:
        raise CourseNotFound()
    view = (await _views(session, [course], viewer=viewer, now=now))[0]
    if course.archived_at is not None and not _sees_archived(viewer, view):
        raise CourseNotFound()
    return view


def _sees_archived(viewer: CurrentUser | None, view: CourseView) -> bool:
    """An archived course stays visible to staff, its instructor, and the
    students who were in it: its history is theirs."""
    if viewer is None:
        return False
    if viewer.role == Role.ADMIN:
        return True
    if viewer.role == Role.INSTRUCTOR:
        return view.course.instructor_id == viewer.id
    return view.mine is not None


async def list_courses(
    session: AsyncSession, query: CourseFilter, *, viewer: CurrentUser | None, now: datetime
) -> tuple[list[CourseView], str | None]:
    problems: dict[str, str] = {}
    sort = query.sort or "code"
    descending = sort.startswith("-")
    sort_key = sort[1:] if descending else sort
    if sort_key not in SORTS:
        problems["sort"] = "must be one of " + ", ".join(SORTS) + " (prefix - for descending)"
    if query.status and query.status not in {"open", "full", "closed"}:
        problems["status"] = "must be open, full or closed"
    weekday = None
    if query.weekday:
        if query.weekday.lower() not in WEEKDAYS:
            problems["weekday"] = "must be a weekday name, e.g. monday"
        else:
            weekday = WEEKDAYS.index(query.weekday.lower())
    prices: dict[str, int | None] = {"min_price": None, "max_price": None}
    for name in prices:
        raw = getattr(query, name)
        if raw:
            try:
                prices[name] = int(raw)
            except ValueError:
                problems[name] = "must be a whole number of minor units"
                continue
            # Out of range it would overflow the database's integer, not just match nothing.
            if not 0 <= int(raw) <= MAX_PRICE:
                problems[name] = f"must be between 0 and {MAX_PRICE} (minor units)"
    if query.text and len(query.text) > 200:
        problems["q"] = "must be at most 200 characters"
    for name, raw in (("q", query.text), ("instructor", query.instructor_id)):
        if raw and not _clean_text(raw):
            problems[name] = "must not contain NUL characters"
    if problems:
        raise Invalid(fields=problems)
    after = decode_cursor(query.cursor, size=2)
    after_key = _after_key(after, sort_key) if after else None
    # Administrators may list archived courses; an instructor, their own.
    include_archived = (
        query.include_archived
        and viewer is not None
        and (
            viewer.role == Role.ADMIN
            or (viewer.role == Role.INSTRUCTOR and query.instructor_id == viewer.id)
        )
    )
    rows = await CourseRepository(session).search(
        CourseQuery(
            text=query.text.strip() if query.text else None,
            instructor_id=query.instructor_id or None,
            status=query.status or None,
            weekday=weekday,
            min_price=prices["min_price"],
            max_price=prices["max_price"],
            include_archived=include_archived,
            sort=sort_key,
            descending=descending,
            after=after_key,
            limit=query.limit + 1,
        ),
        today=now.date(),
    )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        value = getattr(last, SORTS[sort_key].key)
        next_cursor = encode_cursor(
            [value.isoformat() if isinstance(value, date) else value, last.id]
        )
    return await _views(session, page, viewer=viewer, now=now), next_cursor


def _after_key(after: list[Any], sort_key: str) -> tuple[Any, str]:
    """The cursor's sort value, of the type its column holds: a cursor made for
    another sort order is refused here rather than failing in the database."""
    value, last_id = after
    if sort_key == "starts_on" and isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            value = None
    fits = {
        "starts_on": isinstance(value, date),
        "price": isinstance(value, int) and 0 <= value <= MAX_PRICE,
        "code": _clean_text(value),
        "title": _clean_text(value),
    }
    if not fits[sort_key] or not _clean_text(last_id):
        raise Invalid(fields={"cursor": "is not a valid cursor"})
    return value, last_id


async def _views(
    session: AsyncSession, courses: Sequence[Course], *, viewer: CurrentUser | None, now: datetime
) -> list[CourseView]:
    names = await CourseRepository(session).instructor_names([c.instructor_id for c in courses])
    enrollments = EnrollmentRepository(session)
    mine: dict[str, Enrollment] = {}
    if viewer is not None and viewer.role == Role.STUDENT:
        mine = await enrollments.latest_for(
            student_id=viewer.id, course_ids=[c.id for c in courses]
        )
    waiting = await enrollments.waitlist_lengths([c.id for c in courses])
    views = []
    for course in courses:
        view = CourseView(
            course=course,
            instructor_name=names.get(course.instructor_id, ""),
            status=derive_status(course, now.date()),
            mine=mine.get(course.id),
        )
        if view.mine is not None and view.mine.status == EnrollmentStatus.WAITLISTED:
            view.my_position = await enrollments.position(view.mine)
        view.waitlist_length = waiting.get(course.id, 0)
        views.append(view)
    return views


# --- enrollments ----------------------------------------------------------------------


@dataclass
class EnrollmentView:
    enrollment: Enrollment
    position: int | None
    course: CourseView | None = None


async def my_enrollments(
    session: AsyncSession, actor: CurrentUser, *, cursor: str | None, limit: int, now: datetime
) -> tuple[list[EnrollmentView], str | None]:
    after = decode_cursor(cursor, size=2)
    enrollments = EnrollmentRepository(session)
    rows = await enrollments.for_student(
        actor.id, after=_enrollment_after(after) if after else None, limit=limit + 1
    )
    page = rows[:limit]
    courses = {
        c.id: c for c in await CourseRepository(session).get_many([e.course_id for e in page])
    }
    course_views = {
        v.course.id: v for v in await _views(session, list(courses.values()), viewer=None, now=now)
    }
    views = []
    for enrollment in page:
        position = (
            await enrollments.position(enrollment)
            if enrollment.status == EnrollmentStatus.WAITLISTED
            else None
        )
        views.append(EnrollmentView(enrollment, position, course_views.get(enrollment.course_id)))
    next_cursor = (
        encode_cursor([page[-1].created_at.isoformat(), page[-1].id]) if len(rows) > limit else None
    )
    return views, next_cursor


def _enrollment_after(after: list[Any]) -> tuple[datetime, str]:
    created, last_id = after
    try:
        stamp = datetime.fromisoformat(created) if isinstance(created, str) else None
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None or not _clean_text(last_id):
        raise Invalid(fields={"cursor": "is not a valid cursor"})
    return stamp, last_id


def _clean_text(value: object) -> bool:
    # PostgreSQL text cannot hold NUL: such a value would fail the query.
    return isinstance(value, str) and "\x00" not in value


@dataclass
class RosterEntry:
    enrollment: Enrollment
    username: str
    full_name: str
    email: str
    student_id: str
    position: int | None = None


ROSTER_STATUSES = [
    EnrollmentStatus.ACTIVE,
    EnrollmentStatus.PENDING_PAYMENT,
    EnrollmentStatus.COMPLETED,
    EnrollmentStatus.WAITLISTED,
]


async def roster(
    session: AsyncSession,
    actor: CurrentUser,
    course_id: str,
    *,
    cursor: str | None,
    limit: int | None,
) -> tuple[list[RosterEntry], str | None]:
    course = await CourseRepository(session).get(course_id)
    if course is None:
        raise CourseNotFound()
    require_course_staff(actor, course)
    after = decode_cursor(cursor, size=1)
    if after and not _clean_text(after[0]):
        raise Invalid(fields={"cursor": "is not a valid cursor"})
    enrollments = EnrollmentRepository(session)
    rows = await enrollments.roster(
        course_id,
        statuses=ROSTER_STATUSES,
        after=str(after[0]) if after else None,
        limit=None if limit is None else limit + 1,
    )
    page = rows if limit is None else rows[:limit]
    entries = []
    for enrollment, user in page:
        position = (
            await enrollments.position(enrollment)
            if enrollment.status == EnrollmentStatus.WAITLISTED
            else None
        )
        entries.append(
            RosterEntry(enrollment, user.username, user.full_name, user.email, user.id, position)
        )
    next_cursor = (
        encode_cursor([page[-1][1].username]) if limit is not None and len(rows) > limit else None
    )
    return entries, next_cursor


async def course_views(
    session: AsyncSession,
    course_ids: Sequence[str],
    *,
    now: datetime,
    student_id: str | None = None,
) -> dict[str, CourseView]:
    """Courses as a student sees them (with their own enrollment), or as anyone does."""
    courses = await CourseRepository(session).get_many(list(course_ids))
    viewer = CurrentUser(id=student_id, username="", role=Role.STUDENT) if student_id else None
    return {v.course.id: v for v in await _views(session, courses, viewer=viewer, now=now)}


async def course_code(session: AsyncSession, course_id: str) -> str:
    course = await CourseRepository(session).get(course_id)
    if course is None:
        raise CourseNotFound()
    return course.code
