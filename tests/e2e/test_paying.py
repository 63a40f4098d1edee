"""What a student owes and how they pay it: every held seat on Payments with
"Pay now", one due date written the same everywhere, short receipt numbers,
and what to do when paying is refused or the payment provider is down."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.network import CHECKOUT, provider_down_after_holding
from tests.e2e.support import (
    CatalogData,
    PageFactory,
    main_nav,
    sign_in,
    unique_token,
    wait_until_paid,
)

pytestmark = pytest.mark.e2e

# "Pay by Dec 8, 2026, 18:18 (in 7 days)": the absolute moment on the 24-hour
# clock and a hint relative to now.
PAY_BY_IN_7_DAYS = re.compile(r"Pay by [A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2} \(in 7 days\)")
RECEIPT_NUMBER = re.compile(r"R-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")


def to_pay(page: Page) -> Locator:
    return page.get_by_role("list", name="Payments to make").get_by_role("listitem")


def held_seats(page: Page, count: int) -> Locator:
    return page.get_by_role("region", name=f"Seats held, awaiting payment ({count})")


def test_payments_lists_every_held_seat_with_pay_now_and_my_courses_links_each_to_it(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a student who holds three seats, each held a different way
    token = unique_token()
    teacher = catalog.user("instructor")
    reserved = catalog.course(teacher, title=f"Etching {token}", price=3000)
    promoted = catalog.course(teacher, title=f"Woodcut {token}", price=4000, capacity=1)
    checked_out = catalog.course(teacher, title=f"Lithography {token}", price=5000)
    student = catalog.user("student")
    catalog.enroll(student, reserved)  # "Reserve seat" on the course page
    first = catalog.user("student")
    taken = catalog.enroll(first, promoted)
    catalog.join_waitlist(student, promoted)
    catalog.drop(first, taken["id"])  # the seat goes to the first on the waitlist
    catalog.checkout(student, [checked_out])
    sign_in(page, student.username, student.password)

    # WHEN they open Payments
    main_nav(page).get_by_role("link", name="Payments").click()

    # THEN all three are there to pay, each with "Pay now", and nothing says "none"
    expect(to_pay(page)).to_have_count(3)
    for course in (reserved, promoted, checked_out):
        row = to_pay(page).filter(has_text=course["code"])
        expect(row.get_by_role("button", name=re.compile("^Pay now"))).to_be_visible()
        expect(row.get_by_test_id("pay-by")).to_be_visible()
    expect(page.get_by_test_id("payments-empty")).to_be_hidden()
    expect(page.get_by_role("region", name="Paid and past")).to_be_hidden()

    # AND My courses offers "Pay now" for each held seat, with a link to its payment
    main_nav(page).get_by_role("link", name="My courses").click()
    held = held_seats(page, 3)
    for course in (reserved, promoted, checked_out):
        row = held.get_by_role("listitem").filter(has_text=course["code"])
        expect(row.get_by_role("button", name=f"Pay now for {course['code']}")).to_be_visible()
    promoted_row = held.get_by_role("listitem").filter(has_text=promoted["code"])
    link = promoted_row.get_by_test_id("held-payment-link")
    expect(link).to_have_text(re.compile(r"^Payment R-"))
    number = promoted_row.get_by_test_id("held-payment-link").locator(".receipt-number")
    receipt = number.inner_text()
    link.click()

    # AND the link leads to that seat's payment, which can be paid from there
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment of $40.00")
    expect(page.get_by_test_id("receipt-number")).to_have_text(receipt)
    expect(page.get_by_role("button", name="Pay now")).to_be_visible()


def test_what_is_owed_comes_first_however_many_payments_came_after_it(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a student with no payments at all THEN Payments says so, and only then
    student = catalog.user("student")
    sign_in(page, student.username, student.password)
    page.goto("/#/payments")
    empty = page.get_by_test_id("payments-empty")
    expect(empty).to_contain_text("You owe nothing and have no payments yet")
    expect(page.get_by_role("region", name="To pay")).to_be_hidden()

    # GIVEN they then hold a seat, and later start 20 checkouts that came to nothing
    token = unique_token()
    teacher = catalog.user("instructor")
    owed = catalog.course(teacher, title=f"Aquatint {token}", price=2500)
    catalog.enroll(student, owed)
    for number in range(20):
        course = catalog.course(teacher, title=f"Drypoint {number} {token}", price=1000)
        for enrollment_id in catalog.checkout(student, [course])["enrollment_ids"]:
            catalog.drop(student, enrollment_id)

    # WHEN they open Payments
    page.reload()

    # THEN what they owe is at the top, though 20 newer payments came after it
    expect(to_pay(page)).to_have_count(1)
    expect(to_pay(page)).to_contain_text(f"Aquatint {token}")
    expect(to_pay(page).get_by_role("button", name=re.compile("^Pay now"))).to_be_visible()
    past = page.get_by_role("list", name="Past payments").get_by_role("listitem")
    expect(past).to_have_count(20)
    expect(past.get_by_test_id("payment-status").first).to_have_text("Status: Expired")
    expect(empty).to_be_hidden()


def pay_by(scope: Page | Locator) -> str:
    locator = scope.get_by_test_id("pay-by")
    expect(locator).to_have_count(1)
    return locator.inner_text()


def test_one_due_date_reads_the_same_on_every_page(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    # GIVEN a student in a US-English browser whose clock stands still (the
    # relative hint stays put while the test walks)
    token = unique_token()
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Mezzotint {token}", price=6000, payment_due_days=7)
    other = catalog.course(teacher, title=f"Monotype {token}", price=3500, payment_due_days=7)
    student = catalog.user("student")
    page = page_factory(locale="en-US")
    page.clock.set_fixed_time(datetime.now(UTC))
    sign_in(page, student.username, student.password)

    # WHEN they reserve a seat on the course page
    page.goto(f"/#/courses/{course['id']}")
    page.get_by_role("button", name="Reserve seat").click()

    # THEN the page says when to pay by, with the date, the time and a hint
    state = page.get_by_test_id("enrollment-state")
    expect(state).to_contain_text("Seat held")
    shown = pay_by(state)
    assert PAY_BY_IN_7_DAYS.fullmatch(shown), shown
    expect(page.get_by_role("status").filter(has_text="is held")).to_contain_text(shown)

    # AND My courses, Payments and the payment itself say exactly the same
    main_nav(page).get_by_role("link", name="My courses").click()
    assert pay_by(held_seats(page, 1)) == shown
    main_nav(page).get_by_role("link", name="Payments").click()
    assert pay_by(to_pay(page)) == shown
    to_pay(page).get_by_role("link", name=re.compile("^Details")).click()
    assert pay_by(page.get_by_test_id("payment-state")) == shown

    # WHEN they check out another course from the cart (the payment page answers
    # "no content", so the browser stays to show what the cart said on leaving)
    catalog.add_to_cart(student, other)
    page.goto("/#/cart")
    page.route("**/simulator/checkout/**", lambda route: route.fulfill(status=204))
    page.get_by_role("button", name="Checkout").click()

    # THEN the cart confirms the seat with its own due date, written the same way
    confirmation = page.get_by_role("status").filter(has_text="Taking you to the secure")
    expect(confirmation).to_contain_text("Your seat is held. Pay by")
    confirmed = pay_by_in(confirmation.inner_text())
    page.goto("/#/payments")
    assert pay_by(to_pay(page).filter(has_text=f"Monotype {token}")) == confirmed


def pay_by_in(text: str) -> str:
    found = PAY_BY_IN_7_DAYS.search(text)
    assert found, text
    return found.group(0)


def test_receipt_numbers_are_short_and_the_long_id_stays_out_of_sight(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a paid payment and one still to pay
    token = unique_token()
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Collagraph {token}", price=4200)
    unpaid = catalog.course(teacher, title=f"Cyanotype {token}", price=1800)
    student = catalog.user("student")
    payment = catalog.paid_payment(student, [course])
    pending = catalog.checkout(student, [unpaid])["payment"]
    number = payment["receipt_number"]
    assert RECEIPT_NUMBER.fullmatch(number), number
    sign_in(page, student.username, student.password)
    wait_until_paid(page, payment)

    # WHEN they look at their payments THEN each shows its receipt number
    page.goto("/#/payments")
    paid_row = page.get_by_role("list", name="Past payments").get_by_role("listitem")
    expect(paid_row.get_by_test_id("receipt-number")).to_have_text(number)
    expect(to_pay(page).get_by_test_id("receipt-number")).to_have_text(pending["receipt_number"])

    # AND the receipt quotes it, printed too, and the id shows nowhere
    paid_row.get_by_role("link", name=re.compile("^Receipt")).click()
    receipt = page.get_by_test_id("receipt")
    expect(receipt.get_by_test_id("receipt-number")).to_have_text(number)
    expect(page.locator("main")).not_to_contain_text(payment["id"])
    page.emulate_media(media="print")
    expect(receipt.get_by_test_id("receipt-number")).to_be_visible()
    page.emulate_media(media="screen")

    # AND so does the payment still to pay
    page.goto(f"/#/payments/{pending['id']}")
    expect(page.get_by_test_id("receipt-number")).to_have_text(pending["receipt_number"])
    expect(page.locator("main")).not_to_contain_text(pending["id"])


def test_a_checkout_whose_payment_page_did_not_open_leads_to_its_payment(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a cart, and a payment provider that cannot be reached
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Serigraph {unique_token()}", price=7000)
    student = catalog.user("student")
    catalog.add_to_cart(student, course)
    sign_in(page, student.username, student.password)
    page.goto("/#/cart")
    page.route(CHECKOUT, provider_down_after_holding)

    # WHEN they check out
    page.get_by_role("button", name="Checkout").click()

    # THEN the cart says the seats are held, until when, and where to pay
    held = page.get_by_test_id("checkout-held")
    expect(held).to_contain_text("Your seats are held")
    expect(held).to_contain_text("could not be reached")
    expect(held.get_by_test_id("pay-by")).to_contain_text("Pay by")
    expect(held).to_be_focused()
    expect(page.get_by_test_id("cart-link")).to_have_attribute("aria-label", "Cart, empty")
    page.get_by_role("link", name="Go to the payment").click()

    # AND that payment waits for them, with "Pay now"
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment of $70.00")
    expect(page.get_by_test_id("payment-state")).to_contain_text("Awaiting payment")
    expect(page.get_by_role("button", name="Pay now")).to_be_visible()


def refusal(page: Page) -> Locator:
    return page.get_by_role("alert").filter(has_text="Paying needs a confirmed e-mail address")


def test_an_unconfirmed_address_is_told_how_to_confirm_it_when_paying(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a student who has not confirmed their address, with a course in the cart
    token = unique_token()
    teacher = catalog.user("instructor")
    in_cart = catalog.course(teacher, title=f"Gravure {token}", price=2900)
    reserved = catalog.course(teacher, title=f"Linocut {token}", price=1900)
    student = catalog.register_student(verified=False)
    catalog.add_to_cart(student, in_cart)
    catalog.enroll(student, reserved)
    sign_in(page, student.username, student.password)

    # WHEN they open the cart THEN it says before checkout that paying needs the address
    page.goto("/#/cart")
    expect(page.get_by_test_id("cart-verify-note")).to_contain_text("confirmed e-mail address")

    # WHEN they check out all the same THEN they are told why not and where to confirm it
    page.get_by_role("button", name="Checkout").click()
    expect(refusal(page)).to_contain_text(f"{student.username}@example.com")
    refusal(page).get_by_role("button", name="Go to the notice").click()
    notice = page.get_by_test_id("verify-notice")
    expect(notice.get_by_role("button", name="Send the link again")).to_be_focused()
    # Nothing was held: the course is still in the cart.
    expect(page.get_by_role("list", name="Courses (1)")).to_contain_text(f"Gravure {token}")

    # AND "Pay now" on Payments and on My courses says the same
    page.goto("/#/payments")
    to_pay(page).get_by_role("button", name=re.compile("^Pay now")).click()
    expect(refusal(page).get_by_role("button", name="Go to the notice")).to_be_visible()
    page.goto("/#/my-courses")
    page.get_by_role("button", name=f"Pay now for {reserved['code']}").click()
    expect(refusal(page).get_by_role("button", name="Go to the notice")).to_be_visible()


def test_a_pay_now_course_holds_no_seat_for_an_unconfirmed_address(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a course paid at once (its seat is held only while paying) and a
    # student whose address is not confirmed
    course = catalog.course(
        catalog.user("instructor"),
        title=f"Pochoir {unique_token()}",
        price=4500,
        capacity=2,
        payment_due_days=0,
    )
    student = catalog.register_student(verified=False)
    sign_in(page, student.username, student.password)

    # WHEN they press "Pay now" on its page
    page.goto(f"/#/courses/{course['id']}")
    page.get_by_role("region", name="Enrollment").get_by_role("button", name="Pay now").click()

    # THEN they learn what to do first, and no seat was taken from anyone
    expect(refusal(page).get_by_role("button", name="Go to the notice")).to_be_visible()
    expect(page.get_by_test_id("enrollment-state")).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("course-seats")).to_have_text("2 of 2 left")


def test_a_seat_past_its_due_time_is_not_offered_for_payment(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    # GIVEN a seat held for 7 days, seen from a browser 8 days later (before the
    # scheduler has released it)
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Frottage {unique_token()}", price=900)
    student = catalog.user("student")
    catalog.enroll(student, course)
    page = page_factory(locale="en-US")
    page.clock.set_fixed_time(datetime.now(UTC) + timedelta(days=8))
    sign_in(page, student.username, student.password)

    # THEN My courses, Payments and the course page say it was due, offering no "Pay now"
    page.goto("/#/my-courses")
    held = held_seats(page, 1)
    expect(held.get_by_test_id("pay-by")).to_have_text(re.compile(r"^Was due .* \(past due\)$"))
    expect(held.get_by_role("button", name=re.compile("^Pay now"))).to_have_count(0)
    page.goto("/#/payments")
    expect(to_pay(page).get_by_test_id("pay-by")).to_contain_text("(past due)")
    expect(to_pay(page).get_by_role("button", name=re.compile("^Pay now"))).to_have_count(0)
    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_test_id("enrollment-state")).to_contain_text("Payment overdue")
    expect(page.get_by_role("button", name="Pay now")).to_have_count(0)


def test_dropping_a_paid_course_says_that_it_refunds_nothing(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a student who paid for a course
    token = unique_token()
    course = catalog.course(catalog.user("instructor"), title=f"Sgraffito {token}", price=5500)
    student = catalog.user("student")
    payment = catalog.paid_payment(student, [course])
    sign_in(page, student.username, student.password)
    wait_until_paid(page, payment)

    # WHEN they ask to drop it THEN the question says the money does not come back by itself
    page.goto("/#/my-courses")
    page.get_by_role("button", name=f"Drop {course['code']}").click()
    expect(page.get_by_role("dialog")).to_contain_text("Dropping does not refund what you paid")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
