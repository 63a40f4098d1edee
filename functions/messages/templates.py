"""What each notification says, as a subject, plain text and HTML.

A template takes its kind's typed notice (`notices`). Every value from a
payload or a person is escaped in the HTML body."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from functions.messages.notices import (
    SECRET_FIELDS,
    CheckoutUnfinished,
    Notice,
    PasswordReset,
    PaymentConfirmed,
    PaymentDueSoon,
    PaymentFailed,
    PaymentOverdue,
    ReceiptLine,
    RefundIssued,
    VerifyEmail,
    WaitlistPromoted,
    Welcome,
)

NoticeT = TypeVar("NoticeT", bound=Notice)
# The subject, the lines of the body, and the link into the portal.
Parts = tuple[str, list[str], str]
Template = Callable[[Mapping[str, Any], str], Parts]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    link: str


def money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}".strip()


def when(moment: datetime | None) -> str:
    return moment.strftime("%A %d %B %Y, %H:%M UTC") if moment else ""


def _lines(items: tuple[ReceiptLine, ...], currency: str) -> list[str]:
    return [f"{item.description}: {money(item.amount, currency)}" for item in items]


def _receipt(number: str | None) -> list[str]:
    return [f"Receipt number: {number}"] if number else []


def in_app(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the in-app list shows it: secret link tokens blanked to ""
    (the templates then say "see your e-mail")."""
    return {key: "" if key in SECRET_FIELDS and value else value for key, value in payload.items()}


def _link(site: str, page: str, token: str) -> str:
    return f"{site}/#/{page}?token={quote(token, safe='')}"


def _welcome(n: Welcome, site: str) -> Parts:
    lines = [
        "Your account is ready.",
        "Browse the catalog, fill your cart and follow your progress.",
    ]
    if n.verify_token:
        lines.append(
            "Before you pay for a course, confirm your e-mail address by opening this "
            f"link (it works for 48 hours): {_link(site, 'verify-email', n.verify_token)}"
        )
    elif n.verify_token == "":
        lines.append("Before you pay for a course, confirm your e-mail address: see your e-mail.")
    return "Welcome to the Student Portal", lines, f"{site}/#/catalog"


def _verify_email(n: VerifyEmail, site: str) -> Parts:
    if not n.token:
        return (
            "Confirm your e-mail address",
            ["We e-mailed you a link to confirm your address. Open it from your inbox."],
            f"{site}/#/profile",
        )
    link = _link(site, "verify-email", n.token)
    return (
        "Confirm your e-mail address",
        [
            "Please confirm that this is your e-mail address by opening this link "
            f"(it works for 48 hours): {link}",
            "If you did not ask for this, you can ignore this message.",
        ],
        link,
    )


def _password_reset(n: PasswordReset, site: str) -> Parts:
    if not n.token:
        return (
            "Password reset requested",
            [
                "Someone asked to reset your password, and we e-mailed you a link. "
                "If it was not you, you can ignore it: your password stays as it is."
            ],
            f"{site}/#/profile",
        )
    link = _link(site, "reset-password", n.token)
    return (
        "Reset your password",
        [
            "Someone, hopefully you, asked to reset the password of your Student Portal "
            f"account. Choose a new one here (the link works once, for 30 minutes): {link}",
            "If it was not you, ignore this e-mail: your password stays as it is.",
        ],
        link,
    )


def _payment_confirmed(n: PaymentConfirmed, site: str) -> Parts:
    lines = ["We received your payment. Your receipt:", *_receipt(n.receipt_number)]
    lines += _lines(n.items, n.currency)
    lines.append(f"Total paid: {money(n.amount, n.currency)}")
    if n.refunded_amount:
        lines.append(
            "Some seats were no longer free when the payment arrived; "
            f"{money(n.refunded_amount, n.currency)} is on its way back to you."
        )
    return "Payment received: you are enrolled", lines, f"{site}/#/payments/{n.payment_id}"


def _due_soon(n: PaymentDueSoon, site: str) -> Parts:
    return (
        f"Payment due {n.due_in}",
        [
            f"Your payment of {money(n.amount, n.currency)} is due by {when(n.due_at)}.",
            "Pay before then to keep your seat.",
        ],
        f"{site}/#/payments/{n.payment_id}",
    )


def _overdue(n: PaymentOverdue, site: str) -> Parts:
    return (
        "Payment overdue: your seat was released",
        [
            f"Your payment of {money(n.amount, n.currency)} was due by "
            f"{when(n.due_at)} and did not arrive, so the seat went back.",
            "You can enroll again from the catalog if seats are left.",
        ],
        f"{site}/#/catalog",
    )


def _unfinished(n: CheckoutUnfinished, site: str) -> Parts:
    return (
        "Finish your checkout",
        [
            "You started a checkout and have not paid yet. Your seats are held "
            f"until {when(n.due_at)}.",
        ],
        f"{site}/#/payments/{n.payment_id}",
    )


def _failed(n: PaymentFailed, site: str) -> Parts:
    return (
        "Your payment failed",
        ["Your bank payment did not go through, so the seats were released."],
        f"{site}/#/payments/{n.payment_id}",
    )


def _refund(n: RefundIssued, site: str) -> Parts:
    return (
        "Refund issued",
        [
            f"We refunded {money(n.amount, n.currency)}. "
            "It reaches your account within a few days.",
            *_receipt(n.receipt_number),
        ],
        f"{site}/#/payments/{n.payment_id}",
    )


def _promoted(n: WaitlistPromoted, site: str) -> Parts:
    course = f"{n.course_code} {n.course_title}".strip()
    if n.status == "active":
        lines = [f"A seat opened in {course} and you are now enrolled."]
    else:
        lines = [
            f"A seat opened in {course} and it is held for you.",
            f"Pay by {when(n.due_at)} to keep it.",
        ]
    return f"A seat opened in {course}", lines, f"{site}/#/courses/{n.course_id}"


def typed(kind: type[NoticeT], template: Callable[[NoticeT, str], Parts]) -> Template:
    """A template over the stored payload: read it as its kind's notice first."""

    def from_payload(payload: Mapping[str, Any], site: str) -> Parts:
        return template(kind.from_payload(payload), site)

    return from_payload


TEMPLATES: dict[str, Template] = {
    Welcome.kind: typed(Welcome, _welcome),
    VerifyEmail.kind: typed(VerifyEmail, _verify_email),
    PasswordReset.kind: typed(PasswordReset, _password_reset),
    PaymentConfirmed.kind: typed(PaymentConfirmed, _payment_confirmed),
    PaymentDueSoon.kind: typed(PaymentDueSoon, _due_soon),
    PaymentOverdue.kind: typed(PaymentOverdue, _overdue),
    CheckoutUnfinished.kind: typed(CheckoutUnfinished, _unfinished),
    PaymentFailed.kind: typed(PaymentFailed, _failed),
    RefundIssued.kind: typed(RefundIssued, _refund),
    WaitlistPromoted.kind: typed(WaitlistPromoted, _promoted),
}


def _generic(site: str) -> Parts:
    return "A notice from the Student Portal", [], f"{site}/"


def render(kind: str, payload: dict[str, Any], *, recipient_name: str, site: str) -> Rendered:
    template = TEMPLATES.get(kind)
    try:
        subject, lines, link = template(payload, site) if template else _generic(site)
    except ValidationError:
        # A row this code cannot read still says something rather than nothing.
        subject, lines, link = _generic(site)
    greeting = f"Hello {recipient_name},"
    text = "\n\n".join([greeting, *lines, f"Open the portal: {link}", "— Student Portal"])
    body = "".join(f"<p>{escape(line)}</p>" for line in [greeting, *lines])
    html = (
        '<!doctype html><html><body style="font-family:system-ui,sans-serif">'
        f'{body}<p><a href="{escape(link, quote=True)}">Open the Student Portal</a></p>'
        "<p>— Student Portal</p></body></html>"
    )
    return Rendered(subject=subject, text=text, html=html, link=link)
