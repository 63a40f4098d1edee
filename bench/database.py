"""A fresh database for each benchmark: a SQLite file in the run's folder, or
a new database on the PostgreSQL server given (dropped afterwards), migrated
with the portal's own migrations and then seeded."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.seed import Seeded, Sizes, seed
from lib.db import async_url
from lib.migrate import upgrade


@contextmanager
def fresh_database(database_url: str | None, folder: Path, name: str) -> Iterator[str]:
    if database_url is None:
        path = folder / (name + ".db")
        # A run again in the same folder starts from nothing, as on PostgreSQL.
        for leftover in (path, *(Path(f"{path}{end}") for end in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        yield f"sqlite:///{path}"
        return
    server, database = _server_url(database_url), f"portal_bench_{secrets.token_hex(4)}"
    asyncio.run(_execute(server, f'CREATE DATABASE "{database}"'))
    try:
        yield _with_database(database_url, database)
    finally:
        asyncio.run(_execute(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def migrate_and_seed(url: str, sizes: Sizes) -> tuple[Seeded, float]:
    started = time.perf_counter()
    upgrade(url)
    seeded = asyncio.run(seed(url, sizes))
    return seeded, time.perf_counter() - started


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _server_url(url: str) -> str:
    # CREATE DATABASE runs on the server's maintenance database.
    return _with_database(url, "postgres")


async def _execute(url: str, statement: str) -> None:
    engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()
