"""The statements a checkout or messages read costs: a fixed number, whatever
the page size or the amount of data behind it (the X-Portal-Statements header)."""

from __future__ import annotations

import httpx

from functions.auth.models import User
from lib.http import STATEMENTS_HEADER
from tests.factories import Factory


async def _cost(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> int:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return int(response.headers[STATEMENTS_HEADER])


async def _notified(factory: Factory, student: User, count: int) -> None:
    for _ in range(count):
        await factory.queued(recipient=student, kind="auth.welcome", payload={})


async def test_notifications_cost_the_caller_a_page_and_a_count(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student with several notifications
    student = await factory.user()
    await _notified(factory, student, 5)
    headers = factory.headers_for(student)
    # WHEN they list one, then all of them
    one = await _cost(client, "/api/messages/notifications?limit=1", headers)
    many = await _cost(client, "/api/messages/notifications?limit=100", headers)
    # THEN both cost the caller's row, the page and the unread count
    assert one == many == 3


async def test_the_unread_count_costs_the_caller_and_a_count(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    student = await factory.user()
    await _notified(factory, student, 3)
    assert (
        await _cost(client, "/api/messages/notifications/unread", factory.headers_for(student)) == 2
    )


async def test_payments_cost_the_same_for_one_or_a_hundred(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student owing three payments (three seats reserved to pay later)
    student = await factory.user()
    for _ in range(3):
        course = await factory.course(payment_due_days=7)
        await factory.reserved_seat(student=student, course=course)
    headers = factory.headers_for(student)
    # WHEN they list one payment, then all of them
    one = await _cost(client, "/api/checkout/payments?limit=1", headers)
    many = await _cost(client, "/api/checkout/payments?limit=100", headers)
    # THEN both cost the caller, the page and its items
    assert one == many == 3
    # AND one payment costs the caller, the payment and its items
    payment_id = (await client.get("/api/checkout/payments", headers=headers)).json()["items"][0][
        "id"
    ]
    assert await _cost(client, f"/api/checkout/payments/{payment_id}", headers) == 3


async def test_the_cart_costs_the_same_for_one_course_or_several(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN two students, one with one course in the cart and one with four
    light, heavy = await factory.user(), await factory.user()
    courses = [await factory.course() for _ in range(4)]
    await factory.in_cart(student=light, courses=courses[:1])
    await factory.in_cart(student=heavy, courses=courses)
    # WHEN each reads the cart
    one = await _cost(client, "/api/checkout/cart", factory.headers_for(light))
    four = await _cost(client, "/api/checkout/cart", factory.headers_for(heavy))
    # THEN both cost the same
    assert one == four


async def test_changing_the_cart_reads_it_once(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN a student with three courses in the cart
    student = await factory.user()
    courses = [await factory.course() for _ in range(3)]
    await factory.in_cart(student=student, courses=courses)
    headers = factory.headers_for(student)
    read = await _cost(client, "/api/checkout/cart", headers)
    # WHEN they add a course, then remove one
    added = await client.post(
        "/api/checkout/cart/items", json={"course_id": (await factory.course()).id}, headers=headers
    )
    removed = await client.delete(f"/api/checkout/cart/items/{courses[0].id}", headers=headers)
    # THEN each costs its own change on top of one reading of the cart (a
    # removal: the DELETE; an addition: the enrollable check and the INSERT),
    # never a second reading
    assert added.status_code == 201
    assert removed.status_code == 200
    assert int(removed.headers[STATEMENTS_HEADER]) == read + 1
    assert int(added.headers[STATEMENTS_HEADER]) <= read + 4


async def test_marking_a_notification_read_costs_the_caller_the_update_and_the_count(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    student = await factory.user()
    await _notified(factory, student, 2)
    headers = factory.headers_for(student)
    listed = await client.get("/api/messages/notifications", headers=headers)
    first = listed.json()["items"][0]["id"]
    marked = await client.post(f"/api/messages/notifications/{first}/read", headers=headers)
    assert marked.json() == {"unread": 1}
    assert marked.headers[STATEMENTS_HEADER] == "3"
