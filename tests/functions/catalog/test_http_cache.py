"""HTTP caching of the catalog: the anonymous page cache, ETag and 304, the
headers per kind of caller, and what it costs in statements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from functions.router import create_app
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.config import Settings
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory

LIST = "/api/catalog/courses"
PUBLIC = "public, max-age=10"
PRIVATE = "private, no-cache"


def statements(response: httpx.Response) -> int:
    return int(response.headers["X-Portal-Statements"])


def seats_left(response: httpx.Response, course_id: str) -> int:
    body = response.json()
    course = body["course"] if "course" in body else body["items"][0]
    assert course["id"] == course_id
    return int(course["seats_left"])


async def test_an_anonymous_reader_gets_a_public_page_with_an_etag(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    await factory.course()
    response = await client.get(LIST)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == PUBLIC
    assert "Authorization" in response.headers["Vary"]
    assert response.headers["CDN-Cache-Control"] == "no-store"
    assert response.headers["ETag"].startswith('"')
    # The middleware's `no-store` does not contradict it.
    assert response.headers.get_list("Cache-Control") == [PUBLIC]


async def test_a_hit_costs_the_version_statement_only(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    course = await factory.course()
    miss = await client.get(LIST)
    hit = await client.get(LIST)
    detail_miss = await client.get(f"{LIST}/{course.id}")
    detail_hit = await client.get(f"{LIST}/{course.id}")
    # The version (one statement) and then the page; a hit is the version alone.
    assert statements(miss) > 1
    assert statements(hit) == 1
    assert statements(detail_miss) > 1
    assert statements(detail_hit) == 1
    assert hit.content == miss.content
    assert hit.headers["ETag"] == miss.headers["ETag"]
    assert detail_hit.content == detail_miss.content


async def test_a_matching_if_none_match_is_answered_304_without_a_body(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    await factory.course()
    first = await client.get(LIST)
    etag = first.headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get(LIST, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == PUBLIC
        assert "Authorization" in again.headers["Vary"]
    other = await client.get(LIST, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.content == first.content


async def test_a_seat_taken_shows_at_once_to_anonymous_readers(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN an anonymous page in the cache
    course = await factory.course(capacity=3, price=0)
    before = await client.get(LIST)
    assert seats_left(before, course.id) == 3
    # WHEN a student enrolls through the API
    student = await factory.user()
    enrolled = await client.post(f"{LIST}/{course.id}/enroll", headers=factory.headers_for(student))
    assert enrolled.status_code == 201, enrolled.text
    # THEN the next anonymous read is made afresh, with a new ETag
    after = await client.get(LIST, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert seats_left(after, course.id) == 2
    assert after.headers["ETag"] != before.headers["ETag"]
    detail = await client.get(f"{LIST}/{course.id}")
    assert seats_left(detail, course.id) == 2


async def test_a_change_made_elsewhere_shows_at_once_with_ttl_zero(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # A write by another process is, to this one, a change in the database it
    # did not commit itself: made here through the engine directly.
    course = await factory.course(capacity=3)
    assert seats_left(await client.get(LIST), course.id) == 3
    await factory.enrollment(student=await factory.user(), course=course)
    assert seats_left(await client.get(LIST), course.id) == 2


async def test_a_new_day_is_a_new_page(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # A course closes for enrollment after its last day: nothing in the
    # database changes, only the date.
    course = await factory.course(closes_in_days=0)
    assert (await client.get(f"{LIST}/{course.id}")).json()["course"]["status"] == "open"
    clock.advance(timedelta(days=1))
    assert (await client.get(f"{LIST}/{course.id}")).json()["course"]["status"] == "closed"


async def test_signed_in_answers_are_private_and_revalidated(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    course = await factory.course()
    headers = factory.headers_for(await factory.user())
    for path in (LIST, f"{LIST}/{course.id}"):
        first = await client.get(path, headers=headers)
        assert first.status_code == 200
        assert first.headers.get_list("Cache-Control") == [PRIVATE]
        assert "Authorization" in first.headers["Vary"]
        again = await client.get(path, headers={**headers, "If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Cache-Control"] == PRIVATE


async def test_a_signed_in_answer_is_never_served_to_anyone_else(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student enrolled in a course, who reads the catalog first
    course = await factory.course(price=0)
    student = await factory.user()
    mine = factory.headers_for(student)
    enrolled = await client.post(f"{LIST}/{course.id}/enroll", headers=mine)
    enrollment_id = enrolled.json()["enrollment"]["id"]
    for path in (LIST, f"{LIST}/{course.id}"):
        own = await client.get(path, headers=mine)
        assert enrollment_id in own.text
        # WHEN an anonymous reader and another student read the same address
        anonymous = await client.get(path)
        other = await client.get(path, headers=factory.headers_for(await factory.user()))
        # THEN neither sees the first student's enrollment
        for answer in (anonymous, other):
            assert answer.status_code == 200
            assert enrollment_id not in answer.text
            assert answer.headers["ETag"] != own.headers["ETag"]
        assert anonymous.headers["Cache-Control"] == PUBLIC
        assert other.headers["Cache-Control"] == PRIVATE


async def test_a_stale_token_is_still_a_private_answer(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    await factory.course()
    response = await client.get(LIST, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == PRIVATE


async def test_the_query_is_part_of_the_key_in_any_order(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    await factory.course(title="Algebra")
    await factory.course(title="Biology")
    by_title = await client.get(LIST, params=[("sort", "title"), ("limit", "1")])
    reordered = await client.get(LIST, params=[("limit", "1"), ("sort", "title")])
    backwards = await client.get(LIST, params=[("sort", "-title"), ("limit", "1")])
    assert by_title.json()["items"][0]["title"] == "Algebra"
    assert statements(reordered) == 1
    assert reordered.content == by_title.content
    assert backwards.json()["items"][0]["title"] == "Biology"


async def test_errors_and_writes_are_not_cached(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    missing = await client.get(f"{LIST}/no-such-course")
    assert missing.status_code == 404
    assert missing.headers["Cache-Control"] == "no-store"
    invalid = await client.get(LIST, params={"status": "nonsense"})
    assert invalid.status_code == 422
    assert invalid.headers["Cache-Control"] == "no-store"
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    instructor = await factory.user(role=Role.INSTRUCTOR)
    created = await client.post(
        LIST,
        headers=admin,
        json={
            "code": "NEW-1",
            "title": "New",
            "instructor_id": instructor.id,
            "schedule": {"starts_on": "2026-03-01", "ends_on": "2026-05-01", "sessions": []},
            "capacity": 5,
            "price": {"amount": 0, "currency": "usd"},
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    assert "ETag" not in created.headers


@pytest.fixture
async def slow_portal(settings: Settings, clock: FrozenClock) -> AsyncIterator[Portal]:
    built = build_portal(replace(settings, catalog_version_ttl_ms=60_000), clock=clock)
    try:
        yield built
    finally:
        await built.dispose()


async def test_with_a_ttl_a_hit_costs_nothing_and_own_writes_show_at_once(
    slow_portal: Portal, factory: Factory
) -> None:
    transport = httpx.ASGITransport(app=create_app(portal=slow_portal))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        course = await factory.course(capacity=4, price=0)
        student = Factory(slow_portal, client).headers_for(await factory.user())
        assert seats_left(await client.get(LIST), course.id) == 4
        hit = await client.get(LIST)
        assert statements(hit) == 0
        # A write committed by this process: the next read asks for the version.
        enrolled = await client.post(f"{LIST}/{course.id}/enroll", headers=student)
        assert enrolled.status_code == 201
        after = await client.get(LIST)
        assert seats_left(after, course.id) == 3
        assert statements(after) > 1
