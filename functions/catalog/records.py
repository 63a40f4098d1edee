"""The catalog as its read statements return it: plain records shaped for the
answers, built straight from rows (no ORM objects on the read path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class SessionRecord:
    weekday: int  # 0 = Monday
    start_time: time
    end_time: time
    location: str


@dataclass(slots=True)
class CourseRecord:
    id: str
    code: str
    title: str
    description: str
    instructor_id: str
    starts_on: date
    ends_on: date
    enrollment_opens_on: date
    enrollment_closes_on: date
    capacity: int
    seats_taken: int
    price_amount: int
    currency: str
    payment_due_days: int
    archived_at: datetime | None
    sessions: list[SessionRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MineRecord:
    """The viewer's own enrollment in a course."""

    id: str
    status: str
    due_at: datetime | None
    payment_id: str | None


def sessions_from_json(raw: Any) -> list[SessionRecord]:
    """A course's sessions from the JSON array the read statement aggregates
    (`[weekday, start, end, location]` each), in timetable order."""
    if raw is None:
        return []
    items = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    items.sort(key=lambda s: (s[0], s[1], s[2], s[3]))
    return [
        SessionRecord(int(s[0]), time.fromisoformat(s[1][:8]), time.fromisoformat(s[2][:8]), s[3])
        for s in items
    ]


@dataclass(frozen=True, slots=True)
class EnrollmentRecord:
    id: str
    course_id: str
    student_id: str
    status: str
    due_at: datetime | None
    created_at: datetime
    payment_id: str | None
