"""The catalog's two public reads, a page of courses and one course, answered
from encoded parts shared by every reader (see `encoded`).

Each part is kept in the catalog's page cache under the catalog version its
rows were read at (the version comes in the same statement as the rows). A
reader's request looks the part up under the version this process holds
(`VersionClock.peek`: no statement):

- anonymous: the part as it is, no statement (the HTTP page cache in front
  already keyed the answer by that version);
- signed in: one statement reads the version now and, for a student, their
  own enrollment in the courses shown. Only if the version is the part's is
  the part used, so a signed-in answer is never older than the database,
  in any process, and a student always sees the seats their own change took.

Otherwise (nothing kept, or the catalog changed) one statement reads the
rows, the student's own enrollments and the version together, and a
signed-in reader's part is kept for the next one (an anonymous answer is
kept whole by the HTTP page cache)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog.encoded import (
    EncodedCourse,
    EncodedPage,
    encoded_course,
    encoded_page,
    envelope,
    own_clashes,
    own_enrollment,
)
from functions.catalog.errors import CourseNotFound
from functions.catalog.listing import SORT_KEYS, CourseFilter, search_of
from functions.catalog.own import own_enrollments, own_in_course
from functions.catalog.reads import SORT_COLUMNS, CatalogReads
from functions.catalog.search_query import catalog_page, shaped
from functions.catalog.service import sees_archived, view_of
from functions.catalog.timetable import clashes_in, timetable_clashes
from functions.checkout import ledger
from lib.caching import VersionedPages
from lib.runtime import CurrentUser
from lib.security import Role


def _student_id(viewer: CurrentUser | None) -> str | None:
    return viewer.id if viewer is not None and viewer.role == Role.STUDENT else None


async def _kept(
    store: VersionedPages,
    reads: CatalogReads,
    key: tuple[Hashable, ...],
    viewer: CurrentUser | None,
) -> tuple[Any, dict[str, bytes], Sequence[Row[Any]] | None] | None:
    """The part kept under `key` and the version this process holds, with the
    viewer's own enrollments in its courses (and for one course, a student's
    timetable); None when it must be read again."""
    version = store.clock.peek()
    part = None if version is None else store.pages.get((*key, version))
    if part is None:
        return None
    if viewer is None:
        return part, {}, None
    now, own, timetable = await _own_now(reads, _student_id(viewer), part)
    store.observe(now)
    if now != version:
        return None
    return part, own, timetable


async def _own_now(
    reads: CatalogReads, student_id: str | None, part: Any
) -> tuple[int, dict[str, bytes], Sequence[Row[Any]] | None]:
    """The version now and the reader's own part of a kept one: one statement."""
    if student_id is not None and isinstance(part, EncodedCourse):
        params = {"student_id": student_id, "course_id": part.id}
        rows = await reads.kept_rows(_own_in_course(reads.dialect), params)
        mine = {part.id: own_enrollment(rows[0])} if rows[0].mine_id is not None else {}
        return int(rows[0].catalog_version), mine, rows
    ids = part.course_ids if isinstance(part, EncodedPage) else [part.id]
    now, own = await own_enrollments(reads, student_id, ids)
    return now, {course_id: own_enrollment(row) for course_id, row in own.items()}, None


@lru_cache(maxsize=2)
def _own_in_course(dialect: str) -> Select[Any]:
    return own_in_course(dialect, cart=ledger.cart_course_ids_select(bindparam("student_id")))


def _keep(
    store: VersionedPages,
    key: tuple[Hashable, ...],
    read: tuple[int, int],
    part: Any,
    viewer: CurrentUser | None,
) -> None:
    """Keep a part read at version `read[0]` (the clock's generation before
    the read: `read[1]`) for signed-in readers. An anonymous answer is kept
    whole by the HTTP page cache in front; its parts as well would take two
    of the cache's entries for one course."""
    version, generation = read
    store.clock.offer(version, generation)
    store.observe(version)
    if viewer is not None:
        store.pages.put((*key, version), part)


async def course_page(
    session: AsyncSession,
    store: VersionedPages,
    query: CourseFilter,
    *,
    viewer: CurrentUser | None,
    now: datetime,
) -> bytes:
    """A page of the catalog as the viewer sees it, encoded."""
    search, today = search_of(query, viewer), now.date()
    reads = CatalogReads(session)
    key = ("catalog.page", search, today)
    kept = await _kept(store, reads, key, viewer)
    if kept is not None:
        page, own, _ = kept
        return bytes(page.json(own))
    generation = store.clock.generation
    student_id = _student_id(viewer)
    shape, params = shaped(search, today=today, dialect=reads.dialect, student_id=student_id)
    rows = await reads.kept_rows(catalog_page(shape), params)
    column = SORT_COLUMNS[search.sort].name
    chosen, next_cursor = SORT_KEYS[search.sort].page(
        rows, query.limit, lambda row: (row._mapping[column], row.id)
    )
    page = encoded_page([view_of(row, today) for row in chosen], next_cursor)
    if rows:
        _keep(store, key, (rows[0].catalog_version, generation), page, viewer)
    own = {row.id: own_enrollment(row) for row in chosen if student_id and row.mine_id}
    return page.json(own)


async def course(
    session: AsyncSession,
    store: VersionedPages,
    course_id: str,
    *,
    viewer: CurrentUser | None,
    now: datetime,
) -> bytes:
    """One course as the viewer sees it, encoded; a student also learns how
    it clashes with their timetable (read with their own part when the
    course is kept, else one statement more)."""
    reads = CatalogReads(session)
    key = ("catalog.course", course_id, now.date())
    kept = await _kept(store, reads, key, viewer)
    timetable = None
    if kept is not None:
        part: EncodedCourse = kept[0]
        mine, timetable = kept[1].get(course_id), kept[2]
    else:
        part, mine = await _read_course(reads, store, key, course_id, viewer, now.date())
    archived = part.record.archived_at is not None
    if archived and not sees_archived(viewer, part.record.instructor_id, enrolled=bool(mine)):
        raise CourseNotFound()
    if viewer is None or viewer.role != Role.STUDENT:
        return envelope(part.json(mine or b"null"))
    if timetable is None:
        cart = ledger.cart_course_ids_select(viewer.id)
        clashes = await timetable_clashes(
            session, student_id=viewer.id, course=part.record, cart=cart
        )
    else:
        clashes = clashes_in(part.record, timetable)
    return envelope(part.json(mine or b"null", own_clashes(clashes)))


async def _read_course(
    reads: CatalogReads,
    store: VersionedPages,
    key: tuple[Hashable, ...],
    course_id: str,
    viewer: CurrentUser | None,
    today: date,
) -> tuple[EncodedCourse, bytes | None]:
    generation = store.clock.generation
    student_id = _student_id(viewer)
    rows = await reads.courses([course_id], student_id=student_id)
    if not rows:
        raise CourseNotFound()
    row = rows[0]
    part = encoded_course(view_of(row, today))
    _keep(store, key, (row.catalog_version, generation), part, viewer)
    return part, own_enrollment(row) if student_id and row.mine_id else None
