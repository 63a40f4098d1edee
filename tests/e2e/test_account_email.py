"""Forgotten passwords and e-mail verification in a real browser, with the
e-mail read from the server's mail folder as the person would read it."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from tests.e2e.support import (
    USER_PASSWORD,
    CatalogData,
    PageFactory,
    register,
    sign_in,
    unique_token,
    unique_username,
)
from tests.e2e.test_accessibility import assert_accessible
from tests.e2e.test_responsive import PHONE, assert_no_horizontal_scroll

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a-passphrase-chosen-anew"


def emailed_link(server: Server, to: str, page: str) -> str:
    """Delivers the queued mail and returns the newest link to `page` sent to
    `to`, as an in-app path (#/...)."""
    server.run("run-job", "notifications.deliver")
    found: list[tuple[float, str]] = []
    for path in (server.workdir / "mail").glob("*.eml"):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        body = mail.get_body(("plain",))
        if mail["To"] != to or body is None:
            continue
        for link in re.findall(rf"http\S+#/{page}\?token=\S+", str(body.get_content())):
            found.append((path.stat().st_mtime, link))
    assert found, f"no e-mail to {to} with a link to {page}"
    link = max(found)[1]
    assert link.startswith(server.base_url)
    return "/#" + urlsplit(link).fragment


def test_a_forgotten_password_is_reset_through_the_emailed_link(
    page: Page, catalog: CatalogData, server: Server
) -> None:
    # GIVEN a student who forgot her password, on the sign-in page
    student = catalog.user("student")
    address = f"{student.username}@example.com"
    page.goto("/#/login")
    page.get_by_label("Username or e-mail").fill(address)

    # WHEN she follows "Forgot password?" and asks for a link
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    expect(page.get_by_label("E-mail")).to_have_value(address)
    page.get_by_role("button", name="E-mail me a link").click()

    # THEN the page says to check the e-mail, whoever the address belongs to
    expect(page.get_by_test_id("reset-requested")).to_contain_text(
        "If an account uses this address"
    )
    assert_accessible(page, "reset requested")

    # WHEN she opens the e-mailed link and chooses a new password
    link = emailed_link(server, address, "reset-password")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()

    # THEN she is sent to sign in, and the new password works
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_text("Your password has been changed")).to_be_visible()
    sign_in(page, student.username, NEW_PASSWORD)

    # AND the link does not work twice
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("yet-another-passphrase")
    page.get_by_label("Repeat the new password").fill("yet-another-passphrase")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_test_id("reset-link-invalid")).to_contain_text("Ask for a new link")
    assert_accessible(page, "reset link used")


def test_a_new_student_confirms_the_address_before_paying(
    page: Page, catalog: CatalogData, server: Server
) -> None:
    # GIVEN a student who just signed up, with a paid course in her cart
    username = unique_username("verify")
    register(page, username)
    expect(page.get_by_test_id("current-username")).to_have_text(username)
    notice = page.get_by_test_id("verify-notice")
    expect(notice).to_contain_text("Confirm your e-mail address to pay for courses")
    assert_accessible(page, "home, address not confirmed")
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Gilding {unique_token()}", price=3500)
    catalog.add_to_cart(catalog.account(username, verified=False), course)

    # WHEN she checks out
    page.goto("/#/cart")
    page.get_by_role("button", name="Checkout").click()

    # THEN she is told to confirm her address first, and can ask for the link again
    expect(page.get_by_role("alert")).to_contain_text("Paying needs a confirmed e-mail address")
    notice.get_by_role("button", name="Send the link again").click()
    expect(notice.get_by_role("status")).to_have_text(
        "We have e-mailed you a new link. It works for 48 hours."
    )
    assert_accessible(page, "cart, checkout refused")

    # WHEN she opens the e-mailed link
    page.goto(emailed_link(server, f"{username}@example.com", "verify-email"))

    # THEN her address is confirmed, the notice is gone, and checkout goes to payment
    expect(page.get_by_test_id("verify-state")).to_contain_text("Your e-mail address is confirmed")
    assert_accessible(page, "address confirmed")
    page.goto("/#/profile")
    expect(page.get_by_test_id("profile-email-state")).to_have_text("Confirmed")
    expect(page.get_by_test_id("verify-notice")).to_have_count(0)
    page.goto("/#/cart")
    page.get_by_role("button", name="Checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test checkout")


def test_a_new_address_needs_the_password_and_a_new_confirmation(
    page: Page, catalog: CatalogData, server: Server
) -> None:
    # GIVEN a student on her profile
    student = catalog.user("student")
    sign_in(page, student.username, student.password)
    page.goto("/#/profile")
    details = page.locator("#profile-form")
    moved = f"moved-{student.username}@example.com"

    # WHEN she changes her address without her password
    details.get_by_label("E-mail").fill(moved)
    details.get_by_role("button", name="Save changes").click()
    # THEN she is asked for it
    expect(page.locator("#profile-form-current_password-error")).to_contain_text(
        "Enter your current password"
    )

    # WHEN she gives it
    details.get_by_label("Current password").fill(USER_PASSWORD)
    details.get_by_role("button", name="Save changes").click()

    # THEN the new address waits for its confirmation, e-mailed to it
    expect(details.get_by_role("status")).to_contain_text(f"We e-mailed a link to {moved}")
    expect(page.get_by_test_id("profile-email-state")).to_have_text("Not confirmed yet")
    expect(page.get_by_test_id("verify-notice")).to_be_visible()
    page.goto(emailed_link(server, moved, "verify-email"))
    expect(page.get_by_test_id("verify-state")).to_contain_text("Your e-mail address is confirmed")


def test_the_account_pages_fit_a_phone(
    page_factory: PageFactory, catalog: CatalogData, server: Server
) -> None:
    phone = page_factory(viewport=PHONE, has_touch=True, is_mobile=True)
    student = catalog.user("student")
    address = f"{student.username}@example.com"

    phone.goto("/#/forgot-password")
    phone.get_by_label("E-mail").fill(address)
    phone.get_by_role("button", name="E-mail me a link").click()
    expect(phone.get_by_test_id("reset-requested")).to_be_visible()
    assert_no_horizontal_scroll(phone, "forgot password")
    assert_accessible(phone, "forgot password, phone")

    phone.goto(emailed_link(server, address, "reset-password"))
    phone.get_by_role("button", name="Save the new password").click()
    expect(phone.get_by_role("alert")).to_be_visible()
    assert_no_horizontal_scroll(phone, "reset password")
    assert_accessible(phone, "reset password with errors, phone")

    phone.goto("/#/verify-email?token=not-a-real-token")
    expect(phone.get_by_test_id("verify-state")).to_contain_text("This link does not work")
    assert_no_horizontal_scroll(phone, "verify e-mail")
    assert_accessible(phone, "verify e-mail, bad link, phone")

    username = unique_username("phone")
    register(phone, username)
    expect(phone.get_by_test_id("verify-notice")).to_be_visible()
    phone.goto("/#/profile")
    expect(phone.get_by_test_id("profile-email-state")).to_have_text("Not confirmed yet")
    assert_no_horizontal_scroll(phone, "profile, address not confirmed")
    assert_accessible(phone, "profile, address not confirmed, phone")
