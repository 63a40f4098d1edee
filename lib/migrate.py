"""`portal migrate`: bring the schema up to date with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    ensure_sqlite_folder(database_url)
    command.upgrade(alembic_config(database_url), revision)


def ensure_sqlite_folder(database_url: str) -> None:
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and ":memory:" not in database_url:
        Path(database_url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


# --- for `portal import`: the schema moved inside the caller's own transaction ---------


def known_revisions() -> list[str]:
    """Every revision of this code's migrations, newest first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [revision.revision for revision in script.walk_revisions()]


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def migrate_connection(connection: Connection, target: str) -> None:
    """Upgrade or downgrade to `target` on an open connection. Alembic sees the
    transaction already begun and leaves committing to the caller, so on both
    backends (transactional DDL) a failure later undoes the schema change too."""
    current = current_revision(connection)
    if current == target:
        return
    config = alembic_config(connection.engine.url.render_as_string(hide_password=True))
    config.attributes["connection"] = connection
    history = known_revisions()
    if current is not None and history.index(target) > history.index(current):
        command.downgrade(config, target)
    else:
        command.upgrade(config, target)
