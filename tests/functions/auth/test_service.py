"""The rules of accounts and sign-in, through the service on real databases."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import text

from functions.auth import service, signin
from functions.auth.errors import EmailTaken, InvalidCredentials, UsernameTaken
from functions.auth.models import User
from lib.clock import FrozenClock
from lib.errors import Invalid, TooManyRequests
from lib.runtime import Portal
from lib.security import PasswordHashing, Role
from tests.factories import DEFAULT_PASSWORD, Factory

ADDRESS = "198.51.100.20"
PASSWORD = "analytical-engine-1843"
TOO_SHORT = "must be at least 10 characters"
TOO_COMMON = "is too common; choose one that is harder to guess"
SAME_AS_USERNAME = "must not be the same as the username"
SAME_AS_EMAIL = "must not be the same as the e-mail address"


class CountingPasswords(PasswordHashing):
    """The real hasher, remembering which hashes it was asked to verify against."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified: list[str | None] = []

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.verified.append(password_hash)
        return await super().verify(password_hash, password)


def account(
    *,
    username: str = "ada.lovelace",
    email: str = "ada@example.com",
    password: str = PASSWORD,
    full_name: str = "Ada Lovelace",
) -> service.NewAccount:
    return service.NewAccount(username, email, password, full_name)


async def register(portal: Portal, new: service.NewAccount) -> User:
    async with portal.transaction() as session:
        return await service.register(session, portal, new)


async def login(portal: Portal, login: str, password: str) -> signin.SignIn:
    async with portal.transaction() as session:
        return await signin.login(
            session, portal, login=login, password=password, address=ADDRESS, device_token=None
        )


async def all_users(portal: Portal) -> list[User]:
    async with portal.read_sessions() as session:
        items, _ = await service.list_users(session, service.UserFilter(limit=100))
    return list(items)


async def stored(portal: Portal, user_id: str) -> User:
    async with portal.read_sessions() as session:
        return await service.get_user(session, user_id)


async def refused(portal: Portal, new: service.NewAccount) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        await register(portal, new)
    return caught.value.fields


# --- registration ----------------------------------------------------------------


async def test_register_always_makes_a_student(portal: Portal) -> None:
    # GIVEN a registration that asks for the admin role
    new = service.NewAccount("ada", "ada@example.com", PASSWORD, "Ada", Role.ADMIN)

    # WHEN it is registered
    user = await register(portal, new)

    # THEN the account is a student's
    assert (await stored(portal, user.id)).role == "student"


async def test_register_normalizes_username_email_and_name(portal: Portal) -> None:
    # WHEN a registration has stray spaces and capitals
    user = await register(
        portal,
        account(
            username="  Ada.Lovelace ", email=" Ada@EXAMPLE.com ", full_name=" Ada\t Lovelace "
        ),
    )

    # THEN the username is lowercased, the e-mail's domain too (its key wholly),
    # and the name's spaces are tidied
    saved = await stored(portal, user.id)
    assert saved.username == "ada.lovelace"
    assert saved.email == "Ada@example.com"
    assert saved.email_key == "ada@example.com"
    assert saved.full_name == "Ada Lovelace"
    assert saved.is_active


@pytest.mark.parametrize("username", ["abc", "a" * 32, "a_b.c-d9", "ADA_99"])
async def test_username_accepts_3_to_32_of_the_alphabet(portal: Portal, username: str) -> None:
    user = await register(portal, account(username=username))
    assert user.username == username.lower()


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("ab", "must be 3 to 32 characters"),
        ("a" * 33, "must be 3 to 32 characters"),
        ("ada lovelace", "may only contain a-z, 0-9, underscore, dot and hyphen"),
        ("ada@home", "may only contain a-z, 0-9, underscore, dot and hyphen"),
        ("adä", "may only contain a-z, 0-9, underscore, dot and hyphen"),
        ("ada+1", "may only contain a-z, 0-9, underscore, dot and hyphen"),
    ],
)
async def test_username_rules(portal: Portal, username: str, message: str) -> None:
    assert await refused(portal, account(username=username)) == {"username": message}


async def test_username_is_unique_whatever_the_case(portal: Portal) -> None:
    # GIVEN an account "ada.lovelace"
    await register(portal, account())

    # WHEN someone registers "ADA.Lovelace" with another e-mail
    # THEN the username is taken
    with pytest.raises(UsernameTaken):
        await register(portal, account(username="ADA.Lovelace", email="other@example.com"))
    assert len(await all_users(portal)) == 1


async def test_email_is_unique_whatever_the_case(portal: Portal) -> None:
    # GIVEN an account with ada@example.com
    await register(portal, account())

    # WHEN someone registers ADA@Example.COM under another username
    # THEN the e-mail is taken
    with pytest.raises(EmailTaken):
        await register(portal, account(username="countess", email="ADA@Example.COM"))
    assert len(await all_users(portal)) == 1


@pytest.mark.parametrize(
    "email", ["not-an-email", "ada@", "@example.com", "ada@example", "ada@@example.com", ""]
)
async def test_email_must_be_an_address(portal: Portal, email: str) -> None:
    assert set(await refused(portal, account(email=email))) == {"email"}


@pytest.mark.parametrize(
    ("username", "email", "password", "message"),
    [
        ("ada", "ada@example.com", "short-pw1", TOO_SHORT),
        ("ada", "ada@example.com", "password1234", TOO_COMMON),
        ("ada", "ada@example.com", "qwertyuiop", TOO_COMMON),
        ("ada", "ada@example.com", "QwertyUiop", TOO_COMMON),
        ("charles.babbage", "cb@example.com", "Charles.Babbage", SAME_AS_USERNAME),
        ("babbage", "babbage@example.com", "Babbage@Example.com", SAME_AS_EMAIL),
        ("babbage", "difference.engine@example.com", "difference.engine", SAME_AS_EMAIL),
    ],
)
async def test_password_rules(
    portal: Portal, username: str, email: str, password: str, message: str
) -> None:
    fields = await refused(portal, account(username=username, email=email, password=password))
    assert fields == {"password": message}


async def test_all_problems_are_reported_together_and_nothing_is_created(portal: Portal) -> None:
    # GIVEN a registration where every field is wrong
    new = account(username="x", email="nope", password="short", full_name="   ")

    # WHEN it is registered
    fields = await refused(portal, new)

    # THEN every field has its problem, and no account exists
    assert set(fields) == {"username", "email", "password", "full_name"}
    assert fields["username"] == "must be 3 to 32 characters"
    assert fields["password"] == TOO_SHORT
    assert fields["full_name"] == "is required"
    assert await all_users(portal) == []


@pytest.mark.parametrize(
    ("full_name", "message"),
    [
        ("", "is required"),
        ("x" * 101, "must be at most 100 characters"),
        ("Ada\x00", "must not contain control characters"),
    ],
)
async def test_full_name_rules(portal: Portal, full_name: str, message: str) -> None:
    assert await refused(portal, account(full_name=full_name)) == {"full_name": message}


# --- sign-in ---------------------------------------------------------------------


async def test_an_unknown_login_still_costs_a_password_verification(portal: Portal) -> None:
    # GIVEN a portal whose hasher counts verifications
    passwords = CountingPasswords()
    portal = replace(portal, passwords=passwords)

    # WHEN someone signs in as nobody
    with pytest.raises(InvalidCredentials):
        await login(portal, "nobody", PASSWORD)

    # THEN one verification ran, against the decoy (no stored hash)
    assert passwords.verified == [None]


async def test_a_known_login_is_verified_against_its_own_hash(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN ada, and a hasher that counts verifications
    user = await factory.user(username="ada")
    passwords = CountingPasswords()
    portal = replace(portal, passwords=passwords)

    # WHEN someone signs in as ada with a wrong password
    with pytest.raises(InvalidCredentials):
        await login(portal, "ada", "not-the-password")

    # THEN exactly one verification ran, against her hash
    assert passwords.verified == [user.password_hash]


async def test_login_rehashes_a_password_stored_with_old_parameters(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN a user whose hash was made with the test parameters (m=8, t=1)
    user = await factory.user(username="ada")
    assert user.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")

    # WHEN the portal now hashes with stronger parameters and the user signs in
    portal = replace(portal, passwords=PasswordHashing(time_cost=2, memory_cost=16, parallelism=1))
    signed_in = await login(portal, "ada", DEFAULT_PASSWORD)

    # THEN the stored hash uses the new parameters and still verifies
    rehashed = (await stored(portal, user.id)).password_hash
    assert signed_in.user.id == user.id
    assert rehashed.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert await portal.passwords.verify(rehashed, DEFAULT_PASSWORD)
    assert not await portal.passwords.verify(rehashed, "not-the-password")


async def test_login_keeps_a_hash_made_with_the_current_parameters(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN ada, hashed with the portal's current parameters
    user = await factory.user(username="ada")

    # WHEN she signs in
    await login(portal, "ada", DEFAULT_PASSWORD)

    # THEN her hash is left as it was
    assert (await stored(portal, user.id)).password_hash == user.password_hash


async def test_login_records_the_time_of_the_last_sign_in(
    portal: Portal, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN ada, who never signed in
    user = await factory.user(username="ada")
    assert user.last_login_at is None
    clock.advance(hours=2)

    # WHEN she signs in two hours after her account was made
    await login(portal, "ada", DEFAULT_PASSWORD)

    # THEN that moment is recorded
    assert (await stored(portal, user.id)).last_login_at == clock.now()


async def test_failures_by_username_and_by_email_count_for_one_account(
    portal: Portal, factory: Factory
) -> None:
    # GIVEN three failures by username and two by e-mail in another case
    await factory.user(username="ada", email="ada@example.com")
    for login_as in ["ada", "ADA", "ada", "ada@example.com", "Ada@Example.COM"]:
        with pytest.raises(InvalidCredentials):
            await login(portal, login_as, "not-the-password")

    # WHEN the right password comes next
    # THEN the account is throttled
    with pytest.raises(TooManyRequests) as caught:
        await login(portal, "ada", DEFAULT_PASSWORD)
    assert caught.value.retry_after == 900


async def test_failures_for_an_unknown_login_are_throttled_too(portal: Portal) -> None:
    # GIVEN five failures for a login nobody has, one of them very long
    long_login = "x" * 300 + "@example.com"
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await login(portal, long_login, PASSWORD)

    # THEN the sixth is throttled, and another unknown login is not
    with pytest.raises(TooManyRequests):
        await login(portal, long_login, PASSWORD)
    with pytest.raises(InvalidCredentials):
        await login(portal, "y" * 300 + "@example.com", PASSWORD)


# --- racing requests -------------------------------------------------------------


async def _until_a_query_waits_for_a_lock(portal: Portal) -> None:
    """On PostgreSQL: return once another connection is blocked on a lock."""
    async with portal.read_sessions() as watcher:
        for _ in range(2000):
            waiting = (
                await watcher.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                )
            ).scalar_one()
            # Each transaction sees one snapshot of the statistics; start afresh.
            await watcher.rollback()
            if waiting:
                return
    pytest.fail("the racing request never waited for the first one")


async def test_two_people_taking_one_email_at_once_get_a_conflict(
    portal: Portal, factory: Factory, backend: str
) -> None:
    # GIVEN ada has changed her e-mail to shared@example.com, not yet committed
    ada = await factory.user(username="ada")
    grace = await factory.user(username="grace")
    async with portal.sessions() as first, portal.sessions() as second:
        await service.update_profile(
            first,
            portal,
            ada.id,
            full_name=None,
            email="shared@example.com",
            current_password=DEFAULT_PASSWORD,
        )

        # WHEN grace asks for the same address before ada's change commits
        racing = asyncio.create_task(
            service.update_profile(
                second,
                portal,
                grace.id,
                full_name=None,
                email="Shared@example.com",
                current_password=DEFAULT_PASSWORD,
            )
        )
        if backend == "postgresql":
            await _until_a_query_waits_for_a_lock(portal)
        await first.commit()

        # THEN grace is told the address is taken
        with pytest.raises(EmailTaken):
            await racing
    assert (await stored(portal, grace.id)).email == grace.email


@pytest.mark.parametrize(
    ("first_account", "racing_account", "expected"),
    [
        (
            account(username="email.fan", email="fan@example.com"),
            account(username="email.fan", email="other@example.com"),
            UsernameTaken,
        ),
        (
            account(username="ada", email="shared@example.com"),
            account(username="grace", email="SHARED@example.com"),
            EmailTaken,
        ),
    ],
)
async def test_two_registrations_racing_for_one_name_or_email_get_a_conflict(
    portal: Portal,
    backend: str,
    first_account: service.NewAccount,
    racing_account: service.NewAccount,
    expected: type[Exception],
) -> None:
    # GIVEN a registration flushed but not yet committed
    async with portal.sessions() as first, portal.sessions() as second:
        await service.register(first, portal, first_account)

        # WHEN a second one for the same username or e-mail runs before it commits
        racing = asyncio.create_task(service.register(second, portal, racing_account))
        if backend == "postgresql":
            await _until_a_query_waits_for_a_lock(portal)
        await first.commit()

        # THEN the second is told which one is taken
        with pytest.raises(expected):
            await racing
    assert len(await all_users(portal)) == 1
