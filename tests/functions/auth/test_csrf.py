"""Cross-site requests to the endpoints that act on the session cookies:
sign-in, refresh and sign-out check the browser's Origin."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.factories import DEFAULT_PASSWORD, Factory
from tests.functions.auth.support import REFRESH_COOKIE, attempt, error, set_cookie

SITE = "http://testserver"  # SITE_URL of the test settings
FOREIGN = [
    pytest.param({"Origin": "https://evil.example"}, id="another-site"),
    pytest.param({"Origin": "http://testserver.evil.example"}, id="a-lookalike"),
    pytest.param({"Origin": "https://testserver"}, id="another-scheme"),
    pytest.param({"Origin": "http://testserver:8080"}, id="another-port"),
    pytest.param({"Origin": "null"}, id="null"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="fetch-metadata-only"),
]
OWN = [
    pytest.param({}, id="no-origin"),
    pytest.param({"Origin": SITE}, id="the-site"),
    pytest.param({"Origin": "HTTP://TestServer:80"}, id="the-site-spelled-otherwise"),
    pytest.param({"Origin": SITE, "Sec-Fetch-Site": "same-origin"}, id="same-origin"),
]


async def refresh_token(client: httpx.AsyncClient, factory: Factory) -> str:
    await factory.user(username="ada")
    cookie = set_cookie(await attempt(client, "ada", DEFAULT_PASSWORD), REFRESH_COOKIE)
    assert cookie is not None
    return cookie[""]


async def refresh(client: httpx.AsyncClient, token: str, headers: dict[str, str]) -> httpx.Response:
    client.cookies.clear()
    return await client.post(
        "/api/auth/refresh", headers={**headers, "Cookie": f"{REFRESH_COOKIE}={token}"}
    )


@pytest.mark.parametrize("headers", FOREIGN)
async def test_a_refresh_from_another_site_is_refused_and_rotates_nothing(
    client: httpx.AsyncClient, factory: Factory, headers: dict[str, str]
) -> None:
    # GIVEN ada's refresh cookie
    token = await refresh_token(client, factory)
    # WHEN a page of another site makes her browser refresh
    response = await refresh(client, token, headers)
    # THEN it is refused, and the cookie still works from the site itself
    assert response.status_code == 403
    assert error(response)["code"] == "origin_not_allowed"
    assert set_cookie(response, REFRESH_COOKIE) is None
    assert (await refresh(client, token, {"Origin": SITE})).status_code == 200


@pytest.mark.parametrize("headers", FOREIGN)
async def test_a_sign_out_from_another_site_is_refused(
    client: httpx.AsyncClient, factory: Factory, headers: dict[str, str]
) -> None:
    # GIVEN ada's refresh cookie
    token = await refresh_token(client, factory)
    # WHEN a page of another site makes her browser sign out
    client.cookies.clear()
    response = await client.post(
        "/api/auth/logout", headers={**headers, "Cookie": f"{REFRESH_COOKIE}={token}"}
    )
    # THEN it is refused and her session goes on
    assert response.status_code == 403
    assert error(response)["code"] == "origin_not_allowed"
    assert (await refresh(client, token, {})).status_code == 200


@pytest.mark.parametrize("headers", FOREIGN)
async def test_a_sign_in_from_another_site_is_refused(
    client: httpx.AsyncClient, factory: Factory, headers: dict[str, str]
) -> None:
    # GIVEN ada
    await factory.user(username="ada")
    # WHEN another site's page sends her right password as JSON
    response = await client.post(
        "/api/auth/login",
        json={"login": "ada", "password": DEFAULT_PASSWORD},
        headers=headers,
    )
    # THEN no session is made
    assert response.status_code == 403
    assert error(response)["code"] == "origin_not_allowed"
    assert set_cookie(response, REFRESH_COOKIE) is None


@pytest.mark.parametrize("headers", OWN)
async def test_the_sites_own_pages_and_other_clients_refresh_and_sign_out(
    client: httpx.AsyncClient, factory: Factory, headers: dict[str, str]
) -> None:
    # GIVEN ada's refresh cookie
    token = await refresh_token(client, factory)
    # WHEN the web app (or a client that sends no Origin) refreshes, then signs out
    refreshed = await refresh(client, token, headers)
    assert refreshed.status_code == 200, refreshed.text
    rotated = set_cookie(refreshed, REFRESH_COOKIE)
    assert rotated is not None
    client.cookies.clear()
    signed_out = await client.post(
        "/api/auth/logout", headers={**headers, "Cookie": f"{REFRESH_COOKIE}={rotated['']}"}
    )
    # THEN both work
    assert signed_out.status_code == 204
    assert (await refresh(client, rotated[""], headers)).status_code == 401


async def test_a_page_of_the_address_the_portal_was_reached_at_may_refresh(
    app: Starlette, factory: Factory
) -> None:
    # GIVEN the portal reached as http://127.0.0.1:8000 while SITE_URL says
    # http://testserver (a developer's browser, say)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as local:
        token = await refresh_token(local, factory)
        # WHEN a page of that address refreshes
        response = await refresh(local, token, {"Origin": "http://127.0.0.1:8000"})
    # THEN it works: no other site can send that origin
    assert response.status_code == 200, response.text
