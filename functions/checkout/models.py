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
        Index("uq_payments_receipt_number", "receipt_number", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # What a person reads and quotes ("R-7F3A-9C2M"); the id stays the key.
    # Every payment has one; the column is nullable only so that it could be
    # added to a filled table without SQLite rebuilding it (and with it, through
    # ON DELETE CASCADE, emptying payment_items).
    receipt_number: Mapped[str] = mapped_column(String(16), nullable=True)
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


class RefundStatus(enum.StrEnum):
    OWED = "owed"
    ISSUED = "issued"
    # Retried for a day without success: an operator must look (see the README).
    FAILED = "failed"


class Refund(Base):
    """Money a Stripe event obliges us to give back (a late payment for a lapsed
    seat, a second charge, money for a payment we never recorded). It is
    written in the event's transaction and sent to Stripe after the commit,
    under its idempotency key, retried by a job until Stripe takes it."""

    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # No foreign key: money for a payment we never recorded is given back too.
    payment_id: Mapped[str] = mapped_column(String(255), index=True)
    payment_intent: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
