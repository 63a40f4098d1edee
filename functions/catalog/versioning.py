"""The catalog version: database triggers bump `catalog_versions` (lib.caching)
in the same transaction as any change to what the catalog shows: a course,
its sessions, an enrollment coming, going or changing status, an instructor's
name. The shard is the last hex digit of the course's id, so a rush on one
course contends on its own shard only.

SQLite has one writer at a time: each trigger bumps its shard at once.
PostgreSQL runs writers side by side, and a transaction that bumped shard 3
and then waits for shard 5 while another holds 5 and waits for 3 would
deadlock. So there the row triggers only note their shard (a transaction-local
setting, no lock), and a deferred trigger bumps every noted shard at commit,
in shard order, once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from lib.db import Base

SQLITE_SHARD = "((instr('0123456789abcdef', lower(substr({id}, -1))) + 15) % 16)"


def _sqlite_bump(course_id: str) -> str:
    return (
        "INSERT INTO catalog_versions (shard, version) VALUES "  # noqa: S608 - our own SQL
        f"({SQLITE_SHARD.format(id=course_id)}, 1) "
        "ON CONFLICT (shard) DO UPDATE SET version = version + 1;"
    )


def _sqlite_trigger(name: str, event_: str, table: str, course_id: str, when: str = "") -> str:
    condition = f" WHEN {when}" if when else ""
    return (
        f"CREATE TRIGGER {name} AFTER {event_} ON {table} FOR EACH ROW{condition} "
        f"BEGIN {_sqlite_bump(course_id)} END"
    )


_ENROLLMENT_MOVED = "OLD.status IS NOT NEW.status OR OLD.course_id IS NOT NEW.course_id"

SQLITE_DDL = [
    _sqlite_trigger("catalog_version_course_insert", "INSERT", "courses", "NEW.id"),
    _sqlite_trigger("catalog_version_course_update", "UPDATE", "courses", "NEW.id"),
    _sqlite_trigger("catalog_version_course_delete", "DELETE", "courses", "OLD.id"),
    _sqlite_trigger("catalog_version_session_insert", "INSERT", "course_sessions", "NEW.course_id"),
    _sqlite_trigger("catalog_version_session_update", "UPDATE", "course_sessions", "NEW.course_id"),
    _sqlite_trigger("catalog_version_session_delete", "DELETE", "course_sessions", "OLD.course_id"),
    _sqlite_trigger("catalog_version_enrollment_insert", "INSERT", "enrollments", "NEW.course_id"),
    _sqlite_trigger("catalog_version_enrollment_delete", "DELETE", "enrollments", "OLD.course_id"),
    _sqlite_trigger(
        "catalog_version_enrollment_update",
        "UPDATE OF status, course_id",
        "enrollments",
        "NEW.course_id",
        when=_ENROLLMENT_MOVED,
    ),
    # A moved enrollment changes its old course too.
    _sqlite_trigger(
        "catalog_version_enrollment_moved",
        "UPDATE OF course_id",
        "enrollments",
        "OLD.course_id",
        when="OLD.course_id IS NOT NEW.course_id",
    ),
    "CREATE TRIGGER catalog_version_instructor_renamed AFTER UPDATE OF full_name ON users "  # noqa: S608
    "FOR EACH ROW WHEN OLD.full_name IS NOT NEW.full_name BEGIN "
    "INSERT INTO catalog_versions (shard, version) "
    f"SELECT DISTINCT {SQLITE_SHARD.format(id='courses.id')}, 1 FROM courses "
    "WHERE courses.instructor_id = NEW.id "
    "ON CONFLICT (shard) DO UPDATE SET version = version + 1; END",
]

_PG_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION catalog_note(course_id text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    shard text := ((strpos('0123456789abcdef', lower(right(course_id, 1))) + 15) % 16)::text;
    noted text := coalesce(current_setting('portal.catalog_shards', true), '');
BEGIN
    IF strpos(',' || noted, ',' || shard || ',') = 0 THEN
        PERFORM set_config('portal.catalog_shards', noted || shard || ',', true);
    END IF;
END $$""",
    """CREATE OR REPLACE FUNCTION catalog_course_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM catalog_note(OLD.id);
    ELSE
        PERFORM catalog_note(NEW.id);
    END IF;
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION catalog_child_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN PERFORM catalog_note(OLD.course_id); END IF;
    IF TG_OP <> 'DELETE' THEN PERFORM catalog_note(NEW.course_id); END IF;
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION catalog_instructor_renamed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM catalog_note(id) FROM courses WHERE instructor_id = NEW.id;
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION catalog_bump_noted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    noted text := coalesce(current_setting('portal.catalog_shards', true), '');
    one integer;
BEGIN
    IF noted = '' THEN RETURN NULL; END IF;
    PERFORM set_config('portal.catalog_shards', '', true);
    FOR one IN
        SELECT DISTINCT s::integer FROM unnest(string_to_array(rtrim(noted, ','), ',')) AS s
        ORDER BY 1
    LOOP
        INSERT INTO catalog_versions AS v (shard, version) VALUES (one, 1)
        ON CONFLICT (shard) DO UPDATE SET version = v.version + 1;
    END LOOP;
    RETURN NULL;
END $$""",
]

# (name, events, table, note function, WHEN condition)
_PG_WATCHED = [
    (
        "catalog_version_course",
        "INSERT OR UPDATE OR DELETE",
        "courses",
        "catalog_course_changed",
        "",
    ),
    (
        "catalog_version_session",
        "INSERT OR UPDATE OR DELETE",
        "course_sessions",
        "catalog_child_changed",
        "",
    ),
    ("catalog_version_enrollment", "INSERT OR DELETE", "enrollments", "catalog_child_changed", ""),
    (
        "catalog_version_enrollment_update",
        "UPDATE OF status, course_id",
        "enrollments",
        "catalog_child_changed",
        "OLD.status IS DISTINCT FROM NEW.status OR OLD.course_id IS DISTINCT FROM NEW.course_id",
    ),
    (
        "catalog_version_instructor_renamed",
        "UPDATE OF full_name",
        "users",
        "catalog_instructor_renamed",
        "OLD.full_name IS DISTINCT FROM NEW.full_name",
    ),
]


def _pg_triggers() -> list[str]:
    statements = []
    for name, events, table, function, condition in _PG_WATCHED:
        when = f" WHEN ({condition})" if condition else ""
        statements.append(
            f"CREATE TRIGGER {name} AFTER {events} ON {table} "
            f"FOR EACH ROW{when} EXECUTE FUNCTION {function}()"
        )
        statements.append(
            f"CREATE CONSTRAINT TRIGGER {name}_commit AFTER {events} ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW{when} "
            "EXECUTE FUNCTION catalog_bump_noted()"
        )
    return statements


POSTGRESQL_DDL = _PG_FUNCTIONS + _pg_triggers()


def create_statements(dialect: str) -> list[str]:
    return POSTGRESQL_DDL if dialect == "postgresql" else SQLITE_DDL


def drop_statements(dialect: str) -> list[str]:
    if dialect != "postgresql":
        return [f"DROP TRIGGER IF EXISTS {s.split()[2]}" for s in SQLITE_DDL]
    triggers = [
        f"DROP TRIGGER IF EXISTS {name}{suffix} ON {table}"
        for name, _events, table, _function, _condition in _PG_WATCHED
        for suffix in ("", "_commit")
    ]
    functions = [
        f"DROP FUNCTION IF EXISTS {name}"
        for name in (
            "catalog_bump_noted()",
            "catalog_instructor_renamed()",
            "catalog_child_changed()",
            "catalog_course_changed()",
            "catalog_note(text)",
        )
    ]
    return triggers + functions


@event.listens_for(Base.metadata, "after_create")
def _create_triggers(_target: Any, connection: Connection, **_kw: Any) -> None:
    for statement in create_statements(connection.dialect.name):
        connection.exec_driver_sql(statement)
