from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Literal, get_args

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from functions.catalog import search_index
from lib.db import Base, UTCDateTime, new_id

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# A session's weekday is stored as its index here: 0 is Monday, as date.weekday() counts.
WEEKDAYS: tuple[str, ...] = get_args(Weekday)


class EnrollmentStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    ACTIVE = "active"
    WAITLISTED = "waitlisted"
    EXPIRED = "expired"
    DROPPED = "dropped"
    REFUNDED = "refunded"
    COMPLETED = "completed"


# A student has at most one of these per course (a partial unique index).
LIVE_STATUSES = (
    EnrollmentStatus.PENDING_PAYMENT,
    EnrollmentStatus.ACTIVE,
    EnrollmentStatus.WAITLISTED,
)
# These occupy a seat: courses.seats_taken counts exactly them.
SEAT_STATUSES = (
    EnrollmentStatus.PENDING_PAYMENT,
    EnrollmentStatus.ACTIVE,
    EnrollmentStatus.COMPLETED,
)
_LIVE_SQL = "status IN ('pending_payment', 'active', 'waitlisted')"


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("seats_taken >= 0", name="seats_taken_not_negative"),
        CheckConstraint("seats_taken <= capacity", name="seats_taken_within_capacity"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        Index("ix_courses_starts_on_id", "starts_on", "id"),
        Index("ix_courses_price_amount_id", "price_amount", "id"),
        Index("ix_courses_title_id", "title", "id"),
        # Text search is `search_text LIKE '%...%'`: a trigram index serves it
        # on PostgreSQL; on SQLite a full-text table does (see search_index).
        Index(
            "ix_courses_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    instructor_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    enrollment_opens_on: Mapped[date] = mapped_column(Date)
    enrollment_closes_on: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    price_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    payment_due_days: Mapped[int] = mapped_column(Integer, default=0)
    # Hands out waitlist numbers: an atomic per-course counter keeps the queue
    # in joining order even when two students join in the same instant.
    waitlist_counter: Mapped[int] = mapped_column(Integer, default=0)
    # Lowercased code, title, description and instructor name: what text
    # search looks through. Written by database triggers (search_index).
    search_text: Mapped[str] = mapped_column(Text, default="")
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    sessions: Mapped[list[CourseSession]] = relationship(
        back_populates="course",
        cascade="all, delete-orphan",
        order_by="(CourseSession.weekday, CourseSession.start_time)",
        lazy="selectin",
    )


class CourseSession(Base):
    __tablename__ = "course_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    course_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer, index=True)  # 0 = Monday
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    location: Mapped[str] = mapped_column(String(200), default="")

    course: Mapped[Course] = relationship(back_populates="sessions")


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        Index(
            "uq_enrollments_live_student_course",
            "course_id",
            "student_id",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
        Index("ix_enrollments_course_status_queue", "course_id", "status", "queue_number"),
        Index("ix_enrollments_student_id_created_at", "student_id", "created_at"),
        Index("ix_enrollments_status_due_at", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    course_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("courses.id", ondelete="RESTRICT")
    )
    student_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    queue_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payment_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


search_index.install(Course.__table__)  # type: ignore[arg-type]
