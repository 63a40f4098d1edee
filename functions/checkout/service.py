"""The checkout's rules: cart, payments, Stripe Checkout Sessions, refunds, and
how each Stripe event moves a payment. No HTTP here, and no SQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import service as auth
from functions.catalog import service as catalog
from functions.catalog.models import LIVE_STATUSES, EnrollmentStatus
from functions.catalog.service import CourseView
from functions.checkout.errors import (
    AlreadyInCart,
    CartEmpty,
    EventNotReady,
    MixedCurrencies,
    NotInCart,
    PaymentExpired,
    PaymentNotFound,
    PaymentNotPayable,
    PaymentNotRefundable,
)
from functions.checkout.models import CartItem, Payment, PaymentItem, PaymentStatus
from functions.checkout.repository import CartRepository, PaymentRepository
from lib.db import new_id
from lib.errors import Invalid
from lib.outbox import enqueue
from lib.pagination import decode_cursor, encode_cursor
from lib.payments.gateway import LineItem, PaymentGateway
from lib.runtime import CurrentUser, Portal
from lib.security import Role

log = logging.getLogger("portal.checkout")

P = PaymentStatus
E = EnrollmentStatus
# Stripe takes a Checkout Session that expires 30 minutes to 24 hours after it
# receives the request; a minute's margin on either side covers the trip there
# and clocks that differ a little. A session may so outlive a short hold: the
# sweep closes it when the hold ends, and a payment in between is a late one.
STRIPE_MARGIN = timedelta(minutes=1)
STRIPE_MIN_SESSION = timedelta(minutes=30) + STRIPE_MARGIN
STRIPE_MAX_SESSION = timedelta(hours=24) - STRIPE_MARGIN


def gateway(portal: Portal) -> PaymentGateway:
    if portal.payments is None:
        raise RuntimeError("no payment gateway configured")
    return portal.payments


# --- the cart -----------------------------------------------------------------------


@dataclass
class Cart:
    courses: list[CourseView]
    total: int
    currency: str | None


async def get_cart(session: AsyncSession, student_id: str, *, now: datetime) -> Cart:
    cart = CartRepository(session)
    items = await cart.items(student_id)
    views = await catalog.course_views(
        session, [i.course_id for i in items], now=now, student_id=student_id
    )
    courses = []
    for item in items:
        view = views.get(item.course_id)
        if view is None:
            continue
        if view.mine is not None and view.mine.status in LIVE_STATUSES:
            # Enrolled (or waitlisted) some other way meanwhile: it leaves the cart.
            await cart.remove(student_id, item.course_id)
            continue
        courses.append(view)
    currencies = {v.course.currency for v in courses}
    return Cart(
        courses=courses,
        total=sum(v.course.price_amount for v in courses),
        currency=currencies.pop() if len(currencies) == 1 else None,
    )


async def add_to_cart(
    session: AsyncSession, student_id: str, course_id: str, *, now: datetime
) -> Cart:
    await catalog.check_enrollable(session, student_id=student_id, course_id=course_id, now=now)
    cart = CartRepository(session)
    if await cart.has(student_id, course_id):
        raise AlreadyInCart()
    await cart.add(CartItem(student_id=student_id, course_id=course_id, added_at=now))
    return await get_cart(session, student_id, now=now)


async def remove_from_cart(
    session: AsyncSession, student_id: str, course_id: str, *, now: datetime
) -> Cart:
    if not await CartRepository(session).remove(student_id, course_id):
        raise NotInCart()
    return await get_cart(session, student_id, now=now)


# --- checkout -----------------------------------------------------------------------


@dataclass
class CheckoutResult:
    payment: Payment | None
    checkout_url: str | None
    enrollment_ids: list[str] = field(default_factory=list)


def _hold_minutes(portal: Portal) -> timedelta:
    return timedelta(minutes=portal.settings.checkout_hold_minutes)


async def checkout(session: AsyncSession, portal: Portal, student: CurrentUser) -> CheckoutResult:
    """A seat in every cart course or in none, one payment for the paid ones,
    and a Stripe Checkout Session for it. Free courses are enrolled at once."""
    now = portal.clock.now()
    cart = await get_cart(session, student.id, now=now)
    if not cart.courses:
        raise CartEmpty()
    paid_courses = [v.course for v in cart.courses if v.course.price_amount > 0]
    if paid_courses:
        await auth.require_verified(session, student.id)
    if len({c.currency for c in paid_courses}) > 1:
        raise MixedCurrencies()
    held = await catalog.hold_seats(
        session,
        student_id=student.id,
        course_ids=[v.course.id for v in cart.courses],
        now=now,
        due_at=partial(catalog.hold_due_at, pay_now_hold=_hold_minutes(portal)),
    )
    await CartRepository(session).clear(student.id)
    by_course = {v.course.id: v.course for v in cart.courses}
    paid_holds = [e for e in held if by_course[e.course_id].price_amount > 0]
    result = CheckoutResult(payment=None, checkout_url=None, enrollment_ids=[e.id for e in held])
    if not paid_holds:
        return result
    due_at = min(e.due_at for e in paid_holds if e.due_at is not None)
    payment = Payment(
        id=new_id(),
        student_id=student.id,
        status=P.PENDING,
        amount=sum(by_course[e.course_id].price_amount for e in paid_holds),
        currency=paid_courses[0].currency,
        due_at=due_at,
        sessions_started=0,
        processing=False,
        refunded_amount=0,
        created_at=now,
        updated_at=now,
    )
    payment_repo = PaymentRepository(session)
    items = [
        PaymentItem(
            payment_id=payment.id,
            course_id=e.course_id,
            enrollment_id=e.id,
            description=f"{by_course[e.course_id].code} {by_course[e.course_id].title}",
            amount=by_course[e.course_id].price_amount,
            refunded=False,
        )
        for e in paid_holds
    ]
    await payment_repo.add(payment, items)
    await catalog.link_payment(session, [e.id for e in paid_holds], payment.id)
    result.payment = payment
    result.checkout_url = await _open_session(session, portal, payment, items, now=now)
    return result


async def _open_session(
    session: AsyncSession,
    portal: Portal,
    payment: Payment,
    items: Sequence[PaymentItem],
    *,
    now: datetime,
) -> str | None:
    user = await auth.get_user(session, payment.student_id)
    site = portal.settings.site_origin
    expires_at = max(now + STRIPE_MIN_SESSION, min(payment.due_at, now + STRIPE_MAX_SESSION))
    attempt = payment.sessions_started + 1
    created = await gateway(portal).create_checkout_session(
        payment_id=payment.id,
        lines=[
            LineItem(i.description, i.amount, payment.currency) for i in items if not i.refunded
        ],
        customer_email=user.email,
        success_url=f"{site}/#/payments/{payment.id}/return?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{site}/#/payments/{payment.id}",
        expires_at=expires_at,
        idempotency_key=f"checkout-session:{payment.id}:{attempt}",
    )
    payment.sessions_started = attempt
    payment.checkout_session_id = created.id
    payment.checkout_url = created.url
    payment.session_expires_at = created.expires_at or expires_at
    payment.updated_at = now
    await session.flush()
    return created.url


async def pay_later(
    session: AsyncSession, portal: Portal, actor: CurrentUser, payment_id: str
) -> Payment:
    """A fresh Checkout Session for a pending payment (reserve now, pay later)."""
    await auth.require_verified(session, actor.id)
    now = portal.clock.now()
    payments = PaymentRepository(session)
    payment = await _owned(payments, actor, payment_id, for_update=True)
    if payment.status == P.EXPIRED or (payment.status == P.PENDING and payment.due_at <= now):
        raise PaymentExpired()
    if payment.status != P.PENDING:
        raise PaymentNotPayable(f"This payment is {payment.status}; there is nothing to pay.")
    if payment.processing:
        raise PaymentNotPayable("A bank payment for this is already under way.")
    if (
        payment.checkout_session_id
        and payment.session_expires_at
        and payment.session_expires_at > now + timedelta(minutes=5)
    ):
        return payment
    if payment.checkout_session_id:
        # Close the old session first, then look: one that was paid in the
        # meantime cannot be closed, and a second session would charge twice.
        await gateway(portal).expire_session(payment.checkout_session_id)
        previous = await gateway(portal).retrieve_session(payment.checkout_session_id)
        if previous.status == "complete":
            raise PaymentNotPayable("This payment was just made; its confirmation is on its way.")
    await _open_session(session, portal, payment, await payments.items(payment.id), now=now)
    return payment


async def pay_for_hold(
    session: AsyncSession, portal: Portal, student: CurrentUser, enrollment_id: str
) -> Payment:
    """Pay for a seat held outside a checkout: a waitlist promotion, or a seat
    reserved from the course page. Its payment is made once and reused."""
    await auth.require_verified(session, student.id)
    now = portal.clock.now()
    enrollment, course = await catalog.held_by(
        session, student_id=student.id, enrollment_id=enrollment_id
    )
    if enrollment.payment_id:
        return await pay_later(session, portal, student, enrollment.payment_id)
    due_at = enrollment.due_at or now + _hold_minutes(portal)
    if due_at <= now:
        raise PaymentExpired()
    payment = Payment(
        id=new_id(),
        student_id=student.id,
        status=P.PENDING,
        amount=course.price_amount,
        currency=course.currency,
        due_at=due_at,
        sessions_started=0,
        processing=False,
        refunded_amount=0,
        created_at=now,
        updated_at=now,
    )
    item = PaymentItem(
        payment_id=payment.id,
        course_id=course.id,
        enrollment_id=enrollment.id,
        description=f"{course.code} {course.title}",
        amount=course.price_amount,
        refunded=False,
    )
    await PaymentRepository(session).add(payment, [item])
    await catalog.link_payment(session, [enrollment.id], payment.id)
    await _open_session(session, portal, payment, [item], now=now)
    return payment


# --- payments -----------------------------------------------------------------------


@dataclass
class PaymentView:
    payment: Payment
    items: list[PaymentItem]


async def _owned(
    payments: PaymentRepository, actor: CurrentUser, payment_id: str, *, for_update: bool = False
) -> Payment:
    payment = await payments.get(payment_id, for_update=for_update)
    if payment is None or (actor.role != Role.ADMIN and payment.student_id != actor.id):
        # Someone else's payment does not exist, as far as they can tell.
        raise PaymentNotFound()
    return payment


async def get_payment(session: AsyncSession, actor: CurrentUser, payment_id: str) -> PaymentView:
    payments = PaymentRepository(session)
    payment = await _owned(payments, actor, payment_id)
    return PaymentView(payment, await payments.items(payment.id))


async def list_payments(
    session: AsyncSession,
    actor: CurrentUser,
    *,
    status: str | None,
    student_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[PaymentView], str | None]:
    if status and status not in {s.value for s in P}:
        raise Invalid(fields={"status": "must be one of " + ", ".join(s.value for s in P)})
    if actor.role != Role.ADMIN:
        student_id = actor.id
    after = decode_cursor(cursor, size=2)
    after_key = None
    if after:
        try:
            after_key = (datetime.fromisoformat(str(after[0])), str(after[1]))
        except ValueError:
            raise Invalid(fields={"cursor": "is not a valid cursor"}) from None
    payments = PaymentRepository(session)
    rows = await payments.search(
        student_id=student_id, status=status or None, after=after_key, limit=limit + 1
    )
    page = rows[:limit]
    items = await payments.items_for([p.id for p in page])
    next_cursor = (
        encode_cursor([page[-1].created_at.isoformat(), page[-1].id]) if len(rows) > limit else None
    )
    return [PaymentView(p, items.get(p.id, [])) for p in page], next_cursor


async def refund(session: AsyncSession, portal: Portal, payment_id: str) -> PaymentView:
    """An administrator refunds a paid payment: the money goes back through
    Stripe, its enrollments end as refunded, the seats go to the waitlist."""
    now = portal.clock.now()
    payments = PaymentRepository(session)
    payment = await payments.get(payment_id, for_update=True)
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
    await _mark_refunded(session, payment, now=now)
    return PaymentView(payment, await payments.items(payment.id))


async def _mark_refunded(session: AsyncSession, payment: Payment, *, now: datetime) -> bool:
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
    await enqueue(
        session,
        kind="checkout.refund_issued",
        recipient_id=payment.student_id,
        payload={"payment_id": payment.id, "amount": payment.amount, "currency": payment.currency},
        now=now,
        dedupe_key=f"checkout.refund_issued:{payment.id}",
    )
    await payments.get(payment.id)
    return True


async def expire_overdue_payments(
    session: AsyncSession, portal: Portal, *, limit: int = 200
) -> int:
    """Pending payments past their due time end as expired and free their seats.
    A bank payment under way keeps its seats until it settles."""
    now = portal.clock.now()
    payments = PaymentRepository(session)
    overdue = await payments.overdue(now=now, limit=limit)
    count = 0
    for payment in overdue:
        if payment.checkout_session_id:
            await gateway(portal).expire_session(payment.checkout_session_id)
        if await _expire(session, payment, now=now):
            count += 1
    return count


async def _expire(session: AsyncSession, payment: Payment, *, now: datetime) -> bool:
    payments = PaymentRepository(session)
    if not await payments.move(
        payment.id,
        from_statuses=[P.PENDING],
        values={"status": P.EXPIRED, "updated_at": now, "checkout_url": None},
    ):
        return False
    items = await payments.items(payment.id)
    await catalog.release(session, [i.enrollment_id for i in items], now=now)
    await enqueue(
        session,
        kind="checkout.payment_overdue",
        recipient_id=payment.student_id,
        payload={
            "payment_id": payment.id,
            "amount": payment.amount,
            "currency": payment.currency,
            "due_at": payment.due_at.isoformat(),
            "items": [{"description": i.description, "amount": i.amount} for i in items],
        },
        now=now,
        dedupe_key=f"checkout.payment_overdue:{payment.id}",
    )
    return True


# --- what Stripe tells us --------------------------------------------------------------


@dataclass(frozen=True)
class SessionFacts:
    session_id: str
    payment_id: str | None
    payment_status: str
    amount_total: int | None
    currency: str | None
    payment_intent: str | None
    expires_at: datetime | None


async def _payment_for(session: AsyncSession, facts: SessionFacts) -> Payment | None:
    if not facts.payment_id:
        return None
    return await PaymentRepository(session).get(facts.payment_id, for_update=True)


async def session_completed(session: AsyncSession, portal: Portal, facts: SessionFacts) -> str:
    if facts.payment_status == "paid":
        return await _settle_paid(session, portal, facts)
    payment = await _payment_for(session, facts)
    if payment is None:
        return "unknown_payment"
    # A delayed method (bank debit): the money is on its way, and the seats
    # stay held until it arrives or fails, however long the bank takes.
    if payment.status == P.PENDING and not payment.processing:
        now = portal.clock.now()
        payment.processing = True
        payment.payment_intent = facts.payment_intent or payment.payment_intent
        payment.updated_at = now
        await session.flush()
        items = await PaymentRepository(session).items(payment.id)
        await catalog.keep_held(session, [i.enrollment_id for i in items], now=now)
        return "processing"
    return "unchanged"


async def async_payment_succeeded(
    session: AsyncSession, portal: Portal, facts: SessionFacts
) -> str:
    return await _settle_paid(session, portal, facts)


async def async_payment_failed(session: AsyncSession, portal: Portal, facts: SessionFacts) -> str:
    now = portal.clock.now()
    payment = await _payment_for(session, facts)
    if payment is None:
        return "unknown_payment"
    payments = PaymentRepository(session)
    if not await payments.move(
        payment.id,
        from_statuses=[P.PENDING],
        values={"status": P.FAILED, "processing": False, "updated_at": now, "checkout_url": None},
    ):
        return "unchanged"
    items = await payments.items(payment.id)
    await catalog.release(session, [i.enrollment_id for i in items], now=now)
    await enqueue(
        session,
        kind="checkout.payment_failed",
        recipient_id=payment.student_id,
        payload={"payment_id": payment.id},
        now=now,
        dedupe_key=f"checkout.payment_failed:{payment.id}",
    )
    return "failed"


async def session_expired(session: AsyncSession, portal: Portal, facts: SessionFacts) -> str:
    now = portal.clock.now()
    payment = await _payment_for(session, facts)
    if payment is None:
        return "unknown_payment"
    if payment.checkout_session_id != facts.session_id or payment.status != P.PENDING:
        return "unchanged"
    if payment.processing:
        return "unchanged"
    # Stripe's expiry is in whole seconds; the hold's due time is not.
    session_end = (facts.expires_at or now) + timedelta(seconds=1)
    if payment.due_at <= session_end or payment.due_at <= now:
        # The session lived as long as the hold: both end now.
        return "expired" if await _expire(session, payment, now=now) else "unchanged"
    # Reserve now, pay later: the seats stay held; a new session can be opened.
    payment.checkout_session_id = None
    payment.checkout_url = None
    payment.session_expires_at = None
    payment.updated_at = now
    await session.flush()
    return "session_closed"


async def _settle_paid(session: AsyncSession, portal: Portal, facts: SessionFacts) -> str:
    now = portal.clock.now()
    payment = await _payment_for(session, facts)
    if payment is None:
        if facts.payment_id and facts.payment_intent and facts.amount_total:
            # Money for a payment of ours we do not have (its checkout never
            # committed): give it back rather than keep it. A session that names
            # no payment of ours belongs to someone else on the same account.
            await gateway(portal).refund(
                payment_intent=facts.payment_intent,
                amount=facts.amount_total,
                payment_id=facts.payment_id or "",
                idempotency_key=f"refund:orphan:{facts.session_id}",
            )
            return "refunded_unknown"
        return "unknown_payment"
    if facts.amount_total != payment.amount or (facts.currency or "").lower() != payment.currency:
        log.warning(
            "checkout.amount_mismatch",
            extra={"payment_id": payment.id, "session_id": facts.session_id},
        )
        return "amount_mismatch"
    if payment.status in (P.PAID, P.REFUNDED):
        if (
            facts.payment_intent
            and payment.payment_intent
            and facts.payment_intent != payment.payment_intent
        ):
            # A second session of a payment already made was paid too (two
            # tabs, a race with "pay now"): that charge goes back whole.
            await gateway(portal).refund(
                payment_intent=facts.payment_intent,
                amount=facts.amount_total or payment.amount,
                payment_id=payment.id,
                idempotency_key=f"refund:duplicate:{facts.session_id}",
            )
            return "refunded_duplicate"
        return "unchanged"
    payments = PaymentRepository(session)
    if not await payments.move(
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
        return "unchanged"
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
    if refund_total and facts.payment_intent:
        await gateway(portal).refund(
            payment_intent=facts.payment_intent,
            amount=refund_total,
            payment_id=payment.id,
            idempotency_key=f"refund:{payment.id}:late",
        )
        await payments.move(
            payment.id,
            from_statuses=[P.PAID],
            values={"refunded_amount": refund_total, "updated_at": now},
        )
    if refund_total == payment.amount:
        await payments.move(
            payment.id,
            from_statuses=[P.PAID],
            values={"status": P.REFUNDED, "refunded_at": now, "updated_at": now},
        )
    await enqueue(
        session,
        kind="checkout.payment_confirmed",
        recipient_id=payment.student_id,
        payload={
            "payment_id": payment.id,
            "amount": payment.amount,
            "currency": payment.currency,
            "refunded_amount": refund_total,
            # The receipt's lines, as they stand when the money arrived.
            "items": [
                {"description": i.description, "amount": i.amount, "refunded": i.refunded}
                for i in await payments.items(payment.id)
            ],
        },
        now=now,
        dedupe_key=f"checkout.payment_confirmed:{payment.id}",
    )
    return "paid" if refund_total == 0 else "paid_partly_refunded"


async def charge_refunded(
    session: AsyncSession,
    portal: Portal,
    *,
    payment_intent: str | None,
    payment_id: str | None,
    amount_refunded: int,
    fully: bool,
) -> str:
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
        return "unchanged"
    if payment.status == P.REFUNDED:
        return "unchanged"
    if payment.status != P.PAID:
        # The refund overtook the payment's own confirmation: let Stripe retry.
        raise EventNotReady("The payment this refund belongs to is not settled yet.")
    if fully or amount_refunded >= payment.amount:
        return "refunded" if await _mark_refunded(session, payment, now=now) else "unchanged"
    if amount_refunded > payment.refunded_amount:
        payment.refunded_amount = amount_refunded
        payment.updated_at = now
        await session.flush()
        return "partly_refunded"
    return "unchanged"
