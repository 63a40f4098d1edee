"""Refunds: an administrator's, and the ones Stripe's events oblige us to make.

Stripe is never called inside a database transaction. An administrator's
refund is checked in one, sent to Stripe under a key naming the payment, and
recorded in a second; a crash in between is mended by Stripe's own
`charge.refunded` event (or by trying again: the key makes it one refund).

A refund an event obliges us to make (late money for a seat that is gone, a
second charge, money for a payment we never recorded) is written as owed in
the event's transaction, sent after the commit under its idempotency key, and
retried by `checkout.issue_refunds` until Stripe takes it. Stripe keeps a key
for at least a day; after 20 hours of failures the refund is marked failed for
an operator instead of being sent again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog import service as catalog
from functions.catalog.models import EnrollmentStatus
from functions.checkout.errors import PaymentNotFound, PaymentNotRefundable
from functions.checkout.models import Payment, PaymentStatus, RefundStatus
from functions.checkout.payments import PaymentView, view_of
from functions.checkout.repository import PaymentRepository, RefundRepository
from functions.checkout.sessions import gateway
from functions.messages.notices import RefundIssued, notify
from lib.db import new_id
from lib.payments.gateway import PaymentProviderError
from lib.runtime import Portal

log = logging.getLogger("portal.checkout")

P = PaymentStatus
E = EnrollmentStatus
GIVE_UP_AFTER = timedelta(hours=20)
BATCH = 50


async def refund(portal: Portal, payment_id: str) -> PaymentView:
    """An administrator refunds a paid payment: the money goes back through
    Stripe, its enrollments end as refunded, the seats go to the waitlist."""
    async with portal.read_sessions() as session:
        payment = await PaymentRepository(session).get(payment_id)
        if payment is None:
            raise PaymentNotFound()
        if payment.status != P.PAID or payment.payment_intent is None:
            raise PaymentNotRefundable(
                f"Only a paid payment can be refunded; this one is {payment.status}."
            )
    remaining = payment.amount - payment.refunded_amount
    if remaining > 0:
        await gateway(portal).refund(
            payment_intent=payment.payment_intent,
            amount=remaining,
            payment_id=payment.id,
            idempotency_key=f"refund:{payment.id}:all",
        )
    async with portal.transaction() as session:
        # Stripe's charge.refunded event may have recorded it first: then this changes nothing.
        await mark_refunded(session, payment, now=portal.clock.now())
        return await view_of(session, payment.id)


async def mark_refunded(session: AsyncSession, payment: Payment, *, now: datetime) -> bool:
    payments = PaymentRepository(session)
    if not await payments.move(
        payment.id,
        from_statuses=[P.PAID],
        values={
            "status": P.REFUNDED,
            "refunded_at": now,
            "refunded_amount": payment.amount,
            "updated_at": now,
        },
    ):
        return False
    items = await payments.items(payment.id)
    await catalog.release(
        session,
        [i.enrollment_id for i in items],
        now=now,
        to_status=E.REFUNDED,
        from_statuses=(E.ACTIVE, E.PENDING_PAYMENT),
    )
    notice = RefundIssued(
        payment_id=payment.id,
        receipt_number=payment.receipt_number,
        amount=payment.amount,
        currency=payment.currency,
    )
    await notify(session, notice, to=payment.student_id, now=now, once_per=payment.id)
    return True


# --- refunds owed -------------------------------------------------------------------------


async def owe(
    session: AsyncSession,
    *,
    reason: str,
    about: str,
    payment_id: str,
    payment_intent: str,
    amount: int,
    now: datetime,
) -> str:
    """Record money to give back, in the caller's transaction, under the key
    `refund:<reason>:<what it is about>`; returns the key."""
    key = f"refund:{reason}:{about}"
    await RefundRepository(session).owe(
        {
            "id": new_id(),
            "payment_id": payment_id,
            "payment_intent": payment_intent,
            "amount": amount,
            "reason": reason,
            "idempotency_key": key,
            "status": RefundStatus.OWED,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
    )
    return key


async def issue(portal: Portal, keys: Sequence[str]) -> int:
    """Send owed refunds to Stripe, each outside any transaction, and record
    each outcome in a transaction of its own. How many Stripe took."""
    issued = 0
    for key in keys:
        async with portal.read_sessions() as session:
            owed = await RefundRepository(session).get(key)
        if owed is None or owed.status != RefundStatus.OWED:
            continue
        now = portal.clock.now()
        try:
            refund_id = await gateway(portal).refund(
                payment_intent=owed.payment_intent,
                amount=owed.amount,
                payment_id=owed.payment_id,
                idempotency_key=key,
            )
        except PaymentProviderError as exc:
            await _failed(portal, key, owed.attempts + 1, owed.created_at, exc, now=now)
            continue
        async with portal.transaction() as session:
            values = {
                "status": RefundStatus.ISSUED,
                "issued_at": now,
                "attempts": owed.attempts + 1,
            }
            await RefundRepository(session).settle(key, {**values, "stripe_refund_id": refund_id})
        issued += 1
    return issued


async def _failed(
    portal: Portal, key: str, attempts: int, created_at: datetime, exc: Exception, *, now: datetime
) -> None:
    # Within a day Stripe recognises the key and never refunds twice; past
    # that it might, so a person decides.
    give_up = now - created_at >= GIVE_UP_AFTER
    values: dict[str, object] = {
        "attempts": attempts,
        "last_error": str(exc)[:500],
        "next_attempt_at": now + min(timedelta(minutes=2**attempts), timedelta(hours=1)),
    }
    if give_up:
        values["status"] = RefundStatus.FAILED
        log.error("checkout.refund_failed %s after %s attempts", key, attempts)
    async with portal.transaction() as session:
        await RefundRepository(session).settle(key, values)


async def issue_due(portal: Portal, *, batch: int = BATCH) -> int:
    """The job: every owed refund whose next attempt is due."""
    async with portal.read_sessions() as session:
        due = await RefundRepository(session).due(now=portal.clock.now(), limit=batch)
    return await issue(portal, [r.idempotency_key for r in due])
