from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.catalog.models import Enrollment
from functions.catalog.service import CourseView

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: list[str] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CourseStatus = Literal["open", "full", "closed"]
EnrollmentStatusName = Literal[
    "pending_payment", "active", "waitlisted", "expired", "dropped", "refunded", "completed"
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


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


class MoneyOut(BaseModel):
    amount: int
    currency: str


class MyEnrollmentOut(BaseModel):
    id: str
    status: EnrollmentStatusName
    due_at: datetime | None
    position: int | None = None


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
    course = view.course
    mine = None
    if view.mine is not None:
        mine = MyEnrollmentOut(
            id=view.mine.id,
            status=view.mine.status,
            due_at=view.mine.due_at,
            position=view.my_position,
        )
    return CourseOut(
        id=course.id,
        code=course.code,
        title=course.title,
        description=course.description,
        instructor=PersonOut(id=course.instructor_id, full_name=view.instructor_name),
        schedule=ScheduleOut(
            starts_on=course.starts_on,
            ends_on=course.ends_on,
            sessions=[
                SessionOut(
                    weekday=WEEKDAYS[s.weekday],
                    start_time=s.start_time.strftime("%H:%M"),
                    end_time=s.end_time.strftime("%H:%M"),
                    location=s.location,
                )
                for s in course.sessions
            ],
        ),
        capacity=course.capacity,
        seats_left=max(0, course.capacity - course.seats_taken),
        price=MoneyOut(amount=course.price_amount, currency=course.currency),
        status=view.status,
        payment_due_days=course.payment_due_days,
        enrollment_opens_on=course.enrollment_opens_on,
        enrollment_closes_on=course.enrollment_closes_on,
        archived=course.archived_at is not None,
        waitlist_length=view.waitlist_length,
        my_enrollment=mine,
    )


def enrollment_out(
    enrollment: Enrollment, *, position: int | None = None, course: CourseView | None = None
) -> EnrollmentOut:
    return EnrollmentOut(
        id=enrollment.id,
        course_id=enrollment.course_id,
        student_id=enrollment.student_id,
        status=enrollment.status,
        due_at=enrollment.due_at,
        position=position,
        created_at=enrollment.created_at,
        course=course_out(course) if course else None,
    )
