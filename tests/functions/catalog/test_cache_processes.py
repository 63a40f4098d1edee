"""The page cache across processes: a seat taken through one `portal serve`
shows in another's anonymous catalog at its next request (TTL 0 here; the
bound is PORTAL_CATALOG_VERSION_TTL_MS otherwise)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx

from functions.runtime import build_portal
from lib.clock import SystemClock
from lib.config import Settings
from lib.migrate import upgrade
from tests.factories import Factory
from tests.servers import MANY_SERVERS, SECRET_KEY, portal_environment, running_servers

pytestmark = MANY_SERVERS

LIST = "/api/catalog/courses"


async def test_a_seat_taken_on_one_server_shows_on_the_other_at_once(
    settings: Settings, backend: str, database_url: str, tmp_path: Path
) -> None:
    # GIVEN a database migrated as `portal migrate` does (the servers migrate
    # it again on start) and a free course, made on the real clock as the
    # servers run on it
    if backend == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'shared.db'}"
        await asyncio.to_thread(upgrade, database_url)
    settings = replace(settings, database_url=database_url, secret_key=SECRET_KEY)
    portal = build_portal(settings, clock=SystemClock())
    try:
        async with httpx.AsyncClient() as outside:
            factory = Factory(portal, outside)
            course = await factory.course(capacity=5, price=0)
            student = factory.headers_for(await factory.user())
    finally:
        await portal.dispose()
    env = {**portal_environment(database_url, tmp_path), "PORTAL_CATALOG_VERSION_TTL_MS": "0"}
    with running_servers([env, env], tmp_path) as (first, second):
        async with httpx.AsyncClient(timeout=30) as client:
            detail = f"{LIST}/{course.id}"
            # AND the second server has the course's anonymous page in its cache
            cached = await client.get(second.url + detail)
            again = await client.get(second.url + detail)
            assert again.content == cached.content
            assert cached.json()["course"]["seats_left"] == 5
            # WHEN the student enrolls through the first server
            enrolled = await client.post(first.url + f"{detail}/enroll", headers=student)
            assert enrolled.status_code == 201, enrolled.text
            # THEN the second server's next anonymous answer has the seat gone
            fresh = await client.get(
                second.url + detail, headers={"If-None-Match": cached.headers["ETag"]}
            )
            assert fresh.status_code == 200
            assert fresh.json()["course"]["seats_left"] == 4
            listed = await client.get(second.url + LIST)
            assert listed.json()["items"][0]["seats_left"] == 4
