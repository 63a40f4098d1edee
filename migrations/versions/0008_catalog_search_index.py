"""catalog search through an index: search text written by triggers, with the
instructor's name; SQLite full-text table (trigram)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10

`courses.search_text` now holds the instructor's name too and is written by
triggers (a course or a name change, from any path). SQLite gets an FTS5
table with the trigram tokenizer over it, kept in step by the same triggers;
PostgreSQL already has the pg_trgm GIN index on the column (0002). The
statements are a frozen copy of functions/catalog/search_index.py.
"""
from typing import Sequence, Union

import sqlite3

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SQLITE = [
    "CREATE VIRTUAL TABLE course_search USING fts5("
    "course_id UNINDEXED, body, tokenize = 'trigram')",
    "CREATE TRIGGER courses_search_ai AFTER INSERT ON courses BEGIN "
    "UPDATE courses SET search_text = lower(NEW.code || ' ' || NEW.title || ' ' "
    "|| NEW.description || ' ' "
    "|| coalesce((SELECT full_name FROM users WHERE id = NEW.instructor_id), '')) "
    "WHERE id = NEW.id; "
    "INSERT INTO course_search (course_id, body) "
    "SELECT id, search_text FROM courses WHERE id = NEW.id; END",
    "CREATE TRIGGER courses_search_au "
    "AFTER UPDATE OF code, title, description, instructor_id ON courses BEGIN "
    "UPDATE courses SET search_text = lower(NEW.code || ' ' || NEW.title || ' ' "
    "|| NEW.description || ' ' "
    "|| coalesce((SELECT full_name FROM users WHERE id = NEW.instructor_id), '')) "
    "WHERE id = NEW.id; "
    "DELETE FROM course_search WHERE course_id = NEW.id; "
    "INSERT INTO course_search (course_id, body) "
    "SELECT id, search_text FROM courses WHERE id = NEW.id; END",
    "CREATE TRIGGER courses_search_ad AFTER DELETE ON courses BEGIN "
    "DELETE FROM course_search WHERE course_id = OLD.id; END",
    "CREATE TRIGGER users_search_au AFTER UPDATE OF full_name ON users "
    "WHEN OLD.full_name IS NOT NEW.full_name BEGIN "
    "UPDATE courses SET search_text = lower(code || ' ' || title || ' ' || description "
    "|| ' ' || NEW.full_name) WHERE instructor_id = NEW.id; "
    "DELETE FROM course_search WHERE course_id IN "
    "(SELECT id FROM courses WHERE instructor_id = NEW.id); "
    "INSERT INTO course_search (course_id, body) "
    "SELECT id, search_text FROM courses WHERE instructor_id = NEW.id; END",
]

POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION courses_search_text() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.search_text := lower(NEW.code || ' ' || NEW.title || ' ' || NEW.description || ' ' "
    "|| coalesce((SELECT full_name FROM users WHERE id = NEW.instructor_id), '')); "
    "RETURN NEW; END $$",
    "CREATE TRIGGER courses_search_text "
    "BEFORE INSERT OR UPDATE OF code, title, description, instructor_id ON courses "
    "FOR EACH ROW EXECUTE FUNCTION courses_search_text()",
    "CREATE OR REPLACE FUNCTION users_search_text() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "UPDATE courses SET search_text = lower(code || ' ' || title || ' ' || description "
    "|| ' ' || NEW.full_name) WHERE instructor_id = NEW.id; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER users_search_text AFTER UPDATE OF full_name ON users "
    "FOR EACH ROW WHEN (OLD.full_name IS DISTINCT FROM NEW.full_name) "
    "EXECUTE FUNCTION users_search_text()",
]

BACKFILL = (
    "UPDATE courses SET search_text = lower(code || ' ' || title || ' ' || description "
    "|| ' ' || coalesce((SELECT full_name FROM users WHERE users.id = courses.instructor_id), ''))"
)


def upgrade() -> None:
    """Upgrade schema."""
    postgres = op.get_bind().dialect.name == "postgresql"
    if not postgres and sqlite3.sqlite_version_info < (3, 34):
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} has no trigram tokenizer; 3.34 or newer is needed"
        )
    for statement in POSTGRESQL if postgres else SQLITE:
        op.execute(statement)
    op.execute(BACKFILL)
    if not postgres:
        op.execute("INSERT INTO course_search (course_id, body) SELECT id, search_text FROM courses")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS users_search_text ON users")
        op.execute("DROP TRIGGER IF EXISTS courses_search_text ON courses")
        op.execute("DROP FUNCTION IF EXISTS users_search_text()")
        op.execute("DROP FUNCTION IF EXISTS courses_search_text()")
        return
    for trigger in ("users_search_au", "courses_search_ad", "courses_search_au", "courses_search_ai"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS course_search")
