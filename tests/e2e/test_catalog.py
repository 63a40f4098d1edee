"""The public catalog: search, filters, sorting, paging and the address."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.support import EN_DASH, CatalogData, unique_token

pytestmark = pytest.mark.e2e

PAGE_SIZE = 20
FRIDAY_MORNING = [
    {"weekday": "friday", "start_time": "10:00", "end_time": "13:00", "location": "Lab"}
]


def course_cards(page: Page) -> Locator:
    return page.get_by_role("list", name="Courses").get_by_role("listitem")


def card_for(page: Page, code: str) -> Locator:
    return course_cards(page).filter(has_text=code)


def search_for(page: Page, text: str) -> None:
    page.get_by_role("search").get_by_label("Search").fill(text)


def test_search_and_filters_find_the_right_course_and_show_seats_and_status(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN three courses of one instructor: open and paid, nearly full and free, full
    token = unique_token()
    teacher = catalog.user("instructor")
    pottery = catalog.course(teacher, title=f"Pottery {token}", capacity=12, price=12900)
    weaving = catalog.course(
        teacher, title=f"Weaving {token}", capacity=3, price=0, sessions=FRIDAY_MORNING
    )
    glass = catalog.course(teacher, title=f"Glass {token}", capacity=1, price=4900)
    catalog.enroll(catalog.user("student"), glass)

    # WHEN a visitor searches the catalog
    page.goto("/#/catalog")
    expect(page.get_by_role("heading", level=1)).to_have_text("Course catalog")
    search_for(page, token)

    # THEN the three courses show with their seats, status and price
    expect(course_cards(page)).to_have_count(3)
    expect(page.get_by_text("Showing 3 courses.")).to_be_visible()
    card = card_for(page, pottery["code"])
    expect(card.get_by_role("heading")).to_have_text(f"Pottery {token}")
    expect(card.get_by_test_id("course-status")).to_contain_text("Open")
    expect(card).to_contain_text(f"Mon, Wed 09:00{EN_DASH}10:30")
    expect(card).to_contain_text("$129.00")
    expect(card).to_contain_text("12 seats left")
    expect(card).to_contain_text(teacher.full_name)

    card = card_for(page, weaving["code"])
    expect(card).to_contain_text("Free")
    expect(card).to_contain_text(f"Fri 10:00{EN_DASH}13:00")
    expect(card.locator(".seats-few")).to_have_text("3 seats left of 3")

    card = card_for(page, glass["code"])
    expect(card.get_by_test_id("course-status")).to_contain_text("Full")
    expect(card).to_contain_text("No seats left")

    # Filters narrow the list and go into the address.
    filters = page.get_by_role("search")
    filters.get_by_label("Day", exact=True).select_option("friday")
    expect(course_cards(page)).to_have_count(1)
    expect(card_for(page, weaving["code"])).to_be_visible()
    expect(page).to_have_url(re.compile(r"weekday=friday"))

    filters.get_by_label("Day", exact=True).select_option("")
    filters.get_by_label("Status").select_option("full")
    expect(course_cards(page)).to_have_count(1)
    expect(card_for(page, glass["code"])).to_be_visible()

    filters.get_by_label("Status").select_option("")
    filters.get_by_label("Min price ($)").fill("40")
    filters.get_by_label("Max price ($)").fill("100")
    expect(course_cards(page)).to_have_count(1)
    expect(card_for(page, glass["code"])).to_be_visible()

    # A price that is not a number is pointed out and not searched for.
    filters.get_by_label("Max price ($)").fill("lots")
    expect(page.get_by_text("Enter a price as a number")).to_be_visible()
    expect(filters.get_by_label("Max price ($)")).to_have_attribute("aria-invalid", "true")
    filters.get_by_label("Max price ($)").fill("")
    filters.get_by_label("Min price ($)").fill("")
    expect(course_cards(page)).to_have_count(3)

    # Sorting by price, highest first.
    filters.get_by_label("Sort by").select_option("-price")
    expect(course_cards(page).first).to_contain_text(pottery["code"])
    expect(course_cards(page).last).to_contain_text(weaving["code"])
    expect(page).to_have_url(re.compile(r"sort=-price"))

    # A reload keeps the filters and the sort order.
    filters.get_by_label("Day", exact=True).select_option("monday")
    expect(course_cards(page)).to_have_count(2)
    page.reload()
    expect(page.get_by_role("search").get_by_label("Search")).to_have_value(token)
    expect(page.get_by_role("search").get_by_label("Day", exact=True)).to_have_value("monday")
    expect(page.get_by_role("search").get_by_label("Sort by")).to_have_value("-price")
    expect(course_cards(page)).to_have_count(2)
    expect(course_cards(page).first).to_contain_text(pottery["code"])

    # Clearing the filters keeps nothing but the default order.
    page.get_by_role("button", name="Clear filters").first.click()
    expect(page.get_by_role("search").get_by_label("Search")).to_have_value("")
    expect(page).to_have_url(re.compile(r"#/catalog$"))


def test_the_instructor_link_lists_their_courses_only(page: Page, catalog: CatalogData) -> None:
    token = unique_token()
    teacher = catalog.user("instructor")
    other = catalog.user("instructor")
    mine = catalog.course(teacher, title=f"Sculpture {token}")
    catalog.course(other, title=f"Sculpture {token} II")

    page.goto(f"/#/courses/{mine['id']}")
    page.get_by_role("link", name=teacher.full_name).click()
    expect(page.get_by_text(f"Taught by {teacher.full_name}")).to_be_visible()
    show_all = page.get_by_role("button", name="Show all instructors").element_handle()
    search_for(page, token)
    expect(page).to_have_url(re.compile(f"q={token}"))
    expect(page.get_by_role("region", name="Results").locator("[aria-busy]")).to_have_count(0)
    expect(course_cards(page)).to_have_count(1)
    expect(card_for(page, mine["code"])).to_be_visible()

    # The list reloaded under the chip: its button is still the one pointed at
    assert show_all.evaluate("button => button.isConnected")
    show_all.click()
    expect(course_cards(page)).to_have_count(2)


def test_load_more_pages_through_the_catalog_with_the_cursor(
    page: Page, catalog: CatalogData
) -> None:
    token = unique_token()
    teacher = catalog.user("instructor")
    codes = [
        catalog.course(teacher, title=f"Etching {token} {number}")["code"]
        for number in range(PAGE_SIZE + 3)
    ]

    page.goto(f"/#/catalog?q={token}")
    expect(course_cards(page)).to_have_count(PAGE_SIZE)
    expect(page.get_by_text(f"Showing {PAGE_SIZE} courses; there are more.")).to_be_visible()
    load_more = page.get_by_role("button", name="Load more courses")
    load_more.click()
    expect(course_cards(page)).to_have_count(PAGE_SIZE + 3)
    expect(load_more).to_be_hidden()
    # Keyboard users continue at the first new course.
    expect(course_cards(page).nth(PAGE_SIZE).get_by_role("link")).to_be_focused()
    shown = course_cards(page).evaluate_all("cards => cards.map(card => card.dataset.code)")
    assert shown == sorted(codes)


def test_an_unknown_course_says_so(page: Page) -> None:
    page.goto("/#/courses/no-such-course")
    expect(page.get_by_role("heading", level=1)).to_have_text("Course not found")
    page.get_by_role("link", name="Browse the catalog").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Course catalog")
