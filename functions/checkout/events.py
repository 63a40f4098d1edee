"""What Stripe tells us, and how each event moves a payment.

Each handler runs in the event's transaction and returns its outcome with the
refunds it made owed; the webhook sends those to Stripe after the commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog import service as catalog
from functions.catalog.models import EnrollmentStatus
from functions.checkout import refunds
from functions.checkout.errors import EventNotReady
from functions.checkout.expiry import expire
from functions.checkout.models import Payment, PaymentStatus
from functions.checkout.repository import PaymentRepository
from functions.messages.notices import PaymentConfirmed, PaymentFailed, ReceiptLine, notify
from lib.runtime import Portal

log = logging.getLogger("portal.checkout")

P = PaymentStatus
E = EnrollmentStatus


@dataclass(frozen=True)
class SessionFacts:
    session_id: str
    payment_id: str | None
    payment_status: str
    amount_total: int | None
    currency: str | None
    payment_intent: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What an event did, and the keys of the refunds it made owed."""

    outcome: str
    refunds: tuple[str, ...] = ()


async def _payment_for(session: AsyncSession, facts: SessionFacts) -> Payment | None:
    if not facts.payment_id:
        return None
    return await PaymentRepository(session).get(facts.payment_id, for_update=True)


async def session_completed(session: AsyncSession, portal: Portal, facts: SessionFacts) -> Outcome:
    if facts.payment_status == "paid":
        return await settle_paid(session, portal, facts)
    payment = await _payment_for(session, facts)
    if payment is None:
        return Outcome("unknown_payment")
    # A delayed method (bank debit): the money is on its way, and the seats
    # stay held until it arrives or fails, however long the bank takes: the
    # expiry job leaves a payment under way alone.
    if payment.status == P.PENDING and not payment.processing:
        payment.processing = True
        payment.payment_intent = facts.payment_intent or payment.payment_intent
        payment.updated_at = portal.clock.now()
        await session.flush()
        return Outcome("processing")
    return Outcome("unchanged")


async def async_payment_succeeded(
    session: AsyncSession, portal: Portal, facts: SessionFacts
) -> Outcome:
    return await settle_paid(session, portal, facts)


async def async_payment_failed(
    session: AsyncSession, portal: Portal, facts: SessionFacts
) -> Outcome:
    now = portal.clock.now()
    payment = await _payment_for(session, facts)
    if payment is None:
        return Outcome("unknown_payment")
    payments = PaymentRepository(session)
    if not await payments.move(
        payment.id,
        from_statuses=[P.PENDING],
        values={"status": P.FAILED, "processing": False, "updated_at": now, "checkout_url": None},
    ):
        return Outcome("unchanged")
    items = await payments.items(payment.id)
    await catalog.release(session, [i.enrollment_id for i in items], now=now)
    notice = PaymentFailed(payment_id=payment.id)
    await notify(session, notice, to=payment.student_id, now=now, once_per=payment.id)
    return Outcome("failed")


async def session_expired(session: AsyncSession, portal: Portal, facts: SessionFacts) -> Outcome:
    now = portal.clock.now()
    payment = await _payment_for(session, facts)
    if payment is None:
        return Outcome("unknown_payment")
    if payment.checkout_session_id != facts.session_id or payment.status != P.PENDING:
        return Outcome("unchanged")
    if payment.processing:
        return Outcome("unchanged")
    # Stripe's expiry is in whole seconds; the hold's due time is not.
    session_end = (facts.expires_at or now) + timedelta(seconds=1)
    if payment.due_at <= max(session_end, now):
        # The session lived as long as the hold: both end now.
        ended = await expire(session, payment.id, now=now, due_by=max(session_end, now))
        return Outcome("expired" if ended else "unchanged")
    # Reserve now, pay later: the seats stay held; a new session can be opened.
    payment.checkout_session_id = None
    payment.checkout_url = None
    payment.session_expires_at = None
    payment.updated_at = now
    await session.flush()
    return Outcome("session_closed")


# --- money arrived -------------------------------------------------------------------


async def settle_paid(session: AsyncSession, portal: Portal, facts: SessionFacts) -> Outcome:
    """A paid session: the payment is paid, its seats are given (or, where a
    lapsed seat is gone, that line's money goes back), and the student gets a
    receipt. Money we cannot place goes back whole."""
    now = portal.clock.now()
    payment = await _payment_for(session, facts)
    if payment is None:
        return await _orphan(session, facts, now=now)
    if facts.amount_total != payment.amount or (facts.currency or "").lower() != payment.currency:
        log.warning(
            "checkout.amount_mismatch",
            extra={"payment_id": payment.id, "session_id": facts.session_id},
        )
        return Outcome("amount_mismatch")
    if payment.status in (P.PAID, P.REFUNDED):
        return await _duplicate(session, payment, facts, now=now)
    if not await PaymentRepository(session).move(
        payment.id,
        from_statuses=[P.PENDING, P.EXPIRED, P.FAILED],
        values={
            "status": P.PAID,
            "paid_at": now,
            "processing": False,
            "payment_intent": facts.payment_intent,
            "checkout_url": None,
            "updated_at": now,
        },
    ):
        return Outcome("unchanged")
    refund_total = await _give_seats(session, payment, now=now)
    owed = await _refund_lapsed(session, payment, facts, refund_total, now=now)
    await _send_receipt(session, payment, refund_total, now=now)
    return Outcome("paid" if refund_total == 0 else "paid_partly_refunded", owed)


async def _orphan(session: AsyncSession, facts: SessionFacts, *, now: datetime) -> Outcome:
    if not (facts.payment_id and facts.payment_intent and facts.amount_total):
        # A session that names no payment of ours belongs to someone else on
        # the same Stripe account: not ours to refund.
        return Outcome("unknown_payment")
    # Money for a payment of ours we do not have (its checkout never
    # committed): give it back rather than keep it.
    key = await refunds.owe(
        session,
        reason="orphan",
        about=facts.session_id,
        payment_id=facts.payment_id,
        payment_intent=facts.payment_intent,
        amount=facts.amount_total,
        now=now,
    )
    return Outcome("refunded_unknown", (key,))


async def _duplicate(
    session: AsyncSession, payment: Payment, facts: SessionFacts, *, now: datetime
) -> Outcome:
    if not (facts.payment_intent and payment.payment_intent) or (
        facts.payment_intent == payment.payment_intent
    ):
        return Outcome("unchanged")
    # A second session of a payment already made was paid too (two tabs, a
    # race with "pay now"): that charge goes back whole.
    key = await refunds.owe(
        session,
        reason="duplicate",
        about=facts.session_id,
        payment_id=payment.id,
        payment_intent=facts.payment_intent,
        amount=facts.amount_total or payment.amount,
        now=now,
    )
    return Outcome("refunded_duplicate", (key,))


async def _give_seats(session: AsyncSession, payment: Payment, *, now: datetime) -> int:
    """Each line's seat becomes active, or comes back if it lapsed and a seat
    is free; a line whose seat is gone is marked refunded. The sum refunded."""
    payments = PaymentRepository(session)
    refund_total = 0
    for item in await payments.items(payment.id):
        state = await catalog.enrollment_status(session, item.enrollment_id)
        if state == E.PENDING_PAYMENT:
            await catalog.confirm(session, [item.enrollment_id], now=now)
            continue
        if state == E.ACTIVE:
            continue
        if state == E.EXPIRED and await catalog.reinstate(session, item.enrollment_id, now=now):
            continue
        # The hold lapsed and the seat is gone: this line's money goes back.
        await payments.mark_item_refunded(item.id)
        refund_total += item.amount
    return refund_total


async def _refund_lapsed(
    session: AsyncSession, payment: Payment, facts: SessionFacts, total: int, *, now: datetime
) -> tuple[str, ...]:
    if not total:
        return ()
    payments = PaymentRepository(session)
    owed: tuple[str, ...] = ()
    if facts.payment_intent:
        key = await refunds.owe(
            session,
            reason="late",
            about=payment.id,
            payment_id=payment.id,
            payment_intent=facts.payment_intent,
            amount=total,
            now=now,
        )
        owed = (key,)
        await payments.move(
            payment.id,
            from_statuses=[P.PAID],
            values={"refunded_amount": total, "updated_at": now},
        )
    if total == payment.amount:
        await payments.move(
            payment.id,
            from_statuses=[P.PAID],
            values={"status": P.REFUNDED, "refunded_at": now, "updated_at": now},
        )
    return owed


async def _send_receipt(
    session: AsyncSession, payment: Payment, refunded: int, *, now: datetime
) -> None:
    items = await PaymentRepository(session).items(payment.id)
    notice = PaymentConfirmed(
        payment_id=payment.id,
        receipt_number=payment.receipt_number,
        amount=payment.amount,
        currency=payment.currency,
        refunded_amount=refunded,
        # The receipt's lines, as they stand when the money arrived.
        items=tuple(
            ReceiptLine(description=i.description, amount=i.amount, refunded=i.refunded)
            for i in items
        ),
    )
    await notify(session, notice, to=payment.student_id, now=now, once_per=payment.id)


# --- money given back -------------------------------------------------------------------


async def charge_refunded(
    session: AsyncSession,
    portal: Portal,
    *,
    payment_intent: str | None,
    payment_id: str | None,
    amount_refunded: int,
    fully: bool,
) -> Outcome:
    now = portal.clock.now()
    payments = PaymentRepository(session)
    payment = None
    if payment_intent:
        payment = await payments.by_intent(payment_intent)
    if payment is None and payment_id:
        payment = await payments.get(payment_id, for_update=True)
    if payment is None:
        raise EventNotReady("The refunded charge belongs to no payment we know yet.")
    if payment_intent and payment.payment_intent and payment_intent != payment.payment_intent:
        # Another charge for the same payment (a duplicate we gave back whole):
        # the payment's own charge stands.
        return Outcome("unchanged")
    if payment.status == P.REFUNDED:
        return Outcome("unchanged")
    if payment.status != P.PAID:
        # The refund overtook the payment's own confirmation: let Stripe retry.
        raise EventNotReady("The payment this refund belongs to is not settled yet.")
    if fully or amount_refunded >= payment.amount:
        done = await refunds.mark_refunded(session, payment, now=now)
        return Outcome("refunded" if done else "unchanged")
    if amount_refunded > payment.refunded_amount:
        payment.refunded_amount = amount_refunded
        payment.updated_at = now
        await session.flush()
        return Outcome("partly_refunded")
    return Outcome("unchanged")
