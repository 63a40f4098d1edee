"""A signed-in reader's own part of the catalog's answers, read with the
catalog version in one statement, so that the shared part kept for that
version can be trusted: a student's own enrollment in each course shown and,
for one course, their timetable (live enrollments and cart) for the clashes.
The version comes from a one-row subquery that the student's rows are
outer-joined to, so the statement answers it even when they have none."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Row,
    Select,
    Subquery,
    and_,
    bindparam,
    select,
    union_all,
)

from functions.catalog.models import LIVE_STATUSES
from functions.catalog.reads import (
    COURSE_COLUMNS,
    CatalogReads,
    courses,
    enrollments,
    pick_mine,
    place_in_line,
    sessions_json,
)
from lib.caching import CATALOG_VERSION

_STUDENT: BindParameter[str] = bindparam("student_id")


def _version() -> Subquery:
    total = CATALOG_VERSION.selected_columns[0]
    return select(total.label("catalog_version")).subquery("version")


def _own_columns(mine: Any) -> tuple[Any, ...]:
    return (
        mine.c.course_id.label("mine_course_id"),
        mine.c.id.label("mine_id"),
        mine.c.status.label("mine_status"),
        mine.c.due_at.label("mine_due_at"),
        mine.c.payment_id.label("mine_payment_id"),
        place_in_line(mine).label("my_position"),
    )


@lru_cache(maxsize=1)
def _own_enrollments() -> Select[Any]:
    """The version, then the student's own enrollment in each course asked."""
    version, mine = _version(), enrollments.alias("mine")
    own = and_(
        mine.c.student_id == _STUDENT,
        mine.c.course_id.in_(bindparam("ids", expanding=True)),
        mine.c.id == pick_mine(mine.c.student_id, mine.c.course_id, within=mine),
    )
    return select(version.c.catalog_version, *_own_columns(mine)).select_from(
        version.outerjoin(mine, own)
    )


def own_in_course(dialect: str, *, cart: Select[Any]) -> Select[Any]:
    """The version, the student's own enrollment in the course (`course_id`)
    and, one row each, the other courses of their timetable with their
    sessions and how the student holds each (as `CatalogReads.timetable`).
    `cart` is the subquery of their cart's course ids, on `student_id`."""
    version, mine, e = _version(), enrollments.alias("mine"), enrollments.c
    course_id: BindParameter[str] = bindparam("course_id")
    own = and_(
        mine.c.student_id == _STUDENT,
        mine.c.course_id == course_id,
        mine.c.id == pick_mine(mine.c.student_id, mine.c.course_id, within=mine),
    )
    live = select(e.course_id).where(e.student_id == _STUDENT, e.status.in_(LIVE_STATUSES))
    enrolled_as = (
        select(e.status)
        .where(e.student_id == _STUDENT, e.course_id == courses.c.id, e.status.in_(LIVE_STATUSES))
        .limit(1)
        .scalar_subquery()
    )
    timetabled = and_(courses.c.id.in_(union_all(live, cart)), courses.c.id != course_id)
    return (
        select(
            version.c.catalog_version,
            *_own_columns(mine),
            *COURSE_COLUMNS,
            sessions_json(dialect).label("sessions"),
            enrolled_as.label("enrolled_as"),
            courses.c.id.in_(cart).label("in_cart"),
        )
        .select_from(version.outerjoin(mine, own).outerjoin(courses, timetabled))
        .order_by(courses.c.code)
    )


async def own_enrollments(
    reads: CatalogReads, student_id: str | None, course_ids: Sequence[str]
) -> tuple[int, dict[str, Row[Any]]]:
    """The catalog version now and, for a student, their own enrollment in
    each of the courses (by course id). One statement."""
    if student_id is None or not course_ids:
        return int((await reads.kept_rows(CATALOG_VERSION))[0][0]), {}
    params = {"student_id": student_id, "ids": list(course_ids)}
    rows = await reads.kept_rows(_own_enrollments(), params)
    own = {row.mine_course_id: row for row in rows if row.mine_id is not None}
    return int(rows[0].catalog_version), own
