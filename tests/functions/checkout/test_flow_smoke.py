from __future__ import annotations

import httpx

from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory


async def _course(
    client: httpx.AsyncClient, admin_headers: dict[str, str], teacher_id: str, code: str, price: int
) -> str:
    response = await client.post(
        "/api/catalog/courses",
        json={
            "code": code, "title": f"Course {code}", "instructor_id": teacher_id,
            "schedule": {"starts_on": "2026-03-02", "ends_on": "2026-05-29", "sessions": []},
            "capacity": 5, "price": {"amount": price, "currency": "usd"},
        },
        headers=admin_headers,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["course"]["id"])


async def test_pay_with_the_simulator(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    admin = await factory.signed_in(role=Role.ADMIN)
    teacher = await factory.user(role=Role.INSTRUCTOR)
    first = await _course(client, admin.headers, teacher.id, "PAY-1", 12900)
    second = await _course(client, admin.headers, teacher.id, "PAY-2", 4900)
    student = await factory.signed_in()
    for course_id in (first, second):
        added = await client.post(
            "/api/checkout/cart/items", json={"course_id": course_id}, headers=student.headers
        )
        assert added.status_code == 201, added.text
    assert added.json()["total"] == {"amount": 17800, "currency": "usd"}

    started = await client.post("/api/checkout", headers=student.headers)
    assert started.status_code == 201, started.text
    payment = started.json()["payment"]
    assert payment["status"] == "pending"
    url = started.json()["checkout_url"]
    session_id = url.rsplit("/", 1)[-1]

    declined = await client.post(
        f"/simulator/checkout/{session_id}/pay",
        data={"method": "card", "card_number": "4000 0000 0000 0002"},
    )
    assert declined.status_code == 402
    paid = await client.post(
        f"/simulator/checkout/{session_id}/pay",
        data={"method": "card", "card_number": "4242 4242 4242 4242"},
    )
    assert paid.status_code == 303
    assert portal.simulator is not None
    assert await portal.simulator.deliver_pending() == 1
    # Delivering again sends nothing new; a replay of the event is a duplicate.
    assert await portal.simulator.deliver_pending() == 0

    after = await client.get(f"/api/checkout/payments/{payment['id']}", headers=student.headers)
    assert after.json()["payment"]["status"] == "paid"
    mine = await client.get("/api/catalog/enrollments", headers=student.headers)
    assert {e["status"] for e in mine.json()["items"]} == {"active"}

    refunded = await client.post(
        f"/api/checkout/payments/{payment['id']}/refund", headers=admin.headers
    )
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["payment"]["status"] == "refunded"
    assert await portal.simulator.deliver_pending() == 1
    mine = await client.get("/api/catalog/enrollments", headers=student.headers)
    assert {e["status"] for e in mine.json()["items"]} == {"refunded"}


async def test_a_seat_reserved_on_the_course_page_can_be_paid(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a seat reserved outside any checkout
    admin = await factory.signed_in(role=Role.ADMIN)
    teacher = await factory.user(role=Role.INSTRUCTOR)
    course_id = await _course(client, admin.headers, teacher.id, "HOLD-1", 9900)
    student = await factory.signed_in()
    held = await client.post(f"/api/catalog/courses/{course_id}/enroll", headers=student.headers)
    enrollment_id = held.json()["enrollment"]["id"]

    # WHEN the student pays for it, twice asked
    first = await client.post(f"/api/checkout/holds/{enrollment_id}/pay", headers=student.headers)
    again = await client.post(f"/api/checkout/holds/{enrollment_id}/pay", headers=student.headers)

    # THEN one payment covers it and its session is reused
    assert first.status_code == 201, first.text
    assert again.json()["payment"]["id"] == first.json()["payment"]["id"]
    assert first.json()["payment"]["amount"] == 9900
    session_id = first.json()["checkout_url"].rsplit("/", 1)[-1]
    paid = await client.post(
        f"/simulator/checkout/{session_id}/pay",
        data={"method": "card", "card_number": "4242424242424242"},
    )
    assert paid.status_code == 303
    assert portal.simulator is not None
    await portal.simulator.deliver_pending()
    mine = await client.get("/api/catalog/enrollments", headers=student.headers)
    assert [e["status"] for e in mine.json()["items"]] == ["active"]

    # AND someone else cannot pay for it
    other = await factory.signed_in()
    stranger = await client.post(f"/api/checkout/holds/{enrollment_id}/pay", headers=other.headers)
    assert stranger.status_code == 404
