"""Every /api operation, called by nobody and by every role: the access an
endpoint declares is the access it enforces.

The operations come from the router's own routes, so a route added tomorrow is
in the matrix tomorrow, and a route that declares nothing fails it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from lib.http import EndpointSpec, spec_of
from lib.openapi import walk
from lib.security import Role
from tests.factories import Factory

ANONYMOUS = "anonymous"
CALLERS = [ANONYMOUS, *(role.value for role in Role)]

# Operations that answer 401 or 403 to a caller their spec admits, for a reason
# of their own rather than the caller's role. Keyed by path; each entry says
# why. An entry that is not needed any more fails
# test_every_allow_listed_route_needs_its_exception.
BUSINESS_AUTH_ANSWERS: dict[str, str] = {
    # The matrix sends no refresh cookie, and "sign in again" (401) is the
    # documented answer to a refresh without one. (Login would answer 401 on a
    # wrong password too, but an empty body stops it earlier with 422.)
    "/api/auth/refresh": "401 without a refresh cookie",
}

_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
_SAMPLE_BY_CONVERTOR = {
    "int": "1",
    "float": "1.5",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
PLACEHOLDER_ID = "placeholder-id"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: EndpointSpec

    @property
    def url(self) -> str:
        return _PARAM.sub(
            lambda m: _SAMPLE_BY_CONVERTOR.get(m.group(2) or "", PLACEHOLDER_ID), self.path
        )

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _everything_under_api(
    routes: Iterable[BaseRoute], prefix: str = ""
) -> Iterator[tuple[str, BaseRoute]]:
    """Every route and route-less mount whose path is under /api, including the
    ones lib.openapi.walk would pass over (a mounted ASGI app, a websocket)."""
    for route in routes:
        path = prefix + getattr(route, "path", "")
        if isinstance(route, Mount) and route.routes:
            yield from _everything_under_api(route.routes, path)
        elif path.startswith("/api/") or path == "/api":
            yield path, route


def api_operations(app: Starlette) -> list[Operation]:
    operations = []
    for path, route in walk(app.routes):
        spec = spec_of(route.endpoint)
        if not path.startswith("/api/") or spec is None:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            operations.append(Operation(method, path, spec))
    return operations


async def call(
    client: httpx.AsyncClient, operation: Operation, headers: dict[str, str]
) -> httpx.Response:
    client.cookies.clear()
    if operation.method == "GET":
        return await client.get(operation.url, headers=headers)
    return await client.request(operation.method, operation.url, headers=headers, json={})


def judge(operation: Operation, caller: str, response: httpx.Response) -> str | None:
    """What is wrong with this answer for this caller, or None."""
    where = f"{operation} as {caller}: {response.status_code} {response.text[:200]}"
    if response.status_code >= 500:
        return f"{where} (placeholder input must never be a server error)"
    access = operation.spec.access
    code = response.json().get("error", {}).get("code") if _is_json(response) else None
    if caller == ANONYMOUS and not access.public:
        if response.status_code != 401 or code != "not_authenticated":
            return f"{where} (expected 401 not_authenticated)"
        if response.headers.get("www-authenticate") != "Bearer":
            return f"{where} (a 401 must say WWW-Authenticate: Bearer)"
        return None
    if caller != ANONYMOUS and Role(caller) not in access.roles:
        if response.status_code != 403 or code != "forbidden":
            return f"{where} (expected 403 forbidden)"
        return None
    if response.status_code in {401, 403} and operation.path not in BUSINESS_AUTH_ANSWERS:
        return f"{where} (the spec admits this caller)"
    return None


def _is_json(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("application/json")


def test_every_api_route_declares_its_access(app: Starlette) -> None:
    # GIVEN the whole router
    # WHEN every route under /api is looked at
    undeclared = [
        f"{path} ({type(route).__name__})"
        for path, route in _everything_under_api(app.routes)
        if not isinstance(route, Route) or spec_of(route.endpoint) is None
    ]
    # THEN each one is an endpoint with a spec: access is denied by default
    assert undeclared == [], "routes under /api without an endpoint spec"


def test_the_matrix_sees_the_routers_operations(app: Starlette) -> None:
    # GIVEN the operations the matrix will call
    operations = {str(op): op for op in api_operations(app)}
    # THEN they include the public, signed-in and admin-only kinds, so the
    # matrix below cannot pass by finding nothing
    assert operations["GET /api/health"].spec.access.public
    assert operations["POST /api/auth/register"].spec.access.public
    assert not operations["GET /api/auth/me"].spec.access.public
    assert operations["GET /api/auth/me"].spec.access.roles == set(Role)
    assert operations["GET /api/auth/users"].spec.access.roles == {Role.ADMIN}
    assert operations["PATCH /api/auth/users/{id}"].url == "/api/auth/users/placeholder-id"
    # AND every route of a mounted capability is in it
    for path, route in walk(app.routes):
        if path.startswith("/api/") and isinstance(route, Route):
            for method in (route.methods or set()) - {"HEAD"}:
                assert f"{method} {path}" in operations


@pytest.mark.parametrize("caller", CALLERS)
async def test_every_operation_admits_exactly_its_declared_callers(
    app: Starlette, client: httpx.AsyncClient, factory: Factory, caller: str
) -> None:
    # GIVEN every /api operation and a caller: nobody, or a signed-in user of one role
    operations = api_operations(app)
    headers: dict[str, str] = {}
    if caller != ANONYMOUS:
        headers = (await factory.signed_in(role=Role(caller))).headers

    failures = []
    for operation in operations:
        # WHEN the caller calls it with placeholder ids and an empty JSON body
        response = await call(client, operation, headers)
        # THEN the answer is the one its declared access promises
        if problem := judge(operation, caller, response):
            failures.append(problem)

    assert failures == [], "\n".join(failures)


async def test_every_allow_listed_route_needs_its_exception(
    app: Starlette, client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN the operations of each allow-listed path
    operations = api_operations(app)
    for path, reason in BUSINESS_AUTH_ANSWERS.items():
        listed = [op for op in operations if op.path == path]
        assert listed, f"{path} is allow-listed ({reason}) but is not a route"
        for operation in listed:
            access = operation.spec.access
            headers: dict[str, str] = {}
            if not access.public:
                headers = (await factory.signed_in(role=min(access.roles))).headers
            # WHEN a caller the spec admits calls it as the matrix does
            response = await call(client, operation, headers)
            # THEN it really answers 401 or 403, so the exception is still needed
            assert response.status_code in {401, 403}, f"{operation}: {response.text}"


async def test_every_operation_that_reads_a_body_takes_json_only(
    app: Starlette, client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN every operation that reads a JSON body, each called by a caller its
    # spec admits (a cross-site form could send text/plain without a preflight)
    operations = [op for op in api_operations(app) if op.spec.body is not None]
    assert len(operations) >= 10
    callers: dict[Role, dict[str, str]] = {}
    failures = []
    for operation in operations:
        access = operation.spec.access
        headers: dict[str, str] = {}
        if not access.public:
            role = min(access.roles)
            if role not in callers:
                callers[role] = (await factory.signed_in(role=role)).headers
            headers = callers[role]
        # WHEN it gets a JSON-looking body declared as text
        client.cookies.clear()
        response = await client.request(
            operation.method,
            operation.url,
            headers={**headers, "Content-Type": "text/plain"},
            content=b"{}",
        )
        # THEN it refuses the type with 415 before anything else happens
        code = response.json().get("error", {}).get("code") if _is_json(response) else None
        if response.status_code != 415 or code != "unsupported_media_type":
            failures.append(f"{operation}: {response.status_code} {response.text[:200]}")
    assert failures == [], "\n".join(failures)
