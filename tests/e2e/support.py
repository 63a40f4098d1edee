"""Shared helpers for the browser tests."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from playwright.sync_api import Page, expect

ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "e2e-admin-password-0123"
USER_PASSWORD = "a-long-enough-passphrase"


class PageFactory(Protocol):
    """Opens a page in a new browser context (its own cookies)."""

    def __call__(self, **context_options: Any) -> Page: ...


def unique_username(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def sign_in(page: Page, login: str, password: str) -> None:
    page.goto("/#/login")
    page.get_by_label("Username or e-mail").fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("current-username")).to_have_count(1)


def register(
    page: Page, username: str, *, password: str = USER_PASSWORD, full_name: str = "Ada Lovelace"
) -> None:
    page.goto("/#/register")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Full name").fill(full_name)
    page.get_by_label("E-mail").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Create account").click()


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation.get("nodes", []):
            lines.append(f"    {node.get('target')}: {node.get('failureSummary', '').strip()}")
    return "\n".join(lines)
