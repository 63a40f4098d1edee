"""Accounts and sign-in over HTTP, on real SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from lib.clock import FrozenClock
from lib.runtime import Portal
from lib.security import AccessTokens, Role
from lib.throttle import RedisThrottle
from tests.factories import DEFAULT_PASSWORD, Factory, SignedIn
from tests.functions.auth.support import app_with_throttle, client_at, set_cookie

REFRESH_COOKIE = "portal_refresh"
PASSWORD = "analytical-engine-1843"
NEW_PASSWORD = "a-brand-new-passphrase"
WRONG_PASSWORD = "not-the-password"
THIRTY_DAYS = 30 * 24 * 3600


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def registration(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "username": "ada.lovelace",
        "email": "ada@example.com",
        "password": PASSWORD,
        "full_name": "Ada Lovelace",
    }
    body.update(overrides)
    return body


async def attempt(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    response = await client.post("/api/auth/login", json={"login": login, "password": password})
    client.cookies.clear()
    return response


async def sign_in(client: httpx.AsyncClient, login: str, password: str) -> Session:
    response = await attempt(client, login, password)
    assert response.status_code == 200, response.text
    cookie = set_cookie(response)
    assert cookie is not None
    return Session(response.json()["access_token"], cookie[""])


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    client.cookies.clear()
    response = await client.post(
        "/api/auth/refresh", headers={"Cookie": f"{REFRESH_COOKIE}={token}"}
    )
    client.cookies.clear()
    return response


async def me(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/api/auth/me", headers=headers)


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


async def list_users(client: httpx.AsyncClient, admin: SignedIn, **params: str) -> dict[str, Any]:
    response = await client.get("/api/auth/users", params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def usernames(client: httpx.AsyncClient, admin: SignedIn, **params: str) -> list[str]:
    return [user["username"] for user in (await list_users(client, admin, **params))["items"]]


# --- registration ----------------------------------------------------------------


async def test_register_creates_a_student(client: httpx.AsyncClient) -> None:
    # GIVEN a visitor
    # WHEN they register
    response = await client.post("/api/auth/register", json=registration())

    # THEN a student account exists, and nothing secret is in the answer
    assert response.status_code == 201, response.text
    user = response.json()["user"]
    assert set(user) == {
        "id",
        "username",
        "email",
        "full_name",
        "role",
        "is_active",
        "email_verified",
        "created_at",
    }
    assert user["username"] == "ada.lovelace"
    assert user["email"] == "ada@example.com"
    assert user["role"] == "student"
    assert user["is_active"] is True
    assert user["email_verified"] is False
    assert user["created_at"] == "2026-01-05T09:00:00Z"
    assert set_cookie(response) is None


async def test_register_refuses_a_role_field(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN a visitor who asks to be an administrator
    admin = await factory.signed_in(role=Role.ADMIN)

    # WHEN they register with a role field
    response = await client.post("/api/auth/register", json=registration(role="admin"))

    # THEN the field is refused and no account is created
    assert response.status_code == 422
    assert error(response)["code"] == "invalid"
    assert error(response)["fields"] == {"role": "is not an accepted field"}
    assert await usernames(client, admin) == [admin.user.username]


@pytest.mark.parametrize("taken", ["ada.lovelace", "ADA.Lovelace", " Ada.LOVELACE "])
async def test_register_with_a_taken_username_is_a_conflict(
    client: httpx.AsyncClient, taken: str
) -> None:
    # GIVEN an account "ada.lovelace"
    assert (await client.post("/api/auth/register", json=registration())).status_code == 201

    # WHEN another visitor registers the same name in any case
    response = await client.post(
        "/api/auth/register", json=registration(username=taken, email="other@example.com")
    )

    # THEN it is taken
    assert response.status_code == 409
    assert error(response)["code"] == "username_taken"
    assert error(response)["fields"] == {"username": "is already taken"}


@pytest.mark.parametrize("taken", ["ada@example.com", "ADA@Example.COM"])
async def test_register_with_a_taken_email_is_a_conflict(
    client: httpx.AsyncClient, taken: str
) -> None:
    # GIVEN an account with ada@example.com
    assert (await client.post("/api/auth/register", json=registration())).status_code == 201

    # WHEN another visitor registers the same address in any case
    response = await client.post(
        "/api/auth/register", json=registration(username="countess", email=taken)
    )

    # THEN it is taken
    assert response.status_code == 409
    assert error(response)["code"] == "email_taken"
    assert error(response)["fields"] == {"email": "is already registered"}


@pytest.mark.parametrize("email", ["not-an-email", "ada@example", "ada@", "ada example@x.com"])
async def test_register_with_a_bad_email_is_invalid(client: httpx.AsyncClient, email: str) -> None:
    # WHEN a visitor registers with an address that is not one
    response = await client.post("/api/auth/register", json=registration(email=email))

    # THEN the e-mail field is refused
    assert response.status_code == 422
    assert set(error(response)["fields"]) == {"email"}


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("too-short", "must be at least 10 characters"),
        ("password1234", "is too common; choose one that is harder to guess"),
        ("qwertyuiop", "is too common; choose one that is harder to guess"),
        ("Ada.Lovelace", "must not be the same as the username"),
        ("ADA@example.com", "must not be the same as the e-mail address"),
    ],
)
async def test_register_with_a_weak_password_is_invalid(
    client: httpx.AsyncClient, password: str, message: str
) -> None:
    # WHEN a visitor registers with a weak password
    response = await client.post("/api/auth/register", json=registration(password=password))

    # THEN the password is refused with the rule it breaks
    assert response.status_code == 422
    assert error(response)["fields"] == {"password": message}


async def test_register_reports_every_bad_field_and_creates_nothing(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN an administrator, the only account
    admin = await factory.signed_in(role=Role.ADMIN)

    # WHEN a registration has a bad username, e-mail, password and name at once
    response = await client.post(
        "/api/auth/register",
        json=registration(username="a b", email="nope", password="short", full_name=" "),
    )

    # THEN all four are reported together and nothing is created
    assert response.status_code == 422
    assert set(error(response)["fields"]) == {"username", "email", "password", "full_name"}
    assert await usernames(client, admin) == [admin.user.username]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"username": "ada", "email": "ada@example.com"}, {"password", "full_name"}),
        (registration(full_name=42), {"full_name"}),
        (registration(password=None), {"password"}),
    ],
)
async def test_register_checks_the_shape_of_the_body(
    client: httpx.AsyncClient, body: dict[str, Any], fields: set[str]
) -> None:
    # WHEN a body misses fields or has the wrong types
    response = await client.post("/api/auth/register", json=body)

    # THEN each such field is named
    assert response.status_code == 422
    assert set(error(response)["fields"]) == fields


# --- signing in ------------------------------------------------------------------


@pytest.mark.parametrize(
    "login",
    ["ada.lovelace", "ADA.Lovelace", " ada.lovelace ", "ada@example.com", "ADA@EXAMPLE.COM"],
)
async def test_login_by_username_or_email_in_any_case(
    client: httpx.AsyncClient, factory: Factory, login: str
) -> None:
    # GIVEN a student "ada.lovelace" with ada@example.com
    user = await factory.user(username="ada.lovelace", email="ada@example.com")

    # WHEN they sign in with a spelling of either
    response = await attempt(client, login, DEFAULT_PASSWORD)

    # THEN they get an access token for themselves and a refresh cookie
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["user"]["id"] == user.id
    assert set_cookie(response) is not None
    who = await me(client, {"Authorization": f"Bearer {body['access_token']}"})
    assert who.json()["user"]["username"] == "ada.lovelace"


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student "ada"
    await factory.user(username="ada")

    # WHEN someone tries a wrong password for ada, and any password for nobody
    wrong_password = await attempt(client, "ada", WRONG_PASSWORD)
    unknown_user = await attempt(client, "nobody", DEFAULT_PASSWORD)

    # THEN both get the same 401, telling nothing about which part was wrong
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert error(wrong_password)["code"] == "invalid_credentials"
    assert set_cookie(wrong_password) is None


async def test_deactivated_account_is_told_only_with_the_right_password(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a deactivated student
    await factory.user(username="ada", active=False)

    # WHEN they sign in with a wrong and then the right password
    wrong = await attempt(client, "ada", WRONG_PASSWORD)
    right = await attempt(client, "ada", DEFAULT_PASSWORD)

    # THEN the wrong one is an ordinary 401, the right one says the account is disabled
    assert wrong.status_code == 401
    assert error(wrong)["code"] == "invalid_credentials"
    assert right.status_code == 403
    assert error(right)["code"] == "account_disabled"
    assert set_cookie(right) is None


async def test_login_checks_the_shape_of_the_body(client: httpx.AsyncClient) -> None:
    # WHEN a sign-in misses the password, or is not JSON at all
    missing = await client.post("/api/auth/login", json={"login": "ada"})
    not_json = await client.post(
        "/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    # THEN the first names the field, the second says the body is malformed
    assert missing.status_code == 422
    assert error(missing)["fields"] == {"password": "is required"}
    assert not_json.status_code == 400
    assert error(not_json)["code"] == "malformed_json"


@pytest.mark.parametrize("login", ["ada\x00", "\x00"], ids=["nul", "only-nul"])
async def test_a_login_with_a_nul_is_refused_as_invalid_input(
    client: httpx.AsyncClient, factory: Factory, login: str
) -> None:
    # GIVEN a student "ada"
    await factory.user(username="ada")

    # WHEN a login holding a NUL (which PostgreSQL refuses in text) is tried
    answer = await attempt(client, login, DEFAULT_PASSWORD)

    # THEN the request is refused before it reaches the rules, naming the field
    assert answer.status_code == 422
    assert error(answer)["fields"] == {"login": "must not contain a NUL character"}
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 200


@pytest.mark.parametrize("login", ["x" * 500 + "@example.com"], ids=["long"])
async def test_an_unstorable_unknown_login_is_an_ordinary_failure(
    client: httpx.AsyncClient, factory: Factory, login: str
) -> None:
    # GIVEN a student "ada", and a login longer than any stored key
    await factory.user(username="ada")

    # WHEN it is tried six times
    answers = [(await attempt(client, login, DEFAULT_PASSWORD)).status_code for _ in range(6)]

    # THEN each failure is a 401, the sixth attempt is throttled, and ada's own
    # account is not
    assert answers == [401, 401, 401, 401, 401, 429]
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 200


# --- throttling ------------------------------------------------------------------


async def test_sixth_attempt_after_five_failures_is_throttled_even_with_the_right_password(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN five failed sign-ins for ada
    await factory.user(username="ada")
    for _ in range(5):
        assert (await attempt(client, "ada", WRONG_PASSWORD)).status_code == 401

    # WHEN the right password comes next
    response = await attempt(client, "ada", DEFAULT_PASSWORD)

    # THEN it is refused for the rest of the 15-minute window
    assert response.status_code == 429
    assert error(response)["code"] == "too_many_attempts"
    assert response.headers["Retry-After"] == "900"
    assert set_cookie(response) is None


async def test_throttled_account_can_sign_in_after_the_window(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN ada is throttled after five failures
    await factory.user(username="ada")
    for _ in range(5):
        await attempt(client, "ada", WRONG_PASSWORD)

    # WHEN 14 minutes pass, the wait counts down
    clock.advance(minutes=14)
    still_throttled = await attempt(client, "ada", DEFAULT_PASSWORD)
    assert still_throttled.status_code == 429
    assert still_throttled.headers["Retry-After"] == "60"

    # THEN once the window has passed, the right password works
    clock.advance(minutes=2)
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 200


async def test_a_successful_login_is_not_counted_but_earlier_failures_stay(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN four failures, then a successful sign-in
    await factory.user(username="ada")
    for _ in range(4):
        await attempt(client, "ada", WRONG_PASSWORD)
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 200

    # WHEN one more failure comes
    fifth = await attempt(client, "ada", WRONG_PASSWORD)

    # THEN it is checked (the success took no place in the count), and with it
    # the five failures of the window are spent: a success forgives nothing,
    # so that the right password among a stranger's guesses opens no room
    assert fifth.status_code == 401
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 429


async def test_one_address_failing_across_accounts_is_throttled(
    client: httpx.AsyncClient, factory: Factory, app: Starlette
) -> None:
    # GIVEN 20 failures from one address, four for each of five accounts (below
    # the per-account limit)
    for name in ["ada", "grace", "alan", "edsger", "barbara"]:
        await factory.user(username=name)
        for _ in range(4):
            assert (await attempt(client, name, WRONG_PASSWORD)).status_code == 401
    await factory.user(username="donald")

    # WHEN an account with no failures signs in from that address
    response = await attempt(client, "donald", DEFAULT_PASSWORD)

    # THEN the address is throttled, while another address still gets in
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 900
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        assert (await attempt(other, "donald", DEFAULT_PASSWORD)).status_code == 200


async def test_redis_throttle_refuses_the_sixth_attempt(
    factory: Factory, portal: Portal, redis_throttle: RedisThrottle
) -> None:
    # GIVEN a portal counting failures in Redis, and five failures for ada
    await factory.user(username="ada")
    async with client_at(app_with_throttle(portal, redis_throttle), "203.0.113.7") as client:
        for _ in range(5):
            assert (await attempt(client, "ada", WRONG_PASSWORD)).status_code == 401

        # WHEN the right password comes next
        response = await attempt(client, "ada", DEFAULT_PASSWORD)

    # THEN it is throttled for about the whole window
    assert response.status_code == 429
    assert error(response)["code"] == "too_many_attempts"
    assert 890 <= int(response.headers["Retry-After"]) <= 900


async def test_redis_throttle_does_not_count_a_success(
    factory: Factory, portal: Portal, redis_throttle: RedisThrottle
) -> None:
    # GIVEN a portal counting in Redis, four failures for ada, then a success
    await factory.user(username="ada")
    async with client_at(app_with_throttle(portal, redis_throttle), "203.0.113.7") as client:
        for _ in range(4):
            await attempt(client, "ada", WRONG_PASSWORD)
        assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 200

        # WHEN one more failure comes
        # THEN it is checked, and then the five failures are spent
        assert (await attempt(client, "ada", WRONG_PASSWORD)).status_code == 401
        assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 429


# --- tokens ----------------------------------------------------------------------


async def test_the_refresh_cookie_is_http_only_strict_and_scoped_to_auth(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student
    await factory.user(username="ada")

    # WHEN she signs in
    response = await attempt(client, "ada", DEFAULT_PASSWORD)

    # THEN the refresh cookie is out of scripts' reach, same-site only, sent
    # only to /api/auth, and lives 30 days
    cookie = set_cookie(response)
    assert cookie is not None
    assert cookie["path"] == "/api/auth"
    assert "httponly" in cookie
    assert cookie["samesite"].lower() == "strict"
    assert cookie["max-age"] == str(THIRTY_DAYS)
    assert len(cookie[""]) >= 40


async def test_a_browser_sends_the_cookie_to_auth_only(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in, her client keeping cookies like a browser
    await factory.user(username="ada")
    assert (
        await client.post("/api/auth/login", json={"login": "ada", "password": DEFAULT_PASSWORD})
    ).status_code == 200

    # WHEN the client calls outside /api/auth and then refreshes
    health = await client.get("/api/health")
    refreshed = await client.post("/api/auth/refresh")

    # THEN the cookie went only to /api/auth, where it refreshed the session
    assert "cookie" not in health.request.headers
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["user"]["username"] == "ada"


async def test_the_access_token_expires_after_15_minutes(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN ada signed in
    await factory.user(username="ada")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)

    # WHEN almost 15 minutes pass, the token still works
    clock.advance(minutes=14, seconds=59)
    assert (await me(client, session.headers)).status_code == 200

    # THEN at 15 minutes it no longer does
    clock.advance(seconds=1)
    response = await me(client, session.headers)
    assert response.status_code == 401
    assert error(response)["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer not-a-token", "Basic YWRhOnB3", "bearer x.y.z"]
)
async def test_me_without_a_valid_token_is_not_authenticated(
    client: httpx.AsyncClient, authorization: str
) -> None:
    # GIVEN no token, a malformed one or another scheme
    headers = {"Authorization": authorization} if authorization else {}

    # WHEN asking who I am
    response = await me(client, headers)

    # THEN the caller is asked to sign in
    assert response.status_code == 401
    assert error(response)["code"] == "not_authenticated"


async def test_a_token_signed_with_another_key_is_refused(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN an admin token for ada, signed with a key that is not the portal's
    user = await factory.user(username="ada")
    forged, _ = AccessTokens("another-secret-key-0123456789abcdef", ttl=portal.tokens.ttl).issue(
        user_id=user.id, role=Role.ADMIN, now=clock.now()
    )

    # WHEN it is used
    response = await me(client, {"Authorization": f"Bearer {forged}"})

    # THEN it is refused
    assert response.status_code == 401


async def test_refresh_rotates_the_cookie_and_gives_a_working_token(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN ada signed in, her access token expired
    await factory.user(username="ada")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)
    clock.advance(minutes=20)

    # WHEN she refreshes
    response = await refresh(client, session.refresh_token)

    # THEN she gets a new cookie and an access token that works
    assert response.status_code == 200, response.text
    cookie = set_cookie(response)
    assert cookie is not None
    assert cookie[""] != session.refresh_token
    assert cookie["path"] == "/api/auth"
    assert cookie["max-age"] == str(THIRTY_DAYS)
    token = response.json()["access_token"]
    assert (await me(client, {"Authorization": f"Bearer {token}"})).status_code == 200


async def test_a_replayed_refresh_token_ends_its_whole_family(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in on two devices, and the first one refreshed once
    await factory.user(username="ada")
    first = await sign_in(client, "ada", DEFAULT_PASSWORD)
    second = await sign_in(client, "ada", DEFAULT_PASSWORD)
    rotated = await refresh(client, first.refresh_token)
    newest = set_cookie(rotated)
    assert newest is not None

    # WHEN the old token of the first device is presented again
    replay = await refresh(client, first.refresh_token)

    # THEN it is refused, the newest token of that family stops working too,
    # and the other device's session is untouched
    assert replay.status_code == 401
    assert error(replay)["code"] == "not_authenticated"
    assert (await refresh(client, newest[""])).status_code == 401
    assert (await refresh(client, second.refresh_token)).status_code == 200


async def test_refresh_without_or_with_an_unknown_cookie_is_refused(
    client: httpx.AsyncClient,
) -> None:
    # WHEN refreshing without a cookie, or with one the portal never issued
    without = await client.post("/api/auth/refresh")
    unknown = await refresh(client, "not-a-refresh-token")

    # THEN both are refused alike
    assert without.status_code == unknown.status_code == 401
    assert error(without)["code"] == error(unknown)["code"] == "not_authenticated"


async def test_refresh_after_30_days_is_refused(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN ada signed in on two devices
    await factory.user(username="ada")
    kept_alive = await sign_in(client, "ada", DEFAULT_PASSWORD)
    left_alone = await sign_in(client, "ada", DEFAULT_PASSWORD)

    # WHEN one device refreshes after 29 days and the other only after 31
    clock.advance(days=29)
    renewed = await refresh(client, kept_alive.refresh_token)
    clock.advance(days=2)
    expired = await refresh(client, left_alone.refresh_token)

    # THEN the first one's session went on, the second one's ended
    assert renewed.status_code == 200
    assert expired.status_code == 401
    newest = set_cookie(renewed)
    assert newest is not None
    assert (await refresh(client, newest[""])).status_code == 200


async def test_logout_revokes_the_session_and_clears_the_cookie(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in
    await factory.user(username="ada")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)

    # WHEN she signs out
    response = await client.post(
        "/api/auth/logout",
        headers={**session.headers, "Cookie": f"{REFRESH_COOKIE}={session.refresh_token}"},
    )

    # THEN the cookie is cleared and can no longer refresh
    assert response.status_code == 204
    cleared = set_cookie(response)
    assert cleared is not None
    assert cleared[""] == ""
    assert cleared["max-age"] == "0"
    assert cleared["path"] == "/api/auth"
    assert (await refresh(client, session.refresh_token)).status_code == 401


async def test_logout_without_a_cookie_still_answers(client: httpx.AsyncClient) -> None:
    # WHEN someone signs out without a session
    response = await client.post("/api/auth/logout")

    # THEN it succeeds and clears the cookie anyway
    assert response.status_code == 204
    assert set_cookie(response) is not None


async def test_logout_works_after_the_access_token_expired(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN ada signed in and idle past her access token's life (the web app
    # still sends that token when she clicks "Sign out")
    await factory.user(username="ada")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)
    clock.advance(minutes=20)

    # WHEN she signs out
    response = await client.post(
        "/api/auth/logout",
        headers={**session.headers, "Cookie": f"{REFRESH_COOKIE}={session.refresh_token}"},
    )

    # THEN her session ends
    assert response.status_code == 204
    assert (await refresh(client, session.refresh_token)).status_code == 401


# --- administration --------------------------------------------------------------


@pytest.mark.parametrize("role", ["student", "instructor", "admin"])
async def test_admin_creates_a_user_with_any_role(
    client: httpx.AsyncClient, factory: Factory, role: str
) -> None:
    # GIVEN an administrator
    admin = await factory.signed_in(role=Role.ADMIN)

    # WHEN they create a user with a role
    response = await client.post(
        "/api/auth/users", json=registration(role=role), headers=admin.headers
    )

    # THEN the user exists with that role and can sign in as it
    assert response.status_code == 201, response.text
    assert response.json()["user"]["role"] == role
    session = await sign_in(client, "ada.lovelace", PASSWORD)
    assert (await me(client, session.headers)).json()["user"]["role"] == role


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (registration(role="superuser"), 422, "role"),
        (registration(), 422, "role"),
        (registration(role="student", password="password1234"), 422, "password"),
        (registration(role="student", username="admin1"), 409, "username"),
    ],
)
async def test_admin_create_user_is_validated(
    client: httpx.AsyncClient, factory: Factory, body: dict[str, Any], status: int, field: str
) -> None:
    # GIVEN an administrator "admin1"
    admin = await factory.signed_in(role=Role.ADMIN, username="admin1")

    # WHEN they create a user with a bad role, no role, a weak password or their own name
    response = await client.post("/api/auth/users", json=body, headers=admin.headers)

    # THEN the field is named
    assert response.status_code == status
    assert set(error(response)["fields"]) == {field}


@pytest.mark.parametrize("role", [Role.STUDENT, Role.INSTRUCTOR])
async def test_only_admins_manage_users(
    client: httpx.AsyncClient, factory: Factory, role: Role
) -> None:
    # GIVEN a signed-in user who is not an administrator
    caller = await factory.signed_in(role=role)
    other = await factory.user()

    calls: list[tuple[str, str, dict[str, str] | None]] = [
        ("GET", "/api/auth/users", None),
        ("POST", "/api/auth/users", registration(role="admin")),
        ("GET", f"/api/auth/users/{other.id}", None),
        ("PATCH", f"/api/auth/users/{other.id}", {"role": "admin"}),
        ("POST", f"/api/auth/users/{other.id}/deactivate", None),
        ("POST", f"/api/auth/users/{other.id}/reactivate", None),
    ]
    for method, path, body in calls:
        # WHEN they call an administration endpoint
        response = await client.request(method, path, json=body, headers=caller.headers)

        # THEN it is forbidden, and for anonymous callers it asks them to sign in
        assert response.status_code == 403, f"{method} {path}"
        assert error(response)["code"] == "forbidden"
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, f"{method} {path}"
    admin = await factory.signed_in(role=Role.ADMIN)
    users = {u["username"]: u for u in (await list_users(client, admin))["items"]}
    assert set(users) == {caller.user.username, other.username, admin.user.username}
    assert (users[other.username]["role"], users[other.username]["is_active"]) == (
        "student",
        True,
    )


async def test_admin_searches_username_email_and_full_name_in_any_case(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN three users besides the administrator
    admin = await factory.signed_in(role=Role.ADMIN, username="root", full_name="Root")
    await factory.user(username="zelda", email="zelda@example.com", full_name="Zelda Fitzgerald")
    await factory.user(username="scott", email="F.Scott@Example.com", full_name="Scott Fitzgerald")
    await factory.user(username="ernest", email="papa@example.com", full_name="Ernest Hemingway")

    # WHEN searching, THEN the text matches any of the three fields, in any case
    assert await usernames(client, admin, q="ZEL") == ["zelda"]
    assert await usernames(client, admin, q="f.SCOTT@example") == ["scott"]
    assert await usernames(client, admin, q="PAPA") == ["ernest"]
    assert await usernames(client, admin, q="fitzGERALD") == ["scott", "zelda"]
    assert await usernames(client, admin, q="hemingway") == ["ernest"]
    assert await usernames(client, admin, q="nobody-matches") == []
    assert await usernames(client, admin, q="  ") == ["ernest", "root", "scott", "zelda"]


async def test_admin_searches_accented_names_in_any_case(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a user whose name starts with an accented capital
    admin = await factory.signed_in(role=Role.ADMIN, username="root", full_name="Root")
    await factory.user(username="zola", full_name="Émile Zola")

    # WHEN searching for the name in lower case, THEN the user is found
    assert await usernames(client, admin, q="émile") == ["zola"]


async def test_admin_search_takes_wildcards_literally(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN users "ab_cd" and "abxcd"
    admin = await factory.signed_in(role=Role.ADMIN, username="root", full_name="Root")
    await factory.user(username="ab_cd", full_name="Under Score")
    await factory.user(username="abxcd", full_name="Ex Ample")

    # WHEN searching for LIKE wildcards, THEN they match only themselves
    assert await usernames(client, admin, q="b_c") == ["ab_cd"]
    assert await usernames(client, admin, q="%") == []
    assert await usernames(client, admin, q="\\") == []


async def test_admin_filters_by_role_and_status(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN an administrator, two instructors (one inactive) and a student
    admin = await factory.signed_in(role=Role.ADMIN, username="root")
    await factory.user(role=Role.INSTRUCTOR, username="irene")
    await factory.user(role=Role.INSTRUCTOR, username="ivan", active=False)
    await factory.user(role=Role.STUDENT, username="sam")

    # WHEN filtering, THEN only the matching users come back
    assert await usernames(client, admin, role="instructor") == ["irene", "ivan"]
    assert await usernames(client, admin, role="student") == ["sam"]
    assert await usernames(client, admin, status="inactive") == ["ivan"]
    assert await usernames(client, admin, status="active") == ["irene", "root", "sam"]
    assert await usernames(client, admin, role="instructor", status="active") == ["irene"]
    assert await usernames(client, admin, role="admin", q="roo") == ["root"]


async def test_admin_pages_through_users_without_duplicates_or_gaps(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN seven users
    admin = await factory.signed_in(role=Role.ADMIN, username="root")
    names = ["fay", "bea", "gus", "ann", "eve", "cal"]
    for name in names:
        await factory.user(username=name)

    # WHEN paging two at a time
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(10):
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = await list_users(client, admin, **params)
        pages.append([user["username"] for user in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # THEN every user comes exactly once, in username order, and the last page says so
    assert pages == [["ann", "bea"], ["cal", "eve"], ["fay", "gus"], ["root"]]
    assert cursor is None


async def test_admin_pages_a_filtered_list(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN three instructors and a student whose name sorts among them
    admin = await factory.signed_in(role=Role.ADMIN, username="root")
    for name in ["ann", "bea", "cal"]:
        await factory.user(username=name, role=Role.INSTRUCTOR)
    await factory.user(username="bob")

    # WHEN paging through instructors two at a time
    first = await list_users(client, admin, role="instructor", limit="2")
    second = await list_users(
        client, admin, role="instructor", limit="2", cursor=first["next_cursor"]
    )

    # THEN the filter holds on every page
    assert [u["username"] for u in first["items"]] == ["ann", "bea"]
    assert [u["username"] for u in second["items"]] == ["cal"]
    assert second["next_cursor"] is None


def _cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=%21%21not-a-cursor", "cursor"),
        (f"cursor={_cursor_of({'a': 1})}", "cursor"),
        (f"cursor={_cursor_of([1, 2])}", "cursor"),
        ("role=superuser", "role"),
        ("status=sleeping", "status"),
        (f"cursor={_cursor_of([1])}", "cursor"),
        (f"cursor={_cursor_of(['ada' + chr(0)])}", "cursor"),
        ("q=" + "x" * 101, "q"),
        ("q=ada%00", "q"),
    ],
)
async def test_admin_list_refuses_bad_parameters(
    client: httpx.AsyncClient, factory: Factory, query: str, field: str
) -> None:
    # GIVEN an administrator
    admin = await factory.signed_in(role=Role.ADMIN)

    # WHEN listing with a bad parameter
    response = await client.get(f"/api/auth/users?{query}", headers=admin.headers)

    # THEN that parameter is named
    assert response.status_code == 422
    assert set(error(response)["fields"]) == {field}


async def test_a_role_change_takes_effect_at_once(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a signed-in student who cannot list users
    admin = await factory.signed_in(role=Role.ADMIN)
    student = await factory.signed_in(role=Role.STUDENT)
    assert (await client.get("/api/auth/users", headers=student.headers)).status_code == 403

    # WHEN an administrator makes them an administrator
    response = await client.patch(
        f"/api/auth/users/{student.user.id}", json={"role": "admin"}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["user"]["role"] == "admin"

    # THEN the same access token can list users at once, and loses it again on demotion
    assert (await client.get("/api/auth/users", headers=student.headers)).status_code == 200
    await client.patch(
        f"/api/auth/users/{student.user.id}", json={"role": "student"}, headers=admin.headers
    )
    assert (await client.get("/api/auth/users", headers=student.headers)).status_code == 403


async def test_change_role_refuses_an_unknown_role(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN an administrator and a student
    admin = await factory.signed_in(role=Role.ADMIN)
    student = await factory.user()

    # WHEN the administrator gives the student a role that does not exist
    response = await client.patch(
        f"/api/auth/users/{student.id}", json={"role": "root"}, headers=admin.headers
    )

    # THEN it is refused
    assert response.status_code == 422
    assert set(error(response)["fields"]) == {"role"}


async def test_deactivation_ends_sign_in_tokens_and_refresh(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a signed-in student
    admin = await factory.signed_in(role=Role.ADMIN)
    await factory.user(username="ada")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)
    user_id = (await me(client, session.headers)).json()["user"]["id"]

    # WHEN an administrator deactivates them
    response = await client.post(f"/api/auth/users/{user_id}/deactivate", headers=admin.headers)

    # THEN they cannot sign in, their access token and their refresh cookie stop working
    assert response.status_code == 200
    assert response.json()["user"]["is_active"] is False
    login = await attempt(client, "ada", DEFAULT_PASSWORD)
    assert login.status_code == 403
    assert error(login)["code"] == "account_disabled"
    token = await me(client, session.headers)
    assert token.status_code == 401
    assert error(token)["code"] == "not_authenticated"
    assert (await refresh(client, session.refresh_token)).status_code == 401


async def test_reactivation_lets_the_user_sign_in_again(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student who was signed in and then deactivated
    admin = await factory.signed_in(role=Role.ADMIN)
    user = await factory.user(username="ada")
    old = await sign_in(client, "ada", DEFAULT_PASSWORD)
    await client.post(f"/api/auth/users/{user.id}/deactivate", headers=admin.headers)

    # WHEN an administrator reactivates them
    response = await client.post(f"/api/auth/users/{user.id}/reactivate", headers=admin.headers)

    # THEN they can sign in again, but the session ended by deactivation stays ended
    assert response.status_code == 200
    assert response.json()["user"]["is_active"] is True
    new = await sign_in(client, "ada", DEFAULT_PASSWORD)
    assert (await me(client, new.headers)).status_code == 200
    assert (await refresh(client, old.refresh_token)).status_code == 401


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"role": "student"}),
        ("POST", "/deactivate", None),
        ("POST", "/reactivate", None),
    ],
)
async def test_an_admin_cannot_change_their_own_role_or_status(
    client: httpx.AsyncClient,
    factory: Factory,
    method: str,
    suffix: str,
    body: dict[str, str] | None,
) -> None:
    # GIVEN an administrator
    admin = await factory.signed_in(role=Role.ADMIN)

    # WHEN they change their own account
    response = await client.request(
        method, f"/api/auth/users/{admin.user.id}{suffix}", json=body, headers=admin.headers
    )

    # THEN it is refused and they remain an active administrator
    assert response.status_code == 409
    assert error(response)["code"] == "cannot_change_self"
    user = (await me(client, admin.headers)).json()["user"]
    assert (user["role"], user["is_active"]) == ("admin", True)


@pytest.mark.parametrize("user_id", ["no-such-user", "a%00b"], ids=["unknown", "nul"])
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"role": "student"}),
        ("POST", "/deactivate", None),
        ("POST", "/reactivate", None),
    ],
)
async def test_an_unknown_user_id_is_not_found(
    client: httpx.AsyncClient,
    factory: Factory,
    method: str,
    suffix: str,
    body: dict[str, str] | None,
    user_id: str,
) -> None:
    # GIVEN an administrator
    admin = await factory.signed_in(role=Role.ADMIN)

    # WHEN they address a user who does not exist
    response = await client.request(
        method, f"/api/auth/users/{user_id}{suffix}", json=body, headers=admin.headers
    )

    # THEN it is not found
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


async def test_admin_reads_one_user(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN an administrator and ada
    admin = await factory.signed_in(role=Role.ADMIN)
    user = await factory.user(username="ada", full_name="Ada Lovelace")

    # WHEN the administrator reads ada's account
    response = await client.get(f"/api/auth/users/{user.id}", headers=admin.headers)

    # THEN it is hers
    assert response.status_code == 200
    assert response.json()["user"]["full_name"] == "Ada Lovelace"


# --- my profile ------------------------------------------------------------------


async def test_update_me_changes_name_and_email(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in
    await factory.user(username="ada", email="ada@example.com")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)

    # WHEN she changes her name and e-mail
    response = await client.patch(
        "/api/auth/me",
        json={
            "full_name": "  Ada   King ",
            "email": "Countess@Example.COM",
            "current_password": DEFAULT_PASSWORD,
        },
        headers=session.headers,
    )

    # THEN both are stored normalized; the new address signs in, the old one does not
    assert response.status_code == 200, response.text
    user = response.json()["user"]
    assert (user["full_name"], user["email"]) == ("Ada King", "Countess@example.com")
    assert (await me(client, session.headers)).json()["user"] == user
    assert (await attempt(client, "countess@example.com", DEFAULT_PASSWORD)).status_code == 200
    assert (await attempt(client, "ada@example.com", DEFAULT_PASSWORD)).status_code == 401


async def test_update_me_changes_only_what_is_given(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in
    await factory.user(username="ada", email="ada@example.com", full_name="Ada Lovelace")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)

    # WHEN she changes only her name
    response = await client.patch(
        "/api/auth/me", json={"full_name": "Ada King"}, headers=session.headers
    )

    # THEN her e-mail stays
    assert response.status_code == 200
    assert response.json()["user"]["email"] == "ada@example.com"
    assert response.json()["user"]["full_name"] == "Ada King"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"email": "not-an-email"}, {"email"}),
        ({"full_name": "   "}, {"full_name"}),
        ({"full_name": "", "email": "nope"}, {"full_name", "email"}),
        ({"role": "admin"}, {"role"}),
        ({"username": "root"}, {"username"}),
    ],
)
async def test_update_me_is_validated_and_changes_nothing(
    client: httpx.AsyncClient, factory: Factory, body: dict[str, str], fields: set[str]
) -> None:
    # GIVEN ada signed in
    await factory.user(username="ada", email="ada@example.com", full_name="Ada Lovelace")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)
    before = (await me(client, session.headers)).json()["user"]

    # WHEN she sends bad values or fields she may not change
    response = await client.patch("/api/auth/me", json=body, headers=session.headers)

    # THEN each is reported and her account is as it was
    assert response.status_code == 422
    assert set(error(response)["fields"]) == fields
    assert (await me(client, session.headers)).json()["user"] == before


async def test_update_me_refuses_an_email_someone_else_has(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in, and grace with grace@example.com
    await factory.user(username="ada", email="ada@example.com")
    await factory.user(username="grace", email="grace@example.com")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)

    # WHEN ada takes grace's address in another case
    taken = await client.patch(
        "/api/auth/me",
        json={"email": "GRACE@example.com", "current_password": DEFAULT_PASSWORD},
        headers=session.headers,
    )

    # THEN it is refused, while her own address in another case is fine
    assert taken.status_code == 409
    assert error(taken)["code"] == "email_taken"
    own = await client.patch(
        "/api/auth/me", json={"email": "ADA@EXAMPLE.COM"}, headers=session.headers
    )
    assert own.status_code == 200
    assert own.json()["user"]["email"] == "ADA@example.com"


async def test_change_password_needs_the_current_password(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in
    await factory.user(username="ada")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)

    # WHEN she gives a wrong current password
    response = await client.post(
        "/api/auth/me/password",
        json={"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD},
        headers=session.headers,
    )

    # THEN it is refused and her password stays
    assert response.status_code == 422
    assert error(response)["fields"] == {"current_password": "is not your current password"}
    assert (await attempt(client, "ada", NEW_PASSWORD)).status_code == 401
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("short", "must be at least 10 characters"),
        ("password1234", "is too common; choose one that is harder to guess"),
        ("ada.lovelace", "must not be the same as the username"),
        ("lovelace@example.com", "must not be the same as the e-mail address"),
    ],
)
async def test_change_password_refuses_a_weak_new_password(
    client: httpx.AsyncClient, factory: Factory, new_password: str, message: str
) -> None:
    # GIVEN ada signed in
    await factory.user(username="ada.lovelace", email="lovelace@example.com")
    session = await sign_in(client, "ada.lovelace", DEFAULT_PASSWORD)

    # WHEN she picks a weak new password
    response = await client.post(
        "/api/auth/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": new_password},
        headers=session.headers,
    )

    # THEN it is refused with the rule it breaks, and the old password stays
    assert response.status_code == 422
    assert error(response)["fields"] == {"new_password": message}
    assert (await attempt(client, "ada.lovelace", DEFAULT_PASSWORD)).status_code == 200


async def test_change_password_ends_other_sessions_but_keeps_this_one(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in on this device and on another one
    await factory.user(username="ada")
    this_device = await sign_in(client, "ada", DEFAULT_PASSWORD)
    other_device = await sign_in(client, "ada", DEFAULT_PASSWORD)

    # WHEN she changes her password on this device
    response = await client.post(
        "/api/auth/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers={
            **this_device.headers,
            "Cookie": f"{REFRESH_COOKIE}={this_device.refresh_token}",
        },
    )

    # THEN the old password fails, the new one works, the other device's session
    # has ended and this device's still refreshes
    assert response.status_code == 204, response.text
    assert (await attempt(client, "ada", DEFAULT_PASSWORD)).status_code == 401
    assert (await attempt(client, "ada", NEW_PASSWORD)).status_code == 200
    assert (await refresh(client, other_device.refresh_token)).status_code == 401
    assert (await refresh(client, this_device.refresh_token)).status_code == 200


async def test_change_password_without_a_cookie_ends_every_session(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in
    await factory.user(username="ada")
    session = await sign_in(client, "ada", DEFAULT_PASSWORD)

    # WHEN she changes her password without sending her refresh cookie
    response = await client.post(
        "/api/auth/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=session.headers,
    )

    # THEN no session can be told apart as hers, so every one ends
    assert response.status_code == 204
    assert (await refresh(client, session.refresh_token)).status_code == 401
