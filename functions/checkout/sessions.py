"""Stripe Checkout Sessions for our payments.

Stripe is never called inside a database transaction: the payment is written
and committed first, the session is created at Stripe, and a second
transaction records it, only if the payment is still waiting for one (a
concurrent "Pay now", a webhook or the expiry job may have moved it on)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import service as auth
from functions.checkout.errors import PaymentExpired, PaymentNotPayable
from functions.checkout.models import Payment, PaymentStatus
from functions.checkout.repository import PaymentRepository
from lib.payments.gateway import CheckoutSession, LineItem, PaymentGateway, PaymentProviderError
from lib.runtime import Portal

log = logging.getLogger("portal.checkout")

# Stripe takes a Checkout Session that expires 30 minutes to 24 hours after it
# receives the request; a minute's margin on either side covers the trip there
# and clocks that differ a little. A session may so outlive a short hold: the
# sweep closes it when the hold ends, and a payment in between is a late one.
STRIPE_MARGIN = timedelta(minutes=1)
STRIPE_MIN_SESSION = timedelta(minutes=30) + STRIPE_MARGIN
STRIPE_MAX_SESSION = timedelta(hours=24) - STRIPE_MARGIN
# A stored session closer than this to its end is replaced rather than reused.
REUSE_MARGIN = timedelta(minutes=5)


def gateway(portal: Portal) -> PaymentGateway:
    if portal.payments is None:
        raise RuntimeError("no payment gateway configured")
    return portal.payments


@dataclass(frozen=True)
class SessionRequest:
    """What Stripe needs for the payment's next session, read in the first
    transaction and used after it closed."""

    payment_id: str
    attempt: int
    lines: list[LineItem]
    customer_email: str
    due_at: datetime


async def request_for(session: AsyncSession, payment: Payment) -> SessionRequest:
    user = await auth.get_user(session, payment.student_id)
    items = await PaymentRepository(session).items(payment.id)
    return SessionRequest(
        payment_id=payment.id,
        attempt=payment.sessions_started + 1,
        lines=[
            LineItem(i.description, i.amount, payment.currency) for i in items if not i.refunded
        ],
        customer_email=user.email,
        due_at=payment.due_at,
    )


async def create(portal: Portal, request: SessionRequest, *, now: datetime) -> CheckoutSession:
    """The session at Stripe (outside any transaction). The key names the
    payment and the attempt: a retried request gets the same session back."""
    site = portal.settings.site_origin
    payment_id = request.payment_id
    return await gateway(portal).create_checkout_session(
        payment_id=payment_id,
        lines=request.lines,
        customer_email=request.customer_email,
        success_url=f"{site}/#/payments/{payment_id}/return?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{site}/#/payments/{payment_id}",
        expires_at=max(now + STRIPE_MIN_SESSION, min(request.due_at, now + STRIPE_MAX_SESSION)),
        idempotency_key=f"checkout-session:{payment_id}:{request.attempt}",
    )


async def record(
    session: AsyncSession,
    request: SessionRequest,
    created: CheckoutSession,
    *,
    now: datetime,
) -> bool:
    """Store the session on the payment if it is still the one to pay with:
    the payment is pending and no other session was recorded since we read it.
    False when the payment moved on; the caller closes the session it made."""
    payments = PaymentRepository(session)
    recorded = await payments.move(
        request.payment_id,
        from_statuses=[PaymentStatus.PENDING],
        values={
            "sessions_started": request.attempt,
            "checkout_session_id": created.id,
            "checkout_url": created.url,
            "session_expires_at": created.expires_at,
            "updated_at": now,
        },
        where=[
            Payment.sessions_started == request.attempt - 1,
            Payment.processing.is_(False),
        ],
    )
    if recorded:
        return True
    # The same attempt twice at once: Stripe gave both the same session.
    payment = await payments.get(request.payment_id)
    return payment is not None and payment.checkout_session_id == created.id


async def moved_on(portal: Portal, payment: Payment | None, created: CheckoutSession) -> NoReturn:
    """The payment moved on while its session was being made: close that
    session (nobody must pay it) and say why there is nothing to pay."""
    await close_quietly(portal, created.id)
    if payment is None or payment.status in (PaymentStatus.EXPIRED, PaymentStatus.FAILED):
        raise PaymentExpired()
    if payment.status == PaymentStatus.PENDING:
        raise PaymentNotPayable("Another checkout for this payment was opened meanwhile.")
    raise PaymentNotPayable(f"This payment is {payment.status}; there is nothing to pay.")


async def reusable(portal: Portal, payment: Payment, *, now: datetime) -> bool:
    """Whether the stored session still works: open for a while yet, known to
    Stripe, and sending the student back to this site (SITE_URL may have
    changed since, e.g. the portal now runs on another port)."""
    if not payment.checkout_session_id or not payment.session_expires_at:
        return False
    if payment.session_expires_at <= now + REUSE_MARGIN:
        return False
    stored = await gateway(portal).find_session(payment.checkout_session_id)
    if stored is None or stored.status != "open":
        return False
    return (stored.success_url or "").startswith(portal.settings.site_origin + "/")


async def close_previous(portal: Portal, session_id: str) -> None:
    """Close the old session before opening another, then look: one paid in
    the meantime cannot be closed, and a second session would charge twice."""
    await gateway(portal).expire_session(session_id)
    previous = await gateway(portal).find_session(session_id)
    if previous is not None and previous.status == "complete":
        raise PaymentNotPayable("This payment was just made; its confirmation is on its way.")


async def close_quietly(portal: Portal, session_id: str) -> bool:
    """Close a session if Stripe can be reached; a session left open only
    means a payment in it arrives late, which the events handle."""
    try:
        await gateway(portal).expire_session(session_id)
    except PaymentProviderError:
        log.warning("checkout.session_not_closed", extra={"session_id": session_id})
        return False
    return True
