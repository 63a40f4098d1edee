"""A course as the administrator describes it, checked field by field: every
problem is reported at once, under the name of the field that has it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import service as auth
from functions.catalog.models import WEEKDAYS, Course
from lib.errors import Invalid, NotFound
from lib.security import Role

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
# Two-decimal currencies only: amounts are shown and charged in hundredths.
CURRENCIES = {"usd", "eur", "gbp", "chf", "cad", "aud", "sek", "nok", "dkk", "inr"}
MAX_CAPACITY = 10_000
MAX_PRICE = 10_000_000
MAX_DUE_DAYS = 365
MAX_SESSIONS = 14


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
class _Check:
    """The values accepted so far and the problems found so far. A field left
    out of a change keeps its value; left out of a new course, it is required."""

    current: Course | None
    values: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def given(self, name: str, value: object) -> bool:
        if value is None and self.current is None:
            self.problems[name] = "is required"
        return value is not None


async def validated(
    session: AsyncSession, spec: CourseSpec, *, current: Course | None, today: date
) -> dict[str, Any]:
    """Check every field, report all problems at once, return the column values."""
    check = _Check(current)
    _texts(check, spec)
    await _instructor(session, check, spec)
    _schedule(check, spec)
    _numbers(check, spec)
    _enrollment_window(check, spec, today)
    if check.problems:
        raise Invalid(fields=check.problems)
    return check.values


def _texts(check: _Check, spec: CourseSpec) -> None:
    if check.given("code", spec.code):
        assert spec.code is not None
        code = spec.code.strip().upper()
        if not CODE_PATTERN.match(code):
            check.problems["code"] = "must be 2 to 20 of A-Z, 0-9 and hyphens, e.g. CS-101"
        else:
            check.values["code"] = code
    if check.given("title", spec.title):
        assert spec.title is not None
        title = " ".join(spec.title.split())
        if not 1 <= len(title) <= 200:
            check.problems["title"] = "must be 1 to 200 characters"
        else:
            check.values["title"] = title
    if spec.description is not None:
        if len(spec.description) > 5000:
            check.problems["description"] = "must be at most 5000 characters"
        else:
            check.values["description"] = spec.description.strip()
    elif check.current is None:
        check.values["description"] = ""


async def _instructor(session: AsyncSession, check: _Check, spec: CourseSpec) -> None:
    if not check.given("instructor_id", spec.instructor_id):
        return
    assert spec.instructor_id is not None
    try:
        instructor = await auth.get_user(session, spec.instructor_id)
    except NotFound:
        instructor = None
    if instructor is None or instructor.role != Role.INSTRUCTOR or not instructor.is_active:
        check.problems["instructor_id"] = "must be an active instructor"
    else:
        check.values["instructor_id"] = instructor.id


def _schedule(check: _Check, spec: CourseSpec) -> None:
    current = check.current
    starts_on = spec.starts_on or (current.starts_on if current else None)
    ends_on = spec.ends_on or (current.ends_on if current else None)
    if check.given("schedule.starts_on", spec.starts_on) and spec.starts_on is not None:
        check.values["starts_on"] = spec.starts_on
    if check.given("schedule.ends_on", spec.ends_on) and spec.ends_on is not None:
        check.values["ends_on"] = spec.ends_on
    if starts_on and ends_on and ends_on < starts_on:
        check.problems["schedule.ends_on"] = "must not be before the start date"
    if spec.sessions is None:
        return
    if len(spec.sessions) > MAX_SESSIONS:
        check.problems["schedule.sessions"] = f"must be at most {MAX_SESSIONS} sessions a week"
    for index, item in enumerate(spec.sessions):
        name = f"schedule.sessions.{index}"
        if item.weekday not in WEEKDAYS:
            check.problems[f"{name}.weekday"] = "must be a weekday name"
        if item.end_time <= item.start_time:
            check.problems[f"{name}.end_time"] = "must be after the start time"
        if len(item.location) > 200:
            check.problems[f"{name}.location"] = "must be at most 200 characters"


def _numbers(check: _Check, spec: CourseSpec) -> None:
    if check.given("capacity", spec.capacity):
        assert spec.capacity is not None
        if not 1 <= spec.capacity <= MAX_CAPACITY:
            check.problems["capacity"] = f"must be between 1 and {MAX_CAPACITY}"
        else:
            check.values["capacity"] = spec.capacity
    if check.given("price.amount", spec.price_amount):
        assert spec.price_amount is not None
        if not 0 <= spec.price_amount <= MAX_PRICE:
            check.problems["price.amount"] = f"must be between 0 and {MAX_PRICE} (minor units)"
        else:
            check.values["price_amount"] = spec.price_amount
    if check.given("price.currency", spec.currency):
        assert spec.currency is not None
        currency = spec.currency.strip().lower()
        if currency not in CURRENCIES:
            check.problems["price.currency"] = "must be one of " + ", ".join(sorted(CURRENCIES))
        else:
            check.values["currency"] = currency
    if spec.payment_due_days is not None:
        if not 0 <= spec.payment_due_days <= MAX_DUE_DAYS:
            check.problems["payment_due_days"] = f"must be between 0 and {MAX_DUE_DAYS}"
        else:
            check.values["payment_due_days"] = spec.payment_due_days
    elif check.current is None:
        check.values["payment_due_days"] = 0


def _enrollment_window(check: _Check, spec: CourseSpec, today: date) -> None:
    current = check.current
    starts_on = spec.starts_on or (current.starts_on if current else None)
    ends_on = spec.ends_on or (current.ends_on if current else None)
    opens = spec.enrollment_opens_on or (current.enrollment_opens_on if current else today)
    closes = spec.enrollment_closes_on or (current.enrollment_closes_on if current else starts_on)
    check.values["enrollment_opens_on"] = opens
    if closes is not None:
        check.values["enrollment_closes_on"] = closes
    if opens and closes and closes < opens:
        check.problems["enrollment_closes_on"] = "must not be before enrollment opens"
    if closes and ends_on and closes > ends_on:
        check.problems["enrollment_closes_on"] = "must not be after the course ends"
