"""The catalog's lists: the course search, a student's enrollments, a course's
roster (also as CSV). Each is paged by a cursor over its sort key."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog.errors import CourseNotFound
from functions.catalog.models import WEEKDAYS, EnrollmentStatus
from functions.catalog.reads import SORT_COLUMNS, CatalogReads, enrollment_record
from functions.catalog.records import EnrollmentRecord
from functions.catalog.search_query import CourseQuery, catalog_page, shaped
from functions.catalog.seats import require_course_staff
from functions.catalog.service import CourseView, view_of
from functions.catalog.validation import MAX_PRICE
from lib.errors import Invalid
from lib.pagination import CursorKey, digits
from lib.runtime import CurrentUser
from lib.security import Role

# Each sort's key: the sorted column's type, then the id that breaks ties.
SORT_KEYS = {
    "code": CursorKey(str, str),
    "title": CursorKey(str, str),
    "starts_on": CursorKey(date, str),
    "price": CursorKey(int, str),
}
NEWEST_FIRST = CursorKey(datetime, str)
# A roster is listed by username, which is unique.
BY_USERNAME = CursorKey(str)


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


async def list_courses(
    session: AsyncSession, query: CourseFilter, *, viewer: CurrentUser | None, now: datetime
) -> tuple[list[CourseView], str | None]:
    search = search_of(query, viewer)
    student_id = viewer.id if viewer is not None and viewer.role == Role.STUDENT else None
    reads = CatalogReads(session)
    shape, params = shaped(search, today=now.date(), dialect=reads.dialect, student_id=student_id)
    rows = await reads.kept_rows(catalog_page(shape), params)
    column = SORT_COLUMNS[search.sort].name
    page, next_cursor = SORT_KEYS[search.sort].page(
        rows, query.limit, lambda row: (row._mapping[column], row.id)
    )
    today = now.date()
    return [view_of(row, today) for row in page], next_cursor


def search_of(query: CourseFilter, viewer: CurrentUser | None) -> CourseQuery:
    """The filter checked, all problems at once, as the repository's query."""
    problems: dict[str, str] = {}
    sort = query.sort or "code"
    descending = sort.startswith("-")
    sort_key = sort.removeprefix("-")
    if sort_key not in SORT_COLUMNS:
        problems["sort"] = (
            "must be one of " + ", ".join(SORT_COLUMNS) + " (prefix - for descending)"
        )
    if query.status and query.status not in {"open", "full", "closed"}:
        problems["status"] = "must be open, full or closed"
    weekday = (query.weekday or "").lower()
    if weekday and weekday not in WEEKDAYS:
        problems["weekday"] = "must be a weekday name, e.g. monday"
    prices = {
        name: _price(getattr(query, name), name, problems) for name in ("min_price", "max_price")
    }
    if query.text and len(query.text) > 200:
        problems["q"] = "must be at most 200 characters"
    for name, raw in (("q", query.text), ("instructor", query.instructor_id)):
        if raw and "\x00" in raw:
            problems[name] = "must not contain NUL characters"
    if problems:
        raise Invalid(fields=problems)
    return CourseQuery(
        text=query.text.strip() if query.text else None,
        instructor_id=query.instructor_id or None,
        status=query.status or None,
        weekday=WEEKDAYS.index(weekday) if weekday else None,
        min_price=prices["min_price"],
        max_price=prices["max_price"],
        include_archived=_may_see_archived(query, viewer),
        sort=sort_key,
        descending=descending,
        after=SORT_KEYS[sort_key].decode(query.cursor),
        limit=query.limit + 1,
    )


def _price(raw: str | None, name: str, problems: dict[str, str]) -> int | None:
    if not raw:
        return None
    value = digits(raw)
    if value is None:
        problems[name] = "must be a whole number of minor units"
    # Out of range it would overflow the database's integer, not just match nothing.
    elif value > MAX_PRICE:
        problems[name] = f"must be between 0 and {MAX_PRICE} (minor units)"
    return value


def _may_see_archived(query: CourseFilter, viewer: CurrentUser | None) -> bool:
    # Administrators may list archived courses; an instructor, their own.
    return (
        query.include_archived
        and viewer is not None
        and (
            viewer.role == Role.ADMIN
            or (viewer.role == Role.INSTRUCTOR and query.instructor_id == viewer.id)
        )
    )


# --- enrollments ----------------------------------------------------------------------


@dataclass
class EnrollmentView:
    enrollment: EnrollmentRecord
    position: int | None
    course: CourseView | None = None


async def my_enrollments(
    session: AsyncSession, actor: CurrentUser, *, cursor: str | None, limit: int, now: datetime
) -> tuple[list[EnrollmentView], str | None]:
    """A person's enrollments, newest first, each with its course (as anyone sees it)."""
    rows = await CatalogReads(session).enrollments_of(
        actor.id, after=NEWEST_FIRST.decode(cursor), limit=limit + 1
    )
    page, next_cursor = NEWEST_FIRST.page(
        rows, limit, lambda row: (row.enrollment_created_at, row.enrollment_id)
    )
    today = now.date()
    return [
        EnrollmentView(enrollment_record(row), row.position, view_of(row, today)) for row in page
    ], next_cursor


@dataclass
class RosterEntry:
    enrollment: EnrollmentRecord
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
    """The course's students by username; `limit=None` for all of them."""
    entries, next_cursor, _ = await _roster(session, actor, course_id, cursor=cursor, limit=limit)
    return entries, next_cursor


async def _roster(
    session: AsyncSession,
    actor: CurrentUser,
    course_id: str,
    *,
    cursor: str | None,
    limit: int | None,
) -> tuple[list[RosterEntry], str | None, str]:
    reads = CatalogReads(session)
    course = await reads.course_staff(course_id)
    if course is None:
        raise CourseNotFound()
    require_course_staff(actor, course.instructor_id)
    rows = await reads.roster(
        course_id,
        statuses=ROSTER_STATUSES,
        after=BY_USERNAME.decode(cursor),
        limit=None if limit is None else limit + 1,
    )
    page, next_cursor = (
        (list(rows), None) if limit is None else BY_USERNAME.page(rows, limit, _by_username)
    )
    entries = [
        RosterEntry(
            enrollment_record(row),
            row.username,
            row.full_name,
            row.email,
            row.enrollment_student_id,
            row.position,
        )
        for row in page
    ]
    return entries, next_cursor, course.code


def _by_username(row: Row[Any]) -> list[str]:
    return [row.username]


@dataclass(frozen=True)
class CsvFile:
    filename: str
    text: str


ROSTER_COLUMNS = [
    "username", "full_name", "email", "status", "waitlist_position", "due_at", "enrolled_at",
]  # fmt: skip


async def roster_csv(session: AsyncSession, actor: CurrentUser, course_id: str) -> CsvFile:
    """The whole roster as a spreadsheet-safe CSV file."""
    entries, _, code = await _roster(session, actor, course_id, cursor=None, limit=None)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ROSTER_COLUMNS)
    for e in entries:
        writer.writerow([
            _csv_safe(e.username), _csv_safe(e.full_name), _csv_safe(e.email),
            e.enrollment.status, e.position or "",
            e.enrollment.due_at.isoformat() if e.enrollment.due_at else "",
            e.enrollment.created_at.isoformat(),
        ])  # fmt: skip
    return CsvFile(filename=f"roster-{code}.csv", text=buffer.getvalue())


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells that start with these as formulas.
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value
