"""PostgreSQL connections per process: sized by how many workers share the
server, and never opened and closed again under steady load."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from lib.db import create_engine, create_read_engine, pool_size
from lib.server import serve
from tests.conftest import postgres_url


@pytest.mark.parametrize(
    ("env", "size"),
    [
        ({}, 20),
        ({"WEB_CONCURRENCY": "1"}, 20),
        ({"WEB_CONCURRENCY": "2"}, 20),
        ({"WEB_CONCURRENCY": "4"}, 10),
        ({"WEB_CONCURRENCY": "8"}, 5),
        ({"WEB_CONCURRENCY": "64"}, 2),
        ({"WEB_CONCURRENCY": "4", "PORTAL_DB_POOL_SIZE": "7"}, 7),
    ],
)
def test_the_pool_is_the_servers_share_divided_among_its_workers(
    env: dict[str, str], size: int
) -> None:
    assert pool_size(env) == size


async def test_a_postgresql_engine_keeps_its_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a server of four workers, the environment saying nothing else
    for name in ("PORTAL_DB_POOL_SIZE", "PORTAL_DB_MAX_OVERFLOW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    # WHEN a worker makes its engine
    engine = create_engine(postgres_url())
    try:
        pool = engine.sync_engine.pool
        # THEN it pools its share and opens none past it: an extra connection
        # would be closed as soon as it came back, and opened again next time
        assert pool.size() == 10  # type: ignore[attr-defined]
        assert pool._max_overflow == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


def test_portal_serve_tells_its_workers_how_many_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: dict[str, object] = {}
    # Whatever serve sets here is undone after the test; nor does it take SIGTERM.
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    monkeypatch.setattr("signal.signal", lambda *_a: None)
    monkeypatch.setattr("uvicorn.run", lambda *_a, **kw: ran.update(kw))
    serve(host="127.0.0.1", port=8999, workers=3)
    assert ran["workers"] == 3
    assert os.environ["WEB_CONCURRENCY"] == "3"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_on_lambda_nothing_is_pooled_and_reads_still_answer(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    # GIVEN a Lambda function (each invocation may bring a new event loop)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "portal-catalog")
    # WHEN it makes the portal's engines
    engine = create_engine(database_url)
    reader = create_read_engine(engine)
    try:
        # THEN neither keeps a connection, and both answer
        for each in (engine, reader):
            assert isinstance(each.sync_engine.pool, NullPool)
            async with each.connect() as connection:
                assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await reader.dispose()
        await engine.dispose()
