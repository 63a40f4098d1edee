"""What keeps catalog search on an index: `courses.search_text` is the
lowercased code, title, description and instructor's name, written by
database triggers (so a change of a course or of the instructor's name, from
any path, is seen by the next search); SQLite also keeps a full-text table
with the trigram tokenizer over it (`course_search`), and PostgreSQL a
pg_trgm GIN index (`ix_courses_search_text_trgm`, in the models).

The same statements are in migration 0008; tests check that the two agree."""

from __future__ import annotations

from typing import Any

from sqlalchemy import DDL, Table, event

SEARCH_TABLE = "course_search"
# The trigram tokenizer finds substrings of 3 characters or more; shorter
# queries scan `search_text` with LIKE.
MIN_INDEXED_LENGTH = 3

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


def install(courses: Table) -> None:
    """Create the triggers (and SQLite's full-text table) with the courses
    table when the schema is made from the models (tests, a fresh database)."""
    for statement in SQLITE:
        ddl = DDL(statement)  # type: ignore[no-untyped-call]
        _after_create(courses, ddl.execute_if(dialect="sqlite"))
    for statement in POSTGRESQL:
        ddl = DDL(statement)  # type: ignore[no-untyped-call]
        _after_create(courses, ddl.execute_if(dialect="postgresql"))


def _after_create(courses: Table, ddl: Any) -> None:
    event.listen(courses, "after_create", ddl)
