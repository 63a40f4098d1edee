"""The catalog's read statements, in SQLAlchemy Core: each answer is one
statement whose rows are shaped for it. The instructor's name is joined, the
waitlist counted and the sessions aggregated as JSON in the same statement;
for a signed-in student, their own enrollment and place in line come along.
No statement runs per row, so a page of 100 costs what a page of 1 does."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Select,
    bindparam,
    case,
    column,
    func,
    select,
    table,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth.models import User
from functions.catalog.models import LIVE_STATUSES, Course, CourseSession, Enrollment
from functions.catalog.records import (
    CourseRecord,
    EnrollmentRecord,
    MineRecord,
    sessions_from_json,
)
from functions.catalog.search_index import SEARCH_TABLE
from lib.caching import CATALOG_VERSION
from lib.db import dialect_of, json_rows
from lib.fastreads import read_rows
from lib.pagination import AFTER
from lib.pagination import after as past

courses = Course.__table__
users = User.__table__
course_sessions = CourseSession.__table__
enrollments = Enrollment.__table__
search_table = table(SEARCH_TABLE, column("course_id"))

WAITLISTED = "waitlisted"
# Which of a student's enrollments in a course is "theirs": the newest of the
# live (or completed) ones, else the newest at all.
_COUNTS_AS_MINE = ("pending_payment", "active", "waitlisted", "completed")

SORT_COLUMNS = {
    "code": courses.c.code,
    "title": courses.c.title,
    "starts_on": courses.c.starts_on,
    "price": courses.c.price_amount,
}
COURSE_COLUMNS = (
    courses.c.id, courses.c.code, courses.c.title, courses.c.description,
    courses.c.instructor_id, courses.c.starts_on, courses.c.ends_on,
    courses.c.enrollment_opens_on, courses.c.enrollment_closes_on, courses.c.capacity,
    courses.c.seats_taken, courses.c.price_amount, courses.c.currency,
    courses.c.payment_due_days, courses.c.archived_at,
)  # fmt: skip
_COURSE_FIELDS = tuple(c.name for c in COURSE_COLUMNS)


def waitlist_length(course_id: ColumnElement[Any]) -> ColumnElement[int]:
    waiting = enrollments.alias("waiting")
    return (
        select(func.count())
        .where(waiting.c.course_id == course_id, waiting.c.status == WAITLISTED)
        .scalar_subquery()
    )


def sessions_json(dialect: str) -> ColumnElement[Any]:
    s = course_sessions.c
    return (
        select(json_rows(dialect, s.weekday, s.start_time, s.end_time, s.location))
        .where(s.course_id == courses.c.id)
        .scalar_subquery()
    )


@lru_cache(maxsize=8)
def course_select(dialect: str, *, signed_in: bool) -> Select[Any]:
    """Courses with the instructor's name, the waitlist's length, the sessions
    and, for a student (the `student_id` parameter), their own enrollment and
    place in line. Built once per shape: building a statement costs more than
    running it, so every read here is a template with bound parameters."""
    statement = select(
        *COURSE_COLUMNS,
        users.c.full_name.label("instructor_name"),
        waitlist_length(courses.c.id).label("waitlist_length"),
        sessions_json(dialect).label("sessions"),
    ).select_from(courses.join(users, users.c.id == courses.c.instructor_id))
    if not signed_in:
        return statement
    return _with_mine(statement, bindparam("student_id"))


def pick_mine(student_id: Any, course_id: Any, *, within: Any) -> ColumnElement[Any]:
    """The id of the student's own enrollment in the course (correlated to
    `within`): the newest of the live (or completed) ones, else the newest."""
    other = enrollments.alias("other")
    return (
        select(other.c.id)
        .where(other.c.student_id == student_id, other.c.course_id == course_id)
        .order_by(
            case((other.c.status.in_(_COUNTS_AS_MINE), 1), else_=0).desc(),
            other.c.created_at.desc(),
            other.c.id.desc(),
        )
        .limit(1)
        .correlate(within)
        .scalar_subquery()
    )


def _with_mine(statement: Select[Any], student_id: Any) -> Select[Any]:
    mine = enrollments.alias("mine")
    pick = pick_mine(student_id, courses.c.id, within=courses)
    return statement.outerjoin(mine, mine.c.id == pick).add_columns(
        mine.c.id.label("mine_id"),
        mine.c.status.label("mine_status"),
        mine.c.due_at.label("mine_due_at"),
        mine.c.payment_id.label("mine_payment_id"),
        place_in_line(mine).label("my_position"),
    )


ENROLLMENT_COLUMNS = tuple(
    enrollments.c[name].label(f"enrollment_{name}")
    for name in ("id", "course_id", "student_id", "status", "due_at", "created_at", "payment_id")
)


def place_in_line(enrollment: Any) -> ColumnElement[int | None]:
    """A waitlisted enrollment's place in its course's line (1 is next); null
    for any other status."""
    other = enrollments.alias("ahead")
    ahead = (
        select(func.count())
        .where(
            other.c.course_id == enrollment.c.course_id,
            other.c.status == WAITLISTED,
            other.c.queue_number < func.coalesce(enrollment.c.queue_number, 0),
        )
        .scalar_subquery()
    )
    return case((enrollment.c.status == WAITLISTED, ahead + 1), else_=None)


def enrollment_record(row: Row[Any]) -> EnrollmentRecord:
    m = row._mapping
    return EnrollmentRecord(
        m["enrollment_id"], m["enrollment_course_id"], m["enrollment_student_id"],
        m["enrollment_status"], m["enrollment_due_at"], m["enrollment_created_at"],
        m["enrollment_payment_id"],
    )  # fmt: skip


def course_record(row: Row[Any]) -> CourseRecord:
    record = CourseRecord(*(row._mapping[name] for name in _COURSE_FIELDS))
    record.sessions = sessions_from_json(row.sessions)
    return record


def mine_record(row: Row[Any]) -> MineRecord | None:
    mapping = row._mapping
    if mapping.get("mine_id") is None:
        return None
    return MineRecord(row.mine_id, row.mine_status, row.mine_due_at, row.mine_payment_id)


# A cursor's two values (the sort key, then the id), as parameters.


def with_version(statement: Select[Any]) -> Select[Any]:
    """The statement with the catalog version its rows were read at (one
    statement, one snapshot: on both backends the rows are of that version)."""
    return statement.add_columns(CATALOG_VERSION.scalar_subquery().label("catalog_version"))


@lru_cache(maxsize=8)
def _courses_by_id(dialect: str, *, signed_in: bool) -> Select[Any]:
    statement = with_version(course_select(dialect, signed_in=signed_in))
    return statement.where(courses.c.id.in_(bindparam("ids", expanding=True)))


@lru_cache(maxsize=8)
def _enrollments_of(dialect: str, *, after: bool) -> Select[Any]:
    e = enrollments.c
    statement = (
        course_select(dialect, signed_in=False)
        .add_columns(*ENROLLMENT_COLUMNS, place_in_line(enrollments).label("position"))
        .join(enrollments, e.course_id == courses.c.id)
        .where(e.student_id == bindparam("student_id"))
    )
    if after and (beyond := past((e.created_at, e.id), AFTER, descending=True)) is not None:
        statement = statement.where(beyond)
    order = (e.created_at.desc(), e.id.desc())
    return statement.order_by(*order).limit(bindparam("limit"))


def _enrolled_as(student_id: Any) -> ColumnElement[Any]:
    """The status of the student's live enrollment in the course, if any."""
    e = enrollments.c
    return (
        select(e.status)
        .where(e.student_id == student_id, e.course_id == courses.c.id, e.status.in_(LIVE_STATUSES))
        .limit(1)
        .scalar_subquery()
    )


@lru_cache(maxsize=2)
def _held_and_asked(dialect: str) -> Select[Any]:
    e = enrollments.c
    student: BindParameter[str] = bindparam("student_id")
    live = select(e.course_id).where(e.student_id == student, e.status.in_(LIVE_STATUSES))
    asked = select(courses.c.id).where(courses.c.id.in_(bindparam("ids", expanding=True)))
    return (
        select(
            *COURSE_COLUMNS,
            sessions_json(dialect).label("sessions"),
            _enrolled_as(student).label("enrolled_as"),
        )
        .where(courses.c.id.in_(union_all(live, asked)))
        .order_by(courses.c.code)
    )


class CatalogReads:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = dialect_of(session)

    async def rows(
        self, statement: Select[Any], params: dict[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        connection = await self.session.connection()
        result = await connection.execute(statement, params or {})
        rows: Sequence[Row[Any]] = result.all()
        return rows

    async def kept_rows(
        self, statement: Select[Any], params: dict[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        """As `rows`, for a statement built once and kept (a read path's
        template): sent by the driver in a read session (lib/fastreads.py)."""
        return cast(Sequence[Row[Any]], await read_rows(self.session, statement, params))

    async def courses(
        self, course_ids: Sequence[str], *, student_id: str | None
    ) -> Sequence[Row[Any]]:
        if not course_ids:
            return []
        statement = _courses_by_id(self.dialect, signed_in=student_id is not None)
        params = {"ids": list(course_ids), "student_id": student_id}
        return await self.kept_rows(statement, params)

    async def timetable(
        self, student_id: str, *, cart: Select[Any], besides: str
    ) -> Sequence[Row[Any]]:
        """The courses the student is enrolled in (live) or has in their cart,
        but `besides`, with their sessions, how the student holds each."""
        e = enrollments.c
        live = select(e.course_id).where(e.student_id == student_id, e.status.in_(LIVE_STATUSES))
        statement = select(
            *COURSE_COLUMNS,
            sessions_json(self.dialect).label("sessions"),
            _enrolled_as(student_id).label("enrolled_as"),
            courses.c.id.in_(cart).label("in_cart"),
        ).where(
            # One list of ids, not an OR of two: PostgreSQL then looks the
            # courses up by key instead of reading them all.
            courses.c.id.in_(union_all(live, cart)),
            courses.c.id != besides,
        )
        return await self.rows(statement.order_by(courses.c.code))

    async def held_and_asked(
        self, student_id: str, course_ids: Sequence[str]
    ) -> Sequence[Row[Any]]:
        """The courses asked about and those the student holds (live), with
        their sessions and how the student holds each: one kept statement."""
        params = {"student_id": student_id, "ids": list(course_ids)}
        return await self.kept_rows(_held_and_asked(self.dialect), params)

    async def enrollments_of(
        self, student_id: str, *, after: tuple[Any, ...] | None, limit: int
    ) -> Sequence[Row[Any]]:
        """The student's enrollments, newest first, each with its course."""
        params: dict[str, Any] = {"student_id": student_id, "limit": limit}
        if after is not None:
            params.update(after_0=after[0], after_1=after[1])
        return await self.kept_rows(_enrollments_of(self.dialect, after=after is not None), params)

    async def course_staff(self, course_id: str) -> Row[Any] | None:
        """Who teaches the course, and its code."""
        statement = select(courses.c.instructor_id, courses.c.code).where(courses.c.id == course_id)
        rows = await self.rows(statement)
        return rows[0] if rows else None

    async def roster(
        self,
        course_id: str,
        *,
        statuses: Sequence[str],
        after: tuple[Any, ...] | None,
        limit: int | None,
    ) -> Sequence[Row[Any]]:
        """The course's students by username, each with their enrollment."""
        e, u = enrollments.c, users.c
        statement = (
            select(
                *ENROLLMENT_COLUMNS,
                place_in_line(enrollments).label("position"),
                u.username,
                u.full_name,
                u.email,
            )
            .select_from(enrollments.join(users, u.id == e.student_id))
            .where(e.course_id == course_id, e.status.in_(statuses))
        )
        if (beyond := past((u.username,), after)) is not None:
            statement = statement.where(beyond)
        statement = statement.order_by(u.username)
        return await self.rows(statement if limit is None else statement.limit(limit))
