"""Catalog answers kept encoded: a course's JSON as anyone sees it, cut where
a viewer's own part goes (their enrollment, their clashes). A page of courses
is encoded once per catalog version and shared by every reader; a signed-in
student's answer is those bytes with their own enrollments laid in, not the
page rebuilt. The bytes are the response models' own serialization, so the
answers are the same, byte for byte, as `CoursePage` and `CourseEnvelope`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pydantic_core
from sqlalchemy import Row

from functions.catalog.records import CourseRecord
from functions.catalog.schemas import (
    ClashOut,
    CourseOut,
    EnrollmentStatusName,
    MyEnrollmentOut,
    course_out,
)
from functions.catalog.service import CourseView
from functions.catalog.timetable import Clash

_COURSE_JSON = CourseOut.__pydantic_serializer__.to_json
_MINE_JSON = MyEnrollmentOut.__pydantic_serializer__.to_json
_CLASH_JSON = ClashOut.__pydantic_serializer__.to_json
# How every course's JSON ends: the viewer's own parts, last by the model's order.
_OWN_PARTS = b'null,"clashes":null}'
_NULL = b"null"


@dataclass(frozen=True, slots=True)
class EncodedCourse:
    """One course as anyone sees it: its JSON up to `"my_enrollment":`, and
    what deciding who may see it needs."""

    id: str
    head: bytes
    record: CourseRecord
    status: str

    @property
    def size(self) -> int:
        return len(self.head) + 600  # the record and the bookkeeping

    def json(self, mine: bytes = _NULL, clashes: bytes = _NULL) -> bytes:
        return b"".join((self.head, mine, b',"clashes":', clashes, b"}"))


@dataclass(frozen=True, slots=True)
class EncodedPage:
    """A page of courses as anyone sees it, and the cursor to the next one."""

    courses: tuple[EncodedCourse, ...]
    next_cursor: bytes

    @property
    def size(self) -> int:
        return sum(c.size for c in self.courses) + len(self.next_cursor) + 200

    @property
    def course_ids(self) -> list[str]:
        return [c.id for c in self.courses]

    def json(self, mine: Mapping[str, bytes]) -> bytes:
        """The page with the viewer's own enrollments (by course id) laid in."""
        items = b",".join(c.json(mine.get(c.id, _NULL)) for c in self.courses)
        return b'{"items":[' + items + b'],"next_cursor":' + self.next_cursor + b"}"


def encoded_course(view: CourseView) -> EncodedCourse:
    """The course as anyone sees it (the view's own parts are left out)."""
    shared = CourseView(view.course, view.instructor_name, view.status, view.waitlist_length)
    whole = _COURSE_JSON(course_out(shared))
    if not whole.endswith(_OWN_PARTS):  # the model's field order changed
        raise AssertionError("a course's JSON must end with its viewer's own parts")
    return EncodedCourse(view.course.id, whole[: -len(_OWN_PARTS)], view.course, view.status)


def encoded_page(views: Sequence[CourseView], next_cursor: str | None) -> EncodedPage:
    return EncodedPage(tuple(encoded_course(v) for v in views), pydantic_core.to_json(next_cursor))


def own_enrollment(row: Row[Any]) -> bytes:
    """The viewer's own enrollment in a course, from a row that carries it
    (`mine_*` and `my_position`), as the answer shows it."""
    return _MINE_JSON(
        MyEnrollmentOut.model_construct(
            id=row.mine_id,
            status=cast(EnrollmentStatusName, row.mine_status),
            due_at=row.mine_due_at,
            position=row.my_position,
            payment_id=row.mine_payment_id,
        )
    )


def own_clashes(clashes: Sequence[Clash]) -> bytes:
    return b"[" + b",".join(_CLASH_JSON(ClashOut.of(c)) for c in clashes) + b"]"


def envelope(course: bytes) -> bytes:
    return b'{"course":' + course + b"}"
