"""A catalog of a few thousand rows, bulk inserted in seconds, and the query
plans of the statements the portal sends for a request: what the EXPLAIN
tests look at to see that a read uses an index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from functions.auth.models import User
from functions.catalog.models import Course, CourseSession, Enrollment
from lib.db import new_id
from lib.fastreads import Reads

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WORDS = ["algebra", "biology", "chemistry", "drawing", "economics", "french", "geology",
         "history", "music", "poetry", "robotics", "statistics", "theatre", "writing"]  # fmt: skip
# One course in RARE_EVERY is about physics: a search that finds few rows.
RARE_WORD = "physics"
RARE_EVERY = 500
_CHUNK = 1000


@dataclass
class Seeded:
    instructor_ids: list[str]
    student_ids: list[str]
    course_ids: list[str]
    # A course with a long waitlist, and a student on it.
    busy_course_id: str = ""
    waiting_student_id: str = ""
    enrollment_ids: list[str] = field(default_factory=list)


def _user(uid: str, role: str, n: int) -> dict[str, Any]:
    return {
        "id": uid, "username": f"{role}{n}", "email": f"{role}{n}@example.com",
        "email_key": f"{role}{n}@example.com", "full_name": f"{role.title()} {n}", "role": role,
        "password_hash": "x", "is_active": True, "created_at": NOW, "updated_at": NOW,
    }  # fmt: skip


def _course(cid: str, n: int, instructor_id: str) -> dict[str, Any]:
    subject = RARE_WORD if n % RARE_EVERY == 0 else WORDS[n % len(WORDS)]
    title = f"{subject.title()} {WORDS[(n // 7) % len(WORDS)]} {n}"
    starts = NOW.date() + timedelta(days=10 + n % 90)
    return {
        "id": cid, "code": f"C-{n:05d}", "title": title,
        "description": f"A course about {title.lower()}.", "instructor_id": instructor_id,
        "starts_on": starts, "ends_on": starts + timedelta(weeks=12),
        "enrollment_opens_on": NOW.date(), "enrollment_closes_on": starts, "capacity": 30,
        "seats_taken": 0, "price_amount": (n % 3) * 4900, "currency": "usd",
        "payment_due_days": 7, "waitlist_counter": 0, "search_text": "", "archived_at": None,
        "created_at": NOW, "updated_at": NOW,
    }  # fmt: skip


def _enrollment(course_id: str, student_id: str, n: int, *, queue: int | None) -> dict[str, Any]:
    made = NOW + timedelta(seconds=n)
    return {
        "id": new_id(), "course_id": course_id, "student_id": student_id,
        "status": "waitlisted" if queue is not None else "completed", "due_at": None,
        "queued_at": made if queue is not None else None, "queue_number": queue,
        "payment_id": None, "created_at": made, "updated_at": made,
    }  # fmt: skip


async def seed_catalog(engine: AsyncEngine, *, courses: int, students: int) -> Seeded:
    """`courses` courses by 20 instructors, each with a session; every student
    has completed a few courses and waits in line for one busy course. Then
    the planner's statistics are brought up to date."""
    seeded = Seeded([new_id() for _ in range(20)], [new_id() for _ in range(students)],
                    [new_id() for _ in range(courses)])  # fmt: skip
    users = [_user(u, "instructor", n) for n, u in enumerate(seeded.instructor_ids)]
    users += [_user(u, "student", n) for n, u in enumerate(seeded.student_ids)]
    rows = [
        _course(cid, n, seeded.instructor_ids[n % 20]) for n, cid in enumerate(seeded.course_ids)
    ]
    sessions = [
        {"id": new_id(), "course_id": cid, "weekday": n % 5, "start_time": time(9),
         "end_time": time(11), "location": "Room 1"}
        for n, cid in enumerate(seeded.course_ids)
    ]  # fmt: skip
    seeded.busy_course_id, seeded.waiting_student_id = seeded.course_ids[1], seeded.student_ids[-1]
    enrollments = [
        _enrollment(seeded.course_ids[(n * 7 + k) % courses], sid, n * 3 + k, queue=None)
        for n, sid in enumerate(seeded.student_ids)
        for k in range(3)
    ]
    enrollments += [
        _enrollment(seeded.busy_course_id, sid, 10**6 + n, queue=n + 1)
        for n, sid in enumerate(seeded.student_ids)
    ]
    seeded.enrollment_ids = [row["id"] for row in enrollments]
    async with engine.begin() as connection:
        for model, values in ((User, users), (Course, rows), (CourseSession, sessions),
                              (Enrollment, enrollments)):  # fmt: skip
            for start in range(0, len(values), _CHUNK):
                await connection.execute(insert(model), values[start : start + _CHUNK])
    await _analyze(engine)
    return seeded


async def _analyze(engine: AsyncEngine) -> None:
    # PostgreSQL: VACUUM also moves the rows a GIN index holds in its pending
    # list (fast update) into the index proper, as autovacuum would later.
    postgres = engine.dialect.name == "postgresql"
    async with engine.connect() as connection:
        if postgres:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("VACUUM ANALYZE" if postgres else "ANALYZE")
        await connection.commit()


@contextmanager
def sent_statements(
    *engines: AsyncEngine, reads: Reads | None = None
) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) the engines send meanwhile (a
    portal's reads and writes may go through engines of their own), and the
    fast reads (`portal.reads`), which go by the driver."""
    sent: list[tuple[str, Any]] = []

    def note(_c: Any, _cur: Any, statement: str, parameters: Any, *_a: Any) -> None:
        sent.append((statement, parameters))

    def note_fast(statement: str, parameters: Any) -> None:
        sent.append((statement, tuple(parameters)))

    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", note)
    if reads is not None:
        reads.listeners.append(note_fast)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", note)
        if reads is not None:
            reads.listeners.remove(note_fast)


async def plan_of(
    engine: AsyncEngine, statement: str, parameters: Any, *, seqscan: bool = True
) -> str:
    """The database's plan for a statement, as one text. `seqscan=False` asks
    PostgreSQL for its best plan without a sequential scan: whether an index
    can serve the statement at all, however small the table."""
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    async with engine.connect() as connection:
        if not seqscan and engine.dialect.name == "postgresql":
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = (await connection.exec_driver_sql(explain + statement, parameters)).all()
    if engine.dialect.name == "sqlite":
        return "\n".join(str(row[-1]) for row in rows)
    return "\n".join(str(row[0]) for row in rows)
