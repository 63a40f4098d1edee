"""Payments that fall due unpaid: they end as expired and their seats go back.

The job takes each overdue payment on its own: its Stripe session is closed
(outside any transaction), then the payment is expired in a transaction of its
own, so one that fails neither undoes nor holds up the others."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog import service as catalog
from functions.checkout.models import Payment, PaymentStatus
from functions.checkout.repository import PaymentRepository
from functions.checkout.sessions import close_quietly
from functions.messages.notices import PaymentOverdue, ReceiptLine, notify
from lib.runtime import Portal

log = logging.getLogger("portal.checkout")

P = PaymentStatus


async def expire_overdue_payments(portal: Portal, *, limit: int = 200) -> int:
    """Pending payments past their due time end as expired and free their seats.
    A bank payment under way keeps its seats until it settles."""
    now = portal.clock.now()
    async with portal.read_sessions() as session:
        overdue = await PaymentRepository(session).overdue(now=now, limit=limit)
    expired = 0
    for payment in overdue:
        if payment.checkout_session_id:
            # If Stripe cannot be reached the session stays open; money paid
            # into it later arrives as a late payment, which the events handle.
            await close_quietly(portal, payment.checkout_session_id)
        try:
            async with portal.transaction() as session:
                expired += await expire(session, payment.id, now=now)
        except Exception:
            # One payment that cannot be expired (a database error) must not
            # keep the others' seats: it is logged and tried on the next run.
            log.exception("checkout.expire_failed %s", payment.id)
    return expired


async def expire(
    session: AsyncSession, payment_id: str, *, now: datetime, due_by: datetime | None = None
) -> bool:
    """Expire the payment if it is still pending, due (by `due_by`, now by
    default) and not under way; its seats go back (and to the waitlist) and
    the student is told once."""
    payments = PaymentRepository(session)
    if not await payments.move(
        payment_id,
        from_statuses=[P.PENDING],
        values={"status": P.EXPIRED, "updated_at": now, "checkout_url": None},
        where=[Payment.due_at <= (due_by or now), Payment.processing.is_(False)],
    ):
        return False
    payment = await payments.get(payment_id)
    assert payment is not None
    items = await payments.items(payment_id)
    await catalog.release(session, [i.enrollment_id for i in items], now=now)
    notice = PaymentOverdue(
        payment_id=payment.id,
        amount=payment.amount,
        currency=payment.currency,
        due_at=payment.due_at,
        items=tuple(ReceiptLine(description=i.description, amount=i.amount) for i in items),
    )
    await notify(session, notice, to=payment.student_id, now=now, once_per=payment.id)
    return True
