from __future__ import annotations

import httpx

from lib.security import Role
from tests.factories import Factory


async def test_register_login_me(client: httpx.AsyncClient) -> None:
    # GIVEN a new visitor
    response = await client.post(
        "/api/auth/register",
        json={
            "username": "New.Student",
            "email": "New.Student@Example.com",
            "password": "a-long-enough-secret",
            "full_name": "  New   Student ",
        },
    )
    assert response.status_code == 201, response.text
    user = response.json()["user"]
    assert user["username"] == "new.student"
    assert user["role"] == "student"
    assert user["full_name"] == "New Student"

    # WHEN they sign in with their e-mail in another case
    login = await client.post(
        "/api/auth/login",
        json={"login": "new.student@example.COM", "password": "a-long-enough-secret"},
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]

    # THEN /me knows them
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["user"]["id"] == user["id"]


async def test_admin_lists_users(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.signed_in(role=Role.ADMIN)
    await factory.user(role=Role.INSTRUCTOR, username="zelda")
    response = await client.get("/api/auth/users?q=zel", headers=admin.headers)
    assert response.status_code == 200
    assert [u["username"] for u in response.json()["items"]] == ["zelda"]
