"""The lockout rule: strangers who spend an account's limit lock out strangers,
not the owner's own browsers (OWASP's device cookies)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import jwt
from starlette.applications import Starlette

from functions.router import create_app
from lib.clock import FrozenClock
from lib.runtime import Portal
from lib.security import DEVICE_AUDIENCE, JWT_ALGORITHM, JWT_ISSUER, DeviceCookies
from tests.conftest import TEST_SECRET
from tests.factories import DEFAULT_PASSWORD, Factory
from tests.functions.auth.support import (
    DEVICE_COOKIE,
    WRONG_PASSWORD,
    attempt,
    client_at,
    error,
    set_cookie,
)

OWNER_ADDRESS = "203.0.113.7"
STRANGER_ADDRESS = "198.51.100.66"


async def device_of(client: httpx.AsyncClient, login: str, password: str) -> str:
    """Signs in and keeps what the browser would: the device cookie."""
    response = await attempt(client, login, password)
    assert response.status_code == 200, response.text
    cookie = set_cookie(response, DEVICE_COOKIE)
    assert cookie is not None
    return cookie[""]


async def lock_out(app: Starlette, login: str) -> None:
    """A stranger spends the account's limit from elsewhere."""
    async with client_at(app, STRANGER_ADDRESS) as stranger:
        for _ in range(5):
            assert (await attempt(stranger, login, WRONG_PASSWORD)).status_code == 401
        assert (await attempt(stranger, login, DEFAULT_PASSWORD)).status_code == 429


async def test_a_sign_in_gives_the_browser_a_long_lived_strict_device_cookie(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada
    await factory.user(username="ada")
    # WHEN she signs in
    response = await attempt(client, "ada", DEFAULT_PASSWORD)
    # THEN her browser gets a device cookie that scripts cannot read, sent only
    # to sign-in, never by another site's request, and kept for a year
    cookie = set_cookie(response, DEVICE_COOKIE)
    assert cookie is not None
    assert "httponly" in cookie
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/api/auth/login"
    assert int(cookie["max-age"]) == 365 * 24 * 3600
    assert "secure" not in cookie  # development; production below


async def test_the_device_cookie_is_secure_in_production(portal: Portal, factory: Factory) -> None:
    # GIVEN the portal in production, behind HTTPS
    await factory.user(username="ada")
    # (production refuses the payment simulator: a Stripe key it never calls here)
    settings = replace(portal.settings, env="production", stripe_secret_key="sk_test_unused")
    app = create_app(portal=replace(portal, settings=settings))
    transport = httpx.ASGITransport(app=app, client=(OWNER_ADDRESS, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        # WHEN ada signs in
        response = await attempt(client, "ada", DEFAULT_PASSWORD)
    # THEN the device cookie is sent over HTTPS only
    cookie = set_cookie(response, DEVICE_COOKIE)
    assert cookie is not None
    assert "secure" in cookie


async def test_a_locked_account_still_lets_its_owners_browser_in(
    client: httpx.AsyncClient, factory: Factory, app: Starlette
) -> None:
    # GIVEN ada signed in once from her browser, and a stranger who then
    # spent her account's limit
    await factory.user(username="ada")
    device = await device_of(client, "ada", DEFAULT_PASSWORD)
    await lock_out(app, "ada")

    # WHEN she signs in from her browser
    response = await attempt(client, "ada", DEFAULT_PASSWORD, device=device)

    # THEN she is in, and her browser gets a fresh device cookie
    assert response.status_code == 200, response.text
    assert set_cookie(response, DEVICE_COOKIE) is not None
    # AND the stranger is still locked out
    async with client_at(app, STRANGER_ADDRESS) as stranger:
        assert (await attempt(stranger, "ada", DEFAULT_PASSWORD)).status_code == 429


async def test_an_address_alone_never_earns_trust(
    client: httpx.AsyncClient, factory: Factory, app: Starlette
) -> None:
    # GIVEN ada signed in from her address, then her account was locked
    await factory.user(username="ada")
    await device_of(client, "ada", DEFAULT_PASSWORD)
    await lock_out(app, "ada")

    # WHEN a browser without her device cookie signs in from that very address
    response = await attempt(client, "ada", DEFAULT_PASSWORD)

    # THEN it is locked out like any stranger
    assert response.status_code == 429


async def test_a_device_cookie_works_for_its_own_account_only(
    client: httpx.AsyncClient, factory: Factory, app: Starlette
) -> None:
    # GIVEN a browser that signed in as grace, and ada's account locked
    await factory.user(username="ada")
    await factory.user(username="grace")
    graces_device = await device_of(client, "grace", DEFAULT_PASSWORD)
    await lock_out(app, "ada")

    # WHEN that browser signs in as ada with grace's device cookie
    response = await attempt(client, "ada", DEFAULT_PASSWORD, device=graces_device)

    # THEN it is a stranger to ada's account
    assert response.status_code == 429


def forged(user_id: str, **claims: object) -> str:
    payload: dict[str, object] = {
        "iss": JWT_ISSUER,
        "aud": DEVICE_AUDIENCE,
        "sub": user_id,
        "jti": "f" * 32,
        "iat": 1767603600,
        "exp": 1799139600,
    }
    payload.update(claims)
    key = str(payload.pop("key", TEST_SECRET))
    return jwt.encode(payload, key, algorithm=JWT_ALGORITHM)


async def test_a_forged_expired_or_borrowed_device_cookie_earns_nothing(
    client: httpx.AsyncClient, factory: Factory, app: Starlette, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN ada's account locked by a stranger
    ada = await factory.user(username="ada")
    await lock_out(app, "ada")
    access_token = factory.headers_for(ada)["Authorization"].removeprefix("Bearer ")
    expired = DeviceCookies(TEST_SECRET, ttl=timedelta(days=1)).issue(
        user_id=ada.id, now=clock.now() - timedelta(days=2)
    )
    cookies = {
        "signed with another key": forged(ada.id, key="another-secret-key-0123456789abcdef"),
        "for the API audience": forged(ada.id, aud="student-portal-api"),
        "issued in the future": forged(ada.id, iat=int(clock.now().timestamp()) + 3600),
        "expired": expired,
        "an access token": access_token,
        "garbage": "not-a-token",
    }
    for name, cookie in cookies.items():
        # WHEN a browser brings such a cookie
        response = await attempt(client, "ada", DEFAULT_PASSWORD, device=cookie)
        # THEN it is a stranger
        assert response.status_code == 429, name


async def test_a_device_has_its_own_failure_limit(
    client: httpx.AsyncClient, factory: Factory, app: Starlette
) -> None:
    # GIVEN a device cookie of ada's (stolen, say), and her account locked
    await factory.user(username="ada")
    device = await device_of(client, "ada", DEFAULT_PASSWORD)
    await lock_out(app, "ada")

    # WHEN five wrong passwords come with that cookie
    for _ in range(5):
        assert (await attempt(client, "ada", WRONG_PASSWORD, device=device)).status_code == 401

    # THEN the device is locked too: no unlimited guessing through it
    refused = await attempt(client, "ada", DEFAULT_PASSWORD, device=device)
    assert refused.status_code == 429
    assert error(refused)["code"] == "too_many_attempts"


async def test_a_success_from_a_device_does_not_unlock_the_account_for_strangers(
    client: httpx.AsyncClient, factory: Factory, app: Starlette
) -> None:
    # GIVEN ada's account locked by a stranger, and ada in through her device
    await factory.user(username="ada")
    device = await device_of(client, "ada", DEFAULT_PASSWORD)
    await lock_out(app, "ada")
    assert (await attempt(client, "ada", DEFAULT_PASSWORD, device=device)).status_code == 200

    # WHEN the stranger tries again
    async with client_at(app, STRANGER_ADDRESS) as stranger:
        response = await attempt(stranger, "ada", WRONG_PASSWORD)

    # THEN the stranger's lockout stands
    assert response.status_code == 429
