"""axe-core finds no serious or critical problem on the main pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.network import CHECKOUT, HeldRequests, fail_api_calls, provider_down_after_holding
from tests.e2e.support import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CatalogData,
    PageFactory,
    format_violations,
    sign_in,
    tour_catalog_pages,
    tour_checkout_pages,
    unique_token,
)

pytestmark = pytest.mark.e2e

BLOCKING_IMPACTS = {"serious", "critical"}


def blocking_violations(page: Page) -> list[dict[str, Any]]:
    results = Axe().run(page)
    return [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]


def assert_accessible(page: Page, name: str = "") -> None:
    violations = blocking_violations(page)
    assert violations == [], f"{name}\n{format_violations(violations)}"


def test_sign_in_and_sign_up_pages_are_accessible(page: Page) -> None:
    page.goto("/#/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert_accessible(page)

    # With errors shown, too.
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Enter your password.")).to_be_visible()
    assert_accessible(page)

    page.goto("/#/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create account")
    assert_accessible(page)
    with page.expect_response("**/api/auth/register"):
        page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).not_to_be_empty()
    assert_accessible(page)


def test_profile_and_admin_users_pages_are_accessible(page: Page) -> None:
    sign_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert_accessible(page)

    page.goto("/#/profile")
    expect(page.get_by_test_id("profile-username")).to_have_text(ADMIN_USERNAME)
    assert_accessible(page)

    page.goto("/#/admin/users")
    expect(page.locator("tbody tr").first).to_be_visible()
    page.get_by_text("Create a user").click()
    expect(page.locator("#create-user-form")).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_small_screen_pages_are_accessible_in_both_colour_schemes(
    page_factory: PageFactory, color_scheme: str
) -> None:
    page = page_factory(viewport={"width": 360, "height": 740}, color_scheme=color_scheme)
    page.goto("/#/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create account")
    page.get_by_label("Password", exact=True).fill("short")
    with page.expect_response("**/api/auth/register"):
        page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).not_to_be_empty()
    page.get_by_role("button", name="Menu").click()
    assert_accessible(page)


def test_the_skip_link_moves_keyboard_focus_to_the_page(page: Page) -> None:
    page.goto("/#/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to main content")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    assert page.evaluate("location.hash") == "#/login"
    page.keyboard.press("Tab")
    expect(page.get_by_label("Username or e-mail")).to_be_focused()


@pytest.mark.parametrize(
    ("viewport", "color_scheme"),
    [
        pytest.param({"width": 1280, "height": 900}, "light", id="desktop-light"),
        pytest.param({"width": 360, "height": 740}, "light", id="phone-light"),
        pytest.param({"width": 1280, "height": 900}, "dark", id="desktop-dark"),
    ],
)
def test_catalog_pages_are_accessible(
    page_factory: PageFactory, catalog: CatalogData, viewport: dict[str, int], color_scheme: str
) -> None:
    tour_catalog_pages(
        page_factory, catalog, assert_accessible, viewport=viewport, color_scheme=color_scheme
    )


@pytest.mark.parametrize(
    ("viewport", "color_scheme"),
    [
        pytest.param({"width": 1280, "height": 900}, "light", id="desktop-light"),
        pytest.param({"width": 360, "height": 740}, "light", id="phone-light"),
        pytest.param({"width": 1280, "height": 900}, "dark", id="desktop-dark"),
        pytest.param({"width": 360, "height": 740}, "dark", id="phone-dark"),
    ],
)
def test_cart_payment_and_notification_pages_are_accessible(
    page_factory: PageFactory, catalog: CatalogData, viewport: dict[str, int], color_scheme: str
) -> None:
    tour_checkout_pages(
        page_factory, catalog, assert_accessible, viewport=viewport, color_scheme=color_scheme
    )


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_loading_and_failure_states_are_accessible(
    page_factory: PageFactory, catalog: CatalogData, color_scheme: str
) -> None:
    catalog.course(catalog.user("instructor"), title=f"Pewter {color_scheme}")
    page = page_factory(color_scheme=color_scheme)
    now = datetime.now(UTC)
    page.clock.install(time=now)
    page.clock.pause_at(now + timedelta(seconds=1))

    # A list still loading: the spinner and its words.
    held = HeldRequests(page, "**/api/catalog/courses?*")
    with page.expect_request("**/api/catalog/courses?*"):
        page.goto("/#/catalog")
    page.clock.run_for(250)
    expect(page.get_by_test_id("loading")).to_be_visible()
    page.clock.resume()  # axe itself runs on timers
    assert_accessible(page, "catalog, loading")
    held.release()
    expect(page.get_by_role("list", name="Courses")).to_be_visible()

    # A list and a whole page that could not load: the error and its Retry.
    fail_api_calls(page)
    page.get_by_role("search").get_by_label("Search").fill("anything")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    assert_accessible(page, "catalog, could not load")
    page.goto("/#/courses/any-course")
    expect(page.get_by_role("heading", level=1)).to_have_text("Could not load the course")
    assert_accessible(page, "course page, could not load")


@pytest.mark.parametrize(
    ("viewport", "color_scheme"),
    [
        pytest.param({"width": 1280, "height": 900}, "light", id="desktop-light"),
        pytest.param({"width": 360, "height": 740}, "dark", id="phone-dark"),
    ],
)
def test_what_paying_can_run_into_is_accessible(
    page_factory: PageFactory, catalog: CatalogData, viewport: dict[str, int], color_scheme: str
) -> None:
    teacher = catalog.user("instructor")
    token = unique_token()
    refused = catalog.course(teacher, title=f"Niello {token}", price=2000)
    held = catalog.course(teacher, title=f"Repousse {token}", price=2500)

    # No payments at all: the empty state.
    unverified = catalog.register_student(verified=False)
    page = page_factory(viewport=viewport, color_scheme=color_scheme)
    sign_in(page, unverified.username, unverified.password)
    page.goto("/#/payments")
    expect(page.get_by_test_id("payments-empty")).to_be_visible()
    assert_accessible(page, "payments, none")

    # Paying refused for an unconfirmed address, with the way to confirm it.
    catalog.add_to_cart(unverified, refused)
    page.goto("/#/cart")
    page.get_by_role("button", name="Checkout").click()
    expect(page.get_by_role("button", name="Go to the notice")).to_be_visible()
    assert_accessible(page, "cart, paying refused")

    # The provider down after the seats were held: where to pay instead.
    student = catalog.user("student")
    catalog.add_to_cart(student, held)
    other = page_factory(viewport=viewport, color_scheme=color_scheme)
    sign_in(other, student.username, student.password)
    other.goto("/#/cart")
    other.route(CHECKOUT, provider_down_after_holding)
    other.get_by_role("button", name="Checkout").click()
    expect(other.get_by_test_id("checkout-held")).to_be_visible()
    assert_accessible(other, "cart, seats held but the provider is down")

    # A seat past its due time, on My courses and on its course page.
    other.clock.set_fixed_time(datetime.now(UTC) + timedelta(days=8))
    other.goto("/#/my-courses")
    expect(other.get_by_test_id("pay-by")).to_contain_text("(past due)")
    assert_accessible(other, "my courses, past due")
    other.goto(f"/#/courses/{held['id']}")
    expect(other.get_by_test_id("enrollment-state")).to_contain_text("Payment overdue")
    assert_accessible(other, "course page, past due")
