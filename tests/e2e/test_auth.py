"""Sign-up, sign-in, sign-out and session restore in a real browser."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.support import USER_PASSWORD, register, sign_in, unique_username

pytestmark = pytest.mark.e2e


def test_sign_up_sign_out_sign_in_and_reload_keeps_the_session(page: Page) -> None:
    username = unique_username("ada")

    # GIVEN a new visitor WHEN they sign up THEN they land on the home page signed in
    register(page, username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Ada Lovelace")
    expect(page.get_by_test_id("current-username")).to_have_text(username)
    expect(page.get_by_role("status").filter(has_text="Your account is ready")).to_be_visible()

    # WHEN they sign out THEN they are on the sign-in page, signed out
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    expect(page.get_by_test_id("current-username")).to_have_count(0)
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Profile")
    ).to_have_count(0)

    # WHEN they sign in again with their e-mail THEN they are signed in
    sign_in(page, f"{username}@example.com", USER_PASSWORD)
    expect(page.get_by_test_id("current-username")).to_have_text(username)

    # WHEN they reload THEN the refresh cookie keeps them signed in
    page.reload()
    expect(page.get_by_test_id("current-username")).to_have_text(username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Profile").click()
    expect(page.get_by_test_id("profile-username")).to_have_text(username)
    expect(page.get_by_test_id("profile-role")).to_have_text("Student")


def test_sign_up_with_a_bad_password_shows_the_api_message_next_to_the_field(page: Page) -> None:
    username = unique_username("short")

    with page.expect_response("**/api/auth/register") as response_info:
        register(page, username, password="short")
    response = response_info.value
    assert response.status == 422
    api_message = response.json()["error"]["fields"]["password"]

    password = page.get_by_label("Password", exact=True)
    error = page.locator("#register-form-password-error")
    expect(error).to_have_text(api_message)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_attribute(
        "aria-describedby", "register-form-password-hint register-form-password-error"
    )
    expect(page.get_by_role("alert")).to_have_text("Please correct the highlighted fields.")
    expect(page.get_by_test_id("current-username")).to_have_count(0)


def test_a_wrong_password_shows_the_api_message(page: Page) -> None:
    page.goto("/#/login")
    page.get_by_label("Username or e-mail").fill(unique_username("nobody"))
    page.get_by_label("Password", exact=True).fill("not-the-password")
    with page.expect_response("**/api/auth/login") as response_info:
        page.get_by_role("button", name="Sign in", exact=True).click()
    assert response_info.value.status == 401
    message = response_info.value.json()["error"]["message"]
    expect(page.get_by_role("alert")).to_have_text(message)
    expect(page.get_by_label("Password", exact=True)).to_be_focused()


def test_throttled_sign_in_says_when_to_try_again(page: Page) -> None:
    # The real throttle needs many failures; the answer it gives is stubbed here.
    def throttled(route: Route) -> None:
        route.fulfill(
            status=429,
            headers={"Retry-After": "299", "Content-Type": "application/json"},
            body=json.dumps(
                {"error": {"code": "too_many_attempts", "message": "Too many attempts."}}
            ),
        )

    page.route("**/api/auth/login", throttled)
    page.goto("/#/login")
    page.get_by_label("Username or e-mail").fill("someone")
    page.get_by_label("Password", exact=True).fill("whatever-it-is")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Too many attempts, try again in 5 minutes.")


def test_an_expired_access_token_is_refreshed_and_the_call_retried(page: Page) -> None:
    username = unique_username("retry")
    register(page, username)
    expect(page.get_by_test_id("current-username")).to_have_text(username)

    refused: list[str] = []

    def refuse_once(route: Route) -> None:
        if not refused:
            refused.append(route.request.url)
            route.fulfill(
                status=401,
                headers={"Content-Type": "application/json"},
                body=json.dumps(
                    {"error": {"code": "not_authenticated", "message": "Token expired."}}
                ),
            )
        else:
            route.continue_()

    page.route("**/api/auth/me", refuse_once)
    with (
        page.expect_response("**/api/auth/refresh") as refresh_info,
        page.expect_response(lambda r: r.url.endswith("/api/auth/me") and r.status == 200),
    ):
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Profile").click()
    assert refresh_info.value.status == 200
    expect(page.get_by_test_id("profile-username")).to_have_text(username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")
    assert len(refused) == 1


def test_signed_out_visitors_are_sent_to_sign_in_and_back(page: Page) -> None:
    username = unique_username("back")
    register(page, username)
    expect(page.get_by_test_id("current-username")).to_have_text(username)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    page.goto("/#/profile")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_text("Please sign in to continue.")).to_be_visible()
    page.get_by_label("Username or e-mail").fill(username)
    page.get_by_label("Password", exact=True).fill(USER_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")


def test_profile_edits_details_and_changes_password(page: Page) -> None:
    username = unique_username("prof")
    register(page, username)
    expect(page.get_by_test_id("current-username")).to_have_text(username)
    page.goto("/#/profile")

    details = page.locator("#profile-form")
    details.get_by_label("Full name").fill("Grace Hopper")
    details.get_by_role("button", name="Save changes").click()
    expect(details.get_by_role("status")).to_have_text("Your details have been saved.")
    expect(page.get_by_test_id("profile-full-name")).to_have_text("Grace Hopper")

    passwords = page.locator("#password-form")
    passwords.get_by_label("Current password").fill("not-my-password")
    passwords.get_by_label("New password", exact=True).fill("another-long-passphrase")
    passwords.get_by_label("Repeat the new password").fill("another-long-passphrase")
    with page.expect_response("**/api/auth/me/password") as wrong_info:
        passwords.get_by_role("button", name="Change password").click()
    assert wrong_info.value.status == 422
    expect(page.locator("#password-form-current_password-error")).to_have_text(
        wrong_info.value.json()["error"]["fields"]["current_password"]
    )

    passwords.get_by_label("Current password").fill(USER_PASSWORD)
    passwords.get_by_label("New password", exact=True).fill("another-long-passphrase")
    passwords.get_by_label("Repeat the new password").fill("another-long-passphrase")
    passwords.get_by_role("button", name="Change password").click()
    expect(passwords.get_by_role("status")).to_have_text("Your password has been changed.")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, username, "another-long-passphrase")
    expect(page.get_by_test_id("current-username")).to_have_text(username)
