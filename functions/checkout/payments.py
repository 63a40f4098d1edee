"""Checkout and paying: seats held with a payment in one transaction, the
Stripe Checkout Session made outside it and recorded in a second one.

A process that dies between the two (or a Stripe that does not answer)
leaves a pending payment without a session: "Pay now" opens one while it is
due, and the expiry job ends it and frees its seats when it falls due."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import service as auth
from functions.catalog import service as catalog
from functions.checkout import sessions
from functions.checkout.cart import prune
from functions.checkout.errors import (
    CartEmpty,
    CheckoutSessionUnavailable,
    MixedCurrencies,
    PaymentExpired,
    PaymentNotFound,
    PaymentNotPayable,
)
from functions.checkout.models import Payment, PaymentStatus
from functions.checkout.repository import CartRepository, PaymentRepository
from functions.checkout.sold_out import refuse_if_sold_out
from lib.errors import Invalid
from lib.pagination import CursorKey
from lib.payments.gateway import CheckoutSession, PaymentProviderError
from lib.runtime import CurrentUser, Portal
from lib.security import Role

P = PaymentStatus
# Payments are listed newest first, by (created_at, id).
NEWEST_FIRST = CursorKey(datetime, str)


class PaymentFields(Protocol):
    """What an answer shows of a payment: a row read for it, or the ORM object
    a write path holds."""

    @property
    def id(self) -> str: ...
    @property
    def receipt_number(self) -> str: ...
    @property
    def student_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def checkout_session_id(self) -> str | None: ...
    @property
    def checkout_url(self) -> str | None: ...
    @property
    def processing(self) -> bool: ...
    @property
    def refunded_amount(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def paid_at(self) -> datetime | None: ...
    @property
    def refunded_at(self) -> datetime | None: ...


class ItemFields(Protocol):
    @property
    def course_id(self) -> str: ...
    @property
    def enrollment_id(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def refunded(self) -> bool: ...


@dataclass
class PaymentView:
    payment: PaymentFields
    items: Sequence[ItemFields]


@dataclass
class PayView:
    """A payment and the page where it is paid (None when nothing is to pay)."""

    payment: PaymentView | None
    checkout_url: str | None
    enrollment_ids: list[str] = field(default_factory=list)


async def view_of(session: AsyncSession, payment_id: str) -> PaymentView:
    payments = PaymentRepository(session)
    payment = await payments.get(payment_id)
    if payment is None:
        raise PaymentNotFound()
    return PaymentView(payment, await payments.items(payment.id))


# --- checkout -----------------------------------------------------------------------


async def checkout(portal: Portal, student: CurrentUser) -> PayView:
    """A seat in every cart course or in none, one payment for the paid ones,
    and a Stripe Checkout Session for it. Free courses are enrolled at once."""
    now = portal.clock.now()
    async with portal.read_sessions() as reader:
        await refuse_if_sold_out(reader, student.id, now=now)
    async with portal.transaction() as session:
        held, payment = await _hold_cart(session, portal, student, now=now)
        if payment is None:
            return PayView(None, None, held)
        request = await sessions.request_for(session, payment)
    try:
        created = await sessions.create(portal, request, now=now)
    except PaymentProviderError:
        # The seats stay held with their payment, which is paid from Payments.
        raise CheckoutSessionUnavailable(payment.id, payment.due_at) from None
    return PayView(await _record(portal, request, created, now=now), created.url, held)


async def _hold_cart(
    session: AsyncSession, portal: Portal, student: CurrentUser, *, now: datetime
) -> tuple[list[str], Payment | None]:
    """The first transaction: hold the seats, open the payment, empty the cart."""
    courses = await prune(session, student.id, now=now)
    if not courses:
        raise CartEmpty()
    paid = [v.course for v in courses if v.course.price_amount > 0]
    if paid:
        # Paying needs a confirmed address; a free course does not.
        await auth.require_verified(session, student.id)
    if len({c.currency for c in paid}) > 1:
        raise MixedCurrencies()
    pay_now_hold = timedelta(minutes=portal.settings.checkout_hold_minutes)
    due = partial(catalog.hold_due_at, pay_now_hold=pay_now_hold)
    held = await catalog.hold_seats(
        session,
        student_id=student.id,
        course_ids=[v.course.id for v in courses],
        now=now,
        due_at=due,
    )
    await CartRepository(session).clear(student.id)
    by_id = {c.id: c for c in paid}
    holds = [(e, by_id[e.course_id]) for e in held if e.course_id in by_id]
    if not holds:
        return [e.id for e in held], None
    # One payment, one due date for all its seats: the earliest of their own.
    due_at = min(due(course, now) for _, course in holds)
    payment_id = await catalog.bill(session, holds, due_at=due_at, now=now)
    payment = await PaymentRepository(session).get(payment_id)
    assert payment is not None
    return [e.id for e in held], payment


# --- paying a payment ---------------------------------------------------------------


async def pay_later(portal: Portal, actor: CurrentUser, payment_id: str) -> PayView:
    """A Checkout Session for a pending payment (reserve now, pay later): the
    stored one while it still works, else a fresh one."""
    now = portal.clock.now()
    async with portal.read_sessions() as session:
        await auth.require_verified(session, actor.id)
        payment = await _payable(session, actor, payment_id, now=now)
        request = await sessions.request_for(session, payment)
        current = PaymentView(payment, await PaymentRepository(session).items(payment.id))
    if await sessions.reusable(portal, payment, now=now):
        return PayView(current, payment.checkout_url)
    if payment.checkout_session_id:
        await sessions.close_previous(portal, payment.checkout_session_id)
    created = await sessions.create(portal, request, now=now)
    return PayView(await _record(portal, request, created, now=now), created.url)


async def _record(
    portal: Portal, request: sessions.SessionRequest, created: CheckoutSession, *, now: datetime
) -> PaymentView:
    """The second transaction: the session recorded on its payment. If the
    payment moved on meanwhile, the session is closed after the transaction
    ended (Stripe is never called inside one) and the student told why."""
    async with portal.transaction() as session:
        if await sessions.record(session, request, created, now=now):
            return await view_of(session, request.payment_id)
        current = await PaymentRepository(session).get(request.payment_id)
    await sessions.moved_on(portal, current, created)


async def _payable(
    session: AsyncSession, actor: CurrentUser, payment_id: str, *, now: datetime
) -> Payment:
    payment = await _owned(PaymentRepository(session), actor, payment_id)
    if payment.status == P.EXPIRED or (payment.status == P.PENDING and payment.due_at <= now):
        raise PaymentExpired()
    if payment.status != P.PENDING:
        raise PaymentNotPayable(f"This payment is {payment.status}; there is nothing to pay.")
    if payment.processing:
        raise PaymentNotPayable("A bank payment for this is already under way.")
    return payment


async def pay_for_hold(portal: Portal, student: CurrentUser, enrollment_id: str) -> PayView:
    """Pay for a seat held outside a checkout: a waitlist promotion, or a seat
    reserved from the course page. Each has its payment since it was held; a
    hold from before that rule gets one now."""
    now = portal.clock.now()
    async with portal.transaction() as session:
        await auth.require_verified(session, student.id)
        enrollment, course = await catalog.held_by(
            session, student_id=student.id, enrollment_id=enrollment_id
        )
        payment_id = enrollment.payment_id
        if payment_id is None:
            due_at = enrollment.due_at or now + timedelta(
                minutes=portal.settings.checkout_hold_minutes
            )
            if due_at <= now:
                raise PaymentExpired()
            payment_id = await catalog.bill(session, [(enrollment, course)], due_at=due_at, now=now)
    return await pay_later(portal, student, payment_id)


# --- reading payments ---------------------------------------------------------------


async def _owned(payments: PaymentRepository, actor: CurrentUser, payment_id: str) -> Payment:
    payment = await payments.get(payment_id)
    if payment is None or not _may_see(actor, payment.student_id):
        raise PaymentNotFound()
    return payment


def _may_see(actor: CurrentUser, student_id: str) -> bool:
    # Someone else's payment does not exist, as far as they can tell.
    return actor.role == Role.ADMIN or student_id == actor.id


async def get_payment(session: AsyncSession, actor: CurrentUser, payment_id: str) -> PaymentView:
    """Read as rows: the payment, then its items (two statements)."""
    payments = PaymentRepository(session)
    row = await payments.row(payment_id)
    if row is None or not _may_see(actor, row.student_id):
        raise PaymentNotFound()
    items = await payments.item_rows([row.id])
    return PaymentView(row, items.get(row.id, []))


async def list_payments(
    session: AsyncSession,
    actor: CurrentUser,
    *,
    status: str | None,
    student_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[PaymentView], str | None]:
    """Newest first: a student's own (everything they owe is a pending one),
    or anyone's for an administrator."""
    if status and status not in {s.value for s in P}:
        raise Invalid(fields={"status": "must be one of " + ", ".join(s.value for s in P)})
    if actor.role != Role.ADMIN:
        student_id = actor.id
    payments = PaymentRepository(session)
    rows = await payments.page(
        student_id=student_id,
        status=status or None,
        after=NEWEST_FIRST.decode(cursor),
        limit=limit + 1,
    )
    page, next_cursor = NEWEST_FIRST.page(rows, limit, lambda p: (p.created_at, p.id))
    items = await payments.item_rows([p.id for p in page])
    return [PaymentView(p, items.get(p.id, [])) for p in page], next_cursor
