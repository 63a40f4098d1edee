"""E-mail address verification, and the rule that an unverified account can
browse (and take free courses) but not pay."""

from __future__ import annotations

import httpx
import pytest

from functions.auth.models import User
from lib.clock import FrozenClock
from lib.runtime import Portal
from lib.security import Role
from tests.factories import DEFAULT_PASSWORD, Factory, SignedIn
from tests.functions.auth.support import (
    attempt,
    emailed_link,
    error,
    latest_token,
    messages,
)

VERIFY = "/api/auth/verify-email"
RESEND = "/api/auth/me/verify-email"


async def verify(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(VERIFY, json={"token": token})


async def me(client: httpx.AsyncClient, signed_in: SignedIn) -> dict[str, object]:
    user: dict[str, object] = (await client.get("/api/auth/me", headers=signed_in.headers)).json()[
        "user"
    ]
    return user


async def newcomer(factory: Factory) -> SignedIn:
    """A student who signed up themselves and has not opened the link yet."""
    user = await factory.registered(username="newcomer", email="newcomer@example.com")
    return SignedIn(user, DEFAULT_PASSWORD, factory.headers_for(user)["Authorization"][7:])


# --- the link -----------------------------------------------------------------------------


async def test_a_new_student_is_unverified_until_the_welcomes_link_is_opened(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a student who just signed up
    student = await newcomer(factory)
    assert (await me(client, student))["email_verified"] is False
    [welcome] = await messages(portal, student.user.id, "auth.welcome")
    link = emailed_link(portal, welcome)
    assert link.startswith("http://testserver/#/verify-email?token=")

    # WHEN the link in the welcome e-mail is opened (signed in or not)
    response = await verify(client, await latest_token(portal, student.user.id, "auth.welcome"))

    # THEN the address is verified; opening it again is harmless
    assert response.status_code == 204, response.text
    assert (await me(client, student))["email_verified"] is True
    again = await verify(client, await latest_token(portal, student.user.id, "auth.welcome"))
    assert again.status_code == 204


async def test_a_verification_link_lasts_48_hours(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a student's welcome link, 48 hours old
    student = await newcomer(factory)
    token = await latest_token(portal, student.user.id, "auth.welcome")
    clock.advance(hours=48)
    # WHEN it is opened
    response = await verify(client, token)
    # THEN it has expired
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_link"


@pytest.mark.parametrize("token", ["", "nope", "a" * 43, "a" * 500])
async def test_an_unknown_link_verifies_nothing(client: httpx.AsyncClient, token: str) -> None:
    response = await verify(client, token)
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_link"


async def test_a_new_address_is_verified_anew_with_its_own_link(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a verified student with a welcome link still unused for her old address
    student = await newcomer(factory)
    old_link = await latest_token(portal, student.user.id, "auth.welcome")

    # WHEN she moves to a new address
    moved = await client.patch(
        "/api/auth/me",
        json={"email": "moved@example.com", "current_password": DEFAULT_PASSWORD},
        headers=student.headers,
    )

    # THEN it is not verified; a link for it is queued; the old link does not verify it
    assert moved.status_code == 200, moved.text
    assert moved.json()["user"]["email_verified"] is False
    assert (await verify(client, old_link)).status_code == 400
    new_link = await latest_token(portal, student.user.id, "auth.verify_email")
    assert (await verify(client, new_link)).status_code == 204
    assert (await me(client, student))["email_verified"] is True


async def test_changing_the_address_needs_the_current_password(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN ada signed in
    ada = await factory.signed_in(username="ada", email="ada@example.com")
    # WHEN her address is changed without her password (a stolen session, say)
    response = await client.patch(
        "/api/auth/me", json={"email": "thief@example.com"}, headers=ada.headers
    )
    # THEN it is refused, while her name or her address's case need none
    assert response.status_code == 422
    assert error(response)["fields"] == {
        "current_password": "is needed to change your e-mail address"
    }
    renamed = await client.patch(
        "/api/auth/me",
        json={"full_name": "Ada King", "email": "ADA@example.com"},
        headers=ada.headers,
    )
    assert renamed.status_code == 200
    assert renamed.json()["user"]["email_verified"] is True


async def test_resending_is_limited_and_pointless_once_verified(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a student who has not verified
    student = await newcomer(factory)

    # WHEN she asks for the link again four times
    answers = [await client.post(RESEND, headers=student.headers) for _ in range(4)]

    # THEN three links go out, the fourth is refused for the hour
    assert [r.status_code for r in answers] == [202, 202, 202, 429]
    assert len(await messages(portal, student.user.id, "auth.verify_email")) == 3
    # AND a verified account is told it has nothing to verify
    admin_made = await factory.signed_in(username="verified")
    done = await client.post(RESEND, headers=admin_made.headers)
    assert done.status_code == 409
    assert error(done)["code"] == "already_verified"


async def test_accounts_made_by_an_administrator_are_verified(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.signed_in(role=Role.ADMIN)
    created = await client.post(
        "/api/auth/users",
        json={
            "username": "grace",
            "email": "grace@example.com",
            "password": "a-long-enough-passphrase",
            "full_name": "Grace Hopper",
            "role": "instructor",
        },
        headers=admin.headers,
    )
    assert created.status_code == 201
    assert created.json()["user"]["email_verified"] is True


async def test_an_administrator_marks_an_address_verified(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student who cannot reach the link, and an administrator
    student = await newcomer(factory)
    admin = await factory.signed_in(role=Role.ADMIN)
    # WHEN the administrator confirms her address
    response = await client.post(
        f"/api/auth/users/{student.user.id}/verify-email", headers=admin.headers
    )
    # THEN it is verified
    assert response.status_code == 200
    assert response.json()["user"]["email_verified"] is True
    assert (await me(client, student))["email_verified"] is True


async def test_the_in_app_welcome_never_shows_the_link(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a new student
    student = await newcomer(factory)
    token = await latest_token(portal, student.user.id, "auth.welcome")
    # WHEN her notifications are read (by her, or by someone with her session)
    response = await client.get("/api/messages/notifications", headers=student.headers)
    # THEN the welcome says to look in the e-mail, and the link is not there:
    # verifying proves to read the address's mail, not to hold a session
    assert response.status_code == 200
    [welcome] = response.json()["items"]
    assert "confirm your e-mail address: see your e-mail" in welcome["body"]
    assert token not in response.text


# --- paying -------------------------------------------------------------------------------


async def checkout(client: httpx.AsyncClient, student: SignedIn) -> httpx.Response:
    return await client.post("/api/checkout", headers=student.headers)


async def test_an_unverified_student_cannot_check_out_a_paid_course(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN an unverified student with a paid course in her cart
    student = await newcomer(factory)
    course = await factory.course(price=12900)
    await factory.in_cart(student=student.user, courses=[course])

    # WHEN she checks out
    refused = await checkout(client, student)

    # THEN she is asked to verify first, and nothing is held
    assert refused.status_code == 403
    assert error(refused)["code"] == "email_not_verified"
    cart = await client.get("/api/checkout/cart", headers=student.headers)
    assert len(cart.json()["items"]) == 1
    # AND once verified, the same checkout goes through
    await verify(client, await latest_token(portal, student.user.id, "auth.welcome"))
    assert (await checkout(client, student)).status_code == 201


async def test_an_unverified_student_may_take_a_free_course(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN an unverified student with a free course in her cart
    student = await newcomer(factory)
    await factory.in_cart(student=student.user, courses=[await factory.course(price=0)])
    # WHEN she checks out
    response = await checkout(client, student)
    # THEN she is enrolled: taking a free course is not paying
    assert response.status_code == 201, response.text
    assert response.json()["payment"] is None


async def test_an_unverified_student_cannot_pay_for_a_held_seat(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN an unverified student holding a seat in a paid course (reserved from
    # the course page)
    student = await newcomer(factory)
    course = await factory.course(price=12900, payment_due_days=7)
    enrollment = await factory.enrollment(student=student.user, course=course)
    # WHEN she pays for it
    response = await client.post(
        f"/api/checkout/holds/{enrollment.id}/pay", headers=student.headers
    )
    # THEN she is asked to verify first
    assert response.status_code == 403
    assert error(response)["code"] == "email_not_verified"


async def test_a_student_whose_new_address_is_unverified_cannot_pay_later(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a student with a reservation to pay later, who then changed her address
    student: User = await factory.user(username="ada")
    payment = await factory.reserved(student=student)
    signed_in = await attempt(client, "ada", DEFAULT_PASSWORD)
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    moved = await client.patch(
        "/api/auth/me",
        json={"email": "moved@example.com", "current_password": DEFAULT_PASSWORD},
        headers=headers,
    )
    assert moved.status_code == 200
    # WHEN she opens "Pay now"
    response = await client.post(f"/api/checkout/payments/{payment.id}/pay", headers=headers)
    # THEN she is asked to verify the new address first
    assert response.status_code == 403
    assert error(response)["code"] == "email_not_verified"
