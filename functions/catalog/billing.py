"""Every seat held in a paid course answers to a payment, opened in the same
transaction as the hold: what a student owes is always on their payments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog.models import Enrollment
from functions.catalog.rules import AnyCourse
from functions.checkout import ledger


async def bill(
    session: AsyncSession,
    holds: Sequence[tuple[Enrollment, AnyCourse]],
    *,
    due_at: datetime,
    now: datetime,
) -> str:
    """One payment for one student's held seats (of one currency), due when
    they are; each hold is linked to it and takes its due time. Its id."""
    enrollment, course = holds[0]
    payment = await ledger.open_payment(
        session,
        student_id=enrollment.student_id,
        seats=[
            ledger.HeldSeat(
                enrollment_id=e.id,
                course_id=c.id,
                description=f"{c.code} {c.title}",
                amount=c.price_amount,
            )
            for e, c in holds
        ],
        currency=course.currency,
        due_at=due_at,
        now=now,
    )
    for held, _ in holds:
        held.payment_id = payment.id
        held.due_at = due_at
    await session.flush()
    return payment.id
