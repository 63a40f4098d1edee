"""The cart: one per student, kept on the server, with prices and a total."""

from __future__ import annotations

import httpx
import pytest

from lib.clock import FrozenClock
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory
from tests.functions.checkout.support import error_code, seats_taken

CART = "/api/checkout/cart"
ITEMS = "/api/checkout/cart/items"


async def test_add_list_and_remove_with_a_running_total(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a student and two priced courses
    student = await factory.user()
    me = factory.headers_for(student)
    first = await factory.course(code="CART-1", price=12900)
    second = await factory.course(code="CART-2", price=4950)

    # WHEN both are added
    added_first = await client.post(ITEMS, json={"course_id": first.id}, headers=me)
    clock.advance(seconds=1)
    added_second = await client.post(ITEMS, json={"course_id": second.id}, headers=me)

    # THEN each answer is the cart so far, in the order added, with its total
    assert added_first.status_code == 201, added_first.text
    assert added_first.json()["total"] == {"amount": 12900, "currency": "usd"}
    assert added_second.status_code == 201, added_second.text
    cart = (await client.get(CART, headers=me)).json()
    assert [c["code"] for c in cart["items"]] == ["CART-1", "CART-2"]
    assert [c["price"] for c in cart["items"]] == [
        {"amount": 12900, "currency": "usd"},
        {"amount": 4950, "currency": "usd"},
    ]
    assert cart["total"] == {"amount": 17850, "currency": "usd"}

    # WHEN one is removed, THEN the total follows; removing it again is a 404
    removed = await client.delete(f"{ITEMS}/{first.id}", headers=me)
    assert removed.status_code == 200, removed.text
    assert [c["code"] for c in removed.json()["items"]] == ["CART-2"]
    assert removed.json()["total"] == {"amount": 4950, "currency": "usd"}
    again = await client.delete(f"{ITEMS}/{first.id}", headers=me)
    assert again.status_code == 404
    assert error_code(again) == "not_in_cart"


async def test_an_empty_cart_has_no_total(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN a student who added nothing
    me = factory.headers_for(await factory.user())

    # WHEN the cart is read
    cart = await client.get(CART, headers=me)

    # THEN it is empty, with a zero total in no currency
    assert cart.status_code == 200
    assert cart.json() == {
        "items": [],
        "total": {"amount": 0, "currency": None},
        "clashes": [],
    }


async def test_carts_belong_to_their_student(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN one student's cart with a course
    owner = await factory.user()
    other = await factory.user()
    course = await factory.course()
    added = await client.post(
        ITEMS, json={"course_id": course.id}, headers=factory.headers_for(owner)
    )
    assert added.status_code == 201

    # WHEN another student reads theirs, THEN it is empty
    cart = await client.get(CART, headers=factory.headers_for(other))
    assert cart.json()["items"] == []


@pytest.mark.parametrize("role", [Role.ADMIN, Role.INSTRUCTOR])
async def test_only_students_have_a_cart(
    client: httpx.AsyncClient, factory: Factory, role: Role
) -> None:
    # GIVEN someone who is not a student
    headers = factory.headers_for(await factory.user(role=role))
    course = await factory.course()

    # WHEN they use the cart, THEN they are refused
    assert (await client.get(CART, headers=headers)).status_code == 403
    assert (
        await client.post(ITEMS, json={"course_id": course.id}, headers=headers)
    ).status_code == 403
    assert (await client.post("/api/checkout", headers=headers)).status_code == 403


async def test_signed_out_callers_have_no_cart(client: httpx.AsyncClient) -> None:
    assert (await client.get(CART)).status_code == 401
    assert (await client.post("/api/checkout")).status_code == 401


async def test_a_course_not_taking_enrollments_is_refused(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a course whose enrollment opens next week
    me = factory.headers_for(await factory.user())
    course = await factory.course(opens_in_days=7)

    # WHEN a student adds it
    response = await client.post(ITEMS, json={"course_id": course.id}, headers=me)

    # THEN it is refused as closed and the cart stays empty
    assert response.status_code == 409
    assert error_code(response) == "course_closed"
    assert (await client.get(CART, headers=me)).json()["items"] == []


async def test_a_course_the_student_already_holds_is_refused(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student holding a seat in a course
    student = await factory.user()
    course = await factory.course()
    await factory.enrollment(student=student, course=course)

    # WHEN they add it to the cart
    response = await client.post(
        ITEMS, json={"course_id": course.id}, headers=factory.headers_for(student)
    )

    # THEN it is refused as already enrolled
    assert response.status_code == 409
    assert error_code(response) == "already_enrolled"


async def test_a_duplicate_is_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN a course in the cart
    me = factory.headers_for(await factory.user())
    course = await factory.course()
    assert (await client.post(ITEMS, json={"course_id": course.id}, headers=me)).status_code == 201

    # WHEN it is added again
    response = await client.post(ITEMS, json={"course_id": course.id}, headers=me)

    # THEN it is refused and the cart has it once
    assert response.status_code == 409
    assert error_code(response) == "already_in_cart"
    assert len((await client.get(CART, headers=me)).json()["items"]) == 1


async def test_a_full_course_is_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN a one-seat course whose seat someone holds
    course = await factory.course(capacity=1)
    await factory.enrollment(student=await factory.user(), course=course)

    # WHEN another student adds it
    response = await client.post(
        ITEMS, json={"course_id": course.id}, headers=factory.headers_for(await factory.user())
    )

    # THEN it is refused as full
    assert response.status_code == 409
    assert error_code(response) == "course_full"


async def test_an_unknown_course_is_not_found(client: httpx.AsyncClient, factory: Factory) -> None:
    me = factory.headers_for(await factory.user())
    response = await client.post(ITEMS, json={"course_id": "no-such-course"}, headers=me)
    assert response.status_code == 404


async def test_a_bad_body_is_invalid(client: httpx.AsyncClient, factory: Factory) -> None:
    me = factory.headers_for(await factory.user())
    response = await client.post(ITEMS, json={"course": "x"}, headers=me)
    assert response.status_code == 422
    assert error_code(response) == "invalid"


async def test_checkout_with_an_empty_cart_is_refused(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    me = factory.headers_for(await factory.user())
    response = await client.post("/api/checkout", headers=me)
    assert response.status_code == 409
    assert error_code(response) == "cart_empty"


async def test_a_course_that_fills_up_in_the_cart_blocks_the_whole_checkout(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a cart with an open course and a one-seat course
    student = await factory.user()
    me = factory.headers_for(student)
    roomy = await factory.course(code="ROOMY-1", capacity=5)
    tight = await factory.course(code="TIGHT-1", capacity=1)
    await factory.in_cart(student=student, courses=[roomy, tight])
    # ... and someone else takes the last seat meanwhile
    await factory.enrollment(student=await factory.user(), course=tight)

    # WHEN the student checks out
    response = await client.post("/api/checkout", headers=me)

    # THEN nothing is held: 409 naming the full course, the cart is kept
    assert response.status_code == 409, response.text
    body = response.json()["error"]
    assert body["code"] == "course_full"
    assert "TIGHT-1" in body["message"]
    assert body["fields"]["course_ids"] == tight.id
    assert await seats_taken(portal, roomy.id) == 0
    assert len((await client.get(CART, headers=me)).json()["items"]) == 2
    payments = await client.get("/api/checkout/payments", headers=me)
    assert payments.json()["items"] == []


async def test_mixed_currencies_are_paid_separately(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a cart with a course in dollars and one in euros
    student = await factory.user()
    me = factory.headers_for(student)
    dollars = await factory.course(price=10000, currency="usd")
    euros = await factory.course(price=9000, currency="eur")
    await factory.in_cart(student=student, courses=[dollars, euros])

    # THEN the cart shows no single total currency
    cart = (await client.get(CART, headers=me)).json()
    assert cart["total"]["currency"] is None

    # WHEN the student checks out
    response = await client.post("/api/checkout", headers=me)

    # THEN it is refused with 409 and no seat is held
    assert response.status_code == 409
    assert error_code(response) == "mixed_currencies"
    assert await seats_taken(portal, dollars.id) == 0
    assert await seats_taken(portal, euros.id) == 0
