"""lib.middleware.ProxyHeadersMiddleware: the client is who the trusted proxies
say it is, never who the client says it is. RequestContextMiddleware: its
access-log line."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from itertools import count
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from functions.router import create_app
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.middleware import ProxyHeadersMiddleware, RequestContextMiddleware
from lib.runtime import Portal
from tests.conftest import test_settings as make_settings

# The socket's peer in these tests: the proxy nearest the portal (on Render, its
# own proxy on a private address).
NEAREST_PROXY = "10.21.157.68"
EDGE = "104.22.17.40"  # on Render, a Cloudflare edge in front of Render's proxy
CLIENT = "198.51.100.7"
SPOOFED = "6.6.6.6"


async def whoami(request: Request) -> JSONResponse:
    client = request.client.host if request.client else None
    return JSONResponse({"client": client, "scheme": request.url.scheme})


async def seen(hops: int, headers: list[tuple[str, str]]) -> dict[str, str]:
    app = ProxyHeadersMiddleware(Starlette(routes=[Route("/", whoami)]), trusted_hops=hops)
    transport = httpx.ASGITransport(app=app, client=(NEAREST_PROXY, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.internal") as c:
        response = await c.get("/", headers=httpx.Headers(headers))
    body: dict[str, str] = response.json()
    return body


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Forwarded-For", SPOOFED)],
        [("X-Forwarded-For", f"{SPOOFED}, {CLIENT}"), ("X-Forwarded-Proto", "https")],
    ],
)
async def test_without_trusted_proxies_the_headers_are_ignored(
    headers: list[tuple[str, str]],
) -> None:
    # GIVEN no trusted proxy (the default) WHEN a client writes forwarded headers
    # THEN the socket's peer is the client and the scheme is the connection's
    assert await seen(0, headers) == {"client": NEAREST_PROXY, "scheme": "http"}


@pytest.mark.parametrize(
    ("hops", "forwarded_for", "client"),
    [
        # one proxy (a load balancer): it appended the client's address
        (1, CLIENT, CLIENT),
        (1, f"{SPOOFED}, {CLIENT}", CLIENT),
        (1, f"{SPOOFED}, 203.0.113.9, {CLIENT}", CLIENT),
        # Render: Cloudflare appends the client, Render's proxy appends Cloudflare
        (2, f"{CLIENT}, {EDGE}", CLIENT),
        (2, f"{SPOOFED}, {CLIENT}, {EDGE}", CLIENT),
        (2, f"{EDGE}, {SPOOFED}, {CLIENT}, {EDGE}", CLIENT),
        # fewer entries than proxies: each was written by one of them
        (2, CLIENT, CLIENT),
        # proxies that write ports, IPv6 in brackets or not
        (1, f"{SPOOFED}, {CLIENT}:51234", CLIENT),
        (1, "[2001:db8::7]:443", "2001:db8::7"),
        (1, f"{SPOOFED}, 2001:DB8::7", "2001:db8::7"),
        # the entry the proxies point at is not an address: keep the peer
        (1, f"{CLIENT}, unknown", NEAREST_PROXY),
        (1, f"{CLIENT}, 999.1.1.1", NEAREST_PROXY),
    ],
)
async def test_trusted_hops_are_counted_from_the_right(
    hops: int, forwarded_for: str, client: str
) -> None:
    assert (await seen(hops, [("X-Forwarded-For", forwarded_for)]))["client"] == client


async def test_repeated_header_lines_are_one_list() -> None:
    # GIVEN a client's own X-Forwarded-For line and the proxy's line after it
    headers = [("X-Forwarded-For", f"{SPOOFED}, {SPOOFED}"), ("X-Forwarded-For", CLIENT)]
    # THEN the proxy's entry is the one read
    assert (await seen(1, headers))["client"] == CLIENT


@pytest.mark.parametrize(
    ("proto", "scheme"),
    [("https", "https"), ("HTTPS", "https"), ("http", "http"), ("gopher", "http"),
     ("http, https", "https"), ("", "http")],
)  # fmt: skip
async def test_the_scheme_comes_from_a_trusted_proxy(proto: str, scheme: str) -> None:
    headers = [("X-Forwarded-For", CLIENT), ("X-Forwarded-Proto", proto)]
    assert (await seen(1, headers))["scheme"] == scheme


# --- through the whole portal -----------------------------------------------------


@pytest.fixture
async def behind_render(portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    """The portal behind Render's two proxies, reached from Render's own proxy."""
    settings = replace(portal.settings, trusted_proxy_hops=2)
    app = create_app(portal=replace(portal, settings=settings))
    transport = httpx.ASGITransport(app=app, client=(NEAREST_PROXY, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def failed_sign_in(client: httpx.AsyncClient, n: int, forwarded_for: str) -> int:
    response = await client.post(
        "/api/auth/login",
        json={"login": f"nobody{n}", "password": "not-the-password"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


async def test_a_client_cannot_dodge_the_address_limit_by_writing_the_header(
    behind_render: httpx.AsyncClient,
) -> None:
    # GIVEN one client guessing sign-ins, writing a new left-most X-Forwarded-For
    # value each time (what `FORWARDED_ALLOW_IPS="*"` used to believe)
    numbers = count()
    statuses = [
        await failed_sign_in(behind_render, n, f"203.0.113.{n % 250}, {CLIENT}, {EDGE}")
        for n in (next(numbers) for _ in range(60))
    ]
    # THEN its real address is throttled all the same
    assert 429 in statuses, statuses
    assert statuses[statuses.index(429) :] == [429] * (len(statuses) - statuses.index(429))
    # AND another client behind the same proxies is not
    assert await failed_sign_in(behind_render, next(numbers), f"192.0.2.44, {EDGE}") == 401


# --- production -------------------------------------------------------------------


@pytest.fixture
async def production_app(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Starlette]:
    # Production refuses the payment simulator: a Stripe key it never calls here.
    settings = make_settings(
        database_url,
        tmp_path,
        env="production",
        site_url="https://portal.example",
        stripe_secret_key="sk_test_never_called",
    )
    portal = build_portal(settings, clock=clock)
    try:
        yield create_app(portal=portal)
    finally:
        await portal.dispose()


async def test_production_redirects_http_to_https(production_app: Starlette) -> None:
    # GIVEN the portal in production
    transport = httpx.ASGITransport(app=production_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.example") as client:
        # WHEN it is called over plain http
        response = await client.post(
            "/api/auth/login?next=%2Fcourses",
            json={},
            headers={"X-Request-ID": "redirect-request-1"},
        )
    # THEN it redirects to the same place over https, keeping the method (308)
    assert response.status_code == 308
    assert response.headers["location"] == "https://portal.example/api/auth/login?next=%2Fcourses"
    assert response.headers["x-request-id"] == "redirect-request-1"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_production_sends_hsts_over_https(production_app: Starlette) -> None:
    # GIVEN the portal in production
    transport = httpx.ASGITransport(app=production_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.example") as client:
        # WHEN it is called over https
        response = await client.get("/api/health")
    # THEN it answers and tells the browser to stay on https
    assert response.status_code == 200
    hsts = response.headers["strict-transport-security"]
    assert "includeSubDomains" in hsts
    max_age = int(hsts.split("max-age=")[1].split(";")[0])
    assert max_age >= 365 * 24 * 3600


async def test_production_answers_the_health_check_over_plain_http(
    production_app: Starlette,
) -> None:
    # GIVEN the portal in production, checked by a platform that names no scheme
    # (Render counts any 3xx as healthy, so a redirect would hide a dead database)
    transport = httpx.ASGITransport(app=production_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.example") as client:
        # WHEN the health check asks over plain http
        response = await client.get("/api/health")
        other = await client.get("/api/catalog/courses")
    # THEN it gets the database's real answer; anything else is still redirected
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert other.status_code == 308


async def test_development_neither_redirects_nor_sends_hsts(client: httpx.AsyncClient) -> None:
    # GIVEN the portal outside production, over http
    response = await client.get("/api/health")
    # THEN plain http is served and no HSTS pins the host
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers


# --- the access log -------------------------------------------------------------------


def _request_context_app() -> RequestContextMiddleware:
    return RequestContextMiddleware(
        Starlette(routes=[Route("/{rest:path}", whoami)]), production=False
    )


async def test_the_access_log_writes_one_json_line_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN the access log on, and a path that JSON must escape
    transport = httpx.ASGITransport(app=_request_context_app(), client=(CLIENT, 40000))
    with caplog.at_level(logging.INFO, logger="portal.access"):
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.internal") as c:
            # WHEN a request comes in with its own id
            response = await c.get('/a"b/é', headers={"X-Request-ID": "caller-id.42_abc"})
    # THEN one line describes it, as JSON a log collector reads
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "portal.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "http.request"
    assert line["request_id"] == response.headers["x-request-id"] == "caller-id.42_abc"
    assert (line["method"], line["path"], line["status"]) == ("GET", '/a"b/é', 200)
    assert line["client"] == CLIENT
    assert isinstance(line["duration_ms"], float)


async def test_with_the_access_log_off_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx.ASGITransport(app=_request_context_app(), client=(CLIENT, 40000))
    with caplog.at_level(logging.WARNING, logger="portal.access"):
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.internal") as c:
            response = await c.get("/")
    assert response.status_code == 200
    assert len(response.headers["x-request-id"]) == 32
    assert not [r for r in caplog.records if r.name == "portal.access"]
