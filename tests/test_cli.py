"""The `portal` command, run as the installed program in a scratch folder."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from functions.demo import DEMO_USERS
from lib.migrate import upgrade
from tests.processes import outside_env

PORTAL = Path(sys.executable).parent / "portal"
TIMEOUT_SECONDS = 120
ADMIN_PASSWORD = "a-long-enough-admin-secret"


@dataclass
class Portal:
    folder: Path
    database: Path
    env: dict[str, str]

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database}"

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PORTAL), *args],
            cwd=self.folder,
            env={**self.env, **env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )

    def users(self) -> list[tuple[str, str, str]]:
        with sqlite3.connect(self.database) as connection:
            rows = connection.execute(
                "SELECT username, email, role FROM users ORDER BY username"
            ).fetchall()
        return [(str(u), str(e), str(r)) for u, e, r in rows]


def admin(username: str, email: str) -> list[str]:
    return ["create-admin", "--username", username, "--email", email]


@pytest.fixture
def portal(tmp_path: Path) -> Portal:
    database = tmp_path / "var" / "portal.db"
    env = outside_env()
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        PORTAL_MAIL_DIR=str(tmp_path / "mail"),
        PORTAL_ARGON2_TIME_COST="1",
        PORTAL_ARGON2_MEMORY_COST="8",
        PORTAL_ARGON2_PARALLELISM="1",
    )
    return Portal(tmp_path, database, env)


@pytest.fixture
def migrated(portal: Portal) -> Portal:
    upgrade(portal.database_url)
    return portal


def test_migrate_creates_the_schema(portal: Portal) -> None:
    # GIVEN a folder with no database yet (not even its folder)
    assert not portal.database.parent.exists()
    # WHEN `portal migrate` runs
    result = portal.run("migrate")
    # THEN it succeeds and the tables are there
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert portal.users() == []
    # AND running it again is harmless
    assert portal.run("migrate").returncode == 0


def test_serve_migrates_sqlite_in_a_process_of_its_own(portal: Portal) -> None:
    # GIVEN a folder with no database yet, and a server that only reports
    # whether the migration tools were loaded into the process that serves
    # (with one worker, uvicorn serves from this very process)
    probe = (
        "import sys, lib.server, functions.cli\n"
        "lib.server.serve = lambda **_: print('alembic loaded:', 'alembic' in sys.modules)\n"
        "sys.exit(functions.cli.main(['serve']))\n"
    )
    # WHEN `portal serve` starts
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=portal.folder, env=portal.env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    # THEN the schema is up to date, and Alembic (about 9 MB that would stay
    # for the worker's whole life) was never loaded where requests are served
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert portal.users() == []
    assert "alembic loaded: False" in result.stdout


def test_create_admin_with_the_password_from_the_environment(migrated: Portal) -> None:
    # GIVEN a migrated database and the password in PORTAL_ADMIN_PASSWORD
    # WHEN an administrator is created
    result = migrated.run(
        "create-admin",
        "--username",
        "Head.Admin",
        "--email",
        "head@example.com",
        PORTAL_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    # THEN there is one, normalized, and the password is never printed
    assert result.returncode == 0, result.stderr
    assert "head.admin" in result.stdout
    assert ADMIN_PASSWORD not in result.stdout + result.stderr
    assert migrated.users() == [("head.admin", "head@example.com", "admin")]


def test_create_admin_refuses_a_weak_password(migrated: Portal) -> None:
    # GIVEN a password that breaks a rule
    # WHEN create-admin is asked to use it
    result = migrated.run(
        "create-admin",
        "--username",
        "admin2",
        "--email",
        "admin2@example.com",
        PORTAL_ADMIN_PASSWORD="short",
    )
    # THEN it exits 1, names the rule, and creates nobody
    assert result.returncode == 1
    assert re.search(r"password:? must be at least 10 characters", result.stderr)
    assert migrated.users() == []


def test_create_admin_refuses_a_taken_username(migrated: Portal) -> None:
    # GIVEN an administrator "boss"
    first = migrated.run(*admin("boss", "boss@example.com"), PORTAL_ADMIN_PASSWORD=ADMIN_PASSWORD)
    assert first.returncode == 0, first.stderr
    # WHEN another "boss" is created
    second = migrated.run(*admin("boss", "other@example.com"), PORTAL_ADMIN_PASSWORD=ADMIN_PASSWORD)
    # THEN it fails with a message, not a traceback
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    assert second.stderr.startswith("portal: ")
    assert len(migrated.users()) == 1


def test_create_admin_without_a_password_or_terminal_fails(migrated: Portal) -> None:
    # GIVEN no PORTAL_ADMIN_PASSWORD and no terminal to prompt on
    # WHEN create-admin runs
    result = migrated.run("create-admin", "--username", "admin3", "--email", "a3@example.com")
    # THEN it fails and says how to give the password
    assert result.returncode != 0
    assert "PORTAL_ADMIN_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr
    assert migrated.users() == []


def test_demo_loads_once(migrated: Portal) -> None:
    # GIVEN an empty, migrated database
    # WHEN `portal demo` runs
    first = migrated.run("demo")
    # THEN the demo users are there
    assert first.returncode == 0, first.stderr
    assert sorted(u for u, _, _ in migrated.users()) == sorted(d.username for d in DEMO_USERS)
    assert {r for _, _, r in migrated.users()} == {"admin", "instructor", "student"}
    # WHEN it runs again
    second = migrated.run("demo")
    # THEN it refuses to load over existing data
    assert second.returncode == 1
    assert "already has data" in second.stdout + second.stderr
    # AND with --if-empty the same situation is a success (for start-up scripts)
    third = migrated.run("demo", "--if-empty")
    assert third.returncode == 0, third.stderr
    assert len(migrated.users()) == len(DEMO_USERS)


def test_demo_if_empty_loads_into_an_empty_database(migrated: Portal) -> None:
    result = migrated.run("demo", "--if-empty")
    assert result.returncode == 0, result.stderr
    assert len(migrated.users()) == len(DEMO_USERS)


@pytest.mark.parametrize(
    "command", [["migrate"], ["demo"], admin("x-admin", "x@example.com")], ids=lambda c: c[0]
)
def test_production_without_secrets_is_a_configuration_error(
    portal: Portal, command: list[str]
) -> None:
    # GIVEN PORTAL_ENV=production and no secrets
    # WHEN any command runs
    result = portal.run(*command, PORTAL_ENV="production", PORTAL_ADMIN_PASSWORD=ADMIN_PASSWORD)
    # THEN it exits 2 with a configuration error and touches nothing
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert not portal.database.exists()
    assert not (portal.folder / ".portal-secret-key").exists()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        pytest.param(
            {"STRIPE_SECRET_KEY": "sk_test_a_real_account"}, "STRIPE_WEBHOOK_SECRET",
            id="stripe-key-without-its-webhook-secret",
        ),
        pytest.param(
            {"PORTAL_MAIL_FROM": "Portal <no-reply@school.example>\nBcc: all@school.example"},
            "PORTAL_MAIL_FROM", id="sender-with-a-line-break",
        ),
    ],
)  # fmt: skip
@pytest.mark.parametrize(
    "command", [["serve"], ["scheduler"], ["run-job", "notifications.deliver"]], ids=lambda c: c[0]
)
def test_a_development_deploy_with_a_bad_setting_refuses_to_start(
    migrated: Portal, env: dict[str, str], named: str, command: list[str]
) -> None:
    # GIVEN a setting that would make the portal unsafe (events signed with the public
    # development secret) or broken (every e-mail refused)
    # WHEN a long-running command starts
    result = migrated.run(*command, **env)
    # THEN it refuses at once, naming the setting
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_development_keeps_its_secret_key_in_the_working_folder(migrated: Portal) -> None:
    # GIVEN no SECRET_KEY in development
    # WHEN a command runs
    result = migrated.run("demo")
    # THEN a key was generated into the working folder, readable by the owner only
    assert result.returncode == 0, result.stderr
    key_file = migrated.folder / ".portal-secret-key"
    assert len(key_file.read_text()) >= 32
    assert key_file.stat().st_mode & 0o077 == 0


def test_an_unknown_command_is_a_usage_error(portal: Portal) -> None:
    result = portal.run("launch-rockets")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
