"""Stripe reorders events. Whatever the order, a payment ends in the right state,
and state only moves forward: pending -> paid -> refunded, pending -> expired or
failed; a paid event after expiry or failure still makes it paid, taking a seat
if one is free and otherwise giving that course's money back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from functions.auth.models import User
from functions.catalog.models import Course
from functions.checkout.models import Payment
from lib.clock import FrozenClock
from lib.payments.gateway import LineItem
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.checkout.support import (
    CONFIRMED,
    assert_consistent,
    charge_object,
    enrollment_statuses,
    event,
    expire_overdue_payments,
    outbox,
    pay_on_page,
    payment_items,
    payment_row,
    post_event,
    seats_taken,
    session_id_of,
    session_object,
    simulator_of,
)

# The events a payment can receive, each built for that payment.
PAID = "completed, paid"
UNPAID = "completed, unpaid"
SUCCEEDED = "async succeeded"
FAILED = "async failed"
EXPIRED = "session expired"
REFUNDED = "charge refunded"


def build(kind: str, payment: Payment) -> dict[str, Any]:
    intent = f"pi_hand_{payment.id}"
    if kind == PAID:
        return event("checkout.session.completed", session_object(payment, payment_intent=intent))
    if kind == UNPAID:
        obj = session_object(payment, payment_status="unpaid", payment_intent=intent)
        return event("checkout.session.completed", obj)
    if kind == SUCCEEDED:
        obj = session_object(payment, payment_intent=intent)
        return event("checkout.session.async_payment_succeeded", obj)
    if kind == FAILED:
        obj = session_object(payment, payment_status="unpaid", payment_intent=intent)
        return event("checkout.session.async_payment_failed", obj)
    if kind == EXPIRED:
        obj = session_object(payment, status="expired", payment_status="unpaid")
        return event("checkout.session.expired", obj)
    assert kind == REFUNDED
    return event("charge.refunded", charge_object(payment, payment_intent=intent))


@dataclass(frozen=True)
class End:
    payment: str
    enrollment: str
    processing: bool = False
    # The answer to Stripe's retry of an event first answered 409 event_not_ready
    # (a refund that overtook its payment); None when nothing had to be retried.
    retry: int | None = None


PAID_END = End("paid", "active")
REFUNDED_END = End("refunded", "refunded")
FAILED_END = End("failed", "expired")
EXPIRED_END = End("expired", "expired")
PROCESSING_END = End("pending", "pending_payment", processing=True)

# Every ordered pair of different events, delivered first then second, and
# then any event answered 409 delivered once more, as Stripe retries it.
EXPECTED: dict[tuple[str, str], End] = {
    (PAID, UNPAID): PAID_END,
    (UNPAID, PAID): PAID_END,
    (PAID, SUCCEEDED): PAID_END,
    (SUCCEEDED, PAID): PAID_END,
    (PAID, FAILED): PAID_END,
    (FAILED, PAID): PAID_END,  # late money: the free seat is taken again
    (PAID, EXPIRED): PAID_END,
    (EXPIRED, PAID): PAID_END,  # late money: the free seat is taken again
    (PAID, REFUNDED): REFUNDED_END,
    (REFUNDED, PAID): End("refunded", "refunded", retry=200),
    (UNPAID, SUCCEEDED): PAID_END,
    (SUCCEEDED, UNPAID): PAID_END,
    (UNPAID, FAILED): FAILED_END,
    (FAILED, UNPAID): FAILED_END,
    (UNPAID, EXPIRED): PROCESSING_END,  # a bank debit under way outlives its session
    (EXPIRED, UNPAID): EXPIRED_END,
    (UNPAID, REFUNDED): End("pending", "pending_payment", processing=True, retry=409),
    (REFUNDED, UNPAID): End("pending", "pending_payment", processing=True, retry=409),
    (SUCCEEDED, FAILED): PAID_END,
    (FAILED, SUCCEEDED): PAID_END,
    (SUCCEEDED, EXPIRED): PAID_END,
    (EXPIRED, SUCCEEDED): PAID_END,
    (SUCCEEDED, REFUNDED): REFUNDED_END,
    (REFUNDED, SUCCEEDED): End("refunded", "refunded", retry=200),
    (FAILED, EXPIRED): FAILED_END,
    (EXPIRED, FAILED): EXPIRED_END,
    (FAILED, REFUNDED): End("failed", "expired", retry=409),
    (REFUNDED, FAILED): End("failed", "expired", retry=409),
    (EXPIRED, REFUNDED): End("expired", "expired", retry=409),
    (REFUNDED, EXPIRED): End("expired", "expired", retry=409),
}
KINDS = [PAID, UNPAID, SUCCEEDED, FAILED, EXPIRED, REFUNDED]


def test_the_table_covers_every_ordered_pair() -> None:
    assert set(EXPECTED) == {(a, b) for a in KINDS for b in KINDS if a != b}


async def new_payment(factory: Factory, portal: Portal, student: User, course: Course) -> Payment:
    result = await factory.checked_out(student=student, courses=[course])
    assert result.payment is not None
    return await payment_row(portal, result.payment.id)


async def test_every_pair_of_events_in_either_order_ends_in_the_right_state(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    wrong: list[str] = []
    for (first, second), expected in EXPECTED.items():
        # GIVEN a pending payment for a seat in a course of its own
        student = await factory.user()
        course = await factory.course(capacity=3)
        payment = await new_payment(factory, portal, student, course)
        events = [build(first, payment), build(second, payment)]

        # WHEN the two events arrive in this order, and Stripe retries a 409
        answers = [await post_event(client, portal, e) for e in events]
        retry = None
        for answer, sent in zip(answers, events, strict=True):
            if answer.status_code == 409:
                assert answer.json()["error"]["code"] == "event_not_ready"
                retry = (await post_event(client, portal, sent)).status_code
            else:
                assert answer.status_code == 200, f"{first} then {second}: {answer.text}"

        # THEN the payment, its enrollment and the seat end as the table says
        row = await payment_row(portal, payment.id)
        (enrollment,) = await enrollment_statuses(portal, payment.id)
        got = End(row.status, enrollment, row.processing, retry)
        if got != expected:
            wrong.append(f"{first} then {second}: expected {expected}, got {got}")
        seated = 1 if enrollment in {"active", "pending_payment"} else 0
        if await seats_taken(portal, course.id) != seated:
            wrong.append(f"{first} then {second}: seats_taken is not {seated}")
        confirmations = [
            m for m in await outbox(portal, kind=CONFIRMED) if m.payload["payment_id"] == payment.id
        ]
        if len(confirmations) != (1 if expected.payment in {"paid", "refunded"} else 0):
            wrong.append(f"{first} then {second}: {len(confirmations)} confirmations")
    assert wrong == []
    await assert_consistent(portal)


@pytest.mark.parametrize(
    "change", [{"amount_total": 12899}, {"amount_total": 12901}, {"currency": "eur"}]
)
async def test_a_session_whose_amount_or_currency_differs_activates_nothing(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment, change: dict[str, Any]
) -> None:
    # GIVEN a paid event whose amount or currency is not the payment's
    assert (pending_payment.amount, pending_payment.currency) == (12900, "usd")
    obj = session_object(pending_payment, payment_intent="pi_odd", **change)

    # WHEN it arrives, as completed or as a settled bank debit
    completed = await post_event(client, portal, event("checkout.session.completed", obj))
    settled = await post_event(
        client, portal, event("checkout.session.async_payment_succeeded", obj)
    )

    # THEN it is acknowledged and nothing is activated
    assert completed.json()["outcome"] == "amount_mismatch"
    assert settled.json()["outcome"] == "amount_mismatch"
    assert (await payment_row(portal, pending_payment.id)).status == "pending"
    assert await enrollment_statuses(portal, pending_payment.id) == ["pending_payment"]
    assert await outbox(portal, kind=CONFIRMED) == []

    # WHEN the right event arrives after all, THEN that one pays
    right = session_object(pending_payment, payment_intent="pi_right")
    paid = await post_event(client, portal, event("checkout.session.completed", right))
    assert paid.json()["outcome"] == "paid"


async def pay_then_lapse(
    client: httpx.AsyncClient, portal: Portal, clock: FrozenClock, checkout_url: str
) -> None:
    """The student pays at the last moment, but the event is held up until the
    hold has lapsed and the sweep has expired the payment."""
    assert (await pay_on_page(client, session_id_of(checkout_url))).status_code == 303
    clock.advance(minutes=31)
    assert await expire_overdue_payments(portal) == 1


async def test_a_late_payment_takes_its_seat_back_when_one_is_free(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a one-seat course whose payment expired while its event was on the way
    student = await factory.user()
    course = await factory.course(capacity=1)
    result = await factory.checked_out(student=student, courses=[course])
    assert result.payment is not None
    assert result.checkout_url is not None
    await pay_then_lapse(client, portal, clock, result.checkout_url)
    assert await seats_taken(portal, course.id) == 0

    # WHEN the "completed, paid" event lands
    await simulator_of(portal).deliver_pending()

    # THEN the payment is paid and the free seat taken again
    assert (await payment_row(portal, result.payment.id)).status == "paid"
    assert await enrollment_statuses(portal, result.payment.id) == ["active"]
    assert await seats_taken(portal, course.id) == 1
    assert [e["type"] for e in await simulator_of(portal).events()].count("charge.refunded") == 0
    await assert_consistent(portal)


async def test_a_late_payment_for_a_seat_someone_else_took_is_refunded(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a one-seat course whose payment expired while its event was on the way
    late = await factory.user()
    course = await factory.course(capacity=1, price=30000)
    result = await factory.checked_out(student=late, courses=[course])
    assert result.payment is not None
    assert result.checkout_url is not None
    await pay_then_lapse(client, portal, clock, result.checkout_url)
    # ... and another student took the seat meanwhile
    quick = await factory.user()
    taken = await factory.checked_out(student=quick, courses=[course])
    simulator = simulator_of(portal)

    # WHEN the late "completed, paid" event lands
    await simulator.deliver_pending()

    # THEN the seat stays with the other student: no overbooking
    assert await seats_taken(portal, course.id) == 1
    assert taken.payment is not None
    assert await enrollment_statuses(portal, taken.payment.id) == ["pending_payment"]
    # ... and the late money goes back in full
    payment = await payment_row(portal, result.payment.id)
    assert (payment.status, payment.refunded_amount) == ("refunded", 30000)
    assert await enrollment_statuses(portal, result.payment.id) == ["expired"]
    assert [i.refunded for i in await payment_items(portal, result.payment.id)] == [True]
    refunds = [e for e in await simulator.events() if e["type"] == "charge.refunded"]
    assert [r["data"]["object"]["amount_refunded"] for r in refunds] == [30000]
    # ... Stripe's own refund event, when it lands, changes nothing more
    await simulator.deliver_pending()
    assert (await payment_row(portal, result.payment.id)).status == "refunded"
    await assert_consistent(portal)


async def test_a_late_payment_for_two_courses_keeps_the_free_seat_and_refunds_the_other(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a payment for two one-seat courses that expired while its event was
    # on the way, and one of the seats was taken meanwhile
    late = await factory.user()
    kept = await factory.course(capacity=1, price=10000)
    lost = await factory.course(capacity=1, price=4000)
    result = await factory.checked_out(student=late, courses=[kept, lost])
    assert result.payment is not None
    assert result.checkout_url is not None
    await pay_then_lapse(client, portal, clock, result.checkout_url)
    await factory.checked_out(student=await factory.user(), courses=[lost])
    simulator = simulator_of(portal)

    # WHEN the late event lands
    await simulator.deliver_pending()

    # THEN the payment is paid for the free seat and the other course's price returned
    payment = await payment_row(portal, result.payment.id)
    assert (payment.status, payment.refunded_amount) == ("paid", 4000)
    lines = {i.course_id: i.refunded for i in await payment_items(portal, payment.id)}
    assert lines == {kept.id: False, lost.id: True}
    assert await seats_taken(portal, kept.id) == 1
    assert await seats_taken(portal, lost.id) == 1
    refunds = [e for e in await simulator.events() if e["type"] == "charge.refunded"]
    assert [r["data"]["object"]["amount_refunded"] for r in refunds] == [4000]
    # ... the partial refund's own event changes nothing more
    await simulator.deliver_pending()
    assert (await payment_row(portal, payment.id)).status == "paid"
    await assert_consistent(portal)


async def test_a_second_session_paid_for_the_same_payment_is_refunded(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a reserve-now-pay-later payment whose session was paid minutes
    # before it closed, while the event was still on its way
    student = await factory.user()
    course = await factory.course(price=20000, payment_due_days=7)
    result = await factory.checked_out(student=student, courses=[course])
    assert result.payment is not None
    assert result.checkout_url is not None
    payment_id = result.payment.id
    clock.advance(hours=24, minutes=-3)
    assert (await pay_on_page(client, session_id_of(result.checkout_url))).status_code == 303
    simulator = simulator_of(portal)

    # WHEN the student (not seeing it confirmed yet) asks to pay again
    again = await client.post(
        f"/api/checkout/payments/{payment_id}/pay", headers=factory.headers_for(student)
    )

    # THEN no second session is opened for a payment already made
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "payment_not_payable"
    await simulator.deliver_pending()
    assert (await payment_row(portal, payment_id)).status == "paid"


async def test_money_from_a_second_session_of_a_paid_payment_goes_back(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a payment already paid
    student = await factory.user()
    course = await factory.course(price=20000)
    result = await factory.checked_out(student=student, courses=[course])
    assert result.payment is not None
    assert result.checkout_url is not None
    payment_id = result.payment.id
    await pay_on_page(client, session_id_of(result.checkout_url))
    simulator = simulator_of(portal)
    await simulator.deliver_pending()
    first_intent = (await payment_row(portal, payment_id)).payment_intent
    # ... and a second session for the same payment, paid too (two tabs, a race)
    assert portal.payments is not None
    second = await portal.payments.create_checkout_session(
        payment_id=payment_id,
        lines=[LineItem(f"{course.code} {course.title}", 20000, "usd")],
        customer_email=student.email,
        success_url="http://testserver/ok",
        cancel_url="http://testserver/cancel",
        expires_at=portal.clock.now() + timedelta(minutes=30),
        idempotency_key="second-tab",
    )
    assert (await pay_on_page(client, second.id)).status_code == 303

    # WHEN the second session's event lands
    await simulator.deliver_pending()

    # THEN the payment stays paid by the first charge; the second is refunded in full
    payment = await payment_row(portal, payment_id)
    assert (payment.status, payment.payment_intent) == ("paid", first_intent)
    assert payment.refunded_amount == 0
    refunds = [
        e["data"]["object"] for e in await simulator.events() if e["type"] == "charge.refunded"
    ]
    second_intent = (await portal.payments.retrieve_session(second.id)).payment_intent
    assert [(r["payment_intent"], r["amount_refunded"]) for r in refunds] == [
        (second_intent, 20000)
    ]
    assert len(await outbox(portal, kind=CONFIRMED)) == 1
    # ... and the refund's own event leaves the payment as it is
    await simulator.deliver_pending()
    payment = await payment_row(portal, payment_id)
    assert (payment.status, payment.refunded_amount) == ("paid", 0)
    assert await enrollment_statuses(portal, payment_id) == ["active"]
    await assert_consistent(portal)
