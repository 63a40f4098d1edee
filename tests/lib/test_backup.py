"""`portal export` / `portal import`: a whole database to one portable file and
back, on SQLite and PostgreSQL (the refusals are in test_backup_refusals.py)."""

from __future__ import annotations

import asyncio
import gzip
import json
import stat
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, LargeBinary, MetaData, String, Table

from functions.models import metadata
from lib.backup import export_file, import_file
from lib.backup.codecs import CODECS, CodecError, codec_for, decode, encode
from lib.backup.errors import SchemaNotCurrent
from tests.lib.backup_support import (
    EXPORTED_AT,
    HEAD,
    ODD_PAYLOAD,
    START,
    FreshPostgres,
    empty_database,
    every_row,
    export_to,
    import_from,
    inspected,
    migrated,
    revision_of,
    row_counts,
)


async def test_round_trip_sqlite_postgres_sqlite_keeps_every_row(
    filled: str, fresh_postgres: FreshPostgres, tmp_path: Path
) -> None:
    # GIVEN a SQLite database with rows in every table
    original = await every_row(filled)
    empty = [name for name, rows in original.items() if not rows]
    assert empty == [], f"fill these in `filled_database` so the trip covers them: {empty}"

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
    # order with its columns' codecs and row count, and closes with the totals;
    # derived tables (the catalog version) are left to the import's migrations
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert lines[0] == {
        "format": "student-portal-export",
        "version": 1,
        "revision": HEAD,
        "dialect": "sqlite",
        "exported_at": EXPORTED_AT.isoformat(),
    }
    sections = [line for line in lines if "table" in line and "columns" in line]
    assert [s["table"] for s in sections] == [
        t.name for t in metadata.sorted_tables if t.name != "catalog_versions"
    ]
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
    # GIVEN an export made at an older schema revision (0003: outbox rows
    # without the delivery and read columns, users without later columns)
    previous = OLDER_REVISION
    path = tmp_path / "older.jsonl.gz"
    await _write_older_revision_export(path, previous, tmp_path)
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


OLDER_REVISION = "0003"


async def _write_older_revision_export(path: Path, revision: str, tmp_path: Path) -> None:
    """What `portal export` wrote at an older revision: one user and one outbox
    message, every table and column as that revision had them (read off a
    database migrated to it, so later migrations never make this test stale)."""
    older = await migrated(f"sqlite:///{tmp_path / 'older-schema.db'}", revision)
    schema = await inspected(older, _reflected)
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
    for name, columns in schema:
        table_rows = rows.get(name, [])
        assert all(set(row) == set(columns) for row in table_rows), name
        model = metadata.tables[name]
        codecs = {c: codec_for(model.c[c]).name for c in columns}
        lines.append({"table": name, "columns": codecs, "rows": len(table_rows)})
        lines.extend(table_rows)
    lines.append({"end": True, "tables": len(schema), "rows": 2})
    data = gzip.compress(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    await asyncio.to_thread(path.write_bytes, data)


def _reflected(connection: Connection) -> list[tuple[str, list[str]]]:
    reflected = MetaData()
    reflected.reflect(connection)
    return [
        (table.name, [c.name for c in table.columns])
        for table in reflected.sorted_tables
        if table.name != "alembic_version"
    ]


def test_every_column_of_the_models_has_a_codec() -> None:
    # A migration that adds a column of a new type fails here, in CI, rather
    # than in a backup at night.
    for table in metadata.sorted_tables:
        for column in table.columns:
            assert codec_for(column).name in CODECS


def test_an_unknown_column_type_is_refused_with_its_name() -> None:
    files = Table(
        "files", MetaData(), Column("id", String, primary_key=True), Column("body", LargeBinary)
    )
    with pytest.raises(CodecError, match=r"files\.body has type LargeBinary"):
        codec_for(files.c.body)


ROUND_TRIPS = [
    (
        "datetime",
        datetime(2026, 3, 29, 1, 30, 0, 5, tzinfo=UTC),
        "2026-03-29T01:30:00.000005+00:00",
    ),
    ("date", date(2026, 2, 28), "2026-02-28"),
    ("time", time(18, 5, 9), "18:05:09"),
    ("boolean", False, False),
    ("integer", -(2**40), -(2**40)),
    ("string", "Zoë \x01 ", "Zoë \x01 "),
    ("json", {"a": [1, None, "b"]}, {"a": [1, None, "b"]}),
    ("float", 0.1, 0.1),
    ("decimal", Decimal("12345678901234567890.0001"), "12345678901234567890.0001"),
]


@pytest.mark.parametrize(
    ("codec", "value", "written"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS]
)
def test_each_codec_writes_a_portable_value_and_reads_it_back(
    codec: str, value: Any, written: Any
) -> None:
    assert encode(CODECS[codec], value) == written
    assert json.loads(json.dumps(written)) == written
    assert decode(CODECS[codec], written) == value
    assert encode(CODECS[codec], None) is None


def test_a_timestamp_is_written_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    written = encode(CODECS["datetime"], datetime(2026, 6, 1, 12, 0, tzinfo=paris))
    assert written == "2026-06-01T10:00:00+00:00"


REFUSED = [
    ("datetime", "2026-01-05T09:00:00"),
    ("datetime", 1767603600),
    ("date", "2026-02-30"),
    ("time", "25:00"),
    ("boolean", 1),
    ("integer", True),
    ("integer", "7"),
    ("string", 7),
    ("float", True),
    ("decimal", "NaN"),
    ("decimal", "Infinity"),
    ("decimal", 1.5),
]


@pytest.mark.parametrize(("codec", "value"), REFUSED, ids=[f"{c}-{v!r}" for c, v in REFUSED])
def test_a_value_that_does_not_fit_its_codec_is_refused(codec: str, value: Any) -> None:
    with pytest.raises(CodecError):
        decode(CODECS[codec], value)


def test_a_float_that_json_cannot_hold_is_refused_on_export() -> None:
    with pytest.raises(CodecError):
        encode(CODECS["float"], float("nan"))


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
