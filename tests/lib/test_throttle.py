"""The throttle: one atomic reserve per attempt, on the database (SQLite and
PostgreSQL) and on Redis."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import coredis
import pytest
from sqlalchemy import func, select

from lib.clock import FrozenClock
from lib.runtime import Portal
from lib.throttle import (
    REDIS_READ_TIMEOUT_SECONDS,
    DatabaseThrottle,
    Limit,
    RedisThrottle,
    Reservation,
    ThrottleHit,
    ThrottleUnavailable,
    create_throttle,
    redis_key_prefix,
)

WINDOW = timedelta(minutes=15)
CONCURRENT_ATTEMPTS = 30


def limit(key: str = "login:account:ada", max_attempts: int = 5) -> Limit:
    return Limit(key, max_attempts, WINDOW)


@pytest.fixture
def throttle(portal: Portal) -> DatabaseThrottle:
    return DatabaseThrottle(portal.sessions)


async def take(
    throttle: DatabaseThrottle | RedisThrottle, limits: list[Limit], times: int, clock: FrozenClock
) -> list[Reservation]:
    taken = [await throttle.reserve(limits, clock.now()) for _ in range(times)]
    assert all(r.granted for r in taken), taken
    return taken


async def wait_for(
    throttle: DatabaseThrottle | RedisThrottle, limits: list[Limit], clock: FrozenClock
) -> int:
    """How long the next attempt must wait; 0 (and then the attempt counts) when it may go."""
    return (await throttle.reserve(limits, clock.now())).retry_after


async def stored_hits(portal: Portal) -> int:
    async with portal.read_sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(ThrottleHit))).scalar_one()
        )


# --- the database throttle ------------------------------------------------------


async def test_database_grants_until_the_limit_then_refuses_for_the_rest_of_the_window(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN five attempts reserved, the limit
    account = limit()
    await take(throttle, [account], 5, clock)

    # WHEN a sixth is asked for
    # THEN it waits the whole window, counting down as time passes, and a
    # refusal does not count
    assert await wait_for(throttle, [account], clock) == 900
    clock.advance(minutes=10)
    assert await wait_for(throttle, [account], clock) == 300
    clock.advance(minutes=5, seconds=-1)
    assert await wait_for(throttle, [account], clock) == 1
    clock.advance(seconds=1)
    assert await wait_for(throttle, [account], clock) == 0


async def test_database_window_moves_with_each_attempt(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN one attempt now and four more five minutes later
    account = limit()
    await take(throttle, [account], 1, clock)
    clock.advance(minutes=5)
    await take(throttle, [account], 4, clock)
    assert await wait_for(throttle, [account], clock) == 600

    # WHEN the first attempt leaves the window
    clock.advance(minutes=10)

    # THEN one more is granted, and then the next waits for the next oldest to leave
    assert await wait_for(throttle, [account], clock) == 0
    assert await wait_for(throttle, [account], clock) == 300


async def test_database_rounds_a_partial_second_up(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN a spent limit
    account = limit()
    await take(throttle, [account], 5, clock)

    # WHEN 10.25 seconds pass
    clock.advance(seconds=10.25)

    # THEN the wait is 889.75 seconds, rounded up so that a retry is never early
    assert await wait_for(throttle, [account], clock) == 890


async def test_database_counts_an_attempt_under_every_limit_or_under_none(
    portal: Portal, throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN an account limit of 5 and an address limit of 3, three attempts taken
    account = limit("login:account:ada")
    address = limit("login:address:203.0.113.7", max_attempts=3)
    await take(throttle, [account, address], 3, clock)
    assert await stored_hits(portal) == 6

    # WHEN a fourth attempt asks for both
    refused = await throttle.reserve([account, address], clock.now())

    # THEN the spent address refuses it and the account does not count it either
    assert (refused.granted, refused.retry_after) == (False, 900)
    assert await stored_hits(portal) == 6
    # AND the account alone, or another account, may still go
    assert await wait_for(throttle, [account], clock) == 0
    assert await wait_for(throttle, [limit("login:account:grace")], clock) == 0


async def test_database_release_gives_back_exactly_the_reserved_attempt(
    portal: Portal, throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN four attempts under an account and an address, and a fifth reserved
    account, address = limit("login:account:ada"), limit("login:address:203.0.113.7")
    await take(throttle, [account, address], 4, clock)
    fifth = await throttle.reserve([account, address], clock.now())

    # WHEN the fifth succeeds and is released
    await throttle.release(fifth)

    # THEN only it is gone: one more attempt fits under both limits, then none
    assert await stored_hits(portal) == 8
    assert await wait_for(throttle, [account, address], clock) == 0
    assert await wait_for(throttle, [account, address], clock) == 900
    # AND releasing a refusal changes nothing
    await throttle.release(await throttle.reserve([account], clock.now()))
    assert await stored_hits(portal) == 10


async def test_database_reset_clears_one_key_only(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN an account and an address both spent
    account = limit("login:account:ada")
    address = limit("login:address:203.0.113.7")
    await take(throttle, [account, address], 5, clock)

    # WHEN the account's count is reset
    await throttle.reset(account)

    # THEN the account may try again, the address may not
    assert await wait_for(throttle, [account], clock) == 0
    assert await wait_for(throttle, [address], clock) == 900


@pytest.mark.parametrize(
    ("key", "similar"),
    [
        ("login:account:" + "x" * 300, "login:account:" + "x" * 299 + "y"),
        ("login:account:ada\x00", "login:account:ada"),
    ],
    ids=["longer-than-the-column", "holding-a-nul"],
)
async def test_database_counts_keys_it_cannot_store_as_they_are(
    throttle: DatabaseThrottle, clock: FrozenClock, key: str, similar: str
) -> None:
    # GIVEN a key built from visitor input: too long for the column, or with a
    # NUL, which PostgreSQL cannot store in text
    # WHEN five attempts are taken under it
    await take(throttle, [limit(key)], 5, clock)

    # THEN it is spent, a similar key is not, and reset clears it
    assert await wait_for(throttle, [limit(key)], clock) == 900
    assert await wait_for(throttle, [limit(similar)], clock) == 0
    await throttle.reset(limit(key))
    assert await wait_for(throttle, [limit(key)], clock) == 0


async def test_database_drops_hits_that_left_the_window(
    portal: Portal, throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN five old attempts
    account = limit()
    await take(throttle, [account], 5, clock)
    assert await stored_hits(portal) == 5

    # WHEN a new one comes after the window
    clock.advance(WINDOW)
    await take(throttle, [account], 1, clock)

    # THEN only the new one is kept
    assert await stored_hits(portal) == 1


async def test_database_grants_simultaneous_attempts_up_to_the_limit_only(
    portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN throttles on separate connections, as in separate server processes
    # (PostgreSQL runs them at once; SQLite queues the writers)
    account = limit(max_attempts=5)
    throttles = [DatabaseThrottle(portal.sessions) for _ in range(3)]

    # WHEN thirty attempts are reserved at the same moment
    outcomes = await asyncio.gather(
        *(
            throttles[n % len(throttles)].reserve([account], clock.now())
            for n in range(CONCURRENT_ATTEMPTS)
        )
    )

    # THEN exactly five are granted and the rest refused
    assert sum(r.granted for r in outcomes) == 5
    assert await stored_hits(portal) == 5


async def test_create_throttle_uses_the_database_without_redis_url(portal: Portal) -> None:
    throttle = create_throttle(portal.settings, portal.sessions)
    assert isinstance(throttle, DatabaseThrottle)


async def test_create_throttle_uses_redis_with_keys_of_this_database(portal: Portal) -> None:
    # GIVEN a Redis URL
    settings = replace(portal.settings, redis_url="redis://127.0.0.1:6379/0")
    # WHEN the throttle is made
    throttle = create_throttle(settings, portal.sessions)
    try:
        # THEN it counts in Redis, under a prefix that names the database only
        assert isinstance(throttle, RedisThrottle)
        assert throttle.key_prefix == redis_key_prefix(settings.database_url)
        assert throttle.key_prefix != redis_key_prefix(settings.database_url + "-other")
        assert "postgres" not in throttle.key_prefix
        assert "sqlite" not in throttle.key_prefix
    finally:
        await throttle.close()


# --- the Redis throttle ---------------------------------------------------------


async def test_redis_grants_until_the_limit_then_refuses(
    redis_throttle: RedisThrottle, clock: FrozenClock
) -> None:
    # GIVEN five attempts reserved, the limit
    account = limit()
    await take(redis_throttle, [account], 5, clock)

    # WHEN a sixth is asked for
    wait = await wait_for(redis_throttle, [account], clock)

    # THEN it waits about the whole window (Redis keeps real time)
    assert 890 <= wait <= 900


async def test_redis_counts_an_attempt_under_every_limit_or_under_none(
    redis_throttle: RedisThrottle, clock: FrozenClock
) -> None:
    # GIVEN an address limit of 3, spent by three attempts with an account
    account = limit("login:account:ada")
    address = limit("login:address:203.0.113.7", max_attempts=3)
    await take(redis_throttle, [account, address], 3, clock)

    # WHEN two more attempts ask for both
    for _ in range(2):
        assert not (await redis_throttle.reserve([account, address], clock.now())).granted

    # THEN the account counted none of them: two more fit under it, then none
    await take(redis_throttle, [account], 2, clock)
    assert await wait_for(redis_throttle, [account], clock) > 0


async def test_redis_release_reset_and_keys_are_independent(
    redis_throttle: RedisThrottle, clock: FrozenClock
) -> None:
    # GIVEN an account and an address, four attempts each, and a fifth reserved
    account = limit("login:account:ada")
    address = limit("login:address:203.0.113.7")
    await take(redis_throttle, [account, address], 4, clock)
    fifth = await redis_throttle.reserve([account, address], clock.now())

    # WHEN the fifth is released
    await redis_throttle.release(fifth)

    # THEN one more fits under both, then none; another account is free
    await take(redis_throttle, [account, address], 1, clock)
    assert await wait_for(redis_throttle, [account], clock) > 0
    assert await wait_for(redis_throttle, [limit("login:account:grace")], clock) == 0
    # AND resetting the account frees it, not the address
    await redis_throttle.reset(account)
    assert await wait_for(redis_throttle, [account], clock) == 0
    assert await wait_for(redis_throttle, [address], clock) > 0


async def test_redis_release_takes_one_entry_off_the_limits_list(
    redis_throttle: RedisThrottle, redis_url: str, clock: FrozenClock
) -> None:
    # GIVEN three attempts: the `limits` library keeps one list entry per hit
    account = limit()
    taken = await take(redis_throttle, [account], 3, clock)
    client = coredis.Redis.from_url(redis_url)
    try:
        [key] = [k async for k in client.scan_iter(match=f"{redis_throttle.key_prefix}:*")]
        assert await client.llen(key) == 3

        # WHEN one is released
        await redis_throttle.release(taken[0])

        # THEN the list that `limits` counts holds one entry fewer
        assert await client.llen(key) == 2
    finally:
        client.connection_pool.disconnect()


async def test_redis_grants_simultaneous_attempts_up_to_the_limit_only(
    redis_throttle: RedisThrottle, redis_url: str, clock: FrozenClock
) -> None:
    # GIVEN a second throttle on the same Redis and key prefix, as in another process
    twin = RedisThrottle(redis_url, key_prefix=redis_throttle.key_prefix)
    account = limit()
    try:
        # WHEN thirty attempts are reserved through both at the same moment
        outcomes = await asyncio.gather(
            *(
                (redis_throttle if n % 2 else twin).reserve([account], clock.now())
                for n in range(CONCURRENT_ATTEMPTS)
            )
        )

        # THEN exactly five are granted, and both see the limit spent
        assert sum(r.granted for r in outcomes) == 5
        assert await wait_for(twin, [account], clock) > 0
        assert await wait_for(redis_throttle, [account], clock) > 0
    finally:
        await twin.close()


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers, like a hung Redis."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("server", ["down", "hung"])
async def test_redis_that_is_down_or_hung_is_a_quick_503(server: str, clock: FrozenClock) -> None:
    # GIVEN a Redis that refuses connections, or one that never answers
    with silent_server() as silent:
        port = closed_port() if server == "down" else silent
        throttle = RedisThrottle(f"redis://127.0.0.1:{port}/0", key_prefix="portal-test-down")
        try:
            # WHEN an attempt is reserved
            started = time.monotonic()
            with pytest.raises(ThrottleUnavailable) as caught:
                await throttle.reserve([limit()], clock.now())
            elapsed = time.monotonic() - started
        finally:
            await throttle.close()

    # THEN the answer is a clear 503 within a few seconds, not a hang or a 500
    assert (caught.value.status_code, caught.value.code) == (503, "throttle_unavailable")
    assert elapsed < REDIS_READ_TIMEOUT_SECONDS * 4
