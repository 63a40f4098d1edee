"""A storm of sign-ins: password checks run in a bounded pool of their own,
hold no database connection while they run, and leave the rest of the
portal answering."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from functions.router import create_app
from lib.runtime import Portal
from lib.security import PasswordHashing
from tests.factories import DEFAULT_PASSWORD, Factory

POOL = 2
SIGN_INS = 12
# A safety net for a broken build, never a pace: every wait below ends on an event.
STUCK = 60


class GatedHashing(PasswordHashing):
    """Real Argon2id, but each check stops at a gate the test opens, and the
    checks running at once are counted."""

    def __init__(self, *, threads: int, expected: int) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1, threads=threads)
        self.gate = threading.Event()
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()
        self._expected = expected
        self.arrived = 0
        self.all_arrived = asyncio.Event()
        self.entered: asyncio.Queue[None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.arrived += 1
        if self.arrived == self._expected:
            self.all_arrived.set()
        return await super().verify(password_hash, password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self._loop.call_soon_threadsafe(self.entered.put_nowait, None)
        try:
            self.gate.wait(STUCK)
            return super()._verify_sync(password_hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
async def hashing() -> AsyncIterator[GatedHashing]:
    gated = GatedHashing(threads=POOL, expected=SIGN_INS)
    try:
        yield gated
    finally:
        gated.gate.set()
        gated.close()


@pytest.fixture
async def storm_client(portal: Portal, hashing: GatedHashing) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(portal=replace(portal, passwords=hashing))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_sign_in_storm_hashes_in_a_bounded_pool_and_holds_no_connection(
    portal: Portal, factory: Factory, hashing: GatedHashing, storm_client: httpx.AsyncClient
) -> None:
    # GIVEN many students and a hashing pool of POOL threads
    users = [await factory.user() for _ in range(SIGN_INS)]
    # WHEN they all sign in at once
    sign_ins = [
        asyncio.create_task(
            storm_client.post(
                "/api/auth/login", json={"login": u.username, "password": DEFAULT_PASSWORD}
            )
        )
        for u in users
    ]
    await asyncio.wait_for(hashing.all_arrived.wait(), STUCK)
    for _ in range(POOL):
        await asyncio.wait_for(hashing.entered.get(), STUCK)
    # THEN while every one of them waits on its password check, no database
    # connection is held, and only POOL checks run
    assert portal.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert hashing.running == POOL
    # AND the catalog still answers meanwhile
    catalog = await asyncio.wait_for(storm_client.get("/api/catalog/courses"), STUCK)
    assert catalog.status_code == 200
    # WHEN the checks may finish
    hashing.gate.set()
    answers = await asyncio.wait_for(asyncio.gather(*sign_ins), STUCK)
    # THEN everyone is signed in, and never more than POOL checks ran at once
    assert [a.status_code for a in answers] == [200] * SIGN_INS
    assert hashing.most == POOL


async def test_the_pool_is_as_large_as_the_cores() -> None:
    hashing = PasswordHashing(time_cost=1, memory_cost=8, parallelism=1)
    try:
        assert 1 <= hashing.threads <= (os.cpu_count() or 1)
    finally:
        hashing.close()
