"""The whole payment flow through the API, with the official `stripe` client
talking to the payment simulator and the simulator's signed events landing on
the webhook: pay now, declined cards, bank debits, reserve now and pay later,
free courses, refunds, and who may see what."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from functions.auth.models import User
from functions.catalog.models import Course
from functions.checkout.service import STRIPE_MAX_SESSION, STRIPE_MIN_SESSION
from lib.clock import FrozenClock
from lib.payments.gateway import LineItem
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory
from tests.functions.checkout.support import (
    CONFIRMED,
    DECLINED_CARD,
    enrollment_row,
    enrollment_statuses,
    error_code,
    expire_overdue_payments,
    outbox,
    pay_on_page,
    payment_row,
    recorded_events,
    release_expired_holds,
    seats_taken,
    session_id_of,
    simulator_of,
)

SITE = "http://testserver"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def start_checkout(
    client: httpx.AsyncClient, factory: Factory, student: User, *courses: Course
) -> dict[str, Any]:
    """The courses carted, then POST /api/checkout: its 201 body."""
    await factory.in_cart(student=student, courses=list(courses))
    response = await client.post("/api/checkout", headers=factory.headers_for(student))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def get_payment(
    client: httpx.AsyncClient, factory: Factory, who: User, payment_id: str
) -> dict[str, Any]:
    response = await client.get(
        f"/api/checkout/payments/{payment_id}", headers=factory.headers_for(who)
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["payment"])


# --- checking out ---------------------------------------------------------------------------


async def test_checkout_holds_the_seats_and_opens_a_checkout_session(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a student with two priced courses in the cart
    student = await factory.user(email="ada@example.com")
    algebra = await factory.course(code="ALG-101", title="Algebra", price=12900)
    poetry = await factory.course(code="POE-101", title="Poetry", price=4900)
    now = clock.now()

    # WHEN the student checks out
    body = await start_checkout(client, factory, student, algebra, poetry)

    # THEN a pending payment for both, due when the 30-minute hold ends
    payment = body["payment"]
    assert payment["status"] == "pending"
    assert payment["amount"] == 17800
    assert payment["currency"] == "usd"
    assert parse(payment["due_at"]) == now + timedelta(minutes=30)
    assert sorted(payment["course_ids"]) == sorted([algebra.id, poetry.id])
    assert payment["processing"] is False
    session_id = payment["checkout_session_id"]
    assert body["checkout_url"] == f"{SITE}/simulator/checkout/{session_id}"

    # ... the seats are held for the payment until then
    assert len(body["enrollment_ids"]) == 2
    for enrollment_id in body["enrollment_ids"]:
        enrollment = await enrollment_row(portal, enrollment_id)
        assert enrollment.status == "pending_payment"
        assert enrollment.payment_id == payment["id"]
        assert enrollment.due_at == now + timedelta(minutes=30)
    assert await seats_taken(portal, algebra.id) == 1
    assert await seats_taken(portal, poetry.id) == 1

    # ... Stripe holds a session that names the payment, the student and our site
    assert portal.payments is not None
    session = await portal.payments.retrieve_session(session_id)
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.amount_total == 17800
    assert session.currency == "usd"
    assert session.client_reference_id == payment["id"]
    assert session.metadata == {"payment_id": payment["id"]}
    assert session.customer_email == "ada@example.com"
    assert session.success_url is not None
    assert session.success_url.startswith(f"{SITE}/")
    assert payment["id"] in session.success_url
    assert "{CHECKOUT_SESSION_ID}" in session.success_url
    assert session.cancel_url is not None
    assert session.cancel_url.startswith(f"{SITE}/")
    # ... and lasts as long as the hold, but never less than Stripe's shortest
    # session plus a minute's margin for the request to get there
    assert session.expires_at == max(now + timedelta(minutes=30), now + STRIPE_MIN_SESSION)
    assert session.expires_at == now + timedelta(minutes=31)

    # ... with one line per course on the hosted page
    page = await client.get(f"/simulator/checkout/{session_id}")
    assert page.status_code == 200
    assert "ALG-101 Algebra" in page.text
    assert "POE-101 Poetry" in page.text
    assert "178.00 USD" in page.text

    # ... and the cart is empty
    cart = await client.get("/api/checkout/cart", headers=factory.headers_for(student))
    assert cart.json()["items"] == []


async def test_the_session_is_created_under_a_key_derived_from_the_payment(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a checkout that opened a session
    student = await factory.user()
    course = await factory.course(price=5000)
    payment = (await start_checkout(client, factory, student, course))["payment"]
    assert portal.payments is not None

    def create(key: str):  # type: ignore[no-untyped-def]
        return portal.payments.create_checkout_session(  # type: ignore[union-attr]
            payment_id=payment["id"],
            lines=[LineItem(f"{course.code} {course.title}", 5000, "usd")],
            customer_email=student.email,
            success_url=f"{SITE}/return",
            cancel_url=f"{SITE}/cancel",
            expires_at=clock.now() + timedelta(minutes=30),
            idempotency_key=key,
        )

    # WHEN the same request is sent again under the payment's first key (a retry)
    retried = await create(f"checkout-session:{payment['id']}:1")
    # ... and under the key of a second attempt
    second = await create(f"checkout-session:{payment['id']}:2")

    # THEN the retry gets the very same session; a new attempt gets a new one
    assert retried.id == payment["checkout_session_id"]
    assert second.id != payment["checkout_session_id"]


# --- paying now -----------------------------------------------------------------------------


async def test_the_test_card_pays_and_the_webhook_activates_the_enrollments(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a checkout for two courses
    student = await factory.user()
    first = await factory.course(price=12900)
    second = await factory.course(price=4900)
    body = await start_checkout(client, factory, student, first, second)
    payment_id = body["payment"]["id"]
    session_id = session_id_of(body["checkout_url"])

    # WHEN the student pays with 4242 on the hosted page
    paid = await pay_on_page(client, session_id)

    # THEN the browser goes back to our success page for this session
    assert paid.status_code == 303
    assert paid.headers["location"].startswith(f"{SITE}/")
    assert f"session_id={session_id}" in paid.headers["location"]
    # ... but returning there activates nothing: only the webhook does
    assert (await get_payment(client, factory, student, payment_id))["status"] == "pending"
    assert await enrollment_statuses(portal, payment_id) == ["pending_payment"] * 2

    # WHEN the simulator delivers its signed event
    assert await simulator_of(portal).deliver_pending() == 1

    # THEN the payment is paid and both enrollments are active
    after = await get_payment(client, factory, student, payment_id)
    assert after["status"] == "paid"
    assert parse(after["paid_at"]) == clock.now()
    assert after["checkout_url"] is None
    assert await enrollment_statuses(portal, payment_id) == ["active", "active"]
    mine = await client.get("/api/catalog/enrollments", headers=factory.headers_for(student))
    assert {e["status"] for e in mine.json()["items"]} == {"active"}
    assert await seats_taken(portal, first.id) == 1
    assert await seats_taken(portal, second.id) == 1
    # ... Stripe's session and our payment agree on the charge
    assert portal.payments is not None
    session = await portal.payments.retrieve_session(session_id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert (await payment_row(portal, payment_id)).payment_intent == session.payment_intent
    # ... one confirmation is queued, and the event is on record as applied
    confirmations = await outbox(portal, kind=CONFIRMED)
    assert len(confirmations) == 1
    assert confirmations[0].recipient_id == student.id
    assert confirmations[0].payload["payment_id"] == payment_id
    assert confirmations[0].payload["amount"] == 17800
    assert [(e.type, e.outcome) for e in await recorded_events(portal)] == [
        ("checkout.session.completed", "paid")
    ]
    # ... and the hosted page no longer takes money for it
    again = await pay_on_page(client, session_id)
    assert again.status_code == 410


SWEEPS = ["payment_sweep", "hold_sweep_first", "stripe_expiry"]


@pytest.mark.parametrize("sweep", SWEEPS)
async def test_a_declined_card_keeps_the_seat_until_the_hold_ends(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock, sweep: str
) -> None:
    # GIVEN a checkout for a one-seat course
    student = await factory.user()
    course = await factory.course(capacity=1)
    body = await start_checkout(client, factory, student, course)
    payment_id = body["payment"]["id"]
    session_id = session_id_of(body["checkout_url"])
    simulator = simulator_of(portal)
    assert portal.payments is not None
    session_end = (await portal.payments.retrieve_session(session_id)).expires_at
    assert session_end is not None

    # WHEN the card is declined
    declined = await pay_on_page(client, session_id, card=DECLINED_CARD)

    # THEN the page says so, nothing is sent to the webhook, the seat stays held
    assert declined.status_code == 402
    assert "declined" in declined.text
    assert 'role="alert"' in declined.text or "role='alert'" in declined.text
    assert await simulator.deliver_pending() == 0
    assert (await payment_row(portal, payment_id)).status == "pending"
    assert await enrollment_statuses(portal, payment_id) == ["pending_payment"]
    assert await seats_taken(portal, course.id) == 1

    # ... and one second before the hold ends, no sweep lets it go
    clock.advance(minutes=30, seconds=-1)
    await simulator.tick()
    assert await expire_overdue_payments(portal) == 0
    assert await release_expired_holds(portal) == 0
    assert await seats_taken(portal, course.id) == 1

    # WHEN the hold's time is up and the sweep runs (or, without a sweep, the
    # session reaches its own end a minute later and Stripe says so)
    clock.advance(seconds=2)
    if sweep == "payment_sweep":
        assert await expire_overdue_payments(portal) == 1
    elif sweep == "hold_sweep_first":
        # A hold with a payment lapses with its payment, not on its own.
        assert await release_expired_holds(portal) == 0
        assert await seats_taken(portal, course.id) == 1
        assert await expire_overdue_payments(portal) == 1
    else:
        clock.set(session_end)
        await simulator.tick()
    await simulator.deliver_pending()

    # THEN the payment and the enrollment have expired and the seat is free
    assert (await payment_row(portal, payment_id)).status == "expired"
    assert await enrollment_statuses(portal, payment_id) == ["expired"]
    assert await seats_taken(portal, course.id) == 0
    # ... the session is closed, and asking to pay again is gone for good
    assert (await pay_on_page(client, session_id)).status_code == 410
    pay = await client.post(
        f"/api/checkout/payments/{payment_id}/pay", headers=factory.headers_for(student)
    )
    assert pay.status_code == 410
    assert error_code(pay) == "payment_expired"


async def test_a_good_card_after_a_declined_one_pays(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a declined attempt
    student = await factory.user()
    body = await start_checkout(client, factory, student, await factory.course())
    session_id = session_id_of(body["checkout_url"])
    assert (await pay_on_page(client, session_id, card=DECLINED_CARD)).status_code == 402

    # WHEN the student tries 4242 on the same page
    assert (await pay_on_page(client, session_id)).status_code == 303
    await simulator_of(portal).deliver_pending()

    # THEN it is paid
    assert (await payment_row(portal, body["payment"]["id"])).status == "paid"


async def test_an_unknown_card_is_refused_without_charging(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    student = await factory.user()
    body = await start_checkout(client, factory, student, await factory.course())
    response = await pay_on_page(
        client, session_id_of(body["checkout_url"]), card="5555 5555 5555 4444"
    )
    assert response.status_code == 422
    assert await simulator_of(portal).deliver_pending() == 0


# --- bank debits ---------------------------------------------------------------------------


async def test_a_bank_debit_stays_processing_until_it_settles(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a checkout paid by bank debit
    student = await factory.user()
    course = await factory.course()
    body = await start_checkout(client, factory, student, course)
    payment_id = body["payment"]["id"]
    simulator = simulator_of(portal)
    assert (
        await pay_on_page(client, session_id_of(body["checkout_url"]), method="bank_debit")
    ).status_code == 303

    # WHEN the "completed, not yet paid" event lands
    assert await simulator.deliver_pending() == 1

    # THEN the payment is pending and processing, the seat still held
    payment = await get_payment(client, factory, student, payment_id)
    assert (payment["status"], payment["processing"]) == ("pending", True)
    assert await enrollment_statuses(portal, payment_id) == ["pending_payment"]
    assert await outbox(portal, kind=CONFIRMED) == []
    # ... and there is nothing to pay again meanwhile
    pay = await client.post(
        f"/api/checkout/payments/{payment_id}/pay", headers=factory.headers_for(student)
    )
    assert pay.status_code == 409
    assert error_code(pay) == "payment_not_payable"

    # WHEN a minute passes and the bank settles
    clock.advance(seconds=59)
    await simulator.tick()
    assert (await payment_row(portal, payment_id)).status == "pending"
    clock.advance(seconds=2)
    await simulator.tick()

    # THEN the payment is paid and the enrollment active
    payment = await get_payment(client, factory, student, payment_id)
    assert (payment["status"], payment["processing"]) == ("paid", False)
    assert await enrollment_statuses(portal, payment_id) == ["active"]
    assert len(await outbox(portal, kind=CONFIRMED)) == 1
    kinds = [(e.type, e.outcome) for e in await recorded_events(portal)]
    assert kinds == [
        ("checkout.session.completed", "processing"),
        ("checkout.session.async_payment_succeeded", "paid"),
    ]


async def test_a_bank_debit_under_way_keeps_its_seat_past_the_due_time(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a bank debit started half a minute before the hold ends
    student = await factory.user()
    course = await factory.course(capacity=1)
    body = await start_checkout(client, factory, student, course)
    payment_id = body["payment"]["id"]
    simulator = simulator_of(portal)
    clock.advance(minutes=29, seconds=30)
    session_id = session_id_of(body["checkout_url"])
    assert (await pay_on_page(client, session_id, method="bank_debit")).status_code == 303
    await simulator.deliver_pending()

    # WHEN the hold's time passes before the bank settles and every sweep runs
    clock.advance(minutes=1)
    assert await expire_overdue_payments(portal) == 0
    assert await release_expired_holds(portal) == 0

    # THEN the seat is still the student's
    assert (await payment_row(portal, payment_id)).status == "pending"
    assert await enrollment_statuses(portal, payment_id) == ["pending_payment"]
    assert await seats_taken(portal, course.id) == 1

    # WHEN the bank settles
    clock.advance(seconds=1)
    await simulator.tick()

    # THEN the payment is paid and the enrollment active
    assert (await payment_row(portal, payment_id)).status == "paid"
    assert await enrollment_statuses(portal, payment_id) == ["active"]
    assert await seats_taken(portal, course.id) == 1


async def test_a_failed_bank_debit_releases_the_seat_to_the_waitlist(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a one-seat course held by a bank debit that will fail, and a waitlist
    student = await factory.user()
    course = await factory.course(capacity=1)
    body = await start_checkout(client, factory, student, course)
    payment_id = body["payment"]["id"]
    waiting = await factory.waitlisted(student=await factory.user(), course=course)
    simulator = simulator_of(portal)
    session_id = session_id_of(body["checkout_url"])
    assert (await pay_on_page(client, session_id, method="bank_debit_fail")).status_code == 303
    await simulator.deliver_pending()
    assert (await payment_row(portal, payment_id)).processing is True

    # WHEN the bank reports the failure
    clock.advance(seconds=61)
    await simulator.tick()

    # THEN the payment failed, the hold ended, the seat went to the waitlist
    assert (await payment_row(portal, payment_id)).status == "failed"
    assert await enrollment_statuses(portal, payment_id) == ["expired"]
    assert (await enrollment_row(portal, waiting.id)).status == "pending_payment"
    assert await seats_taken(portal, course.id) == 1
    failed = await outbox(portal, kind="checkout.payment_failed")
    assert [m.recipient_id for m in failed] == [student.id]
    # ... and there is nothing left to pay
    pay = await client.post(
        f"/api/checkout/payments/{payment_id}/pay", headers=factory.headers_for(student)
    )
    assert pay.status_code == 409
    assert error_code(pay) == "payment_not_payable"


# --- reserve now, pay later -----------------------------------------------------------------


async def test_reserve_now_and_pay_later_from_a_fresh_session(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a course that may be paid within seven days
    student = await factory.user()
    course = await factory.course(payment_due_days=7)
    start = clock.now()
    body = await start_checkout(client, factory, student, course)
    payment_id = body["payment"]["id"]
    first_session = body["payment"]["checkout_session_id"]
    simulator = simulator_of(portal)
    assert portal.payments is not None

    # THEN the hold lasts seven days; a Stripe session lives 24 hours at most
    assert parse(body["payment"]["due_at"]) == start + timedelta(days=7)
    session = await portal.payments.retrieve_session(first_session)
    assert session.expires_at == start + STRIPE_MAX_SESSION
    assert session.expires_at == start + timedelta(hours=23, minutes=59)

    # WHEN the session expires unpaid after a day
    clock.advance(hours=24)
    await simulator.tick()

    # THEN the seat stays held and the payment stays pending, without a session
    assert [(e.type, e.outcome) for e in await recorded_events(portal)] == [
        ("checkout.session.expired", "session_closed")
    ]
    payment = await get_payment(client, factory, student, payment_id)
    assert payment["status"] == "pending"
    assert payment["checkout_session_id"] is None
    assert payment["checkout_url"] is None
    assert await enrollment_statuses(portal, payment_id) == ["pending_payment"]
    assert await expire_overdue_payments(portal) == 0
    assert await release_expired_holds(portal) == 0
    assert await seats_taken(portal, course.id) == 1

    # WHEN the student pays from the payments page two days later
    clock.advance(days=2)
    pay = await client.post(
        f"/api/checkout/payments/{payment_id}/pay", headers=factory.headers_for(student)
    )

    # THEN a fresh session opens for the same payment
    assert pay.status_code == 200, pay.text
    fresh_session = pay.json()["payment"]["checkout_session_id"]
    assert fresh_session not in {None, first_session}
    assert pay.json()["checkout_url"] == f"{SITE}/simulator/checkout/{fresh_session}"
    fresh = await portal.payments.retrieve_session(fresh_session)
    assert fresh.metadata == {"payment_id": payment_id}
    assert fresh.client_reference_id == payment_id
    assert fresh.expires_at == clock.now() + STRIPE_MAX_SESSION

    # WHEN it is paid
    assert (await pay_on_page(client, fresh_session)).status_code == 303
    await simulator.deliver_pending()

    # THEN the payment is paid and the enrollment active
    assert (await payment_row(portal, payment_id)).status == "paid"
    assert await enrollment_statuses(portal, payment_id) == ["active"]


async def test_pay_later_reuses_an_open_session_and_replaces_one_about_to_close(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a reserve-now-pay-later checkout with its session open
    student = await factory.user()
    course = await factory.course(payment_due_days=7)
    body = await start_checkout(client, factory, student, course)
    payment_id = body["payment"]["id"]
    first_session = body["payment"]["checkout_session_id"]
    url = f"/api/checkout/payments/{payment_id}/pay"
    simulator = simulator_of(portal)
    assert portal.payments is not None

    # WHEN the student asks to pay while the session has hours left
    same = await client.post(url, headers=factory.headers_for(student))

    # THEN the open session is handed back
    assert same.status_code == 200, same.text
    assert same.json()["checkout_url"] == body["checkout_url"]

    # WHEN they ask again four minutes before it closes
    clock.advance(hours=24, minutes=-4)
    fresh = await client.post(url, headers=factory.headers_for(student))

    # THEN the old session is closed and a new one opened
    assert fresh.status_code == 200, fresh.text
    fresh_session = fresh.json()["payment"]["checkout_session_id"]
    assert fresh_session != first_session
    assert (await portal.payments.retrieve_session(first_session)).status == "expired"
    # ... and the old session's expiry event leaves the payment alone
    await simulator.deliver_pending()
    assert [(e.type, e.outcome) for e in await recorded_events(portal)] == [
        ("checkout.session.expired", "unchanged")
    ]
    payment = await payment_row(portal, payment_id)
    assert (payment.status, payment.checkout_session_id) == ("pending", fresh_session)


async def test_pay_later_after_the_due_date_is_refused_as_expired(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a reserve-now-pay-later payment whose seven days have passed
    student = await factory.user()
    course = await factory.course(payment_due_days=7)
    body = await start_checkout(client, factory, student, course)
    payment_id = body["payment"]["id"]
    clock.advance(days=7)
    url = f"/api/checkout/payments/{payment_id}/pay"

    # WHEN the student asks to pay, before and after the sweep
    before_sweep = await client.post(url, headers=factory.headers_for(student))
    assert await expire_overdue_payments(portal) == 1
    after_sweep = await client.post(url, headers=factory.headers_for(student))

    # THEN both are 410 payment_expired and the seat is free
    for response in (before_sweep, after_sweep):
        assert response.status_code == 410
        assert error_code(response) == "payment_expired"
    assert await enrollment_statuses(portal, payment_id) == ["expired"]
    assert await seats_taken(portal, course.id) == 0


# --- free courses ------------------------------------------------------------------------


async def test_a_free_course_is_enrolled_at_once_without_a_payment(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a student with a free course in the cart
    student = await factory.user()
    course = await factory.course(price=0)

    # WHEN they check out
    body = await start_checkout(client, factory, student, course)

    # THEN they are enrolled at once; Stripe is not involved
    assert body["payment"] is None
    assert body["checkout_url"] is None
    assert [(await enrollment_row(portal, i)).status for i in body["enrollment_ids"]] == ["active"]
    assert await seats_taken(portal, course.id) == 1
    payments = await client.get("/api/checkout/payments", headers=factory.headers_for(student))
    assert payments.json()["items"] == []
    assert await simulator_of(portal).events() == []


async def test_a_free_course_beside_a_paid_one_is_not_charged(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a cart with a free and a paid course
    student = await factory.user()
    free = await factory.course(price=0)
    paid = await factory.course(price=9900)

    # WHEN the student checks out
    body = await start_checkout(client, factory, student, free, paid)

    # THEN the free seat is active now; the payment covers the paid course alone
    payment = body["payment"]
    assert payment["amount"] == 9900
    assert payment["course_ids"] == [paid.id]
    statuses = {
        (await enrollment_row(portal, i)).course_id: (await enrollment_row(portal, i)).status
        for i in body["enrollment_ids"]
    }
    assert statuses == {free.id: "active", paid.id: "pending_payment"}
    assert portal.payments is not None
    session = await portal.payments.retrieve_session(payment["checkout_session_id"])
    assert session.amount_total == 9900


# --- refunds --------------------------------------------------------------------------------


async def test_an_administrator_refund_frees_the_seat_and_moves_the_waitlist(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a paid one-seat course and a student on its waitlist
    student = await factory.user()
    admin = await factory.user(role=Role.ADMIN)
    course = await factory.course(capacity=1, price=25000)
    body = await start_checkout(client, factory, student, course)
    payment_id = body["payment"]["id"]
    simulator = simulator_of(portal)
    await pay_on_page(client, session_id_of(body["checkout_url"]))
    await simulator.deliver_pending()
    waiting = await factory.waitlisted(student=await factory.user(), course=course)

    # WHEN an administrator refunds the payment
    refunded = await client.post(
        f"/api/checkout/payments/{payment_id}/refund", headers=factory.headers_for(admin)
    )

    # THEN it is refunded in full, the enrollment ended as refunded
    assert refunded.status_code == 200, refunded.text
    payment = refunded.json()["payment"]
    assert (payment["status"], payment["refunded_amount"]) == ("refunded", 25000)
    assert payment["refunded_at"] is not None
    assert await enrollment_statuses(portal, payment_id) == ["refunded"]
    # ... the seat went to the first on the waitlist
    assert (await enrollment_row(portal, waiting.id)).status == "pending_payment"
    assert await seats_taken(portal, course.id) == 1
    # ... Stripe returned the money, and its refund event changes nothing more
    charge = (await simulator.events())[-1]
    assert charge["type"] == "charge.refunded"
    assert charge["data"]["object"]["amount_refunded"] == 25000
    assert charge["data"]["object"]["refunded"] is True
    assert await simulator.deliver_pending() == 1
    assert (await recorded_events(portal))[-1].outcome == "unchanged"
    assert [m.recipient_id for m in await outbox(portal, kind="checkout.refund_issued")] == [
        student.id
    ]

    # WHEN the refund is asked for again, THEN there is nothing left to refund
    again = await client.post(
        f"/api/checkout/payments/{payment_id}/refund", headers=factory.headers_for(admin)
    )
    assert again.status_code == 409
    assert error_code(again) == "payment_not_refundable"


async def test_a_pending_payment_cannot_be_refunded(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a payment not yet paid
    student = await factory.user()
    admin = await factory.user(role=Role.ADMIN)
    body = await start_checkout(client, factory, student, await factory.course())
    payment_id = body["payment"]["id"]

    # WHEN an administrator refunds it, THEN it is refused and nothing changes
    response = await client.post(
        f"/api/checkout/payments/{payment_id}/refund", headers=factory.headers_for(admin)
    )
    assert response.status_code == 409
    assert error_code(response) == "payment_not_refundable"
    assert await enrollment_statuses(portal, payment_id) == ["pending_payment"]


async def test_refunding_an_unknown_payment_is_not_found(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.user(role=Role.ADMIN)
    response = await client.post(
        "/api/checkout/payments/nope/refund", headers=factory.headers_for(admin)
    )
    assert response.status_code == 404


# --- who sees what ---------------------------------------------------------------------------


async def test_students_see_and_act_on_their_own_payments_only(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a paid payment of one student
    owner = await factory.user()
    other = await factory.user()
    admin = await factory.user(role=Role.ADMIN)
    body = await start_checkout(client, factory, owner, await factory.course(payment_due_days=3))
    payment_id = body["payment"]["id"]
    path = f"/api/checkout/payments/{payment_id}"

    # WHEN another student looks, pays or refunds it
    seen = await client.get(path, headers=factory.headers_for(other))
    paid = await client.post(f"{path}/pay", headers=factory.headers_for(other))
    listed = await client.get("/api/checkout/payments", headers=factory.headers_for(other))
    refund = await client.post(f"{path}/refund", headers=factory.headers_for(other))

    # THEN it does not exist for them, and refunds are for administrators
    assert seen.status_code == 404
    assert paid.status_code == 404
    assert listed.json()["items"] == []
    assert refund.status_code == 403
    # ... while the owner and an administrator see it
    assert (await client.get(path, headers=factory.headers_for(owner))).status_code == 200
    as_admin = await client.get(path, headers=factory.headers_for(admin))
    assert as_admin.status_code == 200
    assert as_admin.json()["payment"]["student_id"] == owner.id
    # ... an instructor sees no payments at all
    instructor = await factory.user(role=Role.INSTRUCTOR)
    assert (await client.get(path, headers=factory.headers_for(instructor))).status_code == 403
    # ... and an administrator cannot pay on a student's behalf
    assert (await client.post(f"{path}/pay", headers=factory.headers_for(admin))).status_code == 403


async def test_payments_are_listed_newest_first_in_pages_and_by_status(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN five payments of one student, two of them paid, and one of someone else
    student = await factory.user()
    ids: list[str] = []
    for _ in range(5):
        body = await start_checkout(client, factory, student, await factory.course())
        ids.append(body["payment"]["id"])
        if len(ids) in {2, 4}:
            await pay_on_page(client, session_id_of(body["checkout_url"]))
            await simulator_of(portal).deliver_pending()
        clock.advance(minutes=1)
    someone = await factory.user()
    elsewhere = (await start_checkout(client, factory, someone, await factory.course()))["payment"][
        "id"
    ]
    me = factory.headers_for(student)

    # WHEN the student pages through theirs, two at a time
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/checkout/payments", params=params, headers=me)
        assert page.status_code == 200, page.text
        seen += [p["id"] for p in page.json()["items"]]
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break

    # THEN they get their own five, newest first, each once, in three pages
    assert seen == list(reversed(ids))
    assert pages == 3

    # WHEN filtered by status, THEN only those
    paid = await client.get("/api/checkout/payments", params={"status": "paid"}, headers=me)
    assert [p["id"] for p in paid.json()["items"]] == [ids[3], ids[1]]
    pending = await client.get("/api/checkout/payments", params={"status": "pending"}, headers=me)
    assert [p["id"] for p in pending.json()["items"]] == [ids[4], ids[2], ids[0]]

    # ... an administrator sees everyone's, or one student's
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    everyone = await client.get("/api/checkout/payments", params={"limit": "100"}, headers=admin)
    assert {p["id"] for p in everyone.json()["items"]} == {*ids, elsewhere}
    theirs = await client.get(
        "/api/checkout/payments", params={"student_id": someone.id}, headers=admin
    )
    assert [p["id"] for p in theirs.json()["items"]] == [elsewhere]
    # ... a student cannot look at someone else's by asking for them
    sneaky = await client.get(
        "/api/checkout/payments", params={"student_id": someone.id}, headers=me
    )
    assert {p["id"] for p in sneaky.json()["items"]} == set(ids)

    # ... and nonsense is refused
    for params in ({"status": "bogus"}, {"cursor": "not-a-cursor"}, {"limit": "0"}):
        bad = await client.get("/api/checkout/payments", params=params, headers=me)
        assert bad.status_code == 422, params
