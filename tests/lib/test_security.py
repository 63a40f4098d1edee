"""lib.security: forged access tokens against a real endpoint, password rules, hashing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update

from functions.auth.models import User
from lib.clock import FrozenClock
from lib.errors import NotAuthenticated
from lib.runtime import Portal
from lib.security import (
    CLOCK_LEEWAY_SECONDS,
    HASHING_NICENESS,
    JWT_AUDIENCE,
    JWT_ISSUER,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    VERIFIED_TOKENS_KEPT,
    AccessTokens,
    DeviceCookies,
    PasswordHashing,
    Role,
    password_problem,
)
from tests.conftest import TEST_SECRET
from tests.factories import Factory, SignedIn

ME = "/api/auth/me"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_json(value: object) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def claims_for(user_id: str, now: datetime, **changes: Any) -> dict[str, Any]:
    """The claims the portal itself would issue; a change of None drops the claim."""
    claims: dict[str, Any] = {
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "sub": user_id,
        "role": "student",
        "jti": "0123456789abcdef0123456789abcdef",
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=15)).timestamp()),
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def signed(claims: dict[str, Any], *, key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    # Built by hand rather than with PyJWT, which refuses to make some of the
    # weak tokens an attacker would send.
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[algorithm]
    signing_input = f"{_b64_json({'alg': algorithm, 'typ': 'JWT'})}.{_b64_json(claims)}"
    signature = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def unsigned(claims: dict[str, Any], *, signature: str = "") -> str:
    return f"{_b64_json({'alg': 'none', 'typ': 'JWT'})}.{_b64_json(claims)}.{signature}"


def with_payload_swapped(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64_json(claims)}.{signature}"


# Each case builds an Authorization header from (the signed-in user, now).
HeaderCase = Callable[[SignedIn, datetime], str]

FORGED: dict[str, HeaderCase] = {
    "alg-none": lambda me, now: "Bearer " + unsigned(claims_for(me.user.id, now)),
    "alg-none-with-a-real-signature": lambda me, now: (
        "Bearer " + unsigned(claims_for(me.user.id, now), signature=me.access_token.split(".")[2])
    ),
    "alg-none-spelled-None": lambda me, now: (
        "Bearer "
        + unsigned(claims_for(me.user.id, now)).replace(
            _b64_json({"alg": "none", "typ": "JWT"}), _b64_json({"alg": "None", "typ": "JWT"})
        )
    ),
    "hs256-with-the-wrong-key": lambda me, now: (
        "Bearer " + signed(claims_for(me.user.id, now), key="another-secret-key-0123456789abcdef")
    ),
    "hs256-with-an-empty-key": lambda me, now: (
        "Bearer " + signed(claims_for(me.user.id, now), key="")
    ),
    "hs512-with-the-right-key": lambda me, now: (
        "Bearer " + signed(claims_for(me.user.id, now), algorithm="HS512")
    ),
    "role-tampered-signature-kept": lambda me, now: (
        "Bearer " + with_payload_swapped(me.access_token, role="admin")
    ),
    "subject-tampered-signature-kept": lambda me, now: (
        "Bearer " + with_payload_swapped(me.access_token, sub="someone-else")
    ),
    "expiry-extended-signature-kept": lambda me, now: (
        "Bearer " + with_payload_swapped(me.access_token, exp=int(now.timestamp()) + 86400 * 365)
    ),
    "signature-stripped": lambda me, now: "Bearer " + me.access_token.rsplit(".", 1)[0] + ".",
    "wrong-issuer": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, iss="someone")),
    "wrong-audience": lambda me, now: (
        "Bearer " + signed(claims_for(me.user.id, now, aud="another-api"))
    ),
    "expired-long-ago": lambda me, now: (
        "Bearer " + signed(claims_for(me.user.id, now, exp=int(now.timestamp()) - 1))
    ),
    "issued-an-hour-ahead": lambda me, now: (
        "Bearer " + signed(claims_for(me.user.id, now, iat=int(now.timestamp()) + 3600))
    ),
    "issued-beyond-the-leeway": lambda me, now: (
        "Bearer "
        + signed(claims_for(me.user.id, now, iat=int(now.timestamp()) + CLOCK_LEEWAY_SECONDS + 1))
    ),
    "not-before-an-hour-ahead": lambda me, now: (
        "Bearer " + signed(claims_for(me.user.id, now, nbf=int(now.timestamp()) + 3600))
    ),
    "not-before-not-a-number": lambda me, now: (
        "Bearer " + signed(claims_for(me.user.id, now, nbf="soon"))
    ),
    "missing-exp": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, exp=None)),
    "missing-iat": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, iat=None)),
    "missing-sub": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, sub=None)),
    "missing-jti": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, jti=None)),
    "missing-iss": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, iss=None)),
    "missing-aud": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, aud=None)),
    "missing-role": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, role=None)),
    "unknown-role": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, role="root")),
    "subject-not-a-string": lambda me, now: "Bearer " + signed(claims_for(me.user.id, now, sub=7)),
    "expiry-not-a-number": lambda me, now: (
        "Bearer " + signed(claims_for(me.user.id, now, exp="tomorrow"))
    ),
    "unknown-user": lambda me, now: (
        "Bearer " + signed(claims_for("ffffffffffffffffffffffffffffffff", now))
    ),
    "garbage": lambda me, now: "Bearer garbage",
    "three-garbage-parts": lambda me, now: "Bearer aaa.bbb.ccc",
    "not-base64": lambda me, now: "Bearer !!!.???.***",
    "basic-scheme": lambda me, now: (
        "Basic " + base64.b64encode(f"{me.user.username}:{me.password}".encode()).decode()
    ),
    "token-scheme-with-a-real-token": lambda me, now: "Token " + me.access_token,
    "real-token-without-a-scheme": lambda me, now: me.access_token,
    "bearer-without-a-token": lambda me, now: "Bearer",
    "bearer-with-blanks": lambda me, now: "Bearer    ",
}


async def test_a_token_built_like_the_portals_own_is_accepted(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a token built by this module's helpers exactly as the portal builds one
    me = await factory.signed_in()
    token = signed(claims_for(me.user.id, clock.now()))
    # WHEN it is used
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    # THEN it works: the forgeries below fail for their flaw, not for the helpers
    assert response.status_code == 200
    assert response.json()["user"]["id"] == me.user.id


@pytest.mark.parametrize("case", FORGED.values(), ids=FORGED.keys())
async def test_a_forged_or_malformed_token_is_401(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock, case: HeaderCase
) -> None:
    # GIVEN a real student and an Authorization header forged or mangled from them
    me = await factory.signed_in()
    header = case(me, clock.now())
    # WHEN it is presented
    response = await client.get(ME, headers={"Authorization": header})
    # THEN the caller is not signed in
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"
    assert me.user.id not in response.text


@pytest.mark.parametrize("claim", ["iat", "nbf"])
async def test_a_token_from_a_clock_a_few_seconds_ahead_is_accepted(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock, claim: str
) -> None:
    # GIVEN a token issued (or valid from) a few seconds ahead of this server's
    # clock, by a server whose clock runs a little fast
    me = await factory.signed_in()
    ahead = int(clock.now().timestamp()) + CLOCK_LEEWAY_SECONDS
    token = signed(claims_for(me.user.id, clock.now(), **{claim: ahead}))
    # WHEN it is used
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    # THEN it is taken: the leeway covers small differences between clocks
    assert response.status_code == 200


async def test_a_token_from_the_future_is_refused_until_its_time(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a token issued a minute ahead of now
    me = await factory.signed_in()
    ahead = int(clock.now().timestamp()) + 60
    token = signed(claims_for(me.user.id, clock.now(), iat=ahead, nbf=ahead))
    headers = {"Authorization": f"Bearer {token}"}
    # WHEN it is used now, it is not valid yet
    refused = await client.get(ME, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "The access token is not valid yet."
    # WHEN its time has come (less the leeway), it works
    clock.advance(seconds=60 - CLOCK_LEEWAY_SECONDS)
    assert (await client.get(ME, headers=headers)).status_code == 200


async def test_an_access_token_lasts_15_minutes(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a student who just signed in
    me = await factory.signed_in()
    # WHEN almost 15 minutes pass
    clock.advance(minutes=15, seconds=-1)
    # THEN the token still works
    assert (await client.get(ME, headers=me.headers)).status_code == 200
    # WHEN the 15 minutes are up
    clock.advance(seconds=1)
    response = await client.get(ME, headers=me.headers)
    # THEN it has expired
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "not_authenticated",
        "message": "The access token has expired.",
    }


async def test_the_role_comes_from_the_database_not_the_token(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a student holding a validly signed token that claims "admin"
    # (as if the signing key had leaked)
    me = await factory.signed_in()
    token = signed(claims_for(me.user.id, clock.now(), role="admin"))
    # WHEN it is used on an admin-only route
    response = await client.get("/api/auth/users", headers={"Authorization": f"Bearer {token}"})
    # THEN the stored role decides
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_a_deleted_users_token_is_401(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a signed-in student whose account is then deleted
    me = await factory.signed_in()
    async with portal.transaction() as session:
        await session.execute(delete(User).where(User.id == me.user.id))
    # WHEN their still-unexpired token is used
    response = await client.get(ME, headers=me.headers)
    # THEN it no longer signs anyone in
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_a_deactivated_users_token_is_401_at_once(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a signed-in student whose account is then deactivated
    me = await factory.signed_in()
    assert (await client.get(ME, headers=me.headers)).status_code == 200
    async with portal.transaction() as session:
        await session.execute(update(User).where(User.id == me.user.id).values(is_active=False))
    # WHEN their token is used within its 15 minutes
    response = await client.get(ME, headers=me.headers)
    # THEN it is refused without waiting for it to run out
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "not_authenticated",
        "message": "Your session has ended. Sign in again.",
    }


# --- password rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("a" * (MIN_PASSWORD_LENGTH - 1), f"must be at least {MIN_PASSWORD_LENGTH} characters"),
        ("", f"must be at least {MIN_PASSWORD_LENGTH} characters"),
        ("x" * (MAX_PASSWORD_LENGTH + 1), f"must be at most {MAX_PASSWORD_LENGTH} characters"),
        ("password1234", "is too common; choose one that is harder to guess"),
        ("QWERTYUIOP", "is too common; choose one that is harder to guess"),
        ("  1234567890  ", "is too common; choose one that is harder to guess"),
        ("hostile.tester", "must not be the same as the username"),
        ("Hostile.Tester", "must not be the same as the username"),
        ("hostile.person@example.com", "must not be the same as the e-mail address"),
        ("HOSTILE.PERSON", "must not be the same as the e-mail address"),
    ],
)
def test_password_rules(password: str, problem: str) -> None:
    assert (
        password_problem(password, username="hostile.tester", email="hostile.person@example.com")
        == problem
    )


@pytest.mark.parametrize(
    "password",
    [
        "b" * MIN_PASSWORD_LENGTH,
        "correct-horse-battery",
        "c" * MAX_PASSWORD_LENGTH,
        "hostile.tester2",
        "ünïcödé-pässwörd",
    ],
)
def test_passwords_that_break_no_rule(password: str) -> None:
    assert (
        password_problem(password, username="hostile.tester", email="hostile.person@example.com")
        is None
    )


def test_blank_username_and_email_match_nothing() -> None:
    assert password_problem("a-long-enough-secret", username="", email="") is None


# --- hashing ------------------------------------------------------------------------


@pytest.fixture
def hashing() -> PasswordHashing:
    return PasswordHashing(time_cost=1, memory_cost=8, parallelism=1)


async def test_hash_is_salted_argon2id(hashing: PasswordHashing) -> None:
    first = await hashing.hash("a-long-enough-secret")
    second = await hashing.hash("a-long-enough-secret")
    assert first.startswith("$argon2id$")
    assert "m=8,t=1,p=1" in first
    assert first != second
    assert "a-long-enough-secret" not in first


async def test_verify(hashing: PasswordHashing) -> None:
    stored = await hashing.hash("a-long-enough-secret")
    assert await hashing.verify(stored, "a-long-enough-secret") is True
    assert await hashing.verify(stored, "a-long-enough-secreT") is False
    assert await hashing.verify(stored, "") is False
    assert await hashing.verify("not-a-hash", "a-long-enough-secret") is False
    assert await hashing.verify("$argon2id$v=19$m=8,t=1,p=1$broken", "x") is False


async def test_verify_without_a_hash_checks_the_decoy_off_the_event_loop(
    hashing: PasswordHashing, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a record of what the slow check is given, and where it runs
    seen: list[tuple[str, int]] = []
    real = hashing._verify_sync

    def recording(password_hash: str, password: str) -> bool:
        seen.append((password_hash, threading.get_ident()))
        return real(password_hash, password)

    monkeypatch.setattr(hashing, "_verify_sync", recording)
    # WHEN an unknown account's password is checked
    result = await hashing.verify(None, "a-long-enough-secret")
    # THEN it costs a real Argon2 verification, against the decoy, in a worker
    # thread, and fails
    assert result is False
    assert seen == [(hashing._decoy_hash, seen[0][1])]
    assert seen[0][1] != threading.get_ident()
    assert hashing._decoy_hash.startswith("$argon2id$")
    assert not hashing.needs_rehash(hashing._decoy_hash)


async def test_needs_rehash_when_the_parameters_change(hashing: PasswordHashing) -> None:
    stored = await hashing.hash("a-long-enough-secret")
    assert hashing.needs_rehash(stored) is False
    stronger = PasswordHashing(time_cost=2, memory_cost=8, parallelism=1)
    assert stronger.needs_rehash(stored) is True
    assert await stronger.verify(stored, "a-long-enough-secret") is True


def test_roles_are_the_three_documented_ones() -> None:
    assert sorted(role.value for role in Role) == ["admin", "instructor", "student"]


# --- device cookies -------------------------------------------------------------------


DEVICE_TTL = timedelta(days=365)


def test_a_device_cookie_names_its_account_and_a_device_of_its_own() -> None:
    devices = DeviceCookies(TEST_SECRET, ttl=DEVICE_TTL)
    now = FrozenClock().now()
    first, second = (devices.issue(user_id="ada", now=now) for _ in range(2))
    claims = devices.verify(first, user_id="ada", now=now)
    assert claims is not None
    assert claims.user_id == "ada"
    other = devices.verify(second, user_id="ada", now=now)
    assert other is not None
    assert claims.device_id != other.device_id


@pytest.mark.parametrize(
    ("case", "check_as", "moment"),
    [
        ("another account", "grace", timedelta(0)),
        ("a year and a day later", "ada", DEVICE_TTL),
        ("before it was issued", "ada", -timedelta(minutes=1)),
    ],
)
def test_a_device_cookie_is_refused_for_another_account_or_out_of_its_time(
    case: str, check_as: str, moment: timedelta
) -> None:
    devices = DeviceCookies(TEST_SECRET, ttl=DEVICE_TTL)
    now = FrozenClock().now()
    cookie = devices.issue(user_id="ada", now=now)
    assert devices.verify(cookie, user_id=check_as, now=now + moment) is None, case


def test_access_tokens_and_device_cookies_are_never_taken_for_each_other() -> None:
    now = FrozenClock().now()
    devices = DeviceCookies(TEST_SECRET, ttl=DEVICE_TTL)
    tokens = AccessTokens(TEST_SECRET, ttl=timedelta(minutes=15))
    access_token, _ = tokens.issue(user_id="ada", role=Role.STUDENT, now=now)
    assert devices.verify(access_token, user_id="ada", now=now) is None
    with pytest.raises(NotAuthenticated):
        tokens.verify(devices.issue(user_id="ada", now=now), now=now)


async def test_hashing_threads_yield_the_cpu_to_the_event_loop(
    hashing: PasswordHashing, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a record of each hashing thread's priority (Linux: nice per thread)
    priorities: list[int] = []
    real = hashing._verify_sync

    def recording(password_hash: str, password: str) -> bool:
        priorities.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return real(password_hash, password)

    monkeypatch.setattr(hashing, "_verify_sync", recording)
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    # WHEN passwords are checked
    await asyncio.gather(*(hashing.verify(None, "a-long-enough-secret") for _ in range(3)))
    # THEN every check ran at a lower priority than the event loop's thread
    expected = min(19, loop_priority + HASHING_NICENESS)
    assert priorities == [expected] * 3
    assert expected > loop_priority
    # AND the event loop's own priority is untouched
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_priority


def test_a_remembered_token_is_checked_as_a_whole_and_only_good_ones_are_kept() -> None:
    tokens = AccessTokens(TEST_SECRET, ttl=timedelta(minutes=15))
    now = datetime.now(UTC)
    token, _ = tokens.issue(user_id="u1", role=Role.STUDENT, now=now)
    # GIVEN a token verified once (and so remembered)
    assert tokens.verify(token, now=now).user_id == "u1"
    # WHEN its signature is changed by one character, or its claims are
    head, claims, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    other_claims = tokens.issue(user_id="u2", role=Role.ADMIN, now=now)[0].split(".")[1]
    for forged in (f"{head}.{claims}.{flipped}", f"{head}.{other_claims}.{signature}"):
        # THEN it is refused, however often it is tried, and never remembered
        for _ in range(2):
            with pytest.raises(NotAuthenticated):
                tokens.verify(forged, now=now)
    # AND the remembered one still expires on time
    with pytest.raises(NotAuthenticated, match="expired"):
        tokens.verify(token, now=now + timedelta(minutes=15))
    # AND at most VERIFIED_TOKENS_KEPT are remembered, the oldest forgotten first
    for n in range(VERIFIED_TOKENS_KEPT + 10):
        tokens.verify(tokens.issue(user_id=f"x{n}", role=Role.STUDENT, now=now)[0], now=now)
    assert len(tokens._verified) == VERIFIED_TOKENS_KEPT
    assert token not in tokens._verified
    assert tokens.verify(token, now=now).user_id == "u1"
