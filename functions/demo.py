"""Demo data for a new local portal (`portal demo`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import service as auth
from lib.runtime import Portal
from lib.security import Role

DEMO_PASSWORD = "learn-and-grow-2026"  # noqa: S105 - documented demo password


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: Role


DEMO_USERS = [
    DemoUser("admin", "Alex Admin", Role.ADMIN),
    DemoUser("ada", "Ada Lovelace", Role.INSTRUCTOR),
    DemoUser("grace", "Grace Hopper", Role.INSTRUCTOR),
    DemoUser("alan", "Alan Turing", Role.INSTRUCTOR),
    DemoUser("sam", "Sam Student", Role.STUDENT),
    DemoUser("maria", "María García", Role.STUDENT),
    DemoUser("liwei", "Li Wei", Role.STUDENT),
    DemoUser("amara", "Amara Okafor", Role.STUDENT),
    DemoUser("noah", "Noah Schmidt", Role.STUDENT),
    DemoUser("priya", "Priya Patel", Role.STUDENT),
]


async def load(session: AsyncSession, portal: Portal) -> int:
    """Load the demo users; the caller checks that the database is empty."""
    for demo in DEMO_USERS:
        await auth.create_user(
            session,
            portal,
            auth.NewAccount(
                username=demo.username,
                email=f"{demo.username}@example.com",
                password=DEMO_PASSWORD,
                full_name=demo.full_name,
                role=demo.role,
            ),
        )
    return len(DEMO_USERS)
