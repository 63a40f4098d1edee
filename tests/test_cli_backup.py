"""`portal export` and `portal import`, run as the installed program."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lib.migrate import known_revisions, upgrade
from tests.lib.backup_support import FreshPostgres, postgres_databases, row_counts

PORTAL = Path(sys.executable).parent / "portal"
TIMEOUT_SECONDS = 120
_OUTSIDE = ("DATABASE_URL", "PORTAL_ENV", "REDIS_URL", "STRIPE_SECRET_KEY", "SMTP_URL")


def portal(
    folder: Path, database_url: str, *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    env = {name: value for name, value in os.environ.items() if name not in _OUTSIDE}
    env.update(
        DATABASE_URL=database_url,
        PORTAL_ARGON2_TIME_COST="1",
        PORTAL_ARGON2_MEMORY_COST="8",
        PORTAL_ARGON2_PARALLELISM="1",
    )
    return subprocess.run(
        [str(PORTAL), *args],
        cwd=folder,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def users_of(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT username, password_hash FROM users ORDER BY 1").fetchall()
    return [(str(name), str(digest)) for name, digest in rows]


@pytest.fixture
async def fresh_postgres() -> AsyncIterator[FreshPostgres]:
    async with postgres_databases() as make:
        yield make


@pytest.fixture
def demo(tmp_path: Path) -> str:
    """A SQLite database with the demo data, made by `portal migrate` and `portal demo`."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    for command in ("migrate", "demo"):
        result = portal(tmp_path, url, command)
        assert result.returncode == 0, result.stderr.decode()
    return url


def test_export_then_import_into_a_new_database(demo: str, tmp_path: Path) -> None:
    # GIVEN the demo database
    # WHEN it is exported to a file and imported into a new database
    exported = portal(tmp_path, demo, "export", "backup.jsonl.gz")
    copy = tmp_path / "restored" / "copy.db"
    imported = portal(tmp_path, f"sqlite:///{copy}", "import", "backup.jsonl.gz")
    # THEN both succeed and say what they moved
    assert exported.returncode == 0, exported.stderr.decode()
    assert imported.returncode == 0, imported.stderr.decode()
    assert b"exported" in exported.stderr
    assert b"imported" in imported.stderr
    # AND the copy has the same accounts, down to the password hashes
    assert users_of(copy) == users_of(tmp_path / "demo.db")


async def test_standard_output_and_input_into_postgresql(
    demo: str, tmp_path: Path, fresh_postgres: FreshPostgres
) -> None:
    # GIVEN the demo database and an empty PostgreSQL database
    target = await fresh_postgres()
    # WHEN `portal export -` is piped into `portal import -`
    exported = await asyncio.to_thread(portal, tmp_path, demo, "export", "-")
    assert exported.returncode == 0, exported.stderr.decode()
    imported = await asyncio.to_thread(
        portal, tmp_path, target, "import", "-", stdin=exported.stdout
    )
    # THEN standard output carried only the export, and every row arrived
    assert imported.returncode == 0, imported.stderr.decode()
    assert json.loads(gzip.decompress(exported.stdout).splitlines()[0])["dialect"] == "sqlite"
    assert await row_counts(target) == await row_counts(demo)


def test_import_refuses_a_database_with_data_and_changes_nothing(demo: str, tmp_path: Path) -> None:
    # GIVEN an export, and the demo database itself as the target
    assert portal(tmp_path, demo, "export", "backup.jsonl.gz").returncode == 0
    before = users_of(tmp_path / "demo.db")
    # WHEN the export is imported into it
    result = portal(tmp_path, demo, "import", "backup.jsonl.gz")
    # THEN it exits 1 with a message, not a traceback, and nothing changed
    assert result.returncode == 1
    assert result.stderr.startswith(b"portal: The database is not empty")
    assert b"Traceback" not in result.stderr
    assert users_of(tmp_path / "demo.db") == before


def test_import_refuses_an_export_from_a_newer_schema(demo: str, tmp_path: Path) -> None:
    # GIVEN an export whose schema revision this code does not know
    assert portal(tmp_path, demo, "export", "backup.jsonl.gz").returncode == 0
    lines = gzip.decompress((tmp_path / "backup.jsonl.gz").read_bytes()).splitlines(keepends=True)
    header = json.loads(lines[0]) | {"revision": "9999"}
    newer = tmp_path / "newer.jsonl.gz"
    newer.write_bytes(gzip.compress(json.dumps(header).encode() + b"\n" + b"".join(lines[1:])))
    # WHEN it is imported into a new database
    target = tmp_path / "target.db"
    result = portal(tmp_path, f"sqlite:///{target}", "import", str(newer))
    # THEN it exits 1, says why and what to do, and creates nothing
    assert result.returncode == 1
    assert b"schema revision 9999" in result.stderr
    assert b"newer release" in result.stderr
    assert not target.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, b"No such file"), (b"not gzip at all", b"not gzip-compressed")],
    ids=["missing", "not-gzip"],
)
def test_import_refuses_a_missing_or_foreign_file(
    tmp_path: Path, content: bytes | None, message: bytes
) -> None:
    source = tmp_path / "backup.jsonl.gz"
    if content is not None:
        source.write_bytes(content)
    result = portal(tmp_path, f"sqlite:///{tmp_path / 'target.db'}", "import", str(source))
    assert result.returncode == 1
    assert message in result.stderr
    assert b"Traceback" not in result.stderr


def test_export_refuses_a_database_without_the_current_schema(tmp_path: Path) -> None:
    # GIVEN a database with no schema, and one a migration behind
    behind = f"sqlite:///{tmp_path / 'behind.db'}"
    upgrade(behind, known_revisions()[1])
    for url in (f"sqlite:///{tmp_path / 'bare.db'}", behind):
        # WHEN it is exported
        result = portal(tmp_path, url, "export", "backup.jsonl.gz")
        # THEN it exits 1 with what to do, and writes no file
        assert result.returncode == 1
        assert b"schema" in result.stderr
        assert not (tmp_path / "backup.jsonl.gz").exists()


def test_export_needs_a_file_argument(tmp_path: Path) -> None:
    result = portal(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", "export")
    assert result.returncode == 2
    assert b"file" in result.stderr
