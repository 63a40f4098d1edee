"""What the checkout keeps that the catalog asks about: the payment every held
seat of a paid course answers to, and the courses in a student's cart.

The catalog calls this module (a seat held from a course page or offered from
the waitlist gets its payment in the same transaction), so it imports nothing
from the catalog: callers hand in plain values."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession

from functions.checkout.models import Payment, PaymentItem, PaymentStatus
from functions.checkout.repository import CartRepository, PaymentRepository
from lib.db import new_id

# Crockford's base32: no I, L, O or U, so a number read aloud or retyped survives.
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_ATTEMPTS = 10


@dataclass(frozen=True)
class HeldSeat:
    """A seat held for a student, as its payment's line."""

    enrollment_id: str
    course_id: str
    description: str
    amount: int


def new_receipt_number() -> str:
    """'R-' and two groups of four: 40 random bits. The unique index has the
    last word; a clash draws again."""
    symbols = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"R-{symbols[:4]}-{symbols[4:]}"


async def open_payment(
    session: AsyncSession,
    *,
    student_id: str,
    seats: Sequence[HeldSeat],
    currency: str,
    due_at: datetime,
    now: datetime,
) -> Payment:
    """A pending payment for held seats, due when they are: one date for both.
    Its Checkout Session is opened later, when the student pays."""
    payments = PaymentRepository(session)
    for _ in range(RECEIPT_ATTEMPTS):
        payment = Payment(
            id=new_id(),
            receipt_number=new_receipt_number(),
            student_id=student_id,
            status=PaymentStatus.PENDING,
            amount=sum(seat.amount for seat in seats),
            currency=currency,
            due_at=due_at,
            sessions_started=0,
            processing=False,
            refunded_amount=0,
            created_at=now,
            updated_at=now,
        )
        items = [
            PaymentItem(
                payment_id=payment.id,
                course_id=seat.course_id,
                enrollment_id=seat.enrollment_id,
                description=seat.description,
                amount=seat.amount,
                refunded=False,
            )
            for seat in seats
        ]
        if await payments.add(payment, items):
            return payment
    raise RuntimeError("no free receipt number after several draws")


async def close_unseated(session: AsyncSession, payment_id: str, *, now: datetime) -> bool:
    """A pending payment none of whose seats is held any more (the student
    dropped them) is owed no more: it ends as expired. A bank payment under way
    is left to settle; its lines' money then goes back."""
    return await PaymentRepository(session).move(
        payment_id,
        from_statuses=[PaymentStatus.PENDING],
        values={"status": PaymentStatus.EXPIRED, "checkout_url": None, "updated_at": now},
        where=[Payment.processing.is_(False)],
    )


def cart_course_ids_select(student_id: str | ColumnElement[str]) -> Select[Any]:
    """The courses in the student's cart, as a subquery for a caller's own
    statement (the catalog's clash check reads them along with the timetable)."""
    return CartRepository.course_ids_of(student_id)


async def cart_course_ids(session: AsyncSession, student_id: str) -> list[str]:
    return await CartRepository(session).course_ids(student_id)
