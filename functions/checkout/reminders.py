"""Reminders about payments: due soon, and a checkout started but not finished.

Each reminder is queued under a key naming what it is about (payment, kind,
due date), so a second scheduler, a restart or a replayed job queues nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from functions.checkout.models import Payment
from functions.checkout.repository import PaymentRepository
from functions.messages.notices import CheckoutUnfinished, PaymentDueSoon, notify

DUE_SOON_DAYS = (3, 1)
UNFINISHED_AFTER = timedelta(hours=1)
BATCH = 500


def _due_in(days: int) -> str:
    return "tomorrow" if days == 1 else f"in {days} days"


async def send_payment_reminders(
    session: AsyncSession,
    *,
    now: datetime,
    days: tuple[int, ...] = DUE_SOON_DAYS,
    batch: int = BATCH,
) -> int:
    """For each pending payment, the most urgent threshold it has crossed, once."""
    thresholds = sorted(days)
    if not thresholds:
        return 0
    horizon = now + timedelta(days=thresholds[-1])
    payments = PaymentRepository(session)
    queued = 0
    after: tuple[datetime, str] | None = None
    # Page through them all: the first page is the same on every run, and the
    # payments past it would otherwise never be reminded.
    while True:
        page = await payments.pending_due_by(until=horizon, now=now, limit=batch, after=after)
        for payment in page:
            crossed = [d for d in thresholds if payment.due_at - timedelta(days=d) <= now]
            # Only a threshold the payment lived through: a payment made two days
            # before its due date gets no "due in 3 days" notice.
            crossed = [
                d for d in crossed if payment.created_at < payment.due_at - timedelta(days=d)
            ]
            if crossed and await _remind(session, payment, crossed[0], now=now):
                queued += 1
        if len(page) < batch:
            return queued
        after = (page[-1].due_at, page[-1].id)


async def _remind(session: AsyncSession, payment: Payment, days: int, *, now: datetime) -> bool:
    notice = PaymentDueSoon(
        payment_id=payment.id,
        amount=payment.amount,
        currency=payment.currency,
        due_at=payment.due_at,
        due_in=_due_in(days),
        days=days,
    )
    # Keyed by the due time too: a payment whose due date moves is reminded again.
    about = f"{payment.id}:{days}d:{payment.due_at.isoformat()}"
    return await notify(session, notice, to=payment.student_id, now=now, once_per=about)


async def remind_pending_checkouts(
    session: AsyncSession, *, now: datetime, batch: int = BATCH
) -> int:
    payments = PaymentRepository(session)
    queued = 0
    after: tuple[datetime, str] | None = None
    while True:
        page = await payments.checkouts_started_before(
            before=now - UNFINISHED_AFTER, now=now, limit=batch, after=after
        )
        for payment in page:
            notice = CheckoutUnfinished(
                payment_id=payment.id,
                amount=payment.amount,
                currency=payment.currency,
                due_at=payment.due_at,
            )
            if await notify(session, notice, to=payment.student_id, now=now, once_per=payment.id):
                queued += 1
        if len(page) < batch:
            return queued
        after = (page[-1].created_at, page[-1].id)
