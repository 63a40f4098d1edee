"""Timetable clashes: a warning in words next to each clashing course in the
cart and on the course page, never a block."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.support import (
    EN_DASH,
    CatalogData,
    PageFactory,
    sign_in,
    unique_token,
)

pytestmark = pytest.mark.e2e


def session(weekday: str, start: str, end: str) -> dict[str, str]:
    return {"weekday": weekday, "start_time": start, "end_time": end, "location": "Hall"}


def cart_row(page: Page, course: dict[str, str]) -> Locator:
    # By its own heading: another row's warning names this course too.
    title = page.get_by_role("heading", name=course["title"], exact=True)
    return page.get_by_role("list", name="Courses (3)").get_by_role("listitem").filter(has=title)


def test_clashes_are_named_in_the_cart_and_on_the_course_page_without_blocking(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    # GIVEN a student enrolled in a Monday course, with three courses in the cart:
    # one meets during the Monday course and during another cart course on
    # Wednesdays, and one meets on Fridays, alone
    token = unique_token()
    teacher = catalog.user("instructor")
    harmony = catalog.course(
        teacher, title=f"Harmony {token}", price=0, sessions=[session("monday", "10:00", "11:30")]
    )
    counterpoint = catalog.course(
        teacher,
        title=f"Counterpoint {token}",
        price=2000,
        sessions=[session("monday", "11:00", "12:00"), session("wednesday", "09:00", "10:00")],
    )
    orchestration = catalog.course(
        teacher,
        title=f"Orchestration {token}",
        price=2000,
        sessions=[session("wednesday", "09:30", "10:30")],
    )
    friday = [session("friday", "09:00", "10:00")]
    solfege = catalog.course(teacher, title=f"Solfege {token}", price=2000, sessions=friday)
    student = catalog.user("student")
    catalog.enroll(student, harmony)
    for course in (counterpoint, orchestration, solfege):
        catalog.add_to_cart(student, course)
    page = page_factory()
    sign_in(page, student.username, student.password)

    # WHEN they open the cart
    page.goto("/#/cart")

    # THEN the first course warns of both clashes, naming the course and the overlap
    warning = cart_row(page, counterpoint).get_by_test_id("clash-warning")
    enrolled = warning.locator("p").filter(has_text=harmony["code"])
    expect(enrolled).to_contain_text(f"Timetable clash with {harmony['code']} Harmony {token}")
    expect(enrolled).to_contain_text(f"(you are enrolled in it): Mon 11:00{EN_DASH}11:30, ")
    in_cart = warning.locator("p").filter(has_text=orchestration["code"])
    expect(in_cart).to_contain_text(f"(in your cart): Wed 09:30{EN_DASH}10:00, ")

    # AND the other cart course warns of the same clash from its side
    other_side = cart_row(page, orchestration).get_by_test_id("clash-warning")
    expect(other_side).to_contain_text(f"Timetable clash with {counterpoint['code']}")
    expect(other_side).to_contain_text(f"(in your cart): Wed 09:30{EN_DASH}10:00, ")

    # AND the course that clashes with nothing has no warning
    expect(cart_row(page, solfege).get_by_test_id("clash-warning")).to_have_count(0)

    # AND the summary says so once, in words, and checking out is still open
    expect(page.get_by_test_id("cart-clash-note")).to_have_text(
        "Timetable clash: 2 courses here meet at the same time as another course of yours. "
        "You can still check out."
    )
    expect(page.get_by_role("button", name="Checkout")).to_be_enabled()

    # WHEN they open the clashing course's page THEN it warns too, before they act
    page.goto(f"/#/courses/{counterpoint['id']}")
    panel = page.get_by_role("region", name="Enrollment")
    course_warning = panel.get_by_test_id("clash-warning")
    expect(course_warning).to_contain_text(f"clash with {harmony['code']} Harmony {token}")
    expect(course_warning).to_contain_text(f"{orchestration['code']} Orchestration {token}")
    expect(course_warning).to_contain_text("you can still enroll")
    expect(panel.get_by_role("button", name="Reserve seat")).to_be_enabled()

    # AND a course that clashes with nothing shows no warning, nor anything in its place
    page.goto(f"/#/courses/{solfege['id']}")
    expect(panel.get_by_role("button", name="Reserve seat")).to_be_visible()
    expect(panel.get_by_test_id("clash-warning")).to_have_count(0)
    expect(panel).not_to_contain_text("null")

    # AND a signed-out visitor sees no warning (they have no timetable)
    visitor = page_factory()
    visitor.goto(f"/#/courses/{counterpoint['id']}")
    expect(visitor.get_by_role("link", name="Sign in to enroll")).to_be_visible()
    expect(visitor.get_by_test_id("clash-warning")).to_have_count(0)
