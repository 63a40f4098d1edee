"""Catalog search after `portal export` and `portal import`: the full-text
table is not in the file; the triggers fill it (and the search text) as the
courses go in, so search finds the same courses in every copy, and keeps
following changes made after the import."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from functions.auth.models import User
from functions.router import create_app
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.security import Role
from tests.conftest import test_settings as settings_for
from tests.factories import Factory
from tests.lib.backup_support import START, FreshPostgres, export_to, import_from, migrated

QUERIES = ["physics", "PHYS", "hopper", "élodie", "ÉLO", "ph", "it's", '"near"', "zzz"]


@asynccontextmanager
async def _portal_at(url: str, tmp_path: Path) -> AsyncIterator[Factory]:
    portal = build_portal(settings_for(url, tmp_path), clock=FrozenClock(START))
    transport = httpx.ASGITransport(app=create_app(portal=portal), client=("203.0.113.7", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Factory(portal, client)
    finally:
        await portal.dispose()


async def _search(factory: Factory, queries: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for q in queries:
        response = await factory.client.get("/api/catalog/courses", params={"q": q})
        assert response.status_code == 200, response.text
        found[q] = sorted(course["code"] for course in response.json()["items"])
    return found


async def _at(url: str, tmp_path: Path, do: Callable[[Factory], Awaitable[Any]]) -> Any:
    async with _portal_at(url, tmp_path) as factory:
        return await do(factory)


async def _fill(factory: Factory) -> None:
    grace = await factory.user(role=Role.INSTRUCTOR, full_name="Grace Hopper")
    elodie = await factory.user(role=Role.INSTRUCTOR, full_name="Élodie Durand")
    await factory.course(code="PHY-101", title="Physics I", instructor=grace)
    await factory.course(code="PHY-201", title="Quantum physics", instructor=elodie)
    await factory.course(code="LAW-1", title="It's the law", description='The "near" rule',
                         instructor=elodie)  # fmt: skip


async def _rename_grace(factory: Factory) -> None:
    async with factory.portal.transaction() as session:
        await session.execute(
            update(User).where(User.full_name == "Grace Hopper").values(full_name="Grace Murray")
        )


async def test_search_works_after_a_trip_through_postgresql_and_back(
    fresh_postgres: FreshPostgres, tmp_path: Path
) -> None:
    # GIVEN a SQLite catalog and what search finds in it
    source = await migrated(f"sqlite:///{tmp_path / 'source.db'}")
    await _at(source, tmp_path, _fill)
    expected = await _at(source, tmp_path, lambda f: _search(f, QUERIES))
    assert expected["physics"] == ["PHY-101", "PHY-201"]
    assert expected['"near"'] == ["LAW-1"]
    # WHEN it is exported, imported into PostgreSQL, exported again and
    # imported into a new SQLite database
    first, second = tmp_path / "first.jsonl.gz", tmp_path / "second.jsonl.gz"
    await export_to(first, source)
    postgres = await fresh_postgres()
    await import_from(first, postgres)
    await export_to(second, postgres)
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    await import_from(second, copy)
    # THEN search finds the same courses in both copies
    for url in (postgres, copy):
        assert await _at(url, tmp_path, lambda f: _search(f, QUERIES)) == expected, url
        # AND still follows a change made after the import
        await _at(url, tmp_path, _rename_grace)
        after = await _at(url, tmp_path, lambda f: _search(f, ["hopper", "murray"]))
        assert after == {"hopper": [], "murray": ["PHY-101"]}, url
