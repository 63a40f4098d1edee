"""Throttles over HTTP: simultaneous sign-in guesses, password changes,
sign-ups, and Redis being down. (Across server processes:
test_throttle_processes.py.)"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

import httpx
from starlette.applications import Starlette

from functions.router import create_app
from lib.clock import FrozenClock
from lib.runtime import Portal
from lib.security import PasswordHashing
from lib.throttle import RedisThrottle
from tests.factories import DEFAULT_PASSWORD, Factory
from tests.functions.auth.support import (
    LOGIN,
    WRONG_PASSWORD,
    app_with_throttle,
    attempt,
    client_at,
    error,
)

BURST = 30


class CountingPasswords(PasswordHashing):
    """The real hasher, counting the password checks it is asked for."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.checks = 0

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.checks += 1
        return await super().verify(password_hash, password)


async def burst(app: Starlette, login: str, passwords: list[str]) -> Counter[int]:
    """Every sign-in at the same moment, each over a connection of its own."""

    async def one(password: str) -> int:
        async with client_at(app, "203.0.113.7") as client:
            response = await client.post(LOGIN, json={"login": login, "password": password})
            return response.status_code

    return Counter(await asyncio.gather(*(one(p) for p in passwords)))


# --- simultaneous guesses ---------------------------------------------------------------


async def test_simultaneous_wrong_passwords_get_at_most_five_checks(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN ada, and a portal that counts its password checks
    await factory.user(username="ada")
    passwords = CountingPasswords()
    app = create_app(portal=replace(portal, passwords=passwords))

    # WHEN thirty wrong passwords arrive at the same moment
    answers = await burst(app, "ada", [WRONG_PASSWORD] * BURST)

    # THEN five are checked (401) and the rest refused unchecked (429)
    assert answers == Counter({401: 5, 429: BURST - 5})
    assert passwords.checks == 5


async def test_the_right_password_in_a_burst_does_not_get_in_once_the_limit_is_spent(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN ada, and a portal that counts its password checks
    await factory.user(username="ada")
    passwords = CountingPasswords()
    app = create_app(portal=replace(portal, passwords=passwords))

    # WHEN a burst of wrong passwords carries the right one in its middle
    guesses = [WRONG_PASSWORD] * BURST
    guesses[BURST // 2] = DEFAULT_PASSWORD
    first = await burst(app, "ada", guesses)
    # AND a second burst comes with the right one again
    second = await burst(app, "ada", guesses)

    # THEN at most five wrong guesses of the first were checked; the right one
    # got in only if it came before the five failures were counted (a success
    # gives its attempt back, so it may have let one more wrong guess be checked)
    assert first[401] <= 5
    assert first[200] <= 1
    assert first[401] + first[200] + first[429] == BURST
    assert passwords.checks == first[401] + first[200] + second[401] + second[200]
    # AND once five failures are counted, nothing gets in, the right password neither
    assert second[200] == 0
    assert first[401] + second[401] == 5
    async with client_at(app, "203.0.113.7") as client:
        assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 429


async def test_simultaneous_guesses_are_counted_in_redis_too(
    portal: Portal, factory: Factory, redis_throttle: RedisThrottle
) -> None:
    # GIVEN a portal counting in Redis, and ada
    await factory.user(username="ada")
    passwords = CountingPasswords()
    app = create_app(portal=replace(portal, passwords=passwords, throttle=redis_throttle))

    # WHEN thirty wrong passwords arrive at the same moment
    answers = await burst(app, "ada", [WRONG_PASSWORD] * BURST)

    # THEN five are checked and the rest refused; the right password then too
    assert answers == Counter({401: 5, 429: BURST - 5})
    assert passwords.checks == 5
    async with client_at(app, "203.0.113.7") as client:
        assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 429


async def test_redis_that_is_down_makes_sign_in_a_quick_503(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a portal whose Redis is not there
    await factory.user(username="ada")
    down = RedisThrottle("redis://127.0.0.1:1/0", key_prefix="portal-test-down")
    try:
        async with client_at(app_with_throttle(portal, down), "203.0.113.7") as client:
            # WHEN ada signs in
            response = await attempt(client, "ada", DEFAULT_PASSWORD)
    finally:
        await down.close()

    # THEN the answer says the portal is briefly unavailable, not that it broke
    assert response.status_code == 503
    assert error(response)["code"] == "throttle_unavailable"


# --- password changes ---------------------------------------------------------------------


async def change_password(
    client: httpx.AsyncClient, headers: dict[str, str], current: str
) -> httpx.Response:
    return await client.post(
        "/api/auth/me/password",
        json={"current_password": current, "new_password": "a-brand-new-passphrase"},
        headers=headers,
    )


async def test_wrong_current_passwords_are_throttled_per_account(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in (someone holding her access token)
    ada = await factory.signed_in(username="ada")

    # WHEN 25 wrong current passwords come in a row
    answers = [(await change_password(client, ada.headers, WRONG_PASSWORD)) for _ in range(25)]

    # THEN five are checked and refused, the rest throttled with a Retry-After
    assert [r.status_code for r in answers] == [422] * 5 + [429] * 20
    assert error(answers[-1])["code"] == "too_many_attempts"
    assert answers[-1].headers["Retry-After"] == "900"
    # AND the right one is throttled too, while signing in is not locked by it
    assert (await change_password(client, ada.headers, DEFAULT_PASSWORD)).status_code == 429
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 200


async def test_an_email_change_checks_the_password_under_the_same_limit(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN five wrong current passwords given to change ada's e-mail
    ada = await factory.signed_in(username="ada")
    for _ in range(5):
        response = await client.patch(
            "/api/auth/me",
            json={"email": "new@example.com", "current_password": WRONG_PASSWORD},
            headers=ada.headers,
        )
        assert response.status_code == 422
        assert error(response)["fields"] == {"current_password": "is not your current password"}

    # WHEN she then tries to change her password
    # THEN the limit is spent for both, until the window has passed
    assert (await change_password(client, ada.headers, DEFAULT_PASSWORD)).status_code == 429
    clock.advance(minutes=15)
    fresh = factory.headers_for(ada.user)
    assert (await change_password(client, fresh, DEFAULT_PASSWORD)).status_code == 204


# --- sign-ups ---------------------------------------------------------------------------


def signup(n: int, **overrides: str) -> dict[str, str]:
    body = {
        "username": f"newcomer{n}",
        "email": f"newcomer{n}@example.com",
        "password": "a-long-enough-passphrase",
        "full_name": f"Newcomer {n}",
    }
    body.update(overrides)
    return body


async def test_sign_ups_from_one_address_are_throttled(
    client: httpx.AsyncClient, app: Starlette, clock: FrozenClock
) -> None:
    # WHEN 25 sign-ups come from one address within 20 seconds
    answers = []
    for n in range(25):
        answers.append(await client.post("/api/auth/register", json=signup(n)))
        clock.advance(seconds=0.8)

    # THEN ten accounts are made and the rest refused with a Retry-After
    assert [r.status_code for r in answers] == [201] * 10 + [429] * 15
    assert error(answers[-1])["code"] == "too_many_attempts"
    assert 3500 <= int(answers[-1].headers["Retry-After"]) <= 3600
    # AND another address may still sign up, and this one after the hour
    async with client_at(app, "198.51.100.30") as other:
        assert (await other.post("/api/auth/register", json=signup(99))).status_code == 201
    clock.advance(hours=1)
    assert (await client.post("/api/auth/register", json=signup(98))).status_code == 201


async def test_a_sign_up_with_bad_fields_does_not_count_but_a_taken_name_does(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    # GIVEN a limit of two sign-ups per address
    # (the fixture's portal has ten; a portal of two is built from it)
    settings = replace(portal.settings, signups_per_address_per_hour=2)
    app = create_app(portal=replace(portal, settings=settings))
    async with client_at(app, "203.0.113.7") as limited:
        # WHEN a typo in the e-mail comes first, then the same name twice
        typo = await limited.post("/api/auth/register", json=signup(1, email="newcomer1@"))
        made = await limited.post("/api/auth/register", json=signup(1))
        taken = await limited.post("/api/auth/register", json=signup(1))
        # THEN the typo cost nothing, the conflict did, and the limit is spent
        assert [typo.status_code, made.status_code, taken.status_code] == [422, 201, 409]
        assert (await limited.post("/api/auth/register", json=signup(2))).status_code == 429
