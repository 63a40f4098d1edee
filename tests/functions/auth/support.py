"""Helpers for the auth tests: clients from other addresses, cookies, and the
links that the outbox holds for e-mail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from functions.messages.templates import render
from functions.router import create_app
from lib.outbox import OutboxMessage
from lib.runtime import Portal
from lib.throttle import Throttle

LOGIN = "/api/auth/login"
WRONG_PASSWORD = "not-the-password"
DEVICE_COOKIE = "portal_device"
REFRESH_COOKIE = "portal_refresh"


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def set_cookie(response: httpx.Response, name: str = REFRESH_COOKIE) -> dict[str, str] | None:
    """The named Set-Cookie of a response: its value under "" and its attributes."""
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        key, _, value = first.partition("=")
        if key == name:
            parsed = {"": value.strip('"')}
            for attribute in attributes:
                attr_name, _, attr_value = attribute.partition("=")
                parsed[attr_name.lower()] = attr_value
            return parsed
    return None


async def attempt(
    client: httpx.AsyncClient, login: str, password: str, *, device: str | None = None
) -> httpx.Response:
    """One sign-in, with a device cookie or none; the client keeps no cookies."""
    client.cookies.clear()
    headers = {"Cookie": f"{DEVICE_COOKIE}={device}"} if device else {}
    body = {"login": login, "password": password}
    response = await client.post(LOGIN, json=body, headers=headers)
    client.cookies.clear()
    return response


@asynccontextmanager
async def client_at(app: Starlette, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app calling from another address."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def app_with_throttle(portal: Portal, throttle: Throttle) -> Starlette:
    """The portal's app counting attempts with another throttle (Redis, say)."""
    return create_app(portal=replace(portal, throttle=throttle))


async def messages(portal: Portal, user_id: str, kind: str | None = None) -> list[OutboxMessage]:
    async with portal.read_sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.recipient_id == user_id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        rows = await session.execute(query.order_by(OutboxMessage.created_at, OutboxMessage.id))
        return list(rows.scalars().all())


def emailed_link(portal: Portal, message: OutboxMessage) -> str:
    """The secret link in a message as its e-mail would show it."""
    rendered = render(message.kind, message.payload, recipient_name="", site="http://testserver")
    words = rendered.text.split()
    [link] = {w for w in words if "token=" in w}
    return link


def token_of(link: str) -> str:
    fragment = urlsplit(link).fragment
    [token] = parse_qs(urlsplit(fragment).query)["token"]
    return token


async def latest_token(portal: Portal, user_id: str, kind: str) -> str:
    return token_of(emailed_link(portal, (await messages(portal, user_id, kind))[-1]))
