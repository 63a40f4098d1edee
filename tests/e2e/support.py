"""Shared helpers for the browser tests."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from playwright.sync_api import APIRequestContext, Locator, Page, Playwright, expect

ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "e2e-admin-password-0123"
USER_PASSWORD = "a-long-enough-passphrase"
# The dash in time ranges such as 09:00-10:30 on the pages.
EN_DASH = "\u2013"
# The payment simulator's test cards.
PAYING_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
# The simulator sends its events at once and again every few seconds; a busy
# machine may take a while.
WEBHOOK_TIMEOUT_MS = 45_000


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


def main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


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

    def drop(self, student: Account, enrollment_id: str) -> None:
        response = self.as_user(student).post(f"/api/catalog/enrollments/{enrollment_id}/drop")
        assert response.status == 200, response.text()

    def verify_email(self, account: Account) -> None:
        """Marks the account's address verified, as an administrator can: what
        opening the e-mailed link does, without the e-mail."""
        response = self._admin.post(f"/api/auth/users/{account.id}/verify-email")
        assert response.status == 200, response.text()

    def register_student(self, *, full_name: str | None = None, verified: bool = True) -> Account:
        """A student who signed up on their own (and so has a welcome notice);
        their address is verified unless `verified=False` (then they cannot pay)."""
        username = unique_username("self")
        name = full_name or f"Self {username[-4:].upper()}"
        anonymous = self._playwright.request.new_context(base_url=self._base_url)
        created = anonymous.post(
            "/api/auth/register",
            data={
                "username": username,
                "email": f"{username}@example.com",
                "full_name": name,
                "password": USER_PASSWORD,
            },
        )
        assert created.status == 201, created.text()
        user_id = created.json()["user"]["id"]
        anonymous.dispose()
        account = Account(user_id, username, name, USER_PASSWORD, "student")
        if verified:
            self.verify_email(account)
        return account

    def account(
        self, username: str, password: str = USER_PASSWORD, *, verified: bool = True
    ) -> Account:
        """An account made elsewhere (signed up in a browser, say), by signing in;
        its address is then verified unless `verified=False`."""
        anonymous = self._playwright.request.new_context(base_url=self._base_url)
        signed_in = anonymous.post(
            "/api/auth/login", data={"login": username, "password": password}
        )
        assert signed_in.ok, signed_in.text()
        user = signed_in.json()["user"]
        anonymous.dispose()
        account = Account(user["id"], username, user["full_name"], password, user["role"])
        if verified and not user["email_verified"]:
            self.verify_email(account)
        return account

    def add_to_cart(self, student: Account, course: dict[str, Any]) -> None:
        response = self.as_user(student).post(
            "/api/checkout/cart/items", data={"course_id": course["id"]}
        )
        assert response.status == 201, response.text()

    def checkout(self, student: Account, courses: list[dict[str, Any]]) -> dict[str, Any]:
        """Puts the courses in the student's cart and checks out: the payment and
        the address of its payment page."""
        for course in courses:
            self.add_to_cart(student, course)
        response = self.as_user(student).post("/api/checkout")
        assert response.status == 201, response.text()
        result: dict[str, Any] = response.json()
        return result

    def pay_on_simulator(self, checkout_url: str, card: str = PAYING_CARD) -> int:
        """Submits the simulator's hosted checkout form, as the browser would."""
        browserless = self._playwright.request.new_context()
        try:
            response = browserless.post(
                f"{checkout_url}/pay",
                form={"method": "card", "card_number": card},
                max_redirects=0,
            )
            return response.status
        finally:
            browserless.dispose()

    def paid_payment(self, student: Account, courses: list[dict[str, Any]]) -> dict[str, Any]:
        """A payment the student made by card. The provider's confirmation reaches
        the portal a moment later: wait for it with wait_until_paid()."""
        result = self.checkout(student, courses)
        assert self.pay_on_simulator(result["checkout_url"]) == 303
        payment: dict[str, Any] = result["payment"]
        return payment

    def close(self) -> None:
        for context in self._sessions.values():
            context.dispose()


def wait_until_paid(page: Page, payment: dict[str, Any]) -> None:
    """Opens the payment's return page, which asks the portal until the
    provider's event has landed, and waits for the confirmation."""
    page.goto(f"/#/payments/{payment['id']}/return")
    expect(page.get_by_test_id("payment-state")).to_contain_text(
        "Payment received", timeout=WEBHOOK_TIMEOUT_MS
    )


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


def pay_on_the_simulator_page(page: Page, card: str) -> None:
    """On the simulator's hosted checkout page: pay with a test card."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Test checkout")
    page.get_by_label("Card number").fill(card)
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


def tour_checkout_pages(
    page_factory: PageFactory,
    catalog: CatalogData,
    check: Callable[[Page, str], None],
    **context_options: Any,
) -> None:
    """Opens every cart, payment and notification page as the people who use
    them, the payment simulator's page included, and calls check(page, name)
    on each once it has loaded."""
    token = unique_token()
    teacher = catalog.user("instructor")
    courses = [
        catalog.course(teacher, title=f"Lettering {token}", price=8900, payment_due_days=7),
        catalog.course(teacher, title=f"Marbling {token}", price=4500, payment_due_days=7),
    ]
    student = catalog.user("student")
    for course in courses:
        catalog.add_to_cart(student, course)

    learner = page_factory(**context_options)
    sign_in(learner, student.username, student.password)
    learner.goto("/#/cart")
    expect(learner.get_by_test_id("cart-total")).to_have_text("$134.00")
    check(learner, "cart")
    learner.get_by_role("button", name="Checkout").click()
    expect(learner.get_by_role("heading", level=1)).to_have_text("Test checkout")
    check(learner, "payment simulator")
    pay_on_the_simulator_page(learner, DECLINED_CARD)
    expect(learner.get_by_role("alert")).to_contain_text("Your card was declined")
    check(learner, "payment simulator, card declined")
    learner.get_by_role("link", name="Cancel and go back").click()
    expect(learner.get_by_role("button", name="Pay now")).to_be_visible()
    check(learner, "payment awaiting payment")
    learner.goto("/#/payments")
    # The payment's own page has a "Pay now" too, and stays until the list's code is in.
    expect(learner.get_by_role("heading", level=1)).to_have_text("Payments")
    expect(learner.get_by_role("button", name=re.compile("^Pay now"))).to_have_count(1)
    check(learner, "payments")
    learner.get_by_role("button", name=re.compile("^Pay now")).click()
    pay_on_the_simulator_page(learner, PAYING_CARD)
    expect(learner.get_by_test_id("payment-state")).to_contain_text(
        "Payment received", timeout=WEBHOOK_TIMEOUT_MS
    )
    check(learner, "payment return, confirmed")
    learner.get_by_role("link", name="View the payment").click()
    expect(learner.get_by_test_id("receipt")).to_be_visible()
    check(learner, "receipt")
    learner.get_by_test_id("notification-bell").click()
    expect(learner.get_by_role("list", name="Notifications").get_by_role("listitem")).to_have_count(
        1
    )
    check(learner, "notifications")
    learner.goto("/#/my-courses")
    expect(learner.get_by_role("region", name="Enrolled (2)")).to_be_visible()
    check(learner, "my courses, paid")

    admin = page_factory(**context_options)
    sign_in(admin, ADMIN_USERNAME, ADMIN_PASSWORD)
    admin.goto(f"/#/admin/payments?student_id={student.id}")
    row = admin.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(student.full_name)
    check(admin, "admin payments")
    row.get_by_role("button", name=re.compile("^Refund")).click()
    expect(admin.get_by_role("dialog")).to_be_visible()
    check(admin, "admin payments, refund dialog")
    admin.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    row.get_by_role("link", name=re.compile("Lettering")).click()
    expect(admin.get_by_role("button", name="Refund")).to_be_visible()
    check(admin, "payment, admin")
    admin.goto("/#/admin/deliveries")
    expect(admin.get_by_label("Show")).to_have_value("attention")
    queue = admin.get_by_role("region", name="Waiting in the queue")
    expect(queue.locator("tbody tr").first).to_be_visible()
    check(admin, "admin deliveries, needs attention")
    admin.get_by_label("Show").select_option("pending")
    expect(admin.locator("tbody tr").first).to_be_visible()
    check(admin, "admin deliveries, waiting")
