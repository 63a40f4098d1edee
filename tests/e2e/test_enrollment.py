"""A student enrolls, holds a seat, joins a waitlist and drops, from the course
page, the catalog and My courses."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.support import (
    EN_DASH,
    PAYING_CARD,
    WEBHOOK_TIMEOUT_MS,
    CatalogData,
    main_nav,
    pay_on_the_simulator_page,
    sign_in,
    unique_token,
)

pytestmark = pytest.mark.e2e


def group(page: Page, title: str) -> Locator:
    return page.get_by_role("region", name=title)


def test_a_student_reserves_a_seat_sees_it_everywhere_and_drops_it(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a paid course and a signed-in student
    token = unique_token()
    course = catalog.course(
        catalog.user("instructor"),
        title=f"Ceramics {token}",
        capacity=8,
        price=12900,
        payment_due_days=7,
        description="Wheel throwing.\nGlazing and firing.",
    )
    student = catalog.user("student")
    sign_in(page, student.username, student.password)

    # WHEN they find it in the catalog and open it
    main_nav(page).get_by_role("link", name="Catalog").click()
    page.get_by_role("search").get_by_label("Search").fill(token)
    page.get_by_role("link", name=f"Ceramics {token}").click()

    # THEN the course page shows its details, with the description's lines kept
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ceramics {token}")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    description = page.get_by_test_id("course-description")
    expect(description).to_contain_text("Glazing and firing.")
    assert description.inner_text() == "Wheel throwing.\nGlazing and firing."
    schedule = page.get_by_role("table", name="Weekly sessions")
    expect(schedule.get_by_role("row")).to_have_count(3)
    expect(schedule).to_contain_text("Monday")
    expect(schedule).to_contain_text(f"09:00{EN_DASH}10:30")
    expect(page.get_by_test_id("course-price")).to_have_text("$129.00")
    expect(page.get_by_test_id("course-seats")).to_have_text("8 of 8 left")

    # WHEN they reserve a seat THEN it is held until a due date
    page.get_by_role("button", name="Reserve seat").click()
    state = page.get_by_test_id("enrollment-state")
    expect(state).to_contain_text("Seat held")
    expect(state).to_be_focused()
    expect(state.get_by_test_id("pay-by")).to_contain_text("(in 7 days)")
    expect(page.get_by_role("status").filter(has_text="is held. Pay by")).to_be_visible()
    expect(page.get_by_test_id("course-seats")).to_have_text("7 of 8 left")

    # AND the catalog shows it on the course's card
    page.get_by_role("link", name="Course catalog").click()
    card = page.get_by_role("listitem").filter(has_text=course["code"])
    expect(card.get_by_test_id("my-enrollment")).to_contain_text("Seat held")

    # AND My courses lists it among the seats awaiting payment
    main_nav(page).get_by_role("link", name="My courses").click()
    held = group(page, "Seats held, awaiting payment (1)")
    expect(held).to_contain_text(f"Ceramics {token}")
    expect(held.get_by_test_id("pay-by")).to_contain_text("(in 7 days)")

    # WHEN they drop it from the course page, after confirming
    held.get_by_role("link", name=f"Ceramics {token}").click()
    page.get_by_role("button", name="Drop course").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Drop {course['code']}?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(state).to_contain_text("Seat held")
    page.get_by_role("button", name="Drop course").click()
    page.get_by_role("dialog").get_by_role("button", name="Drop course").click()

    # THEN the seat is free again and they may reserve it again
    expect(
        page.get_by_role("status").filter(has_text=f"You dropped {course['code']}.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Reserve seat")).to_be_visible()
    expect(page.get_by_test_id("course-seats")).to_have_text("8 of 8 left")


def test_a_free_course_enrolls_at_once_and_is_dropped_from_my_courses(
    page: Page, catalog: CatalogData
) -> None:
    token = unique_token()
    course = catalog.course(catalog.user("instructor"), title=f"Origami {token}", price=0)
    student = catalog.user("student")
    sign_in(page, student.username, student.password)

    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_test_id("course-price")).to_have_text("Free")
    page.get_by_role("button", name="Enroll", exact=True).click()
    expect(page.get_by_test_id("enrollment-state")).to_contain_text("Enrolled")
    expect(page.get_by_role("status").filter(has_text="You are enrolled in")).to_be_visible()

    page.goto(f"/#/catalog?q={token}")
    card = page.get_by_role("listitem").filter(has_text=course["code"])
    expect(card.get_by_test_id("my-enrollment")).to_contain_text("Enrolled")

    main_nav(page).get_by_role("link", name="My courses").click()
    enrolled = group(page, "Enrolled (1)")
    expect(enrolled).to_contain_text(f"Origami {token}")
    enrolled.get_by_role("button", name=f"Drop {course['code']}").click()
    page.get_by_role("dialog").get_by_role("button", name="Drop course").click()

    expect(
        page.get_by_role("status").filter(has_text=f"You dropped {course['code']}.")
    ).to_be_visible()
    expect(group(page, "Enrolled (1)")).to_have_count(0)
    past = group(page, "Past (1)")
    expect(past).to_contain_text(f"Origami {token}")
    expect(past).to_contain_text("Dropped")
    # Focus stays with the course the student acted on.
    expect(past.get_by_role("link", name=f"Origami {token}")).to_be_focused()
    expect(page.get_by_text("You are not enrolled in any course right now.")).to_be_visible()


def test_a_full_course_offers_the_waitlist_and_shows_the_position(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a full course with one student already waiting
    token = unique_token()
    course = catalog.course(
        catalog.user("instructor"), title=f"Glassblowing {token}", capacity=1, price=9900
    )
    catalog.enroll(catalog.user("student"), course)
    catalog.join_waitlist(catalog.user("student"), course)
    student = catalog.user("student")
    sign_in(page, student.username, student.password)

    # WHEN a student opens it THEN it offers the waitlist and says how long it is
    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_test_id("course-status")).to_contain_text("Full")
    expect(page.get_by_text("This course is full. 1 person is on the waitlist.")).to_be_visible()
    expect(page.get_by_role("button", name="Reserve seat")).to_have_count(0)
    page.get_by_role("button", name="Join waitlist").click()

    # THEN they are second in line, here, in the catalog and in My courses
    expect(page.get_by_test_id("enrollment-state")).to_contain_text("Waitlisted #2")
    expect(page.get_by_role("status").filter(has_text="at position 2")).to_be_visible()

    page.goto(f"/#/catalog?q={token}")
    card = page.get_by_role("listitem").filter(has_text=course["code"])
    expect(card.get_by_test_id("my-enrollment")).to_contain_text("Waitlisted #2")
    expect(card).to_contain_text("2 waiting")

    main_nav(page).get_by_role("link", name="My courses").click()
    waiting = group(page, "On the waitlist (1)")
    expect(waiting.get_by_test_id("waitlist-position")).to_have_text("#2")

    # WHEN they leave the waitlist THEN it is gone from their current courses
    waiting.get_by_role("button", name=f"Leave waitlist for {course['code']}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("(#2)")
    dialog.get_by_role("button", name="Leave waitlist").click()
    expect(
        page.get_by_role("status").filter(has_text=f"You left the waitlist for {course['code']}.")
    ).to_be_visible()
    expect(group(page, "On the waitlist (1)")).to_have_count(0)

    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_role("button", name="Join waitlist")).to_be_visible()


def test_a_signed_out_visitor_signs_in_to_enroll_and_comes_back(
    page: Page, catalog: CatalogData
) -> None:
    course = catalog.course(catalog.user("instructor"), title=f"Knitting {unique_token()}")
    student = catalog.user("student")

    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_role("button", name="Enroll")).to_have_count(0)
    page.get_by_role("link", name="Sign in to enroll").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Username or e-mail").fill(student.username)
    page.get_by_label("Password", exact=True).fill(student.password)
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(course["title"])
    page.get_by_role("button", name="Enroll", exact=True).click()
    expect(page.get_by_test_id("enrollment-state")).to_contain_text("Enrolled")


def test_staff_see_who_may_enroll_and_their_tools(page: Page, catalog: CatalogData) -> None:
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Batik {unique_token()}")
    sign_in(page, teacher.username, teacher.password)

    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_text("Only student accounts enroll in courses.")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    page.get_by_role("link", name="Roster").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Roster: {course['code']}")


def test_a_seat_reserved_on_the_course_page_is_paid_from_my_courses(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a student who reserved a seat in a paid course from its page
    token = unique_token()
    catalog.course(
        catalog.user("instructor"),
        title=f"Pottery {token}",
        capacity=8,
        price=4900,
        payment_due_days=7,
    )
    student = catalog.user("student")
    sign_in(page, student.username, student.password)
    main_nav(page).get_by_role("link", name="Catalog").click()
    page.get_by_role("search").get_by_label("Search").fill(token)
    page.get_by_role("link", name=f"Pottery {token}").click()
    page.get_by_role("button", name="Reserve seat").click()
    expect(page.get_by_test_id("enrollment-state")).to_contain_text("Seat held")

    # WHEN they pay for it from My courses
    main_nav(page).get_by_role("link", name="My courses").click()
    held = group(page, "Seats held, awaiting payment (1)")
    # The held seat has its payment since it was reserved: "Pay now" pays it.
    held.get_by_role("button", name=re.compile("^Pay now for")).click()

    # THEN the test checkout takes the payment, and the course becomes theirs
    expect(page).to_have_url(re.compile(r"/simulator/checkout/cs_test_"))
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_text("Payment received")).to_be_visible(timeout=60_000)
    main_nav(page).get_by_role("link", name="My courses").click()
    expect(group(page, "Enrolled (1)")).to_contain_text(f"Pottery {token}")


def enrollment_panel(page: Page) -> Locator:
    return page.get_by_role("region", name="Enrollment")


def test_a_pay_now_course_says_pay_now_and_goes_to_pay(page: Page, catalog: CatalogData) -> None:
    # GIVEN a paid course with no days to pay (the seat is held only while paying)
    token = unique_token()
    course = catalog.course(
        catalog.user("instructor"), title=f"Tapestry {token}", price=4500, payment_due_days=0
    )
    student = catalog.user("student")
    sign_in(page, student.username, student.password)

    # WHEN a student opens it THEN the button and the words say the same thing
    page.goto(f"/#/courses/{course['id']}")
    panel = enrollment_panel(page)
    expect(panel.get_by_role("button", name="Pay now")).to_be_visible()
    expect(panel.get_by_role("button", name="Reserve seat")).to_have_count(0)
    expect(panel).to_contain_text("It is held for 30 minutes while you pay")
    expect(panel).not_to_contain_text("when you reserve your seat")

    # WHEN they pay now THEN the payment page opens at once, and paying enrolls them
    panel.get_by_role("button", name="Pay now").click()
    pay_on_the_simulator_page(page, PAYING_CARD)
    expect(page.get_by_test_id("payment-state")).to_contain_text(
        "Payment received", timeout=WEBHOOK_TIMEOUT_MS
    )
    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_test_id("enrollment-state")).to_contain_text("Enrolled")


def test_a_course_with_days_to_pay_offers_to_reserve_a_seat(
    page: Page, catalog: CatalogData
) -> None:
    course = catalog.course(
        catalog.user("instructor"), title=f"Dyeing {unique_token()}", price=4500
    )
    page.goto(f"/#/courses/{course['id']}")
    panel = enrollment_panel(page)
    expect(panel).to_contain_text("Reserve a seat now and pay within 7 days")
    expect(panel.get_by_role("link", name="Sign in to enroll")).to_be_visible()


def test_a_full_course_tells_guests_about_the_waitlist(page: Page, catalog: CatalogData) -> None:
    # GIVEN a full course with days to pay
    course = catalog.course(
        catalog.user("instructor"), title=f"Spinning {unique_token()}", capacity=1, price=9900
    )
    catalog.enroll(catalog.user("student"), course)

    # WHEN a signed-out visitor opens it
    page.goto(f"/#/courses/{course['id']}")

    # THEN it explains the waitlist, not how long a seat would be held
    panel = enrollment_panel(page)
    expect(panel).to_contain_text("This course is full. Nobody is on the waitlist yet.")
    expect(panel).to_contain_text("You get a seat when one frees up")
    expect(panel).not_to_contain_text("held")
    expect(panel).not_to_contain_text("Reserv")
    expect(panel.get_by_role("link", name="Sign in to join the waitlist")).to_be_visible()
