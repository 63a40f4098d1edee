"""`portal import` and `portal export` refuse what they must, with a stable
error, and leave the database exactly as it was."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from functions.models import metadata
from lib.backup import BackupError, export_database
from lib.backup.errors import (
    DatabaseNotEmpty,
    NotAnExport,
    SchemaMismatch,
    SchemaNotCurrent,
    UnknownRevision,
)
from lib.db import create_engine
from lib.migrate import known_revisions
from tests.lib.backup_support import (
    EXPORTED_AT,
    HEAD,
    FreshPostgres,
    empty_database,
    every_row,
    export_to,
    import_from,
    inspected,
    migrated,
    table_names,
)


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
