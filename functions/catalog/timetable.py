"""Timetable clashes: two courses whose sessions meet at the same time on a
day both run. A clash is a warning for the student, never a refusal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any, Protocol

from sqlalchemy import Row, Select
from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog.models import WEEKDAYS
from functions.catalog.reads import CatalogReads, course_record

IN_CART = "cart"


class Meeting(Protocol):
    @property
    def weekday(self) -> int: ...
    @property
    def start_time(self) -> time: ...
    @property
    def end_time(self) -> time: ...


class Timetabled(Protocol):
    """A course as far as clashes go (the ORM model or a read record)."""

    @property
    def id(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def starts_on(self) -> date: ...
    @property
    def ends_on(self) -> date: ...
    @property
    def sessions(self) -> Sequence[Meeting]: ...


@dataclass(frozen=True)
class Overlap:
    weekday: str
    start_time: time
    end_time: time
    # The first and last day, within both courses' dates, on which both meet.
    first_date: date
    last_date: date


@dataclass(frozen=True)
class Clash:
    course: Timetabled
    other: Timetabled
    # Where the student has the other course: "cart", or their enrollment's
    # status ("pending_payment", "active", "waitlisted").
    other_is: str
    overlap: Overlap


def overlaps(a: Timetabled, b: Timetabled) -> list[Overlap]:
    """Each pair of sessions of the two courses that meet at once, on a day both run."""
    first, last = max(a.starts_on, b.starts_on), min(a.ends_on, b.ends_on)
    if first > last:
        return []
    found = []
    for mine in a.sessions:
        for theirs in b.sessions:
            if mine.weekday != theirs.weekday:
                continue
            start, end = (
                max(mine.start_time, theirs.start_time),
                min(mine.end_time, theirs.end_time),
            )
            days = _weekday_between(mine.weekday, first, last)
            # Sessions that only touch (one ends at 10:00, the next starts then) do not clash.
            if start < end and days is not None:
                found.append(Overlap(WEEKDAYS[mine.weekday], start, end, *days))
    return found


def _weekday_between(weekday: int, first: date, last: date) -> tuple[date, date] | None:
    """The first and last such weekday in [first, last], if there is one."""
    start = first + timedelta(days=(weekday - first.weekday()) % 7)
    end = last - timedelta(days=(last.weekday() - weekday) % 7)
    return (start, end) if start <= end else None


async def clashes(
    session: AsyncSession,
    *,
    student_id: str,
    course_ids: Sequence[str],
    cart_ids: Sequence[str] = (),
) -> list[Clash]:
    """How the courses `course_ids` clash with each other, with the courses in
    the student's cart (`cart_ids`) and with their live enrollments. A pair
    among `course_ids` is reported once; a course never clashes with itself."""
    rows = await CatalogReads(session).held_and_asked(student_id, [*course_ids, *cart_ids])
    courses = {row.id: course_record(row) for row in rows}
    where = {row.id: str(row.enrolled_as) for row in rows if row.enrolled_as is not None}
    where.update(dict.fromkeys([*course_ids, *cart_ids], IN_CART))
    found = []
    for index, course_id in enumerate(course_ids):
        course = courses.get(course_id)
        if course is None:
            continue
        for other_id, other_is in where.items():
            other = courses.get(other_id)
            # A pair of the courses asked about is seen once, from its first member.
            if other is None or other_id in course_ids[: index + 1]:
                continue
            found += [Clash(course, other, other_is, o) for o in overlaps(course, other)]
    return found


async def timetable_clashes(
    session: AsyncSession, *, student_id: str, course: Timetabled, cart: Select[Any]
) -> list[Clash]:
    """How one course clashes with the student's live enrollments and the
    courses in their cart (`cart`, a subquery of course ids): one statement."""
    rows = await CatalogReads(session).timetable(student_id, cart=cart, besides=course.id)
    return clashes_in(course, rows)


def clashes_in(course: Timetabled, timetable: Iterable[Row[Any]]) -> list[Clash]:
    """How the course clashes with the timetable's courses, a row each as
    `CatalogReads.timetable` reads them (a row without a course is skipped)."""
    found = []
    for row in timetable:
        if row.id is None:
            continue
        other_is = IN_CART if row.in_cart else str(row.enrolled_as)
        other = course_record(row)
        found += [Clash(course, other, other_is, o) for o in overlaps(course, other)]
    return found
