"""Forgotten passwords: a single-use, short-lived link e-mailed through the
outbox; asking never tells whether an address has an account."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from functions.auth.models import AccountToken
from lib.clock import FrozenClock
from lib.runtime import Portal
from lib.security import token_digest
from tests.factories import DEFAULT_PASSWORD, Factory
from tests.functions.auth.support import (
    REFRESH_COOKIE,
    WRONG_PASSWORD,
    attempt,
    client_at,
    emailed_link,
    error,
    latest_token,
    messages,
    set_cookie,
    token_of,
)

REQUEST = "/api/auth/password-reset"
CONFIRM = "/api/auth/password-reset/confirm"
NEW_PASSWORD = "a-brand-new-passphrase"
RESET = "auth.password_reset"


async def ask(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(REQUEST, json={"email": email})


async def confirm(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(CONFIRM, json={"token": token, "new_password": password})


async def test_the_answer_is_the_same_whether_or_not_an_account_uses_the_address(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN ada, and a deactivated account
    ada = await factory.user(username="ada", email="ada@example.com")
    gone = await factory.user(username="gone", email="gone@example.com", active=False)

    # WHEN a reset is asked for her address, an unknown one and the deactivated one
    answers = [
        await ask(client, address)
        for address in ["Ada@Example.com", "nobody@example.com", "gone@example.com"]
    ]

    # THEN the three answers are identical
    assert {r.status_code for r in answers} == {202}
    assert len({r.text for r in answers}) == 1
    assert "If an account uses this address" in answers[0].json()["message"]
    # AND only ada gets a message, with a link to the web app's reset page
    [message] = await messages(portal, ada.id, RESET)
    assert emailed_link(portal, message).startswith("http://testserver/#/reset-password?token=")
    assert await messages(portal, gone.id, RESET) == []


async def test_asking_takes_about_as_long_for_an_unknown_address(
    factory: Factory, app: Starlette, clock: FrozenClock
) -> None:
    # GIVEN ada, and many client addresses (so no limit is reached)
    await factory.user(username="ada", email="ada@example.com")

    async def timed(address: str, n: int) -> float:
        async with client_at(app, f"10.0.{n // 200}.{n % 200}") as caller:
            started = time.perf_counter()
            assert (await ask(caller, address)).status_code == 202
            return time.perf_counter() - started

    # WHEN resets are asked, alternating her address and unknown ones (an
    # hour apart: three an hour may be asked for one address)
    known, unknown = [], []
    for n in range(6):
        known.append(await timed("ada@example.com", 2 * n))
        unknown.append(await timed(f"nobody{n}@example.com", 2 * n + 1))
        clock.advance(hours=1)

    # THEN the typical times are of one size: no database-sized difference
    # (the reset e-mail is only queued; its delivery happens later)
    assert statistics.median(unknown) > statistics.median(known) / 3


async def test_the_link_sets_a_new_password_once_and_ends_every_session(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN ada signed in on a device, and a reset link e-mailed to her
    ada = await factory.user(username="ada", email="ada@example.com")
    signed_in = await attempt(client, "ada", DEFAULT_PASSWORD)
    session_cookie = set_cookie(signed_in, REFRESH_COOKIE)
    assert session_cookie is not None
    await ask(client, "ada@example.com")
    token = await latest_token(portal, ada.id, RESET)

    # WHEN she opens it and chooses a new password
    response = await confirm(client, token)

    # THEN the new password works, the old one does not, her sessions ended
    assert response.status_code == 204, response.text
    assert (await attempt(client, "ada", NEW_PASSWORD)).status_code == 200
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 401
    client.cookies.clear()
    refresh = await client.post(
        "/api/auth/refresh", headers={"Cookie": f"{REFRESH_COOKIE}={session_cookie['']}"}
    )
    assert refresh.status_code == 401
    # AND the link does not work twice
    again = await confirm(client, token, "yet-another-passphrase")
    assert again.status_code == 400
    assert error(again)["code"] == "invalid_link"


async def test_only_a_digest_of_the_link_is_stored(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a reset link e-mailed to ada
    ada = await factory.user(username="ada", email="ada@example.com")
    await ask(client, "ada@example.com")
    token = await latest_token(portal, ada.id, RESET)
    # THEN the account tokens hold its SHA-256, not the token
    async with portal.read_sessions() as session:
        [stored] = (await session.execute(select(AccountToken))).scalars().all()
    assert stored.token_digest == token_digest(token)
    assert token not in {stored.token_digest, stored.id}


async def test_the_link_works_for_30_minutes(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN two reset links for ada, asked 30 minutes apart
    ada = await factory.user(username="ada", email="ada@example.com")
    await ask(client, "ada@example.com")
    old = await latest_token(portal, ada.id, RESET)
    clock.advance(minutes=29, seconds=59)
    await ask(client, "ada@example.com")
    fresh = await latest_token(portal, ada.id, RESET)
    clock.advance(seconds=1)

    # WHEN the older, now 30 minutes old, is used
    # THEN it has expired, while the fresh one works
    assert error(await confirm(client, old))["code"] == "invalid_link"
    assert (await confirm(client, fresh)).status_code == 204


async def test_using_one_link_spends_the_others(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN two reset links for ada
    ada = await factory.user(username="ada", email="ada@example.com")
    await ask(client, "ada@example.com")
    first = await latest_token(portal, ada.id, RESET)
    await ask(client, "ada@example.com")
    second = await latest_token(portal, ada.id, RESET)
    # WHEN the second is used
    assert (await confirm(client, second)).status_code == 204
    # THEN the first no longer works
    assert (await confirm(client, first, "yet-another-passphrase")).status_code == 400


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "must be at least 10 characters"), ("ada", "must be at least 10 characters")],
)
async def test_a_weak_new_password_is_refused_and_the_link_still_works(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, password: str, problem: str
) -> None:
    # GIVEN a reset link for ada
    ada = await factory.user(username="ada", email="ada@example.com")
    await ask(client, "ada@example.com")
    token = await latest_token(portal, ada.id, RESET)
    # WHEN she chooses a weak password
    weak = await confirm(client, token, password)
    # THEN it is refused and the link is not spent
    assert weak.status_code == 422
    assert error(weak)["fields"] == {"new_password": problem}
    assert (await confirm(client, token)).status_code == 204


@pytest.mark.parametrize(
    "token",
    ["", "x", "a" * 43, "a" * 5000, "a\x00b"],
    ids=["empty", "short", "unknown", "huge", "nul"],
)
async def test_an_unknown_token_is_an_invalid_link(client: httpx.AsyncClient, token: str) -> None:
    response = await confirm(client, token)
    assert response.status_code in {400, 422}
    assert error(response)["code"] in {"invalid_link", "invalid"}


async def test_a_link_sent_to_an_old_address_does_not_work(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a reset link sent to ada's address, which she then changes
    ada = await factory.signed_in(username="ada", email="ada@example.com")
    await ask(client, "ada@example.com")
    token = await latest_token(portal, ada.user.id, RESET)
    moved = await client.patch(
        "/api/auth/me",
        json={"email": "countess@example.com", "current_password": DEFAULT_PASSWORD},
        headers=ada.headers,
    )
    assert moved.status_code == 200
    # WHEN the old link is used
    # THEN it does nothing
    assert (await confirm(client, token)).status_code == 400
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 200


async def test_a_reset_lifts_the_lockout_and_confirms_the_address(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a student whose address is not verified, locked out by failures
    student = await factory.registered(username="ada", email="ada@example.com")
    for _ in range(5):
        await attempt(client, "ada", WRONG_PASSWORD)
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 429

    # WHEN she resets her password through the e-mailed link
    await ask(client, "ada@example.com")
    assert (await confirm(client, await latest_token(portal, student.id, RESET))).status_code == 204

    # THEN she signs in at once, and her address counts as verified
    signed_in = await attempt(client, "ada", NEW_PASSWORD)
    assert signed_in.status_code == 200
    assert signed_in.json()["user"]["email_verified"] is True


async def test_requests_are_limited_per_address_and_per_target(
    client: httpx.AsyncClient, factory: Factory, app: Starlette
) -> None:
    # GIVEN ada
    await factory.user(username="ada", email="ada@example.com")

    # WHEN four resets are asked for her address from four client addresses
    answers = []
    for n in range(4):
        async with client_at(app, f"198.51.100.{n + 1}") as caller:
            answers.append(await ask(caller, "ada@example.com"))
    # THEN the fourth is refused: three per account an hour
    assert [r.status_code for r in answers] == [202, 202, 202, 429]
    # AND an address nobody has is limited the same way (a 429 tells nothing)
    for n in range(4):
        async with client_at(app, f"198.51.100.{n + 1}") as caller:
            last = await ask(caller, "nobody@example.com")
    assert last.status_code == 429

    # WHEN one client address asks for many different addresses
    statuses = [(await ask(client, f"someone{n}@example.com")).status_code for n in range(12)]
    # THEN it is refused after ten an hour
    assert statuses == [202] * 10 + [429] * 2
    assert 3500 <= int((await ask(client, "x@example.com")).headers["Retry-After"]) <= 3600


async def test_a_malformed_address_is_invalid_and_not_counted(client: httpx.AsyncClient) -> None:
    for _ in range(12):
        response = await ask(client, "not-an-address")
        assert response.status_code == 422
        assert set(error(response)["fields"]) == {"email"}
    assert (await ask(client, "fine@example.com")).status_code == 202


async def test_the_in_app_notice_never_shows_the_link(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a reset asked for ada, who is signed in somewhere (someone holding
    # her access token, say)
    ada = await factory.signed_in(username="ada", email="ada@example.com")
    await ask(client, "ada@example.com")
    token = await latest_token(portal, ada.user.id, RESET)

    # WHEN her notifications are read
    response = await client.get("/api/messages/notifications", headers=ada.headers)

    # THEN the reset notice is there, but its link is not
    assert response.status_code == 200
    [notice] = [n for n in response.json()["items"] if n["kind"] == RESET]
    assert token not in response.text
    assert notice["link"] == "http://testserver/#/profile"
    assert token_of(emailed_link(portal, (await messages(portal, ada.user.id, RESET))[0])) == token


async def test_a_reset_ends_sessions_that_hold_only_an_access_token(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN ada's access token from a sign-in a minute ago (a stolen one, say)
    ada = await factory.user(username="ada", email="ada@example.com")
    old = factory.headers_for(ada)
    assert (await client.get("/api/auth/me", headers=old)).status_code == 200
    clock.advance(minutes=1)

    # WHEN she resets her password by the e-mailed link
    await ask(client, "ada@example.com")
    assert (await confirm(client, await latest_token(portal, ada.id, RESET))).status_code == 204

    # THEN the old access token is refused at once, not when it runs out
    refused = await client.get("/api/auth/me", headers=old)
    assert refused.status_code == 401
    assert error(refused)["code"] == "not_authenticated"
    # AND a token from a sign-in with the new password works
    clock.advance(seconds=1)
    assert (await client.get("/api/auth/me", headers=factory.headers_for(ada))).status_code == 200


async def test_a_password_change_ends_the_other_devices_access_tokens(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN ada signed in on two devices
    ada = await factory.user(username="ada")
    other_device = factory.headers_for(ada)
    this_device = factory.headers_for(ada)
    clock.advance(minutes=1)

    # WHEN she changes her password on this one
    changed = await client.post(
        "/api/auth/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=this_device,
    )
    assert changed.status_code == 204, changed.text

    # THEN the other device's access token is refused (its refresh token was
    # revoked too), and a token issued from now on works
    assert (await client.get("/api/auth/me", headers=other_device)).status_code == 401
    assert (await client.get("/api/auth/me", headers=factory.headers_for(ada))).status_code == 200
