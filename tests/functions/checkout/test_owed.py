"""What a new user tripped over: everything a student owes is on Payments, one
due date per held seat, "Pay now" that works after the site moved or the
payment provider forgot the session, short receipt numbers, a cart that a
read does not change."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from functions.checkout.models import CartItem
from functions.messages.templates import render
from functions.router import create_app
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.runtime import Portal
from tests.conftest import test_settings as settings_for
from tests.factories import Factory
from tests.functions.checkout.support import (
    CONFIRMED,
    enrollment_row,
    outbox,
    pay_on_page,
    payment_row,
    session_id_of,
    simulator_of,
)

PAYMENTS = "/api/checkout/payments"
RECEIPT = re.compile(r"^R-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


async def my_payments(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(PAYMENTS, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def my_enrollments(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/catalog/enrollments", headers=headers)
    assert response.status_code == 200, response.text
    return {e["course_id"]: e for e in response.json()["items"]}


async def reserve(client: httpx.AsyncClient, headers: dict[str, str], course_id: str) -> Any:
    """A seat reserved from the course page, as the browser does it."""
    response = await client.post(f"/api/catalog/courses/{course_id}/enroll", headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["enrollment"]


# --- everything owed is on Payments, with one due date ------------------------------------


async def test_a_seat_reserved_from_the_course_page_is_on_payments_with_its_due_date(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student and a course paid within two weeks
    student = await factory.user()
    me = factory.headers_for(student)
    course = await factory.course(price=15000, payment_due_days=14)

    # WHEN the student reserves a seat from the course page
    reserved = await client.post(f"/api/catalog/courses/{course.id}/enroll", headers=me)
    assert reserved.status_code == 201, reserved.text
    enrollment = reserved.json()["enrollment"]

    # THEN Payments lists what they owe for it, due when My courses says
    [payment] = await my_payments(client, me)
    assert (payment["status"], payment["amount"], payment["course_ids"]) == (
        "pending",
        15000,
        [course.id],
    )
    assert enrollment["payment_id"] == payment["id"]
    assert payment["due_at"] == enrollment["due_at"]
    assert (await my_enrollments(client, me))[course.id]["due_at"] == payment["due_at"]
    # ... and "Pay now" opens the payment page for it
    paid = await client.post(f"{PAYMENTS}/{payment['id']}/pay", headers=me)
    assert paid.status_code == 200, paid.text
    assert paid.json()["checkout_url"]


async def test_a_seat_offered_from_the_waitlist_is_on_payments_with_its_due_date(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a full course, its seat held by one student and another waiting
    course = await factory.course(capacity=1, price=9000, payment_due_days=3)
    holder = await factory.user()
    held = await reserve(client, factory.headers_for(holder), course.id)
    waiting = await factory.user()
    me = factory.headers_for(waiting)
    await factory.waitlisted(student=waiting, course=course)

    # WHEN the holder drops and the seat goes to the one waiting
    dropped = await client.post(
        f"/api/catalog/enrollments/{held['id']}/drop", headers=factory.headers_for(holder)
    )
    assert dropped.status_code == 200, dropped.text

    # THEN the one waiting sees what they owe on Payments, due when the hold is
    [payment] = await my_payments(client, me)
    assert (payment["status"], payment["course_ids"]) == ("pending", [course.id])
    offered = (await my_enrollments(client, me))[course.id]
    assert (offered["status"], offered["payment_id"]) == ("pending_payment", payment["id"])
    assert offered["due_at"] == payment["due_at"]
    # ... and the holder, who dropped before paying, owes nothing any more
    [gone] = await my_payments(client, factory.headers_for(holder))
    assert gone["status"] == "expired"


async def test_one_checkout_has_one_due_date_for_every_seat(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a cart with a pay-now course and one paid within two weeks
    student = await factory.user()
    me = factory.headers_for(student)
    now_course = await factory.course(payment_due_days=0)
    later_course = await factory.course(payment_due_days=14)
    await factory.in_cart(student=student, courses=[now_course, later_course])

    # WHEN the student checks out
    response = await client.post("/api/checkout", headers=me)
    assert response.status_code == 201, response.text
    payment = response.json()["payment"]

    # THEN both seats are due when the payment is: the earlier of the two rules
    enrollments = await my_enrollments(client, me)
    assert {e["due_at"] for e in enrollments.values()} == {payment["due_at"]}
    assert payment["due_at"] == "2026-01-05T09:30:00Z"


# --- "Pay now" when the stored session no longer works -------------------------------------


@pytest.fixture
async def moved_site(portal: Portal, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The same portal (database, payment simulator) now served at another address."""
    settings = settings_for(
        portal.settings.database_url,
        tmp_path,
        site_url="http://localhost:8412",
        simulator_db=portal.settings.simulator_db,
    )
    moved = build_portal(settings, clock=portal.clock)
    transport = httpx.ASGITransport(app=create_app(portal=moved))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8412") as client:
        yield client
    await moved.dispose()


async def test_pay_now_opens_a_fresh_session_when_the_site_moved(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, moved_site: httpx.AsyncClient
) -> None:
    # GIVEN a reserve-now-pay-later checkout started at the old address
    student = await factory.user()
    payment = await factory.reserved(student=student, payment_due_days=7)
    old_session = payment.checkout_session_id
    assert old_session is not None

    # WHEN the student presses "Pay now" on the portal at its new address
    response = await moved_site.post(
        f"{PAYMENTS}/{payment.id}/pay", headers=factory.headers_for(student)
    )

    # THEN a fresh session sends them to, and back to, the new address
    assert response.status_code == 200, response.text
    url = response.json()["checkout_url"]
    assert url.startswith("http://localhost:8412/simulator/checkout/")
    assert response.json()["payment"]["checkout_session_id"] != old_session
    assert portal.payments is not None
    fresh = await portal.payments.retrieve_session(session_id_of(url))
    assert (fresh.success_url or "").startswith("http://localhost:8412/")
    # ... and the old session is closed, so it cannot be paid as well
    assert (await portal.payments.retrieve_session(old_session)).status == "expired"


async def test_pay_now_opens_a_fresh_session_when_the_provider_forgot_it(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, tmp_path: Path
) -> None:
    # GIVEN a pending payment whose session the payment provider no longer knows
    # (the simulator's own database was reset)
    student = await factory.user()
    payment = await factory.reserved(student=student, payment_due_days=7)
    simulator_db = portal.settings.simulator_db
    await simulator_of(portal).close()
    simulator_db.unlink()
    simulator_of(portal)._ready = False

    # WHEN the student presses "Pay now"
    response = await client.post(
        f"{PAYMENTS}/{payment.id}/pay", headers=factory.headers_for(student)
    )

    # THEN a fresh, working session is opened
    assert response.status_code == 200, response.text
    url = response.json()["checkout_url"]
    assert session_id_of(url) != payment.checkout_session_id
    assert (await client.get(f"/simulator/checkout/{session_id_of(url)}")).status_code == 200


async def test_pay_now_keeps_a_session_that_still_works(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    student = await factory.user()
    payment = await factory.reserved(student=student, payment_due_days=7)
    response = await client.post(
        f"{PAYMENTS}/{payment.id}/pay", headers=factory.headers_for(student)
    )
    assert response.status_code == 200, response.text
    assert response.json()["payment"]["checkout_session_id"] == payment.checkout_session_id


# --- receipt numbers --------------------------------------------------------------------


async def test_a_payment_has_a_short_receipt_number_on_the_api_and_the_receipt(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN two students' checkouts, one of them paid
    first = await factory.user()
    result = await factory.checked_out(student=first, courses=[await factory.course()])
    other = await factory.checked_out(
        student=await factory.user(), courses=[await factory.course()]
    )
    assert result.payment is not None
    assert other.payment is not None
    assert result.checkout_url is not None
    await pay_on_page(client, session_id_of(result.checkout_url))
    await simulator_of(portal).deliver_pending()

    # THEN each payment shows a short receipt number of its own
    shown = await client.get(f"{PAYMENTS}/{result.payment.id}", headers=factory.headers_for(first))
    number = shown.json()["payment"]["receipt_number"]
    assert RECEIPT.match(number), number
    assert number != (await payment_row(portal, other.payment.id)).receipt_number
    # ... and the receipt e-mail quotes it
    [message] = await outbox(portal, kind=CONFIRMED)
    rendered = render(message.kind, message.payload, recipient_name="A", site="http://x")
    assert f"Receipt number: {number}" in rendered.text


# --- the cart changes only when it is changed -------------------------------------------


async def test_reading_the_cart_leaves_out_a_course_enrolled_meanwhile_without_a_write(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a cart with two courses, one of which the student then reserved
    # from its course page
    student = await factory.user()
    me = factory.headers_for(student)
    kept, enrolled = await factory.course(), await factory.course()
    await factory.in_cart(student=student, courses=[kept, enrolled])
    await reserve(client, me, enrolled.id)

    # WHEN the cart is read
    cart = await client.get("/api/checkout/cart", headers=me)

    # THEN the enrolled course is left out, and the read changed nothing
    assert [c["id"] for c in cart.json()["items"]] == [kept.id]
    assert await cart_rows(portal, student.id) == {kept.id, enrolled.id}

    # WHEN the cart is next changed THEN the stale course leaves it
    third = await factory.course()
    added = await client.post("/api/checkout/cart/items", json={"course_id": third.id}, headers=me)
    assert added.status_code == 201, added.text
    assert await cart_rows(portal, student.id) == {kept.id, third.id}


async def cart_rows(portal: Portal, student_id: str) -> set[str]:
    async with portal.read_sessions() as session:
        result = await session.execute(
            select(CartItem.course_id).where(CartItem.student_id == student_id)
        )
        return set(result.scalars())


async def test_dropping_a_reserved_seat_ends_what_was_owed_for_it(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    student = await factory.user()
    me = factory.headers_for(student)
    held = await reserve(client, me, (await factory.course()).id)
    assert held["payment_id"] is not None
    dropped = await client.post(f"/api/catalog/enrollments/{held['id']}/drop", headers=me)
    assert dropped.status_code == 200, dropped.text
    assert (await payment_row(portal, held["payment_id"])).status == "expired"
    assert (await enrollment_row(portal, held["id"])).status == "dropped"
