"""A checkout whose course is full is refused before it queues to write
(functions/checkout/sold_out.py), and only then: every other reason to refuse
is still the write's to give, in its own order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.checkout.support import error_code, seats_taken

CHECKOUT = "/api/checkout"
WRITES = ("BEGIN IMMEDIATE", "SAVEPOINT", "INSERT", "UPDATE", "DELETE")


@contextmanager
def statements_sent(portal: Portal) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.lstrip().upper())

    event.listen(portal.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(portal.engine.sync_engine, "before_cursor_execute", record)


async def test_a_sold_out_checkout_is_refused_without_a_write(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a cart with an open course and a course whose last seat went meanwhile
    student = await factory.user()
    roomy = await factory.course(code="ROOMY-2", capacity=5)
    tight = await factory.course(code="TIGHT-2", capacity=1)
    await factory.in_cart(student=student, courses=[roomy, tight])
    await factory.enrollment(student=await factory.user(), course=tight)

    # WHEN the student checks out
    with statements_sent(portal) as sent:
        response = await client.post(CHECKOUT, headers=factory.headers_for(student))

    # THEN the refusal names the full course, as the write would have
    assert response.status_code == 409, response.text
    body = response.json()["error"]
    assert body["code"] == "course_full"
    assert body["fields"]["course_ids"] == tight.id
    # ... and it took no write transaction: no lock, no savepoint, no change
    assert [s for s in sent if s.startswith(WRITES)] == []
    assert await seats_taken(portal, roomy.id) == 0


async def test_an_unconfirmed_address_is_still_said_first(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student without a confirmed address and a full paid course in the cart
    student = await factory.user(verified=False)
    full = await factory.course(capacity=1, price=5000)
    await factory.in_cart(student=student, courses=[full])
    await factory.enrollment(student=await factory.user(), course=full)
    # WHEN they check out
    response = await client.post(CHECKOUT, headers=factory.headers_for(student))
    # THEN they learn what they can do something about: confirm the address
    assert error_code(response) == "email_not_verified", response.text


async def test_a_full_course_taken_by_the_student_meanwhile_leaves_the_cart(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a one-seat course in the cart, whose seat the student took another way
    student = await factory.user()
    course = await factory.course(capacity=1)
    await factory.in_cart(student=student, courses=[course])
    await factory.enrollment(student=student, course=course)
    # WHEN they check out
    response = await client.post(CHECKOUT, headers=factory.headers_for(student))
    # THEN it is not "full" (the seat is theirs): the write prunes it, and the cart is empty
    assert error_code(response) == "cart_empty", response.text
