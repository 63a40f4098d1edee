from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal, cast

from pydantic import BaseModel, Field

from functions.catalog.models import WEEKDAYS, Enrollment, Weekday
from functions.catalog.records import EnrollmentRecord
from functions.catalog.service import CourseView
from functions.catalog.timetable import Clash
from lib.schemas import Body, MoneyOut

CourseStatus = Literal["open", "full", "closed"]
EnrollmentStatusName = Literal[
    "pending_payment", "active", "waitlisted", "expired", "dropped", "refunded", "completed"
]


class SessionIn(Body):
    weekday: Weekday
    start_time: time
    end_time: time
    location: str = ""


class ScheduleIn(Body):
    starts_on: date
    ends_on: date
    sessions: list[SessionIn] = Field(default_factory=list)


class MoneyIn(Body):
    amount: int
    currency: str


class CourseIn(Body):
    code: str
    title: str
    description: str = ""
    instructor_id: str
    schedule: ScheduleIn
    capacity: int
    price: MoneyIn
    payment_due_days: int = 0
    enrollment_opens_on: date | None = None
    enrollment_closes_on: date | None = None


class CoursePatch(Body):
    code: str | None = None
    title: str | None = None
    description: str | None = None
    instructor_id: str | None = None
    schedule: ScheduleIn | None = None
    capacity: int | None = None
    price: MoneyIn | None = None
    payment_due_days: int | None = None
    enrollment_opens_on: date | None = None
    enrollment_closes_on: date | None = None


class PersonOut(BaseModel):
    id: str
    full_name: str


class SessionOut(BaseModel):
    weekday: Weekday
    start_time: str
    end_time: str
    location: str


class ScheduleOut(BaseModel):
    starts_on: date
    ends_on: date
    sessions: list[SessionOut]


class MyEnrollmentOut(BaseModel):
    id: str
    status: EnrollmentStatusName
    due_at: datetime | None
    position: int | None = None
    # The payment a held seat answers to (pay it at /api/checkout/payments/{id}/pay).
    payment_id: str | None = None


ClashWith = Literal["cart", "pending_payment", "active", "waitlisted"]


class CourseRefOut(BaseModel):
    id: str
    code: str
    title: str


class ClashOut(BaseModel):
    """`course_id` meets at the same time as `other_course`, which the student
    has in their cart (`other_is: "cart"`) or is enrolled in (its status)."""

    course_id: str
    other_course: CourseRefOut
    other_is: ClashWith
    weekday: Weekday
    start_time: str
    end_time: str
    first_date: date
    last_date: date

    @classmethod
    def of(cls, clash: Clash) -> ClashOut:
        other = clash.other
        return cls(
            course_id=clash.course.id,
            other_course=CourseRefOut(id=other.id, code=other.code, title=other.title),
            other_is=cast(ClashWith, clash.other_is),
            weekday=cast(Weekday, clash.overlap.weekday),
            start_time=clash.overlap.start_time.strftime("%H:%M"),
            end_time=clash.overlap.end_time.strftime("%H:%M"),
            first_date=clash.overlap.first_date,
            last_date=clash.overlap.last_date,
        )


class CourseOut(BaseModel):
    id: str
    code: str
    title: str
    description: str
    instructor: PersonOut
    schedule: ScheduleOut
    capacity: int
    seats_left: int
    price: MoneyOut
    status: CourseStatus
    payment_due_days: int
    enrollment_opens_on: date
    enrollment_closes_on: date
    archived: bool
    waitlist_length: int | None = None
    my_enrollment: MyEnrollmentOut | None = None
    # Only on one course fetched by a signed-in student; null in lists.
    clashes: list[ClashOut] | None = None


class CourseEnvelope(BaseModel):
    course: CourseOut


class CoursePage(BaseModel):
    items: list[CourseOut]
    next_cursor: str | None


class EnrollmentOut(BaseModel):
    id: str
    course_id: str
    student_id: str
    status: EnrollmentStatusName
    due_at: datetime | None
    position: int | None = None
    created_at: datetime
    # The payment a held seat answers to; null for free and waitlisted ones.
    payment_id: str | None = None
    course: CourseOut | None = None


class EnrollmentEnvelope(BaseModel):
    enrollment: EnrollmentOut


class EnrollmentPage(BaseModel):
    items: list[EnrollmentOut]
    next_cursor: str | None


class StudentOut(BaseModel):
    id: str
    username: str
    full_name: str
    email: str


class RosterEntryOut(BaseModel):
    enrollment: EnrollmentOut
    student: StudentOut


class RosterPage(BaseModel):
    items: list[RosterEntryOut]
    next_cursor: str | None


def course_out(view: CourseView) -> CourseOut:
    """The course as the API shows it. Its parts come from the database, already
    checked, so the models are built without validating them again (a page of
    courses would otherwise validate a hundred models): the tests compare the
    answers with validated ones."""
    course = view.course
    mine = None
    if view.mine is not None:
        mine = MyEnrollmentOut.model_construct(
            id=view.mine.id,
            status=cast(EnrollmentStatusName, view.mine.status),
            due_at=view.mine.due_at,
            position=view.my_position,
            payment_id=view.mine.payment_id,
        )
    sessions = [
        SessionOut.model_construct(
            weekday=cast(Weekday, WEEKDAYS[s.weekday]),
            start_time=s.start_time.strftime("%H:%M"),
            end_time=s.end_time.strftime("%H:%M"),
            location=s.location,
        )
        for s in course.sessions
    ]
    return CourseOut.model_construct(
        id=course.id,
        code=course.code,
        title=course.title,
        description=course.description,
        instructor=PersonOut.model_construct(
            id=course.instructor_id, full_name=view.instructor_name
        ),
        schedule=ScheduleOut.model_construct(
            starts_on=course.starts_on, ends_on=course.ends_on, sessions=sessions
        ),
        capacity=course.capacity,
        seats_left=max(0, course.capacity - course.seats_taken),
        price=MoneyOut.model_construct(amount=course.price_amount, currency=course.currency),
        status=cast(CourseStatus, view.status),
        payment_due_days=course.payment_due_days,
        enrollment_opens_on=course.enrollment_opens_on,
        enrollment_closes_on=course.enrollment_closes_on,
        archived=course.archived_at is not None,
        waitlist_length=view.waitlist_length,
        my_enrollment=mine,
        clashes=None if view.clashes is None else [ClashOut.of(c) for c in view.clashes],
    )


def enrollment_out(
    enrollment: Enrollment | EnrollmentRecord,
    *,
    position: int | None = None,
    course: CourseView | None = None,
) -> EnrollmentOut:
    return EnrollmentOut(
        id=enrollment.id,
        course_id=enrollment.course_id,
        student_id=enrollment.student_id,
        status=enrollment.status,
        due_at=enrollment.due_at,
        position=position,
        created_at=enrollment.created_at,
        payment_id=enrollment.payment_id,
        course=course_out(course) if course else None,
    )
