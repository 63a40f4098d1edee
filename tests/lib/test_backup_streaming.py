"""Exports of a running portal: memory stays flat however many rows, and every
table is read at one moment while other connections keep writing."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from functions.auth.models import User
from functions.models import metadata
from functions.webhooks.models import StripeEvent
from lib.backup import export_database
from lib.db import create_engine
from lib.outbox import OutboxMessage
from lib.throttle import ThrottleHit
from tests.lib.backup_support import (
    EXPORTED_AT,
    FreshPostgres,
    empty_database,
    export_to,
    import_from,
    migrated,
    row_counts,
)

SMALL = 2_000
GROWTH = 10
AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _user(n: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "username": f"user{n}",
        "email": f"user{n}@example.com",
        "email_key": f"user{n}@example.com",
        "full_name": f"User Number {n}",
        "role": "student",
        "password_hash": "$argon2id$v=19$m=8,t=1,p=1$" + "x" * 60,
        "is_active": True,
        "created_at": AT,
        "updated_at": AT,
        "last_login_at": None,
    }


async def _fill(url: str, rows: int) -> None:
    """`rows` notifications (JSON payloads) and `rows` throttle hits for one user."""
    engine = create_engine(url)
    user = _user(0)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(User), [user])
            for start in range(0, rows, 1000):
                count = min(1000, rows - start)
                await connection.execute(
                    insert(OutboxMessage),
                    [_message(user["id"], start + n) for n in range(count)],
                )
                await connection.execute(
                    insert(ThrottleHit),
                    [
                        {"id": uuid.uuid4().hex, "key": f"login:address:{n}", "created_at": AT}
                        for n in range(count)
                    ],
                )
    finally:
        await engine.dispose()


def _message(recipient_id: str, n: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "kind": "checkout.payment_confirmed",
        "recipient_id": recipient_id,
        "dedupe_key": f"message:{n}",
        "payload": {"payment_id": uuid.uuid4().hex, "amount": n, "items": [{"d": "x" * 200}]},
        "status": "pending",
        "attempts": 0,
        "created_at": AT + timedelta(seconds=n),
        "next_attempt_at": AT,
        "sent_at": None,
        "last_error": None,
        "claimed_by": None,
        "claimed_at": None,
        "read_at": None,
    }


async def _peak_bytes(work: Callable[[], Awaitable[Any]]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_memory_does_not_grow_with_the_row_count(
    backend: str, tmp_path: Path, fresh_postgres: FreshPostgres
) -> None:
    peaks: dict[int, tuple[int, int]] = {}
    for rows in (SMALL, SMALL * GROWTH):
        # GIVEN a database with `rows` rows in two tables
        source = await migrated(await empty_database(backend, tmp_path, fresh_postgres))
        await _fill(source, rows)
        target = await empty_database(backend, tmp_path, fresh_postgres)
        path = tmp_path / f"{rows}.jsonl.gz"
        # WHEN it is exported and imported, with Python's allocations traced
        exported = await _peak_bytes(lambda: export_to(path, source))  # noqa: B023
        imported = await _peak_bytes(lambda: import_from(path, target))  # noqa: B023
        assert (await row_counts(target))["outbox_messages"] == rows
        peaks[rows] = (exported, imported)

    # THEN ten times the rows takes nowhere near ten times the memory: rows
    # stream through in batches, none of it is held whole
    (small_export, small_import), (large_export, large_import) = peaks.values()
    report = f"peaks {peaks}"
    assert large_export < 2 * small_export, report
    assert large_import < 2 * small_import, report


class _WritesOnFirstChunk(io.BytesIO):
    """Output that, when the export's first bytes arrive (the export has begun
    reading), lets another connection commit new rows."""

    def __init__(self, on_first_chunk: Callable[[], None]) -> None:
        super().__init__()
        self._on_first_chunk: Callable[[], None] | None = on_first_chunk
        self.chunks_after = 0

    def write(self, data: Any) -> int:
        if self._on_first_chunk is not None:
            action, self._on_first_chunk = self._on_first_chunk, None
            action()
        else:
            self.chunks_after += 1
        return super().write(data)


def _commit_elsewhere(url: str) -> None:
    """A user and a throttle hit committed by another connection, now, while
    the export's event loop waits (as another server process would write)."""

    async def write() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(insert(User), [_user(999_999)])
                hit = {"id": uuid.uuid4().hex, "key": "late", "created_at": AT}
                await connection.execute(insert(ThrottleHit), [hit])
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, write()).result()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_every_table_is_read_at_one_moment(
    backend: str, tmp_path: Path, fresh_postgres: FreshPostgres
) -> None:
    # GIVEN a database whose first non-empty table (in export order) is large
    # enough for the export to write while it reads, and one user
    source = await migrated(await empty_database(backend, tmp_path, fresh_postgres))
    await _fill(source, 10)
    await _stripe_events(source, 3_000)
    order = [table.name for table in metadata.sorted_tables]
    assert order.index(StripeEvent.__tablename__) < min(
        order.index("users"), order.index("throttle_hits")
    )
    # WHEN another connection commits a user and a throttle hit once the export
    # has begun writing
    output = _WritesOnFirstChunk(lambda: _commit_elsewhere(source))
    engine = create_engine(source)
    try:
        summary = await export_database(engine, metadata, output, now=EXPORTED_AT)
    finally:
        await engine.dispose()
    # THEN the export holds the database as it was when it began
    assert output.chunks_after > 0, "the rows were committed only after the export"
    counts = _section_counts(output.getvalue())
    assert (counts["users"], counts["throttle_hits"]) == (1, 10)
    assert summary.rows == sum(counts.values())
    # AND the database has the new rows
    assert ((await row_counts(source))["users"], (await row_counts(source))["throttle_hits"]) == (
        2,
        11,
    )


async def _stripe_events(url: str, rows: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(StripeEvent),
                [
                    {
                        "id": f"evt_{uuid.uuid4().hex}",
                        "type": "x",
                        "outcome": "ignored",
                        "received_at": AT,
                    }
                    for _ in range(rows)
                ],
            )
            assert await connection.scalar(select(func.count()).select_from(StripeEvent)) == rows
    finally:
        await engine.dispose()


def _section_counts(data: bytes) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in gzip.decompress(data).splitlines():
        value = json.loads(line)
        if "table" in value and "columns" in value:
            counts[value["table"]] = value["rows"]
    return counts
