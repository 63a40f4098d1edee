"""lib.http against hostile and unusual requests, through the real router."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from functions.asgi import build_app
from functions.router import create_app
from functions.runtime import build_portal
from lib.http import ANYONE, Call, endpoint
from lib.runtime import Portal
from tests.conftest import test_settings as make_settings
from tests.factories import Factory

ONE_MB = 1024 * 1024
REGISTER = "/api/auth/register"
SITE_ORIGIN = "http://testserver"  # SITE_URL of the test settings
SECRET_DETAIL = "do-not-show-this-to-the-client"
JSON = {"content-type": "application/json"}


def valid_registration(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "username": "hostile.tester",
        "email": "hostile.tester@example.com",
        "password": "a-long-enough-secret",
        "full_name": "Hostile Tester",
    }
    body.update(overrides)
    return body


def error_of(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, object] = body["error"]
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    return error


# --- request bodies -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"username": ', id="truncated"),
        pytest.param(b"{'username': 'x'}", id="single-quotes"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(b"[" * 100_000, id="nested-too-deep"),
        pytest.param(b'{"username": "a\\ud800b"}', id="lone-surrogate"),
    ],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    # GIVEN a body that is not JSON
    # WHEN it is posted
    response = await client.post(
        REGISTER, content=raw, headers={"content-type": "application/json"}
    )
    # THEN the answer is 400 malformed_json, not a crash
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


@pytest.mark.parametrize("raw", [b"", b"   \n"], ids=["empty", "whitespace"])
async def test_an_empty_body_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    # GIVEN an endpoint that needs a body
    # WHEN nothing is sent
    response = await client.post(REGISTER, content=raw, headers=JSON)
    # THEN it says a JSON body is needed
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


@pytest.mark.parametrize("raw", [b"[1, 2]", b"null", b'"text"', b"42", b"true"])
async def test_json_that_is_not_an_object_is_invalid(client: httpx.AsyncClient, raw: bytes) -> None:
    # GIVEN valid JSON that is not an object
    # WHEN it is posted
    response = await client.post(REGISTER, content=raw, headers=JSON)
    # THEN the body as a whole is named as invalid
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["fields"] == {"body": "must be a JSON object"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", 123, "must be a string"),
        ("username", None, "must be a string"),
        ("password", ["a-long-enough-secret"], "must be a string"),
        ("full_name", {"first": "Hostile"}, "must be a string"),
        ("email", True, "must be a string"),
    ],
)
async def test_wrong_types_are_named_per_field(
    client: httpx.AsyncClient, field: str, value: object, message: str
) -> None:
    # GIVEN a registration whose one field has the wrong JSON type
    # WHEN it is posted
    response = await client.post(REGISTER, json=valid_registration(**{field: value}))
    # THEN that field, and only it, is reported; nothing is coerced
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["fields"] == {field: message}


async def test_missing_fields_are_named(client: httpx.AsyncClient) -> None:
    # GIVEN a registration without a password and an e-mail
    body = valid_registration()
    del body["password"], body["email"]
    # WHEN it is posted
    response = await client.post(REGISTER, json=body)
    # THEN both are named
    assert response.status_code == 422
    assert error_of(response)["fields"] == {"password": "is required", "email": "is required"}


async def test_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    # GIVEN a registration that tries to choose its own role
    # WHEN it is posted
    response = await client.post(REGISTER, json=valid_registration(role="admin"))
    # THEN the unknown field is refused and no account is made
    assert response.status_code == 422
    assert error_of(response)["fields"] == {"role": "is not an accepted field"}
    login = await client.post(
        "/api/auth/login", json={"login": "hostile.tester", "password": "a-long-enough-secret"}
    )
    assert login.status_code == 401


# --- content types ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param(None, id="none"),
        pytest.param("text/plain", id="text-plain"),
        pytest.param("text/plain; charset=utf-8", id="text-plain-utf8"),
        pytest.param("application/x-www-form-urlencoded", id="form"),
        pytest.param("multipart/form-data; boundary=x", id="multipart"),
        pytest.param("text/json", id="text-json"),
        pytest.param("application/jsonp", id="jsonp"),
        pytest.param("application/json-patch+json", id="json-patch"),
        pytest.param("application/json; charset=latin-1", id="latin-1"),
        pytest.param("application/json; boundary=x", id="other-parameter"),
    ],
)
async def test_a_body_that_is_not_declared_json_is_415_and_changes_nothing(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    # GIVEN a well-formed JSON registration sent as another type, as a form on
    # another site can send without a CORS preflight
    headers = {"content-type": content_type} if content_type else {}
    body = json.dumps(valid_registration()).encode()
    # WHEN it is posted
    response = await client.post(REGISTER, content=body, headers=headers)
    # THEN it is refused as an unsupported media type, and no account exists
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    login = await client.post(
        "/api/auth/login", json={"login": "hostile.tester", "password": "a-long-enough-secret"}
    )
    assert login.status_code == 401


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        'Application/JSON;Charset="UTF-8"',
        "application/json ; charset=utf8",
    ],
)
async def test_json_with_or_without_a_utf8_charset_is_read(
    client: httpx.AsyncClient, content_type: str
) -> None:
    # GIVEN a registration declared as JSON, in any accepted spelling
    body = json.dumps(valid_registration()).encode()
    # WHEN it is posted
    response = await client.post(REGISTER, content=body, headers={"content-type": content_type})
    # THEN it is read
    assert response.status_code == 201, response.text


async def test_a_cross_site_form_cannot_sign_a_browser_in(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN an attacker's account whose password ends in "=", and the form an
    # attacker's page would submit: with enctype="text/plain" the body is the
    # field's name, "=" and its value, here exactly that sign-in as JSON
    await factory.user(username="attacker", password="attacker-chosen-pass=")
    name, value = '{"login": "attacker", "password": "attacker-chosen-pass', '"}'
    # WHEN the victim's browser submits it
    response = await client.post(
        "/api/auth/login",
        content=f"{name}={value}".encode(),
        headers={"content-type": "text/plain", "origin": "https://evil.example"},
    )
    # THEN it is refused before any sign-in: no token, no cookie
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert "set-cookie" not in response.headers


# --- body size --------------------------------------------------------------------


async def test_a_declared_body_over_1_mb_is_413(client: httpx.AsyncClient) -> None:
    # GIVEN a body one byte over 1 MB, with its Content-Length
    body = b" " * (ONE_MB + 1)
    # WHEN it is posted
    response = await client.post(REGISTER, content=body)
    # THEN it is refused as too large
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


async def test_a_body_of_exactly_1_mb_is_read(client: httpx.AsyncClient) -> None:
    # GIVEN a body of exactly 1 MB (whitespace, so not a JSON body)
    # WHEN it is posted
    response = await client.post(REGISTER, content=b" " * ONE_MB, headers=JSON)
    # THEN the size is allowed and the content is judged instead
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


async def test_a_streamed_body_over_1_mb_is_413(client: httpx.AsyncClient) -> None:
    # GIVEN a chunked body with no Content-Length that grows past 1 MB
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            sent.append(64 * 1024)
            yield b" " * (64 * 1024)

    # WHEN it is streamed
    response = await client.post(REGISTER, content=chunks(), headers=JSON)
    # THEN it is refused as too large once the limit is crossed
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert "content-length" not in response.request.headers
    assert sum(sent) > ONE_MB


# --- failures inside the server ---------------------------------------------------


@endpoint(ANYONE, summary="fails like a bug")
async def _explode(call: Call[None]) -> Response:
    raise RuntimeError(SECRET_DETAIL)


@endpoint(ANYONE, summary="fails like a broken query")
async def _broken_query(call: Call[None]) -> Response:
    await call.session.execute(text("SELECT secret_column FROM no_such_table"))
    return Response()


async def _plain_route_explodes(request: Request) -> Response:
    raise RuntimeError(SECRET_DETAIL)


@pytest.fixture
def failing_app(portal: Portal) -> Starlette:
    return build_app(
        {
            "probe": [
                Route("/explode", _explode, methods=["GET"]),
                Route("/broken-query", _broken_query, methods=["GET"]),
                Route("/plain", _plain_route_explodes, methods=["GET"]),
            ]
        },
        portal=portal,
        serve_static=False,
    )


@pytest.mark.parametrize(
    "path", ["/api/probe/explode", "/api/probe/broken-query", "/api/probe/plain"]
)
async def test_an_unexpected_failure_is_a_plain_500(
    failing_app: Starlette, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN an app whose handler fails with a bug or a database error
    # (raise_app_exceptions=False: what a real server's client would see)
    transport = httpx.ASGITransport(app=failing_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        # WHEN it is called
        with caplog.at_level(logging.ERROR):
            response = await client.get(path, headers={"X-Request-ID": "failure-request-1"})
    # THEN the client gets the one error shape and nothing of the failure
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "fields" not in error
    for leak in (SECRET_DETAIL, "Traceback", "no_such_table", "secret_column", ".py"):
        assert leak not in response.text
    # AND the answer still carries the request id and the security headers
    assert response.headers["x-request-id"] == "failure-request-1"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_failing_handler_is_logged_with_its_traceback(
    failing_app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN an endpoint that fails with a bug
    transport = httpx.ASGITransport(app=failing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        # WHEN it is called
        with caplog.at_level(logging.ERROR, logger="portal"):
            response = await client.get("/api/probe/explode")
    # THEN the server's log, not the client, has the details
    assert response.status_code == 500
    failed = [r for r in caplog.records if r.getMessage() == "request.failed"]
    assert len(failed) == 1
    assert failed[0].exc_info is not None
    assert str(failed[0].exc_info[1]) == SECRET_DETAIL


# --- routing errors ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nothing", "/api/auth/nothing", "/api/", "/no-such.html"])
async def test_unknown_paths_are_404_in_the_error_shape(
    client: httpx.AsyncClient, path: str
) -> None:
    # WHEN a path that does not exist is asked for
    response = await client.get(path)
    # THEN the answer is a JSON 404
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/auth/login", "POST"),
        ("POST", "/api/health", "GET"),
        ("PUT", "/api/auth/me", "GET"),
    ],
)
async def test_a_wrong_method_is_405_in_the_error_shape(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    # WHEN a route is called with a method it does not take
    response = await client.request(method, path)
    # THEN the answer is a JSON 405 that names what is allowed
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert allowed in response.headers["allow"]


# --- headers on every response ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/health", 200),
        ("POST", REGISTER, 415),
        ("GET", "/api/auth/me", 401),
        ("GET", "/api/nothing", 404),
        ("GET", "/", 200),
    ],
)
async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    # WHEN anything is asked for, successful or not, API or web app
    response = await client.request(method, path)
    # THEN the security headers are there
    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"
    csp = [part.strip() for part in response.headers["content-security-policy"].split(";")]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert len(response.headers["x-request-id"]) >= 8
    # AND API answers are never stored by a cache, while the web app may be
    if path.startswith("/api/"):
        assert response.headers["cache-control"] == "no-store"
    else:
        assert "no-store" not in response.headers.get("cache-control", "")


async def test_a_valid_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    # GIVEN a caller that names its request
    # WHEN it calls
    response = await client.get("/api/health", headers={"X-Request-ID": "caller-id.42_abc"})
    # THEN the same id comes back
    assert response.headers["x-request-id"] == "caller-id.42_abc"


@pytest.mark.parametrize(
    "incoming",
    ["short", "has spaces in it", "x" * 65, "inject\\r\\nSet-Cookie:a=b", "<script>alert</script>"],
)
async def test_an_unusable_request_id_is_replaced(client: httpx.AsyncClient, incoming: str) -> None:
    # GIVEN a request id that is too short, too long or has odd characters
    # WHEN it is sent
    response = await client.get("/api/health", headers={"X-Request-ID": incoming})
    # THEN the server makes its own instead of echoing it
    returned = response.headers["x-request-id"]
    assert returned != incoming
    assert len(returned) == 32
    int(returned, 16)


async def test_request_ids_differ_between_requests(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/health")
    second = await client.get("/api/health")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


# --- CORS -------------------------------------------------------------------------


async def test_a_preflight_from_the_site_is_allowed_with_credentials(
    client: httpx.AsyncClient,
) -> None:
    # GIVEN the web app at SITE_URL about to send a JSON request with a token
    # WHEN the browser sends its preflight
    response = await client.options(
        "/api/auth/login",
        headers={
            "Origin": SITE_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    # THEN the origin is allowed, with credentials, and the headers it needs
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_a_preflight_from_another_origin_is_refused(client: httpx.AsyncClient) -> None:
    # GIVEN a page on another site
    # WHEN its browser sends a preflight
    response = await client.options(
        "/api/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    # THEN the origin is not allowed
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_simple_request_from_another_origin_gets_no_cors_grant(
    client: httpx.AsyncClient,
) -> None:
    # WHEN another site's page reads the API
    other = await client.get("/api/health", headers={"Origin": "https://evil.example"})
    own = await client.get("/api/health", headers={"Origin": SITE_ORIGIN})
    # THEN the browser is not allowed to show it the answer; the site is
    assert "access-control-allow-origin" not in other.headers
    assert own.headers["access-control-allow-origin"] == SITE_ORIGIN


@pytest.mark.parametrize(
    "unreachable",
    # A file that is not a database, rather than a path that cannot be opened:
    # aiosqlite finishes a failed open on its thread after the test's loop is gone.
    ["sqlite:///{tmp}/not-a-database.db", "postgresql://portal@127.0.0.1:1/portal"],
    ids=["sqlite", "postgresql"],
)
async def test_health_says_503_when_the_database_does_not_answer(
    tmp_path: Path, unreachable: str
) -> None:
    # GIVEN a portal whose database cannot be used
    (tmp_path / "not-a-database.db").write_bytes(b"this is not an SQLite file\n" * 64)
    portal = build_portal(make_settings(unreachable.format(tmp=tmp_path), tmp_path))
    transport = httpx.ASGITransport(app=create_app(portal=portal))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            # WHEN the health check is asked
            response = await client.get("/api/health")
    finally:
        await portal.dispose()
    # THEN it answers 503 in the error shape, without the connection details
    assert response.status_code == 503
    assert error_of(response)["code"] == "database_unavailable"
    assert "127.0.0.1" not in response.text
    assert "not-a-database" not in response.text
