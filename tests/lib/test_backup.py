"""`portal export` / `portal import`: a whole database to one portable file and
back, on SQLite and PostgreSQL, refusing what it must and changing nothing then."""

from __future__ import annotations

import gzip
import json
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, MetaData, Numeric, String, Table

from functions import demo
from functions.models import metadata
from functions.router import create_app
from lib.backup import BackupError, export_database, export_file, import_file
from lib.backup.codecs import CODECS, codec_for
from lib.backup.errors import (
    DatabaseNotEmpty,
    NotAnExport,
    SchemaMismatch,
    SchemaNotCurrent,
    UnknownRevision,
)
from lib.clock import FrozenClock
from lib.db import create_engine
from lib.migrate import known_revisions
from lib.runtime import Portal
from lib.security import Role
from tests.conftest import test_settings as settings_for
from tests.factories import Factory
from tests.functions.checkout.support import pay_on_page, session_id_of, simulator_of
from tests.lib.backup_support import (
    EXPORTED_AT,
    FreshPostgres,
    empty_database,
    every_row,
    export_to,
    import_from,
    inspected,
    migrated,
    postgres_databases,
    revision_of,
    row_counts,
    table_names,
)

HEAD = known_revisions()[0]
# Microseconds and a moment that is not midnight: precision survives the trip.
START = datetime(2026, 1, 5, 9, 15, 30, 123456, tzinfo=UTC)
ODD_PAYLOAD = {
    "text": 'María → 東京 🎓 "quoted" \\ back\nslash',
    "looks_like_a_date": "2026-01-05T09:00:00+00:00",
    "numbers": [0, -1, 2**53, 1.5, 1e-7],
    "flags": [True, False, None],
    "nested": {"empty": {}, "list": [], "deep": {"a": [{"b": "c"}]}},
}


@pytest.fixture
async def fresh_postgres() -> AsyncIterator[FreshPostgres]:
    async with postgres_databases() as make:
        yield make


@pytest.fixture
async def filled(tmp_path: Path) -> str:
    """A migrated SQLite database with the demo data and rows in every table,
    made through the real services and the payment flow."""
    url = await migrated(f"sqlite:///{tmp_path / 'source.db'}")
    clock = FrozenClock(START)
    portal = Portal.build(settings_for(url, tmp_path), clock=clock)
    app = create_app(portal=portal)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await _fill(portal, Factory(portal, client), client, clock)
    finally:
        await portal.dispose()
    return url


async def _fill(
    portal: Portal, factory: Factory, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    async with portal.transaction() as session:
        await demo.load(session, portal)
    clock.advance(microseconds=654321)
    student = (await factory.signed_in(role=Role.STUDENT)).user  # a refresh token
    bad = await client.post("/api/auth/login", json={"login": "sam", "password": "wrong-one!"})
    assert bad.status_code == 401  # a throttle hit
    await factory.registered(full_name="Zoë Ørsted")  # a welcome message in the outbox
    await factory.queued(recipient=student, kind="test.odd", payload=ODD_PAYLOAD)
    paid_course = await factory.course(price=12900)
    result = await factory.checked_out(student=student, courses=[paid_course])
    assert result.checkout_url is not None
    assert (await pay_on_page(client, session_id_of(result.checkout_url))).status_code == 303
    assert await simulator_of(portal).deliver_pending() == 1  # a Stripe event, a paid payment
    full = await factory.course(capacity=1, price=0)
    await factory.enrollment(student=await factory.user(), course=full)
    await factory.waitlisted(student=student, course=full)
    clock.advance(days=1)
    await factory.reserved(student=student)  # a pending payment, due in a week
    await factory.in_cart(student=student, courses=[await factory.course(payment_due_days=7)])


async def test_round_trip_sqlite_postgres_sqlite_keeps_every_row(
    filled: str, fresh_postgres: FreshPostgres, tmp_path: Path
) -> None:
    # GIVEN a SQLite database with rows in every table
    original = await every_row(filled)
    empty = [name for name, rows in original.items() if not rows]
    assert empty == [], f"fill these tables in `_fill` so the round trip covers them: {empty}"

    # WHEN it is exported, imported into PostgreSQL, exported again and
    # imported into a new SQLite database
    first, second = tmp_path / "from-sqlite.jsonl.gz", tmp_path / "from-postgres.jsonl.gz"
    exported = await export_to(first, filled)
    postgres = await fresh_postgres()
    await import_from(first, postgres)
    await export_to(second, postgres)
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    imported = await import_from(second, copy)

    # THEN every row of every table is identical in all three, value and type
    assert await every_row(postgres) == original
    assert await every_row(copy) == original
    assert exported.rows == imported.rows == sum(len(rows) for rows in original.values())
    assert (exported.dialect, imported.dialect) == ("sqlite", "postgresql")
    # AND both copies are at the newest schema revision
    assert await inspected(postgres, revision_of) == HEAD
    assert await inspected(copy, revision_of) == HEAD


async def test_the_file_is_gzip_json_lines_with_a_header_and_every_table(
    filled: str, tmp_path: Path
) -> None:
    # GIVEN a filled database
    # WHEN it is exported
    path = tmp_path / "export.jsonl.gz"
    await export_to(path, filled)
    # THEN the file starts with the header, names every table in dependency
    # order with its columns' codecs and row count, and closes with the totals
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert lines[0] == {
        "format": "student-portal-export",
        "version": 1,
        "revision": HEAD,
        "dialect": "sqlite",
        "exported_at": EXPORTED_AT.isoformat(),
    }
    sections = [line for line in lines if "table" in line and "columns" in line]
    assert [s["table"] for s in sections] == [t.name for t in metadata.sorted_tables]
    users = next(s for s in sections if s["table"] == "users")
    assert users["columns"]["created_at"] == "datetime"
    assert users["columns"]["is_active"] == "boolean"
    rows = len(lines) - 2 - len(sections)
    assert lines[-1] == {"end": True, "tables": len(sections), "rows": rows}
    # AND values are portable: UTC timestamps with their offset, JSON kept as JSON
    odd = next(line for line in lines if line.get("kind") == "test.odd")
    assert odd["payload"] == ODD_PAYLOAD
    assert odd["created_at"] == (START + timedelta(microseconds=654321)).isoformat()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("schema_first", [False, True], ids=["no-schema", "migrated-empty"])
async def test_an_export_of_an_older_revision_loads_and_is_upgraded(
    backend: str, schema_first: bool, tmp_path: Path, fresh_postgres: FreshPostgres
) -> None:
    # GIVEN an export made at the previous schema revision (outbox rows
    # without the columns the newest migration adds)
    previous = known_revisions()[1]
    path = tmp_path / "older.jsonl.gz"
    _write_previous_revision_export(path, previous)
    # AND an empty database: no schema at all, or the newest schema, no rows
    target = await empty_database(backend, tmp_path, fresh_postgres)
    if schema_first:
        await migrated(target)
    # WHEN it is imported
    summary = await import_from(path, target)
    # THEN the rows are in, the schema is at the newest revision, and the new
    # columns have their empty values
    assert (summary.revision, summary.rows) == (previous, 2)
    assert await inspected(target, revision_of) == HEAD
    [message] = (await every_row(target))["outbox_messages"]
    names = [c.name for c in metadata.tables["outbox_messages"].columns]
    values = dict(zip(names, message, strict=True))
    assert values["payload"] == ("dict", {"hello": "world"})
    assert values["read_at"] == ("NoneType", None)


def _write_previous_revision_export(path: Path, revision: str) -> None:
    """What `portal export` wrote before the newest migration: one user and one
    outbox message, the message without the columns added since."""
    newest_only = {"claimed_by", "claimed_at", "read_at"}
    outbox = [c for c in metadata.tables["outbox_messages"].columns if c.name not in newest_only]
    at = "2025-12-01T08:00:00+00:00"
    user = {
        "id": "u1", "username": "old", "email": "old@example.com", "email_key": "old@example.com",
        "full_name": "Old Timer", "role": "student", "password_hash": "x", "is_active": True,
        "created_at": at, "updated_at": at, "last_login_at": None,
    }  # fmt: skip
    message = {
        "id": "m1", "kind": "auth.welcome", "recipient_id": "u1", "dedupe_key": None,
        "payload": {"hello": "world"}, "status": "sent", "attempts": 1, "created_at": at,
        "next_attempt_at": at, "sent_at": at, "last_error": None,
    }  # fmt: skip
    rows = {"users": [user], "outbox_messages": [message]}
    lines: list[dict[str, Any]] = [
        {"format": "student-portal-export", "version": 1, "revision": revision,
         "dialect": "sqlite", "exported_at": at},
    ]  # fmt: skip
    for table in metadata.sorted_tables:
        columns = outbox if table.name == "outbox_messages" else list(table.columns)
        table_rows = rows.get(table.name, [])
        codecs = {c.name: codec_for(c).name for c in columns}
        lines.append({"table": table.name, "columns": codecs, "rows": len(table_rows)})
        lines.extend(table_rows)
    lines.append({"end": True, "tables": len(metadata.sorted_tables), "rows": 2})
    path.write_bytes(gzip.compress(b"".join(json.dumps(x).encode() + b"\n" for x in lines)))


# --- refusals: each leaves the database exactly as it was --------------------------------


@pytest.fixture
async def exported(filled: str, tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl.gz"
    await export_to(path, filled)
    return path


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_import_refuses_a_database_with_rows(
    backend: str, exported: Path, tmp_path: Path, fresh_postgres: FreshPostgres
) -> None:
    # GIVEN a database that holds data (the export itself, imported once)
    target = await empty_database(backend, tmp_path, fresh_postgres)
    await import_from(exported, target)
    before = await every_row(target)
    # WHEN an export is imported into it
    with pytest.raises(DatabaseNotEmpty, match="not empty"):
        await import_from(exported, target)
    # THEN it is refused and nothing changed
    assert await every_row(target) == before


def _rewritten(source: Path, target: Path, change: Any) -> Path:
    lines = gzip.decompress(source.read_bytes()).splitlines(keepends=True)
    target.write_bytes(gzip.compress(b"".join(change(lines))))
    return target


def _header_revision(revision: str) -> Any:
    def change(lines: list[bytes]) -> list[bytes]:
        header = json.loads(lines[0])
        header["revision"] = revision
        return [json.dumps(header).encode() + b"\n", *lines[1:]]

    return change


def _rows_with(column: str, **values: Any) -> Any:
    """Every row that has `column` gets `values`."""

    def change(lines: list[bytes]) -> list[bytes]:
        out = []
        for line in lines:
            row = json.loads(line)
            if column in row and "table" not in row:
                line = json.dumps({**row, **values}).encode() + b"\n"
            out.append(line)
        return out

    return change


def _first_user_twice(lines: list[bytes]) -> list[bytes]:
    """A well-framed file whose users table holds one row twice: only the
    database can tell, by its primary key, in the middle of the load."""
    out: list[bytes] = []
    for index, line in enumerate(lines):
        value = json.loads(line)
        if value.get("table") == "users":
            value["rows"] += 1
            out += [json.dumps(value).encode() + b"\n", lines[index + 1]]
            continue
        if "end" in value:
            value["rows"] += 1
            line = json.dumps(value).encode() + b"\n"
        out.append(line)
    return out


BROKEN_FILES: dict[str, tuple[type[BackupError], Any]] = {
    "newer-revision": (UnknownRevision, _header_revision("9999_from_the_future")),
    "partial-revision-id": (UnknownRevision, _header_revision(HEAD[:-1])),
    "truncated": (NotAnExport, lambda lines: lines[: len(lines) // 2]),
    "no-closing-line": (NotAnExport, lambda lines: lines[:-1]),
    "wrong-type": (NotAnExport, _rows_with("is_active", is_active="yes")),
    "naive-timestamp": (NotAnExport, _rows_with("created_at", created_at="2026-01-05T09:00:00")),
    "extra-column": (NotAnExport, _rows_with("username", is_admin=True)),
    "not-json": (NotAnExport, lambda lines: [lines[0], b"{not json\n", *lines[2:]]),
    "duplicate-key": (BackupError, _first_user_twice),
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("broken", list(BROKEN_FILES))
async def test_import_refuses_a_bad_file_and_leaves_the_database_empty(
    backend: str, broken: str, exported: Path, tmp_path: Path, fresh_postgres: FreshPostgres
) -> None:
    # GIVEN an export damaged in one way, and an empty database
    error, change = BROKEN_FILES[broken]
    path = _rewritten(exported, tmp_path / f"{broken}.jsonl.gz", change)
    target = await empty_database(backend, tmp_path, fresh_postgres)
    # WHEN it is imported
    with pytest.raises(error):
        await import_from(path, target)
    # THEN it is refused, and the database has no tables: even the schema
    # built for the load was rolled back with it
    assert await inspected(target, table_names) == set()


async def test_import_refuses_a_file_that_is_not_an_export(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    for name, content in {
        "plain.txt": b"hello\n",
        "other.json.gz": gzip.compress(b'{"format": "something-else"}\n'),
        "empty.gz": b"",
    }.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(NotAnExport):
            await import_from(tmp_path / name, target)
    assert await inspected(target, table_names) == set()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_export_refuses_a_database_behind_the_code(
    backend: str, tmp_path: Path, fresh_postgres: FreshPostgres
) -> None:
    # GIVEN a database one migration behind this code, and one with no schema
    previous = known_revisions()[1]
    behind = await migrated(await empty_database(backend, tmp_path, fresh_postgres), previous)
    bare = await empty_database(backend, tmp_path, fresh_postgres)
    for url in (behind, bare):
        # WHEN it is exported THEN it is refused with what to do
        with pytest.raises(SchemaNotCurrent, match=r"portal migrate|no schema"):
            await export_to(tmp_path / "refused.jsonl.gz", url)


async def test_export_refuses_tables_it_does_not_describe(filled: str, tmp_path: Path) -> None:
    # GIVEN models that describe only part of the database
    partial = MetaData()
    metadata.tables["users"].to_metadata(partial)
    # WHEN an export is made with them THEN it is refused: it would be incomplete
    engine = create_engine(filled)
    try:
        with (tmp_path / "x").open("wb") as stream, pytest.raises(SchemaMismatch, match="courses"):
            await export_database(engine, partial, stream, now=EXPORTED_AT)
    finally:
        await engine.dispose()


def test_every_column_of_the_models_has_a_codec() -> None:
    # A migration that adds a column of a new type fails here, in CI, rather
    # than in a backup at night.
    for table in metadata.sorted_tables:
        for column in table.columns:
            assert codec_for(column).name in CODECS


def test_an_unknown_column_type_is_refused_with_its_name() -> None:
    prices = Table(
        "prices", MetaData(), Column("id", String, primary_key=True), Column("rate", Numeric)
    )
    with pytest.raises(ValueError, match=r"prices\.rate has type Numeric"):
        codec_for(prices.c.rate)


async def test_files_appear_whole_and_private_and_load_into_a_new_folder(
    filled: str, tmp_path: Path
) -> None:
    # GIVEN a filled database
    # WHEN it is exported to a file
    path = tmp_path / "backup.jsonl.gz"
    summary = await export_file(filled, metadata, str(path), now=EXPORTED_AT)
    # THEN only its owner may read it (it holds password hashes), and no
    # partial file is left beside it
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _backups_in(tmp_path) == [path.name]
    # WHEN an export that fails is written over it
    with pytest.raises(SchemaNotCurrent):
        await export_file(f"sqlite:///{tmp_path / 'bare.db'}", metadata, str(path), now=START)
    # THEN the earlier file is untouched and nothing partial is left
    assert (await import_file(f"sqlite:///{tmp_path / 'a' / 'b' / 'c.db'}", str(path))) == summary
    assert _backups_in(tmp_path) == [path.name]
    # AND the import created the database's folder and loaded every row
    counts = await row_counts(f"sqlite:///{tmp_path / 'a' / 'b' / 'c.db'}")
    assert sum(counts.values()) == summary.rows


def _backups_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "backup" in p.name)
