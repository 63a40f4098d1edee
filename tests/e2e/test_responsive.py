"""The app on a 360 px wide phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CatalogData,
    PageFactory,
    sign_in,
    tour_catalog_pages,
    tour_checkout_pages,
)

pytestmark = pytest.mark.e2e

PHONE = {"width": 360, "height": 740}


def assert_no_horizontal_scroll(page: Page, name: str = "") -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name or 'the page'} is {width}px wide"


@pytest.fixture
def phone(page_factory: PageFactory) -> Page:
    return page_factory(viewport=PHONE, has_touch=True, is_mobile=True)


def test_the_menu_button_opens_and_closes_the_navigation(phone: Page) -> None:
    phone.goto("/#/")
    menu = phone.get_by_role("button", name="Menu")
    sign_in_link = phone.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")

    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sign_in_link).to_be_hidden()
    assert_no_horizontal_scroll(phone)

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(sign_in_link).to_be_visible()
    assert_no_horizontal_scroll(phone)

    # Escape closes the menu and returns focus to the button.
    phone.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()

    # Following a link closes the menu too.
    menu.click()
    sign_in_link.click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(menu).to_have_attribute("aria-expanded", "false")
    assert_no_horizontal_scroll(phone)


def test_no_page_scrolls_sideways_on_a_phone(phone: Page) -> None:
    phone.goto("/#/register")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Create account")
    assert_no_horizontal_scroll(phone)

    sign_in(phone, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert_no_horizontal_scroll(phone)
    menu = phone.get_by_role("button", name="Menu")
    menu.click()
    expect(phone.get_by_test_id("current-username")).to_have_text(ADMIN_USERNAME)
    phone.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Users")
    expect(phone.locator("tbody tr").first).to_be_visible()
    assert_no_horizontal_scroll(phone)

    phone.get_by_text("Create a user").click()
    expect(phone.locator("#create-user-form")).to_be_visible()
    assert_no_horizontal_scroll(phone)

    phone.goto("/#/profile")
    expect(phone.get_by_test_id("profile-username")).to_have_text(ADMIN_USERNAME)
    assert_no_horizontal_scroll(phone)


def test_no_catalog_page_scrolls_sideways_on_a_phone(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    tour_catalog_pages(
        page_factory,
        catalog,
        assert_no_horizontal_scroll,
        viewport=PHONE,
        has_touch=True,
        is_mobile=True,
    )


def test_no_cart_payment_or_notification_page_scrolls_sideways_on_a_phone(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    tour_checkout_pages(
        page_factory,
        catalog,
        assert_no_horizontal_scroll,
        viewport=PHONE,
        has_touch=True,
        is_mobile=True,
    )


def test_the_bell_and_the_cart_stay_beside_the_menu_button_on_a_phone(
    phone: Page, catalog: CatalogData
) -> None:
    student = catalog.user("student")
    sign_in(phone, student.username, student.password)
    menu = phone.get_by_role("button", name="Menu")
    bell = phone.get_by_test_id("notification-bell")
    cart = phone.get_by_test_id("cart-link")
    expect(bell).to_be_visible()
    expect(cart).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    # One row: the brand, the cart, the bell and the menu button.
    boxes = [el.bounding_box() for el in (menu, bell, cart)]
    middles = [box["y"] + box["height"] / 2 for box in boxes if box]
    assert len(middles) == 3
    assert max(middles) - min(middles) < 4, middles
    assert_no_horizontal_scroll(phone, "the header")


def test_the_catalog_filters_and_a_course_page_fit_a_phone(
    phone: Page, catalog: CatalogData
) -> None:
    course = catalog.course(catalog.user("instructor"), title="A rather long course title " * 3)
    phone.goto("/#/catalog")
    expect(phone.get_by_role("search").get_by_label("Search")).to_be_visible()
    phone.get_by_role("search").get_by_label("Max price ($)").fill("no price")
    expect(phone.get_by_text("Enter a price as a number")).to_be_visible()
    assert_no_horizontal_scroll(phone, "the catalog with an error")

    phone.goto(f"/#/courses/{course['id']}")
    enroll = phone.get_by_role("link", name="Sign in to enroll")
    expect(enroll).to_be_visible()
    # On a phone the enrollment panel comes before the description.
    about = phone.get_by_role("heading", name="About this course")
    assert enroll.bounding_box()["y"] < about.bounding_box()["y"]  # type: ignore[index]
    assert_no_horizontal_scroll(phone, "the course page")
