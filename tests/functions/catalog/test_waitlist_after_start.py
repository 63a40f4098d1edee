"""A seat freed after a course has started still goes to the one who waited,
while the course takes enrollments (through the API, as students and
administrators do it)."""

from __future__ import annotations

import httpx

from lib.clock import FrozenClock
from lib.security import Role
from tests.factories import Factory

COURSES = "/api/catalog/courses"


async def test_a_seat_freed_after_the_start_is_offered_to_the_waitlist(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a full course starting in two days and taking enrollments for a
    # week after that, with one student holding the seat and one waiting
    course = await factory.course(capacity=1, starts_in_days=2, closes_in_days=9)
    holder, waiting = await factory.user(), await factory.user()
    held = await client.post(f"{COURSES}/{course.id}/enroll", headers=factory.headers_for(holder))
    assert held.status_code == 201, held.text
    queued = await client.post(
        f"{COURSES}/{course.id}/waitlist", headers=factory.headers_for(waiting)
    )
    assert queued.status_code == 201, queued.text

    # WHEN, the day after the start, an administrator drops the holder
    clock.advance(days=3)
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    dropped = await client.post(
        f"/api/catalog/enrollments/{held.json()['enrollment']['id']}/drop", headers=admin
    )
    assert dropped.status_code == 200, dropped.text

    # THEN the seat is offered to the one who waited, with time to pay, rather
    # than left free for the next newcomer
    mine = await client.get("/api/catalog/enrollments", headers=factory.headers_for(waiting))
    [offered] = mine.json()["items"]
    assert offered["status"] == "pending_payment"
    assert offered["due_at"] > clock.now().isoformat().replace("+00:00", "Z")
    seats = await client.get(f"{COURSES}/{course.id}")
    assert seats.json()["course"]["seats_left"] == 0
