"""Every paged endpoint, through the HTTP client on both databases: a crafted
cursor is a 422 `invalid_cursor` (never a 500), a limit in anything but ASCII
digits is a 422, and the cursor a page hands out leads to the next page.

The endpoints come from the router (those that take a `cursor`), so a paged
endpoint added tomorrow must be added here."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from functions.auth.models import User
from lib.http import spec_of
from lib.openapi import walk
from lib.pagination import CursorKey
from lib.security import Role
from tests.factories import Factory


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def any_cursor(*values: object) -> str:
    return CursorKey().encode(values)


NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOSTILE = {
    "naive timestamp": any_cursor("2026-01-05T09:00:00", "x"),
    "wrong arity": any_cursor("a", "b", "c"),
    "one value": any_cursor(NOW),
    "wrong types": any_cursor(5, 7),
    "object": raw('{"created_at": 1}'),
    "garbage base64": "%%%not-base64%%%",
    "base64 of garbage": raw("certainly not json"),
    "NUL": any_cursor("a\x00", "b\x00"),
    "huge": any_cursor("x" * 4000, "y"),
    "huge number": any_cursor(10**30, "x"),
    "nested": raw("[" * 200 + "]" * 200),
}
# A time where text or a number is expected is refused; where text is
# expected, a timestamp is just text. These apply to lists keyed by a time.
FOR_TIME_KEYS = {"naive timestamp", "one value"}
TIME_KEYED = {
    "/api/catalog/enrollments",
    "/api/checkout/payments",
    "/api/messages/deliveries",
    "/api/messages/notifications",
}
# The paged endpoints and who reads them.
READERS = {
    "/api/auth/users": Role.ADMIN,
    "/api/catalog/courses": Role.STUDENT,
    "/api/catalog/courses/{id}/roster": Role.ADMIN,
    "/api/catalog/enrollments": Role.STUDENT,
    "/api/checkout/payments": Role.STUDENT,
    "/api/messages/deliveries": Role.ADMIN,
    "/api/messages/notifications": Role.STUDENT,
}
# Other lists behind one path: each sort of the catalog, and a course's
# enrollments for its staff.
VARIANTS: dict[str, list[tuple[dict[str, str], Role | None]]] = {
    "/api/catalog/courses": [
        ({"sort": s}, None) for s in ("code", "-title", "starts_on", "-price")
    ],
    "/api/catalog/enrollments": [({}, None), ({"course_id": "{id}"}, Role.ADMIN)],
    "/api/messages/deliveries": [({"status": "pending"}, None)],
}


def paged_paths(app: Starlette) -> set[str]:
    return {
        path
        for path, route in walk(app.routes)
        if (spec := spec_of(route.endpoint)) is not None and "cursor" in spec.query
    }


@pytest.fixture
async def site(factory: Factory) -> dict[str, object]:
    """Two of everything each list shows, for a student and an administrator."""
    student = await factory.user()
    admin = await factory.user(role=Role.ADMIN)
    courses = [await factory.course(price=1000 * n) for n in (1, 2)]
    await factory.checked_out(student=student, courses=courses[:1])
    await factory.checked_out(student=student, courses=courses[1:])
    await factory.enrollment(student=await factory.user(), course=courses[0])
    for _ in range(2):
        await factory.queued(recipient=student)
    return {"student": student, "admin": admin, "course_id": courses[0].id}


def _requests(
    site: dict[str, object], *, time_keyed: bool = False
) -> list[tuple[str, dict[str, str], Role]]:
    course_id = str(site["course_id"])
    found = []
    for path, role in READERS.items():
        if time_keyed and path not in TIME_KEYED:
            continue
        url = path.replace("{id}", course_id)
        for params, reader in VARIANTS.get(path, [({}, None)]):
            if time_keyed and "course_id" in params:
                continue  # a roster is keyed by username
            query = {k: v.replace("{id}", course_id) for k, v in params.items()}
            found.append((url, query, reader or role))
    return found


def _headers(factory: Factory, site: dict[str, object], role: Role) -> dict[str, str]:
    user = site["admin" if role == Role.ADMIN else "student"]
    assert isinstance(user, User)
    return factory.headers_for(user)


def test_the_list_of_paged_endpoints_is_complete(app: Starlette) -> None:
    assert paged_paths(app) == set(READERS)


@pytest.mark.parametrize("name", HOSTILE)
async def test_a_crafted_cursor_is_invalid_cursor_on_every_paged_endpoint(
    client: httpx.AsyncClient, factory: Factory, site: dict[str, object], name: str
) -> None:
    # WHEN every paged list is read with a cursor no page handed out
    for url, params, role in _requests(site, time_keyed=name in FOR_TIME_KEYS):
        response = await client.get(
            url, params={**params, "cursor": HOSTILE[name]}, headers=_headers(factory, site, role)
        )

        # THEN it is refused as an invalid cursor, never a server error
        assert response.status_code == 422, (url, params, response.text)
        error = response.json()["error"]
        assert (error["code"], error["fields"]) == (
            "invalid_cursor",
            {"cursor": "is not a valid cursor"},
        ), (url, params)


@pytest.mark.parametrize("limit", ["٣", "\uff13", "1e1", " 2"])
async def test_a_limit_in_other_digits_is_refused_on_every_paged_endpoint(
    client: httpx.AsyncClient, factory: Factory, site: dict[str, object], limit: str
) -> None:
    for url, params, role in _requests(site):
        response = await client.get(
            url, params={**params, "limit": limit}, headers=_headers(factory, site, role)
        )
        assert response.status_code == 422, (url, params, response.text)
        assert response.json()["error"]["fields"] == {"limit": "must be a whole number"}


async def test_each_page_leads_to_the_next(
    client: httpx.AsyncClient, factory: Factory, site: dict[str, object]
) -> None:
    # WHEN each list is read one item at a time
    for url, params, role in _requests(site):
        headers = _headers(factory, site, role)
        seen: list[str] = []
        cursor = None
        while True:
            query = {**params, "limit": "1", **({"cursor": cursor} if cursor else {})}
            response = await client.get(url, params=query, headers=headers)
            assert response.status_code == 200, (url, params, response.text)
            body = response.json()
            seen += [str(item.get("id") or item["enrollment"]["id"]) for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break

        # THEN every page follows the last, each item once, at least two of them
        assert len(seen) >= 2, (url, params)
        assert len(seen) == len(set(seen)), (url, params)
