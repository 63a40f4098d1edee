"""Keyword-only helpers that build test data through the real services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx

from functions.auth import service as auth
from functions.auth.models import User
from lib.runtime import Portal
from lib.security import Role

DEFAULT_PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


@dataclass
class SignedIn:
    user: User
    password: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Factory:
    def __init__(self, portal: Portal, client: httpx.AsyncClient) -> None:
        self.portal = portal
        self.client = client

    async def user(
        self,
        *,
        role: Role = Role.STUDENT,
        username: str | None = None,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        full_name: str | None = None,
        active: bool = True,
    ) -> User:
        n = next(_counter)
        username = username or f"{role.value}{n}"
        async with self.portal.transaction() as session:
            user = await auth.create_user(
                session,
                self.portal,
                auth.NewAccount(
                    username=username,
                    email=email or f"{username}@example.com",
                    password=password,
                    full_name=full_name or f"{role.value.title()} Number {n}",
                    role=role,
                ),
            )
            user.is_active = active
        return user

    async def signed_in(self, *, role: Role = Role.STUDENT, **kwargs: object) -> SignedIn:
        password = str(kwargs.pop("password", DEFAULT_PASSWORD))
        user = await self.user(role=role, password=password, **kwargs)  # type: ignore[arg-type]
        response = await self.client.post(
            "/api/auth/login", json={"login": user.username, "password": password}
        )
        assert response.status_code == 200, response.text
        # The refresh cookie belongs to this sign-in only; tests that need it read it.
        self.client.cookies.clear()
        return SignedIn(user, password, response.json()["access_token"])
