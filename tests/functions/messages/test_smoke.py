from __future__ import annotations

from email import message_from_bytes

import httpx

from functions.messages import service
from lib.runtime import Portal


async def test_welcome_is_listed_and_mailed(client: httpx.AsyncClient, portal: Portal) -> None:
    # GIVEN a new student
    registered = await client.post(
        "/api/auth/register",
        json={"username": "wendy", "email": "wendy@example.com",
              "password": "a-long-enough-secret", "full_name": "Wendy <b>Bold</b>"},
    )  # fmt: skip
    assert registered.status_code == 201
    login = await client.post(
        "/api/auth/login", json={"login": "wendy", "password": "a-long-enough-secret"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    # THEN the welcome is in their list, unread
    listed = await client.get("/api/messages/notifications", headers=headers)
    assert listed.json()["unread"] == 1
    assert listed.json()["items"][0]["title"] == "Welcome to the Student Portal"

    # WHEN the deliverer runs twice
    first = await service.deliver_due(portal)
    second = await service.deliver_due(portal)
    assert (first.sent, second.sent) == (1, 0)
    files = list(portal.settings.mail_dir.glob("*.eml"))
    assert len(files) == 1
    mail = message_from_bytes(files[0].read_bytes())
    assert mail["To"] == "wendy@example.com"
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html.get_payload(decode=True).decode()

    read = await client.post("/api/messages/notifications/read", headers=headers)
    assert read.json()["unread"] == 0
