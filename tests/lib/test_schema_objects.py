"""The database objects the models cannot describe (the search and catalog
version triggers and their functions, SQLite's full-text table, PostgreSQL's
trigram index) are the same in a database built by `portal migrate` as in one
built the way the tests build theirs (`metadata.create_all` with the DDL the
models attach): the tests exercise what production runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from tests.lib.backup_support import FreshPostgres, empty_database, inspected, migrated

Objects = dict[str, Any]


def _normalized(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip()


def _sqlite_objects(connection: Connection) -> Objects:
    rows = connection.exec_driver_sql(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE type = 'trigger' OR sql LIKE 'CREATE VIRTUAL TABLE%' "
        "OR (type = 'table' AND name LIKE 'course_search%')"
    )
    return {
        f"{kind} {name}": (table, _normalized(sql) if kind != "table" else None)
        for kind, name, table, sql in rows
    }


def _postgres_objects(connection: Connection) -> Objects:
    triggers = connection.exec_driver_sql(
        "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
    )
    # Our own functions: not those of an extension (pg_trgm's).
    functions = connection.exec_driver_sql(
        "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
    )
    indexes = connection.exec_driver_sql(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
        "AND indexname <> 'pk_alembic_version' AND indexname <> 'alembic_version_pkc'"
    )
    extensions = connection.exec_driver_sql("SELECT extname FROM pg_extension")
    objects: Objects = {f"trigger {name}": _normalized(sql) for name, sql in triggers}
    objects |= {f"function {name}": _normalized(sql) for name, sql in functions}
    objects |= {f"index {name}": _normalized(sql) for name, sql in indexes}
    objects |= {f"extension {name}": True for (name,) in extensions}
    return objects


def _objects(connection: Connection) -> Objects:
    if connection.dialect.name == "sqlite":
        return _sqlite_objects(connection)
    return _postgres_objects(connection)


def _catalog_versions(connection: Connection) -> list[Any]:
    rows = connection.exec_driver_sql("SELECT shard FROM catalog_versions ORDER BY shard")
    return [shard for (shard,) in rows]


async def test_migrations_make_the_objects_the_tests_run_against(
    database_url: str, backend: str, tmp_path: Path, fresh_postgres: FreshPostgres
) -> None:
    # GIVEN a database built as the tests build theirs (from the models)
    from_models = await inspected(database_url, _objects)
    # WHEN another is built by the migrations
    from_migrations = await migrated(await empty_database(backend, tmp_path, fresh_postgres))
    migrated_objects = await inspected(from_migrations, _objects)
    # THEN their triggers, functions, full-text tables and indexes are the same
    assert migrated_objects == from_models
    names = set(from_models)
    expected = {"trigger courses_search_ai", "trigger catalog_version_course_insert"}
    if backend == "postgresql":
        expected = {"trigger courses_search_text", "function catalog_note",
                    "index ix_courses_search_text_trgm", "extension pg_trgm"}  # fmt: skip
    assert expected <= names, names
    # AND both have the catalog version's 16 shards
    assert await inspected(from_migrations, _catalog_versions) == list(range(16))
    assert await inspected(database_url, _catalog_versions) == list(range(16))
