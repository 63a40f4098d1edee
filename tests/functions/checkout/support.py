"""Helpers shared by the checkout and webhook tests: the hosted test page,
hand-built Stripe events signed like Stripe signs them, and the rows behind
the API, read straight from the database."""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from functions.auth import service as auth
from functions.auth.models import User
from functions.catalog import seats
from functions.catalog.models import SEAT_STATUSES, Course, Enrollment
from functions.checkout import service as checkout_service
from functions.checkout.models import Payment, PaymentItem
from functions.webhooks.models import StripeEvent
from lib.outbox import OutboxMessage
from lib.payments.signing import sign
from lib.payments.simulator import Simulator
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory

WEBHOOK = "/api/webhooks/stripe"
PAYING_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
CONFIRMED = "checkout.payment_confirmed"

_event_numbers = itertools.count(1)


def simulator_of(portal: Portal) -> Simulator:
    assert portal.simulator is not None, "the app (and with it the simulator) is not built"
    return portal.simulator


def session_id_of(checkout_url: str) -> str:
    return checkout_url.rstrip("/").rsplit("/", 1)[-1]


async def pay_on_page(
    client: httpx.AsyncClient,
    session_id: str,
    *,
    method: str = "card",
    card: str = PAYING_CARD,
) -> httpx.Response:
    """What the student's browser sends from the simulator's hosted checkout page."""
    return await client.post(
        f"/simulator/checkout/{session_id}/pay", data={"method": method, "card_number": card}
    )


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


# --- rows ----------------------------------------------------------------------------------


async def payment_row(portal: Portal, payment_id: str) -> Payment:
    async with portal.read_sessions() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None, f"no payment {payment_id}"
        return payment


async def payment_items(portal: Portal, payment_id: str) -> list[PaymentItem]:
    async with portal.read_sessions() as session:
        result = await session.execute(
            select(PaymentItem).where(PaymentItem.payment_id == payment_id).order_by(PaymentItem.id)
        )
        return list(result.scalars().all())


async def enrollment_statuses(portal: Portal, payment_id: str) -> list[str]:
    """The status of each enrollment the payment pays for, in item order."""
    items = await payment_items(portal, payment_id)
    async with portal.read_sessions() as session:
        statuses = []
        for item in items:
            enrollment = await session.get(Enrollment, item.enrollment_id)
            assert enrollment is not None
            statuses.append(enrollment.status)
        return statuses


async def enrollment_row(portal: Portal, enrollment_id: str) -> Enrollment:
    async with portal.read_sessions() as session:
        enrollment = await session.get(Enrollment, enrollment_id)
        assert enrollment is not None
        return enrollment


async def seats_taken(portal: Portal, course_id: str) -> int:
    async with portal.read_sessions() as session:
        course = await session.get(Course, course_id)
        assert course is not None
        return course.seats_taken


async def outbox(portal: Portal, *, kind: str) -> list[OutboxMessage]:
    async with portal.read_sessions() as session:
        result = await session.execute(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return list(result.scalars().all())


async def recorded_events(portal: Portal) -> list[StripeEvent]:
    async with portal.read_sessions() as session:
        result = await session.execute(select(StripeEvent).order_by(StripeEvent.received_at))
        return list(result.scalars().all())


# --- hand-built events -----------------------------------------------------------------------


def new_event_id() -> str:
    return f"evt_test_hand_{next(_event_numbers):06d}"


def event(kind: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or new_event_id(),
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "type": kind,
        "created": 0,
        "livemode": False,
        "data": {"object": obj},
    }


def session_object(
    payment: Payment,
    *,
    session_id: str | None = None,
    status: str = "complete",
    payment_status: str = "paid",
    payment_intent: str | None = None,
    amount_total: int | None = None,
    currency: str | None = None,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """A Checkout Session as Stripe puts it in an event, for this payment."""
    expires = expires_at or payment.session_expires_at or payment.due_at
    return {
        "id": session_id or payment.checkout_session_id,
        "object": "checkout.session",
        "mode": "payment",
        "status": status,
        "payment_status": payment_status,
        "amount_total": payment.amount if amount_total is None else amount_total,
        "currency": currency or payment.currency,
        "client_reference_id": payment.id,
        "metadata": {"payment_id": payment.id},
        "payment_intent": payment_intent,
        "expires_at": int(expires.timestamp()),
    }


def charge_object(
    payment: Payment, *, payment_intent: str, amount_refunded: int | None = None
) -> dict[str, Any]:
    refunded = payment.amount if amount_refunded is None else amount_refunded
    return {
        "id": f"ch_{payment_intent}",
        "object": "charge",
        "payment_intent": payment_intent,
        "amount": payment.amount,
        "amount_refunded": refunded,
        "currency": payment.currency,
        "refunded": refunded >= payment.amount,
        "metadata": {"payment_id": payment.id},
    }


def signed(
    portal: Portal, payload: dict[str, Any] | bytes, *, at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Stripe sends: `Stripe-Signature` over the raw body
    with the configured secret, stamped with the portal clock's time."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = int((at or portal.clock.now()).timestamp())
    header = sign(body, portal.settings.stripe_webhook_secret, timestamp=stamp)
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


async def post_event(
    client: httpx.AsyncClient, portal: Portal, payload: dict[str, Any] | bytes
) -> httpx.Response:
    body, headers = signed(portal, payload)
    return await client.post(WEBHOOK, content=body, headers=headers)


# --- the invariants -----------------------------------------------------------------------


async def assert_consistent(
    portal: Portal, *, context: str = "", course_ids: Collection[str] | None = None
) -> None:
    """What must hold whatever happened: seats counted right and never overbooked;
    a paid payment's seats given (or that line's money returned); no seat of a paid
    course active without a paid payment; a payment that ended without money
    holds no seat. `course_ids` limits the check to those courses."""
    where = f" ({context})" if context else ""
    async with portal.read_sessions() as session:
        course_query = select(Course)
        enrollment_query = select(Enrollment)
        item_query = select(PaymentItem)
        if course_ids is not None:
            course_query = course_query.where(Course.id.in_(course_ids))
            enrollment_query = enrollment_query.where(Enrollment.course_id.in_(course_ids))
            item_query = item_query.where(PaymentItem.course_id.in_(course_ids))
        courses = {c.id: c for c in (await session.execute(course_query)).scalars()}
        enrollments = {e.id: e for e in (await session.execute(enrollment_query)).scalars()}
        items = list((await session.execute(item_query)).scalars())
        payment_ids = {i.payment_id for i in items}
        payments = {
            p.id: p
            for p in (
                await session.execute(select(Payment).where(Payment.id.in_(payment_ids)))
            ).scalars()
        }

    for course in courses.values():
        held = sum(
            1
            for e in enrollments.values()
            if e.course_id == course.id and e.status in SEAT_STATUSES
        )
        assert course.seats_taken == held, (
            f"{course.code}: seats_taken={course.seats_taken}, {held} seated enrollments{where}"
        )
        assert course.seats_taken <= course.capacity, (
            f"{course.code}: {course.seats_taken} seats taken of {course.capacity}{where}"
        )

    paid_for: set[str] = set()
    for item in items:
        payment = payments[item.payment_id]
        enrollment = enrollments[item.enrollment_id]
        state = f"payment {payment.status}, enrollment {enrollment.status}, item {item.id}{where}"
        if payment.status == "paid":
            if item.refunded:
                assert enrollment.status not in SEAT_STATUSES, f"refunded line seated: {state}"
            else:
                assert enrollment.status in {"active", "completed", "dropped"}, state
                paid_for.add(enrollment.id)
        elif payment.status == "refunded":
            assert enrollment.status not in SEAT_STATUSES, f"refunded payment seated: {state}"
        elif payment.status in {"expired", "failed"}:
            assert enrollment.status not in SEAT_STATUSES, f"unpaid payment seated: {state}"
        else:
            assert enrollment.status != "active", f"pending payment activated: {state}"

    for enrollment in enrollments.values():
        course = courses[enrollment.course_id]
        if enrollment.status == "active" and course.price_amount > 0:
            assert enrollment.id in paid_for, (
                f"enrollment {enrollment.id} in paid course {course.code} is active "
                f"without a paid payment{where}"
            )


# --- the sweeps the scheduler runs -------------------------------------------------------


async def expire_overdue_payments(portal: Portal) -> int:
    return await checkout_service.expire_overdue_payments(portal)


async def release_expired_holds(portal: Portal) -> int:
    async with portal.transaction() as session:
        return await seats.release_expired_holds(session, now=portal.clock.now())


# --- a rush: many students, one small course ------------------------------------------------


@dataclass
class Rush:
    course: Course
    students: list[User]


async def prepare_rush(portal: Portal, *, seats: int, students: int) -> Rush:
    """A paid course with `seats` seats, and `students` students with it in their carts."""
    async with httpx.AsyncClient() as unused_client:
        course = await Factory(portal, unused_client).course(capacity=seats, price=15000)
    async with portal.transaction() as session:
        rushing = [
            await auth.create_user(
                session,
                portal,
                auth.NewAccount(
                    username=f"rush{n:03d}",
                    email=f"rush{n:03d}@example.com",
                    password="a-rush-test-password",
                    full_name=f"Rushing Student {n}",
                    role=Role.STUDENT,
                ),
            )
            for n in range(students)
        ]
    for student in rushing:
        await checkout_service.add_to_cart(portal, student.id, course.id, now=portal.clock.now())
    return Rush(course, rushing)
