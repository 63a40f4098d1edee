"""`portal import`: an export loaded into an empty database in one transaction.

The schema is first brought to the export's own revision (the file's rows have
that shape), the rows are loaded, and the schema is then upgraded to this
code's newest revision, all in one transaction. Both backends have
transactional DDL, so any failure leaves the database as it was: empty.
"""

from __future__ import annotations

from typing import IO

from sqlalchemy import column, insert, inspect, select, table, true
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lib.backup.dump import ALEMBIC_TABLE, BATCH_ROWS, Summary
from lib.backup.errors import (
    BackupError,
    DatabaseNotEmpty,
    SchemaMismatch,
    UnknownRevision,
    reason,
)
from lib.backup.fileformat import ExportReader, Header, TableSection
from lib.caching import catalog_versions
from lib.db import derived_tables
from lib.migrate import current_revision, known_revisions, migrate_connection

# Made by the migrations and kept by triggers, never loaded from a file.
NOT_LOADED_TABLES = frozenset({catalog_versions.name, ALEMBIC_TABLE})


async def import_database(engine: AsyncEngine, stream: IO[bytes]) -> Summary:
    reader = ExportReader(stream)
    header = reader.header()
    history = known_revisions()
    if header.revision not in history:
        raise UnknownRevision(
            f"The export is from schema revision {header.revision}, which this portal does "
            f"not know (its newest is {history[0]}): a newer release wrote it. Import it "
            "with that release or a later one."
        )
    async with engine.connect() as connection, connection.begin():
        await connection.run_sync(_check_empty)
        await connection.run_sync(migrate_connection, header.revision)
        tables, rows = await _load(connection, reader, header)
        await connection.run_sync(migrate_connection, history[0])
    return Summary(header.revision, header.dialect, tables, rows)


def _check_empty(connection: Connection) -> None:
    """Refuses anything but an empty database: no tables at all, or a schema of
    a known revision with no rows in any table."""
    revision = current_revision(connection)
    if revision is not None and revision not in known_revisions():
        raise UnknownRevision(
            f"The database is at schema revision {revision}, which this portal does not know."
        )
    derived = derived_tables(connection)
    names = [
        n
        for n in inspect(connection).get_table_names()
        if n not in NOT_LOADED_TABLES and n not in derived
    ]
    if names and revision is None:
        raise SchemaMismatch(
            "The database has tables but no schema revision; import into an empty database."
        )
    for name in names:
        if connection.execute(select(true()).select_from(table(name)).limit(1)).first():
            raise DatabaseNotEmpty(
                f"The database is not empty (table {name} has rows). `portal import` only "
                "loads into an empty database, so that nothing is overwritten or mixed."
            )


def _columns_by_table(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    # Full-text tables are filled by triggers as the rows go in, not from the file.
    derived = derived_tables(connection)
    return {
        name: {c["name"] for c in inspector.get_columns(name)}
        for name in inspector.get_table_names()
        if name not in NOT_LOADED_TABLES and name not in derived
    }


async def _load(
    connection: AsyncConnection, reader: ExportReader, header: Header
) -> tuple[int, int]:
    expected = await connection.run_sync(_columns_by_table)
    loaded: set[str] = set()
    rows = 0
    for section in reader.tables():
        _check_section(section, expected, header)
        await _insert(connection, section)
        loaded.add(section.name)
        rows += section.rows
    missing = sorted(set(expected) - loaded)
    if missing:
        raise SchemaMismatch(
            f"The export lacks tables that schema revision {header.revision} has: {missing}."
        )
    return len(loaded), rows


def _check_section(section: TableSection, expected: dict[str, set[str]], header: Header) -> None:
    columns = expected.get(section.name)
    if columns is None:
        raise SchemaMismatch(
            f"The export has a table {section.name}, which schema revision "
            f"{header.revision} does not have."
        )
    if set(section.codecs) != columns:
        raise SchemaMismatch(
            f"The columns of {section.name} in the export differ from schema revision "
            f"{header.revision}: {sorted(set(section.codecs) ^ columns)}."
        )


async def _insert(connection: AsyncConnection, section: TableSection) -> None:
    # Bound through each column's codec type, so a value reaches either backend
    # exactly as the models would have written it.
    target = table(
        section.name, *(column(name, codec.sql_type()) for name, codec in section.codecs.items())
    )
    for batch in section.batches(BATCH_ROWS):
        try:
            await connection.execute(insert(target), batch)
        except DBAPIError as exc:
            raise BackupError(
                f"The database refused a row of {section.name} ({reason(exc)}); "
                "nothing was imported."
            ) from None
