"""The `portal` command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import subprocess
import sys
from collections.abc import Sequence

from lib.config import Settings
from lib.errors import ConfigurationError, PortalError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portal", description="The Student Portal.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API and the web app on one port")
    serve.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    serve.add_argument("--port", type=int, default=os.environ.get("PORT") or "8000")
    serve.add_argument("--workers", type=int, default=1)

    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("scheduler", help="run the scheduled jobs (APScheduler worker)")
    run_job = commands.add_parser("run-job", help="run one scheduled job once, now")
    run_job.add_argument("name", help="the job's dotted name, e.g. notifications.deliver")

    admin = commands.add_parser("create-admin", help="create an administrator")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--full-name", default=None)

    demo = commands.add_parser("demo", help="load demo data into an empty database")
    demo.add_argument(
        "--if-empty", action="store_true", help="do nothing (and succeed) when data exists"
    )

    _add_backup_commands(commands)

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            return _serve(settings, host=args.host, port=args.port, workers=args.workers)
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "scheduler":
            return asyncio.run(_scheduler(settings))
        if args.command == "run-job":
            return asyncio.run(_run_job(settings, args.name))
        if args.command == "create-admin":
            return asyncio.run(_create_admin(settings, args.username, args.email, args.full_name))
        if args.command == "demo":
            return asyncio.run(_demo(settings, if_empty=args.if_empty))
        if args.command in {"export", "import"}:
            return asyncio.run(_backup(settings, args.command, args.file))
    except ConfigurationError as exc:
        print(f"portal: configuration error: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


def _migrate(settings: Settings) -> int:
    from lib.migrate import upgrade

    upgrade(settings.database_url)
    print("portal: database schema is up to date")
    return 0


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> int:
    from lib.db import is_sqlite
    from lib.server import serve

    if is_sqlite(settings.database_url) and not settings.is_production:
        # In a process of its own: with one worker uvicorn serves from this
        # process, and Alembic with the migrations (about 9 MB) would stay in
        # its memory for good.
        migrated = subprocess.run([sys.executable, "-m", "functions.cli", "migrate"], check=False)
        if migrated.returncode:
            return migrated.returncode
    # Each worker reads its settings from the environment: SITE_URL, when unset
    # in development, follows the port served here.
    os.environ["PORT"] = str(port)
    serve(host=host, port=port, workers=workers)
    return 0


async def _scheduler(settings: Settings) -> int:
    from functions.runtime import build_portal
    from lib.logs import configure
    from scheduler.worker import run_forever

    configure()
    portal = build_portal(settings)
    try:
        await run_forever(portal)
    finally:
        await portal.dispose()
    return 0


async def _run_job(settings: Settings, name: str) -> int:
    import json

    from functions.runtime import build_portal
    from lib.logs import configure
    from scheduler.registry import JOBS
    from scheduler.worker import run_job

    job = JOBS.get(name)
    if job is None:
        print(f"portal: no job named {name!r}; known jobs:", file=sys.stderr)
        for known in sorted(JOBS):
            print(f"  {known}", file=sys.stderr)
        return 2
    configure()
    portal = build_portal(settings)
    try:
        result = await run_job(portal, job)
        if portal.simulator is not None:
            # Events the job caused (an expired session) reach the webhook before exit.
            await portal.simulator.deliver_pending()
    finally:
        await portal.dispose()
    print(json.dumps({"job": name, **dict(result)}))
    return 0


async def _create_admin(
    settings: Settings, username: str, email: str, full_name: str | None
) -> int:
    from functions.auth import service as auth
    from functions.runtime import build_portal
    from lib.security import Role

    password = os.environ.get("PORTAL_ADMIN_PASSWORD") or _prompt_password()
    portal = build_portal(settings)
    try:
        async with portal.transaction() as session:
            user = await auth.create_user(
                session,
                portal,
                auth.NewAccount(
                    username=username,
                    email=email,
                    password=password,
                    full_name=full_name or username,
                    role=Role.ADMIN,
                ),
            )
    except PortalError as exc:
        print(f"portal: {exc.message}", file=sys.stderr)
        for name, problem in exc.fields.items():
            print(f"  {name}: {problem}", file=sys.stderr)
        return 1
    finally:
        await portal.dispose()
    print(f"portal: administrator {user.username} created")
    return 0


def _prompt_password() -> str:
    if not sys.stdin.isatty():
        raise ConfigurationError("set PORTAL_ADMIN_PASSWORD or run create-admin in a terminal")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat the password: "):
        raise ConfigurationError("the two passwords differ")
    return first


async def _demo(settings: Settings, *, if_empty: bool) -> int:
    from functions import demo
    from functions.auth import service as auth
    from functions.runtime import build_portal

    if settings.is_production:
        print("portal: demo data is never loaded in production", file=sys.stderr)
        return 1
    portal = build_portal(settings)
    try:
        async with portal.transaction() as session:
            if await auth.has_users(session):
                print("portal: the database already has data; demo data not loaded")
                return 0 if if_empty else 1
            count = await demo.load(session, portal)
    finally:
        await portal.dispose()
    print(f"portal: loaded {count} demo users and a catalog (password: {demo.DEMO_PASSWORD})")
    return 0


def _add_backup_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser("export", help="write the whole database to one file")
    export.add_argument("file", help="the file to write (gzip JSON lines); - for standard output")
    restore = commands.add_parser("import", help="load an export into an empty database")
    restore.add_argument("file", help="a file written by `portal export`; - for standard input")


async def _backup(settings: Settings, command: str, file: str) -> int:
    from functions.models import metadata
    from lib import backup
    from lib.clock import SystemClock

    try:
        if command == "export":
            done = await backup.export_file(
                settings.database_url, metadata, file, now=SystemClock().now()
            )
        else:
            done = await backup.import_file(settings.database_url, file)
    except backup.BackupError as exc:
        print(f"portal: {exc.message}", file=sys.stderr)
        return 1
    # The file may be standard output: the report goes to standard error.
    verb = "exported" if command == "export" else "imported"
    print(
        f"portal: {verb} {done.rows} rows in {done.tables} tables "
        f"(schema revision {done.revision}, from {done.dialect})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
