"""`portal export`: every table, in dependency order, from one consistent snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import MetaData, Table, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lib.backup.codecs import Codec, CodecError, codec_for, encode
from lib.backup.errors import BackupError, SchemaMismatch, SchemaNotCurrent
from lib.backup.fileformat import ExportWriter, Header
from lib.db import READ_ONLY_OPTION, derived_tables
from lib.migrate import current_revision, known_revisions

# Rows fetched from the server-side cursor (and held in memory) at a time.
BATCH_ROWS = 1000
ALEMBIC_TABLE = "alembic_version"


@dataclass(frozen=True)
class Summary:
    revision: str
    dialect: str
    tables: int
    rows: int


async def export_database(
    engine: AsyncEngine, metadata: MetaData, stream: IO[bytes], *, now: datetime
) -> Summary:
    """Write every table of `metadata` to `stream`. The database must be at this
    code's newest schema revision: the metadata then describes it exactly."""
    try:
        plan = [
            (table, {c.name: codec_for(c) for c in table.columns}) for table in _tables(metadata)
        ]
    except CodecError as exc:
        raise BackupError(f"Cannot export: {exc}.") from None
    async with _snapshot(engine) as connection:
        revision = await connection.run_sync(_check_schema, metadata)
        writer = ExportWriter(stream)
        writer.header(Header(revision=revision, dialect=engine.dialect.name, exported_at=now))
        for table, codecs in plan:
            await _write_table(connection, writer, table, codecs)
        writer.end()
    return Summary(revision, engine.dialect.name, writer.tables, writer.rows)


def _tables(metadata: MetaData) -> list[Table]:
    # Parents before children, so that an import satisfies every foreign key
    # as it goes; the order follows the metadata, new tables included. Derived
    # tables (the catalog version) are made afresh by the import's migrations.
    return [table for table in metadata.sorted_tables if not table.info.get("derived")]


@asynccontextmanager
async def _snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One read-only transaction for the whole export, so that every table is
    read at the same moment while the portal keeps running: REPEATABLE READ on
    PostgreSQL; on SQLite a deferred read transaction, which WAL keeps on one
    snapshot without blocking writers."""
    postgres = engine.dialect.name == "postgresql"
    options = {"isolation_level": "REPEATABLE READ"} if postgres else {READ_ONLY_OPTION: True}
    async with engine.connect() as connection:
        await connection.execution_options(**options)
        async with connection.begin():
            if postgres:
                await connection.execute(text("SET TRANSACTION READ ONLY"))
            yield connection


def _check_schema(connection: Connection, metadata: MetaData) -> str:
    revision = current_revision(connection)
    newest = known_revisions()[0]
    if revision is None:
        raise SchemaNotCurrent("The database has no schema yet: there is nothing to export.")
    if revision != newest:
        raise SchemaNotCurrent(
            f"The database is at schema revision {revision} and this portal at {newest}. "
            "Run `portal migrate` first, or export with the release that matches the database."
        )
    present = (
        set(inspect(connection).get_table_names()) - {ALEMBIC_TABLE} - derived_tables(connection)
    )
    unknown = sorted(present - set(metadata.tables))
    missing = sorted(set(metadata.tables) - present)
    if unknown or missing:
        raise SchemaMismatch(
            "The database's tables differ from this portal's models "
            f"(not described: {unknown}; absent: {missing}); an export would be incomplete."
        )
    return revision


async def _write_table(
    connection: AsyncConnection, writer: ExportWriter, table: Table, codecs: dict[str, Codec]
) -> None:
    count = int(await connection.scalar(select(func.count()).select_from(table)) or 0)
    writer.table(table.name, codecs, count)
    # A server-side cursor read in batches: memory stays flat however many rows.
    statement = (
        select(table).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH_ROWS)
    )
    names = list(codecs)
    columns = list(codecs.values())
    result = await connection.stream(statement)
    try:
        async for batch in result.partitions():
            for row in batch:
                writer.row(
                    {name: encode(c, v) for name, c, v in zip(names, columns, row, strict=True)}
                )
    except CodecError as exc:
        raise BackupError(f"Cannot export a row of {table.name}: {exc}.") from None
