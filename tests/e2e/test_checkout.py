"""Students fill a cart, pay on the payment provider's page (the built-in
simulator) and come back; an administrator refunds."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.e2e.screen import moments_with_lines
from tests.e2e.support import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    DECLINED_CARD,
    PAYING_CARD,
    WEBHOOK_TIMEOUT_MS,
    CatalogData,
    PageFactory,
    main_nav,
    pay_on_the_simulator_page,
    sign_in,
    unique_token,
    wait_until_paid,
)

pytestmark = pytest.mark.e2e

ONE_PAYMENT = re.compile(r"/api/checkout/payments/[^/?]+$")


def cart_link(page: Page) -> Locator:
    return page.get_by_test_id("cart-link")


def bell(page: Page) -> Locator:
    return page.get_by_test_id("notification-bell")


def answer_still_pending(route: Route) -> None:
    """The portal's answer about a payment, as it was before the provider's
    event landed."""
    response = route.fetch()
    body = response.json()
    body["payment"]["status"] = "pending"
    route.fulfill(response=response, json=body)


def test_a_student_pays_for_two_courses_by_card_and_is_enrolled(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN two paid courses, one to pay at once and one with a week to pay
    token = unique_token()
    teacher = catalog.user("instructor")
    pottery = catalog.course(teacher, title=f"Pottery {token}", price=12900, payment_due_days=0)
    weaving = catalog.course(teacher, title=f"Weaving {token}", price=4900, payment_due_days=7)
    student = catalog.user("student")
    sign_in(page, student.username, student.password)
    expect(bell(page)).to_have_attribute("aria-label", "Notifications")
    expect(cart_link(page)).to_have_attribute("aria-label", "Cart, empty")

    # WHEN they put one in the cart from its page and the other from the catalog
    page.goto(f"/#/courses/{pottery['id']}")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("link", name="In your cart")).to_be_focused()
    expect(cart_link(page)).to_have_attribute("aria-label", "Cart, 1 item")
    page.goto(f"/#/catalog?q={token}")
    pottery_card = page.get_by_role("listitem").filter(has_text=pottery["code"])
    expect(pottery_card.get_by_test_id("in-cart")).to_be_visible()
    weaving_card = page.get_by_role("listitem").filter(has_text=weaving["code"])
    weaving_card.get_by_role("button", name=f"Add to cart {weaving['code']}").click()
    expect(weaving_card.get_by_role("link", name=f"In your cart {weaving['code']}")).to_be_focused()
    expect(cart_link(page)).to_have_attribute("aria-label", "Cart, 2 items")

    # THEN the cart lists both, with their prices and the total
    cart_link(page).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    items = page.get_by_role("list", name="Courses (2)").get_by_role("listitem")
    expect(items).to_have_count(2)
    # Both meet on Mondays at 09:00: each row warns of the other, so find a row by its heading.
    pottery_row = items.filter(has=page.get_by_role("heading", name=f"Pottery {token}"))
    expect(pottery_row.get_by_test_id("cart-price")).to_have_text("$129.00")
    expect(page.get_by_test_id("cart-total")).to_have_text("$178.00")

    # WHEN they check out THEN the provider's payment page asks for the money
    page.get_by_role("button", name="Checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test checkout")
    expect(page).to_have_url(re.compile(r"/simulator/checkout/cs_"))
    expect(page.get_by_role("table")).to_contain_text(f"Weaving {token}")
    expect(page.get_by_role("button", name="Pay 178.00 USD")).to_be_visible()

    # WHEN they pay by card and come back. The provider's event usually lands
    # before the page first asks; the portal's first answer is held back as it
    # was before, to see what the student sees until then.
    page.route(ONE_PAYMENT, answer_still_pending)
    pay_on_the_simulator_page(page, PAYING_CARD)

    # THEN the return page says it is processing, not that all is done
    expect(page).to_have_url(re.compile(r"#/payments/[^/]+/return\?session_id=cs_"))
    state = page.get_by_test_id("payment-state")
    expect(state).to_have_text("Processing your payment…")
    expect(state).to_have_attribute("role", "status")
    expect(page.get_by_test_id("confirmed-courses")).to_have_count(0)

    # AND once the portal has the confirmation, both courses are active
    # An answer being held back is let through first, then the real ones follow.
    page.unroute_all(behavior="wait")
    expect(state).to_have_text(
        "Payment received. You are enrolled in 2 courses.", timeout=WEBHOOK_TIMEOUT_MS
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment confirmed")
    confirmed = page.get_by_test_id("confirmed-courses").get_by_role("listitem")
    expect(confirmed).to_have_count(2)
    expect(confirmed.filter(has_text=f"Pottery {token}")).to_contain_text("Enrolled")
    expect(confirmed.filter(has_text=f"Weaving {token}")).to_contain_text("Enrolled")
    expect(cart_link(page)).to_have_attribute("aria-label", "Cart, empty")

    # AND the bell shows the payment confirmation at once
    expect(bell(page)).to_have_attribute("aria-label", "Notifications, 1 unread")

    # AND My courses has both among the enrolled
    page.get_by_role("link", name="Go to My courses").click()
    enrolled = page.get_by_role("region", name="Enrolled (2)")
    expect(enrolled).to_contain_text(f"Pottery {token}")
    expect(enrolled).to_contain_text(f"Weaving {token}")

    # WHEN they open the confirmation from the notifications
    bell(page).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    notice = page.get_by_role("listitem").filter(has_text="Payment received: you are enrolled")
    expect(notice).to_contain_text("Unread")
    expect(notice).to_contain_text("Total paid: 178.00 USD")
    notice.get_by_role("link", name="Payment received: you are enrolled").click()

    # THEN it is read, and its link leads to the receipt, which prints
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment of $178.00")
    expect(bell(page)).to_have_attribute("aria-label", "Notifications")
    receipt = page.get_by_test_id("receipt")
    expect(receipt).to_contain_text(f"Pottery {token}")
    expect(receipt).to_contain_text(student.full_name)
    expect(receipt.get_by_test_id("payment-total")).to_have_text("$178.00")
    page.evaluate("window.print = () => { window.printed = true; }")
    page.get_by_role("button", name="Print receipt").click()
    assert page.evaluate("window.printed") is True
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print receipt")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(receipt).to_be_visible()


def test_a_declined_card_keeps_the_seat_held_until_paid_later(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a course with a week to pay, checked out from the cart
    token = unique_token()
    course = catalog.course(
        catalog.user("instructor"),
        title=f"Sculpture {token}",
        price=25000,
        payment_due_days=7,
        capacity=3,
    )
    student = catalog.user("student")
    sign_in(page, student.username, student.password)
    page.goto(f"/#/courses/{course['id']}")
    page.get_by_role("button", name="Add to cart").click()
    cart_link(page).click()
    page.get_by_role("button", name="Checkout").click()

    # WHEN the card is declined
    pay_on_the_simulator_page(page, DECLINED_CARD)

    # THEN the provider's page says so, and the student goes back
    expect(page.get_by_role("alert")).to_have_text("Your card was declined. Try another card.")
    page.get_by_role("link", name="Cancel and go back").click()

    # THEN the payment still waits, with a week left, and offers to pay now
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment of $250.00")
    expect(page.get_by_test_id("payment-state")).to_contain_text("Awaiting payment")
    expect(page.get_by_test_id("pay-by")).to_contain_text("(in 7 days)")
    expect(page.get_by_role("button", name="Pay now")).to_be_visible()

    # AND the seat stays held in My courses, with a way to pay
    main_nav(page).get_by_role("link", name="My courses").click()
    held = page.get_by_role("region", name="Seats held, awaiting payment (1)")
    expect(held).to_contain_text(f"Sculpture {token}")
    expect(held.get_by_role("button", name=f"Pay now for {course['code']}")).to_be_visible()
    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_test_id("course-seats")).to_have_text("2 of 3 left")

    # WHEN they pay later from their payments with a card that works
    main_nav(page).get_by_role("link", name="Payments").click()
    payment = page.get_by_role("list", name="Payments to make").get_by_role("listitem")
    expect(payment).to_have_count(1)
    expect(payment.get_by_test_id("payment-status")).to_have_text("Status: Awaiting payment")
    expect(payment.get_by_test_id("payment-amount")).to_have_text("$250.00")
    payment.get_by_role("button", name="Pay now $250.00").click()
    pay_on_the_simulator_page(page, PAYING_CARD)

    # THEN they are enrolled
    expect(page.get_by_test_id("payment-state")).to_have_text(
        "Payment received. You are enrolled in 1 course.", timeout=WEBHOOK_TIMEOUT_MS
    )
    main_nav(page).get_by_role("link", name="Payments").click()
    paid = page.get_by_role("list", name="Past payments").get_by_role("listitem")
    expect(paid.get_by_test_id("payment-status")).to_have_text("Status: Paid")
    expect(paid.get_by_role("button", name=re.compile("Pay now"))).to_have_count(0)
    expect(page.get_by_role("region", name="To pay")).to_be_hidden()


def test_a_full_course_in_the_cart_is_named_and_nothing_is_held(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a cart with two courses, one of which fills up meanwhile
    token = unique_token()
    teacher = catalog.user("instructor")
    open_course = catalog.course(teacher, title=f"Enamel {token}", price=3000)
    full_course = catalog.course(teacher, title=f"Mosaic {token}", price=3000, capacity=1)
    student = catalog.user("student")
    catalog.add_to_cart(student, open_course)
    catalog.add_to_cart(student, full_course)
    catalog.enroll(catalog.user("student"), full_course)
    sign_in(page, student.username, student.password)

    # WHEN they check out
    page.goto("/#/cart")
    page.get_by_role("button", name="Checkout").click()

    # THEN the alert names the full course, which is marked, and nothing is held
    expect(page.get_by_role("alert")).to_have_text(f"No seat is left in {full_course['code']}.")
    problem = page.get_by_role("listitem").filter(has_text=full_course["code"])
    expect(problem.get_by_test_id("cart-problem")).to_contain_text("No seat is left")
    expect(page).to_have_url(re.compile(r"#/cart$"))

    # WHEN they remove it THEN the rest checks out
    problem.get_by_role("button", name=f"Remove {full_course['code']}").click()
    expect(page.get_by_role("status").filter(has_text="is no longer in your cart")).to_be_visible()
    expect(cart_link(page)).to_have_attribute("aria-label", "Cart, 1 item")
    page.get_by_role("button", name="Checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test checkout")


def test_free_courses_check_out_without_paying(page: Page, catalog: CatalogData) -> None:
    token = unique_token()
    course = catalog.course(catalog.user("instructor"), title=f"Juggling {token}", price=0)
    student = catalog.user("student")
    sign_in(page, student.username, student.password)

    page.goto(f"/#/catalog?q={token}")
    page.get_by_role("button", name=f"Add to cart {course['code']}").click()
    cart_link(page).click()
    expect(page.get_by_test_id("cart-total")).to_have_text("Free")
    page.get_by_role("button", name="Checkout").click()

    done = page.get_by_test_id("checkout-done")
    expect(done).to_contain_text("You are enrolled")
    expect(done).to_be_focused()
    page.get_by_role("link", name="Go to My courses").click()
    expect(page.get_by_role("region", name="Enrolled (1)")).to_contain_text(f"Juggling {token}")


def test_an_administrator_refunds_a_paid_payment(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    # GIVEN a student who paid for a course
    token = unique_token()
    course = catalog.course(catalog.user("instructor"), title=f"Gilding {token}", price=9900)
    student = catalog.user("student")
    payment = catalog.paid_payment(student, [course])
    learner = page_factory()
    sign_in(learner, student.username, student.password)
    wait_until_paid(learner, payment)

    # WHEN an administrator finds it among the paid payments
    admin = page_factory()
    sign_in(admin, ADMIN_USERNAME, ADMIN_PASSWORD)
    main_nav(admin).get_by_role("link", name="Payments").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Payments")
    admin.get_by_label("Status").select_option("paid")
    row = admin.locator("tbody tr").filter(has_text=course["code"])
    expect(row).to_contain_text(student.full_name)
    expect(row).to_contain_text("$99.00")
    expect(row.get_by_test_id("payment-status")).to_have_text("Status: Paid")

    # AND narrows the list to that student
    row.get_by_role("link", name=re.compile(student.full_name)).click()
    expect(admin.get_by_text(f"Payments of {student.full_name}")).to_be_visible()
    expect(admin.locator("tbody tr")).to_have_count(1)

    # WHEN they refund it, after confirming
    row.get_by_role("button", name=f"Refund {course['code']} Gilding {token}").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Refund $99.00 to {student.full_name}?")
    dialog.get_by_role("button", name="Refund").click()

    # THEN the payment is refunded
    expect(
        admin.get_by_role("status").filter(has_text=f"Refunded $99.00 to {student.full_name}.")
    ).to_be_visible()
    expect(row.get_by_test_id("payment-status")).to_have_text("Status: Refunded")
    expect(row.get_by_role("button", name=re.compile("Refund"))).to_have_count(0)

    # AND the student's enrollment ended as refunded
    learner.goto("/#/my-courses")
    past = learner.get_by_role("region", name="Past (1)")
    expect(past).to_contain_text(f"Gilding {token}")
    expect(past).to_contain_text("Refunded")
    learner.goto(f"/#/payments/{payment['id']}")
    expect(learner.get_by_test_id("payment-state")).to_contain_text("Refunded")
    expect(learner.get_by_test_id("receipt")).to_contain_text("Refunded on")


# "Dec 4, 2026, 18:00": the 24-hour clock, whatever the browser's locale would pick.
MOMENT_24H = re.compile(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2}")


@pytest.mark.parametrize(
    "viewport",
    [
        pytest.param({"width": 1280, "height": 900}, id="desktop"),
        pytest.param({"width": 360, "height": 740}, id="phone"),
    ],
)
def test_times_are_on_the_24_hour_clock_and_never_wrap(
    page_factory: PageFactory, catalog: CatalogData, viewport: dict[str, int]
) -> None:
    # GIVEN a payment waiting to be paid: started at one moment, due at another
    student = catalog.user("student")
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Tatting {unique_token()}", price=1500)
    catalog.checkout(student, [course])

    # WHEN an administrator in a US-English browser lists the student's payments
    admin = page_factory(viewport=viewport, locale="en-US")
    sign_in(admin, ADMIN_USERNAME, ADMIN_PASSWORD)
    admin.goto(f"/#/admin/payments?student_id={student.id}")
    dates = admin.locator("tbody tr").locator("td[data-label='Dates']")
    expect(dates).to_contain_text("Started")

    # THEN every moment reads "Mon D, YYYY, HH:MM" and sits on one line
    moments = moments_with_lines(dates)
    assert len(moments) == 2, moments
    for moment in moments:
        assert MOMENT_24H.fullmatch(moment["text"]), moment
        assert moment["lines"] == 1, moment
