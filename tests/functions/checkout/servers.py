"""Real `portal serve` processes on one database, for the checkout's tests
that claim something about several processes or about a process that dies.
The processes themselves come from tests/servers.py; the `shared_database`
and `local_portal` fixtures from this folder's conftest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import SECRET_KEY, Server, portal_environment, running_servers

__all__ = ["SECRET_KEY", "Server", "portal_servers"]


@contextmanager
def portal_servers(
    database_url: str, workdir: Path, *, count: int, env: dict[str, str] | None = None
) -> Iterator[list[Server]]:
    """`count` servers on one database and one payment simulator (or the Stripe
    stand-in `env` names); yields them once each answers /api/health."""
    environment = {**portal_environment(database_url, workdir), **(env or {})}
    with running_servers([environment] * count, workdir) as servers:
        yield servers
