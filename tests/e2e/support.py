"""Shared helpers for the browser tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from playwright.sync_api import APIRequestContext, Page, Playwright, expect

ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "e2e-admin-password-0123"
USER_PASSWORD = "a-long-enough-passphrase"
# The dash in time ranges such as 09:00-10:30 on the pages.
EN_DASH = "\u2013"


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


# --- catalog data, made through the API -------------------------------------------------


def unique_code(prefix: str = "E") -> str:
    """A course code no other test uses: A-Z, 0-9 and hyphens, at most 20 characters."""
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def unique_token() -> str:
    """A word to put in titles so that a catalog search finds one test's courses only."""
    return f"zq{uuid.uuid4().hex[:8]}"


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    full_name: str
    password: str
    role: str


MONDAY_AND_WEDNESDAY = [
    {"weekday": "monday", "start_time": "09:00", "end_time": "10:30", "location": "Room 1"},
    {"weekday": "wednesday", "start_time": "09:00", "end_time": "10:30", "location": "Room 1"},
]


class CatalogData:
    """Users, courses, enrollments and waitlist places for one test, made through
    the API as the administrator (and as each student for their own actions)."""

    def __init__(self, playwright: Playwright, base_url: str, admin_api: APIRequestContext):
        self._playwright = playwright
        self._base_url = base_url
        self._admin = admin_api
        self._sessions: dict[str, APIRequestContext] = {}

    def user(self, role: str, *, full_name: str | None = None) -> Account:
        username = unique_username(role[:5])
        password = USER_PASSWORD
        name = full_name or f"{role.title()} {username[-4:].upper()}"
        created = self._admin.post(
            "/api/auth/users",
            data={
                "username": username,
                "email": f"{username}@example.com",
                "full_name": name,
                "password": password,
                "role": role,
            },
        )
        assert created.status == 201, created.text()
        return Account(created.json()["user"]["id"], username, name, password, role)

    def course(
        self,
        instructor: Account,
        *,
        title: str,
        code: str | None = None,
        capacity: int = 10,
        price: int = 0,
        sessions: list[dict[str, str]] | None = None,
        starts_in_days: int = 30,
        payment_due_days: int = 7,
        description: str = "",
    ) -> dict[str, Any]:
        created = self._admin.post(
            "/api/catalog/courses",
            data={
                "code": code or unique_code(),
                "title": title,
                "description": description,
                "instructor_id": instructor.id,
                "schedule": {
                    "starts_on": in_days(starts_in_days),
                    "ends_on": in_days(starts_in_days + 84),
                    "sessions": MONDAY_AND_WEDNESDAY if sessions is None else sessions,
                },
                "capacity": capacity,
                "price": {"amount": price, "currency": "usd"},
                "payment_due_days": payment_due_days,
            },
        )
        assert created.status == 201, created.text()
        course: dict[str, Any] = created.json()["course"]
        return course

    def as_user(self, account: Account) -> APIRequestContext:
        if account.id not in self._sessions:
            anonymous = self._playwright.request.new_context(base_url=self._base_url)
            signed_in = anonymous.post(
                "/api/auth/login", data={"login": account.username, "password": account.password}
            )
            assert signed_in.ok, signed_in.text()
            token = signed_in.json()["access_token"]
            anonymous.dispose()
            self._sessions[account.id] = self._playwright.request.new_context(
                base_url=self._base_url, extra_http_headers={"Authorization": f"Bearer {token}"}
            )
        return self._sessions[account.id]

    def enroll(self, student: Account, course: dict[str, Any]) -> dict[str, Any]:
        response = self.as_user(student).post(f"/api/catalog/courses/{course['id']}/enroll")
        assert response.status == 201, response.text()
        enrollment: dict[str, Any] = response.json()["enrollment"]
        return enrollment

    def join_waitlist(self, student: Account, course: dict[str, Any]) -> dict[str, Any]:
        response = self.as_user(student).post(f"/api/catalog/courses/{course['id']}/waitlist")
        assert response.status == 201, response.text()
        enrollment: dict[str, Any] = response.json()["enrollment"]
        return enrollment

    def close(self) -> None:
        for context in self._sessions.values():
            context.dispose()


def tour_catalog_pages(
    page_factory: PageFactory,
    catalog: CatalogData,
    check: Callable[[Page, str], None],
    **context_options: Any,
) -> None:
    """Opens every catalog page as the people who use it, and calls check(page, name)
    on each once it has loaded."""
    token = unique_token()
    teacher = catalog.user("instructor")
    student = catalog.user("student")
    course = catalog.course(
        teacher, title=f"Calligraphy {token}", capacity=4, price=7500, description="Ink.\nBrush."
    )
    full = catalog.course(teacher, title=f"Bookbinding {token}", capacity=1, price=0)
    catalog.enroll(student, course)
    catalog.enroll(catalog.user("student"), full)
    catalog.join_waitlist(student, full)

    visitor = page_factory(**context_options)
    visitor.goto(f"/#/catalog?q={token}")
    expect(visitor.get_by_role("list", name="Courses").get_by_role("listitem")).to_have_count(2)
    check(visitor, "catalog")
    visitor.goto(f"/#/courses/{course['id']}")
    expect(visitor.get_by_role("link", name="Sign in to enroll")).to_be_visible()
    check(visitor, "course page, signed out")

    learner = page_factory(**context_options)
    sign_in(learner, student.username, student.password)
    learner.goto(f"/#/catalog?q={token}")
    expect(learner.get_by_test_id("my-enrollment")).to_have_count(2)
    check(learner, "catalog, student")
    learner.goto(f"/#/courses/{course['id']}")
    expect(learner.get_by_test_id("enrollment-state")).to_contain_text("Seat held")
    check(learner, "course page, seat held")
    learner.goto(f"/#/courses/{full['id']}")
    expect(learner.get_by_test_id("enrollment-state")).to_contain_text("Waitlisted #1")
    check(learner, "course page, waitlisted")
    learner.goto("/#/my-courses")
    expect(learner.get_by_test_id("waitlist-position")).to_have_text("#1")
    check(learner, "my courses")

    admin = page_factory(**context_options)
    sign_in(admin, ADMIN_USERNAME, ADMIN_PASSWORD)
    admin.goto(f"/#/admin/courses?q={token}")
    expect(admin.locator("tbody tr")).to_have_count(2)
    check(admin, "admin course list")
    admin.goto("/#/admin/courses/new")
    expect(admin.get_by_role("heading", level=1)).to_have_text("New course")
    admin.get_by_role("button", name="Create course").click()
    expect(admin.get_by_text("Choose an instructor.")).to_be_visible()
    check(admin, "course editor with errors")
    admin.goto(f"/#/admin/courses/{course['id']}/edit")
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Edit {course['code']}")
    check(admin, "course editor")
    admin.goto(f"/#/courses/{course['id']}")
    expect(admin.get_by_role("link", name="Edit")).to_be_visible()
    check(admin, "course page, admin")
    admin.goto(f"/#/courses/{full['id']}/roster")
    expect(admin.locator("tbody tr")).to_have_count(2)
    check(admin, "roster")

    instructor = page_factory(**context_options)
    sign_in(instructor, teacher.username, teacher.password)
    instructor.goto("/#/teaching")
    expect(
        instructor.get_by_role("list", name="Courses you teach").get_by_role("listitem")
    ).to_have_count(2)
    check(instructor, "my teaching")
