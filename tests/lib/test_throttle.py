from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lib.clock import FrozenClock
from lib.runtime import Portal
from lib.throttle import DatabaseThrottle, Limit, RedisThrottle, ThrottleHit, create_throttle

WINDOW = timedelta(minutes=15)


def limit(key: str = "login:account:ada", max_failures: int = 5) -> Limit:
    return Limit(key, max_failures, WINDOW)


@pytest.fixture
def throttle(portal: Portal) -> DatabaseThrottle:
    return DatabaseThrottle(portal.sessions, portal.read_sessions)


async def fail(
    throttle: DatabaseThrottle | RedisThrottle, limits: list[Limit], times: int, clock: FrozenClock
) -> None:
    for _ in range(times):
        await throttle.record_failure(limits, clock.now())


async def stored_hits(portal: Portal) -> int:
    async with portal.read_sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(ThrottleHit))).scalar_one()
        )


# --- the database throttle ------------------------------------------------------


async def test_database_allows_until_the_limit_then_blocks_for_the_rest_of_the_window(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN four failures, one short of the limit
    account = limit()
    await fail(throttle, [account], 4, clock)
    assert await throttle.blocked_for([account], clock.now()) == 0

    # WHEN the fifth failure is recorded
    await fail(throttle, [account], 1, clock)

    # THEN the next attempt waits the whole window, counting down as time passes
    assert await throttle.blocked_for([account], clock.now()) == 900
    clock.advance(minutes=10)
    assert await throttle.blocked_for([account], clock.now()) == 300
    clock.advance(minutes=5, seconds=-1)
    assert await throttle.blocked_for([account], clock.now()) == 1
    clock.advance(seconds=1)
    assert await throttle.blocked_for([account], clock.now()) == 0


async def test_database_window_moves_with_each_failure(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN one failure now and four more five minutes later
    account = limit()
    await fail(throttle, [account], 1, clock)
    clock.advance(minutes=5)
    await fail(throttle, [account], 4, clock)
    assert await throttle.blocked_for([account], clock.now()) == 600

    # WHEN the first failure leaves the window
    clock.advance(minutes=10)

    # THEN one more attempt is allowed, and failing it blocks until the next
    # oldest failure leaves the window
    assert await throttle.blocked_for([account], clock.now()) == 0
    await fail(throttle, [account], 1, clock)
    assert await throttle.blocked_for([account], clock.now()) == 300


async def test_database_rounds_a_partial_second_up(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN a blocked account
    account = limit()
    await fail(throttle, [account], 5, clock)

    # WHEN 10.25 seconds pass
    clock.advance(seconds=10.25)

    # THEN the wait is 889.75 seconds, rounded up so that a retry is never early
    assert await throttle.blocked_for([account], clock.now()) == 890


async def test_database_keys_and_limits_are_independent(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN an account limit of 5 and an address limit of 3, both failing three times
    account = limit("login:account:ada")
    address = limit("login:address:203.0.113.7", max_failures=3)
    other = limit("login:account:grace")
    await fail(throttle, [account, address], 3, clock)

    # THEN the address is blocked, the account alone is not, another account is not
    assert await throttle.blocked_for([account], clock.now()) == 0
    assert await throttle.blocked_for([address], clock.now()) == 900
    assert await throttle.blocked_for([account, address], clock.now()) == 900
    assert await throttle.blocked_for([other], clock.now()) == 0


async def test_database_reset_clears_one_key_only(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN an account and an address both blocked
    account = limit("login:account:ada")
    address = limit("login:address:203.0.113.7")
    await fail(throttle, [account, address], 5, clock)

    # WHEN the account's count is reset
    await throttle.reset(account)

    # THEN the account may try again, the address may not
    assert await throttle.blocked_for([account], clock.now()) == 0
    assert await throttle.blocked_for([address], clock.now()) == 900


async def test_database_counts_keys_longer_than_the_column(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN keys built from long visitor input (an unknown login of 300 characters)
    long_key = limit("login:account:" + "x" * 300)
    similar = limit("login:account:" + "x" * 299 + "y")

    # WHEN five failures are recorded for one of them
    await fail(throttle, [long_key], 5, clock)

    # THEN it is blocked, a different long key is not, and reset clears it
    assert await throttle.blocked_for([long_key], clock.now()) == 900
    assert await throttle.blocked_for([similar], clock.now()) == 0
    await throttle.reset(long_key)
    assert await throttle.blocked_for([long_key], clock.now()) == 0


async def test_database_counts_keys_holding_a_nul(
    throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN a key holding a NUL, which PostgreSQL cannot store in text
    nul_key = limit("login:account:ada\x00")
    plain = limit("login:account:ada")

    # WHEN five failures are recorded for it
    await fail(throttle, [nul_key], 5, clock)

    # THEN it is blocked, the same key without the NUL is not, and reset clears it
    assert await throttle.blocked_for([nul_key], clock.now()) == 900
    assert await throttle.blocked_for([plain], clock.now()) == 0
    await throttle.reset(nul_key)
    assert await throttle.blocked_for([nul_key], clock.now()) == 0


async def test_database_drops_hits_that_left_the_window(
    portal: Portal, throttle: DatabaseThrottle, clock: FrozenClock
) -> None:
    # GIVEN five old failures
    account = limit()
    await fail(throttle, [account], 5, clock)
    assert await stored_hits(portal) == 5

    # WHEN a new failure comes after the window
    clock.advance(WINDOW)
    await fail(throttle, [account], 1, clock)

    # THEN only the new one is kept
    assert await stored_hits(portal) == 1


async def test_create_throttle_uses_the_database_without_redis_url(portal: Portal) -> None:
    throttle = create_throttle(portal.settings, portal.sessions, portal.read_sessions)
    assert isinstance(throttle, DatabaseThrottle)


async def test_create_throttle_uses_redis_with_redis_url(portal: Portal) -> None:
    settings = replace(portal.settings, redis_url="redis://127.0.0.1:6379/0")
    throttle = create_throttle(settings, portal.sessions, portal.read_sessions)
    try:
        assert isinstance(throttle, RedisThrottle)
    finally:
        await throttle.close()


# --- the Redis throttle ---------------------------------------------------------


async def test_redis_allows_until_the_limit_then_blocks(
    redis_throttle: RedisThrottle, clock: FrozenClock
) -> None:
    # GIVEN four failures, one short of the limit
    account = limit()
    await fail(redis_throttle, [account], 4, clock)
    assert await redis_throttle.blocked_for([account], clock.now()) == 0

    # WHEN the fifth failure is recorded
    await fail(redis_throttle, [account], 1, clock)

    # THEN the next attempt waits about the whole window (Redis keeps real time)
    wait = await redis_throttle.blocked_for([account], clock.now())
    assert 890 <= wait <= 900


async def test_redis_keys_limits_and_reset_are_independent(
    redis_throttle: RedisThrottle, clock: FrozenClock
) -> None:
    # GIVEN an account and an address (limit 3) blocked in Redis
    account = limit("login:account:ada")
    address = limit("login:address:203.0.113.7", max_failures=3)
    other = limit("login:account:grace")
    await fail(redis_throttle, [account, address], 5, clock)

    # THEN another account is free; resetting the account frees it, not the address
    assert await redis_throttle.blocked_for([other], clock.now()) == 0
    assert await redis_throttle.blocked_for([account], clock.now()) > 0
    await redis_throttle.reset(account)
    assert await redis_throttle.blocked_for([account], clock.now()) == 0
    assert await redis_throttle.blocked_for([account, address], clock.now()) > 0


async def test_redis_counts_are_shared_between_throttles(
    redis_throttle: RedisThrottle, redis_url: str, clock: FrozenClock
) -> None:
    # GIVEN a second throttle on the same Redis and key prefix, as in another process
    twin = RedisThrottle(redis_url, key_prefix=redis_throttle.key_prefix)
    account = limit()
    try:
        # WHEN failures are recorded alternately through both
        for attempt in range(5):
            await (redis_throttle if attempt % 2 else twin).record_failure([account], clock.now())

        # THEN both see the account as blocked
        assert await redis_throttle.blocked_for([account], clock.now()) > 0
        assert await twin.blocked_for([account], clock.now()) > 0
    finally:
        await twin.close()
