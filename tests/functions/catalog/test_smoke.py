from __future__ import annotations

import httpx

from lib.security import Role
from tests.factories import Factory


async def test_course_lifecycle(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.signed_in(role=Role.ADMIN)
    teacher = await factory.user(role=Role.INSTRUCTOR, full_name="Ada Lovelace")
    body = {
        "code": "cs-101",
        "title": "Intro to Computing",
        "description": "Programs and machines.",
        "instructor_id": teacher.id,
        "schedule": {
            "starts_on": "2026-02-02",
            "ends_on": "2026-05-29",
            "sessions": [
                {
                    "weekday": "monday",
                    "start_time": "09:00",
                    "end_time": "10:30",
                    "location": "Room 1",
                }
            ],
        },
        "capacity": 2,
        "price": {"amount": 12900, "currency": "usd"},
        "payment_due_days": 7,
    }
    created = await client.post("/api/catalog/courses", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    course = created.json()["course"]
    assert course["code"] == "CS-101"
    assert course["status"] == "open"
    assert course["seats_left"] == 2
    assert course["instructor"]["full_name"] == "Ada Lovelace"

    students = [await factory.signed_in() for _ in range(4)]
    for s in students[:2]:
        r = await client.post(f"/api/catalog/courses/{course['id']}/enroll", headers=s.headers)
        assert r.status_code == 201, r.text
        assert r.json()["enrollment"]["status"] == "pending_payment"
    full = await client.post(
        f"/api/catalog/courses/{course['id']}/enroll", headers=students[2].headers
    )
    assert full.status_code == 409
    assert full.json()["error"]["code"] == "course_full"
    wait = await client.post(
        f"/api/catalog/courses/{course['id']}/waitlist", headers=students[2].headers
    )
    assert wait.status_code == 201, wait.text
    assert wait.json()["enrollment"]["position"] == 1

    listing = await client.get("/api/catalog/courses?q=computing&status=full")
    assert [c["code"] for c in listing.json()["items"]] == ["CS-101"]

    mine = await client.get("/api/catalog/enrollments", headers=students[0].headers)
    dropped = await client.post(
        f"/api/catalog/enrollments/{mine.json()['items'][0]['id']}/drop",
        headers=students[0].headers,
    )
    assert dropped.status_code == 200, dropped.text
    promoted = await client.get("/api/catalog/enrollments", headers=students[2].headers)
    assert promoted.json()["items"][0]["status"] == "pending_payment"

    shrink = await client.patch(
        f"/api/catalog/courses/{course['id']}", json={"capacity": 1}, headers=admin.headers
    )
    assert shrink.status_code == 409
    assert shrink.json()["error"]["code"] == "capacity_below_taken"
    roster = await client.get(
        f"/api/catalog/courses/{course['id']}/roster.csv", headers=admin.headers
    )
    assert roster.status_code == 200
    assert roster.text.count("\n") == 3
