"""The catalog's rules of time: when a course takes enrollments, and how long a
held seat waits for its payment."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from functions.catalog.models import Course
from functions.catalog.records import CourseRecord

# The model where a write holds one; the read record where a read brought it.
AnyCourse = Course | CourseRecord

PAY_NOW_HOLD = timedelta(minutes=30)
MIN_PROMOTION_WINDOW = timedelta(days=1)


def course_starts_at(course: AnyCourse) -> datetime:
    return datetime.combine(course.starts_on, time(0, 0), tzinfo=UTC)


def accepting(course: AnyCourse, now: datetime) -> bool:
    today = now.date()
    return (
        course.archived_at is None
        and course.enrollment_opens_on <= today <= course.enrollment_closes_on
    )


def hold_due_at(
    course: AnyCourse, now: datetime, *, pay_now_hold: timedelta = PAY_NOW_HOLD
) -> datetime:
    """How long a seat is held before it must be paid: `payment_due_days` days,
    or the checkout's lifetime for pay-now courses; never past the course start."""
    starts_at = course_starts_at(course)
    if now >= starts_at:
        # Enrollment may stay open after the first day; capping at a start that
        # has passed would make the hold due (and released) before it is paid.
        return now + pay_now_hold
    if course.payment_due_days > 0:
        due = now + timedelta(days=course.payment_due_days)
    else:
        due = now + pay_now_hold
    return min(due, starts_at)


def promotion_due_at(course: AnyCourse, now: datetime) -> datetime:
    """A seat offered from the waitlist waits at least a day for its payment
    (the student must first read the e-mail); never past the course start,
    unless the course has started already and still takes enrollments."""
    window = max(timedelta(days=course.payment_due_days), MIN_PROMOTION_WINDOW)
    starts_at = course_starts_at(course)
    if now >= starts_at:
        return now + window
    return min(now + window, starts_at)
