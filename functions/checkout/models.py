from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lib.db import Base, UTCDateTime, new_id


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("student_id", "course_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    student_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    course_id: Mapped[str] = mapped_column(String(32), ForeignKey("courses.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_student_id_created_at", "student_id", "created_at"),
        Index("ix_payments_status_due_at", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    student_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    checkout_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    session_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sessions_started: Mapped[int] = mapped_column(Integer, default=0)
    payment_intent: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    # A delayed method (bank debit) is under way: paid or failed comes later.
    processing: Mapped[bool] = mapped_column(default=False)
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PaymentItem(Base):
    __tablename__ = "payment_items"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    payment_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    course_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("courses.id", ondelete="RESTRICT")
    )
    enrollment_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("enrollments.id", ondelete="RESTRICT")
    )
    description: Mapped[str] = mapped_column(String(300))
    amount: Mapped[int] = mapped_column(Integer)
    # Set when this line's seat could not be given (a late payment after the
    # hold lapsed and the course filled up): its amount went back.
    refunded: Mapped[bool] = mapped_column(default=False)
