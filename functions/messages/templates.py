"""What each notification says, as a subject, plain text and HTML.

Every value from a payload or a person is escaped in the HTML body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    link: str


def money(amount: Any, currency: Any) -> str:
    try:
        value = int(amount) / 100
    except (TypeError, ValueError):
        return ""
    return f"{value:,.2f} {str(currency or '').upper()}".strip()


def when(value: Any) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.strftime("%A %d %B %Y, %H:%M UTC")


def _lines(payload: dict[str, Any]) -> list[str]:
    return [
        f"{item.get('description', '')}: {money(item.get('amount'), payload.get('currency'))}"
        for item in payload.get("items") or []
        if isinstance(item, dict)
    ]


Template = Callable[[dict[str, Any], str], tuple[str, list[str], str]]


# Payload fields that hold a secret link's token. They go out by e-mail only:
# the in-app list (where a stolen session could read them) renders the same
# payload with these fields blanked. The templates say "see your e-mail" then.
SECRET_FIELDS = frozenset({"token", "verify_token"})


def in_app(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: None if key in SECRET_FIELDS else value for key, value in payload.items()}


def _link(site: str, page: str, token: Any) -> str:
    return f"{site}/#/{page}?token={quote(str(token), safe='')}"


def _welcome(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    lines = [
        "Your account is ready.",
        "Browse the catalog, fill your cart and follow your progress.",
    ]
    if p.get("verify_token"):
        lines.append(
            "Before you pay for a course, confirm your e-mail address by opening this "
            f"link (it works for 48 hours): {_link(site, 'verify-email', p['verify_token'])}"
        )
    elif "verify_token" in p:
        lines.append("Before you pay for a course, confirm your e-mail address: see your e-mail.")
    return "Welcome to the Student Portal", lines, f"{site}/#/catalog"


def _verify_email(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    if not p.get("token"):
        return (
            "Confirm your e-mail address",
            ["We e-mailed you a link to confirm your address. Open it from your inbox."],
            f"{site}/#/profile",
        )
    link = _link(site, "verify-email", p["token"])
    return (
        "Confirm your e-mail address",
        [
            "Please confirm that this is your e-mail address by opening this link "
            f"(it works for 48 hours): {link}",
            "If you did not ask for this, you can ignore this message.",
        ],
        link,
    )


def _password_reset(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    if not p.get("token"):
        return (
            "Password reset requested",
            [
                "Someone asked to reset your password, and we e-mailed you a link. "
                "If it was not you, you can ignore it: your password stays as it is."
            ],
            f"{site}/#/profile",
        )
    link = _link(site, "reset-password", p["token"])
    return (
        "Reset your password",
        [
            "Someone, hopefully you, asked to reset the password of your Student Portal "
            f"account. Choose a new one here (the link works once, for 30 minutes): {link}",
            "If it was not you, ignore this e-mail: your password stays as it is.",
        ],
        link,
    )


def _payment_confirmed(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    lines = ["We received your payment. Your receipt:", *_lines(p)]
    lines.append(f"Total paid: {money(p.get('amount'), p.get('currency'))}")
    if p.get("refunded_amount"):
        lines.append(
            "Some seats were no longer free when the payment arrived; "
            f"{money(p.get('refunded_amount'), p.get('currency'))} is on its way back to you."
        )
    return "Payment received: you are enrolled", lines, f"{site}/#/payments/{p.get('payment_id')}"


def _due_soon(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    return (
        f"Payment due {p.get('due_in', 'soon')}",
        [
            f"Your payment of {money(p.get('amount'), p.get('currency'))} is due by "
            f"{when(p.get('due_at'))}.",
            "Pay before then to keep your seat.",
        ],
        f"{site}/#/payments/{p.get('payment_id')}",
    )


def _overdue(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    return (
        "Payment overdue: your seat was released",
        [
            f"Your payment of {money(p.get('amount'), p.get('currency'))} was due by "
            f"{when(p.get('due_at'))} and did not arrive, so the seat went back.",
            "You can enroll again from the catalog if seats are left.",
        ],
        f"{site}/#/catalog",
    )


def _unfinished(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    return (
        "Finish your checkout",
        [
            "You started a checkout and have not paid yet. Your seats are held "
            f"until {when(p.get('due_at'))}.",
        ],
        f"{site}/#/payments/{p.get('payment_id')}",
    )


def _failed(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    return (
        "Your payment failed",
        ["Your bank payment did not go through, so the seats were released."],
        f"{site}/#/payments/{p.get('payment_id')}",
    )


def _refund(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    return (
        "Refund issued",
        [
            f"We refunded {money(p.get('amount'), p.get('currency'))}. It reaches your "
            "account within a few days.",
        ],
        f"{site}/#/payments/{p.get('payment_id')}",
    )


def _promoted(p: dict[str, Any], site: str) -> tuple[str, list[str], str]:
    course = f"{p.get('course_code', '')} {p.get('course_title', '')}".strip()
    if p.get("status") == "active":
        lines = [f"A seat opened in {course} and you are now enrolled."]
    else:
        lines = [
            f"A seat opened in {course} and it is held for you.",
            f"Pay by {when(p.get('due_at'))} to keep it.",
        ]
    return f"A seat opened in {course}", lines, f"{site}/#/courses/{p.get('course_id')}"


TEMPLATES: dict[str, Template] = {
    "auth.welcome": _welcome,
    "auth.verify_email": _verify_email,
    "auth.password_reset": _password_reset,
    "checkout.payment_confirmed": _payment_confirmed,
    "checkout.payment_due_soon": _due_soon,
    "checkout.payment_overdue": _overdue,
    "checkout.checkout_unfinished": _unfinished,
    "checkout.payment_failed": _failed,
    "checkout.refund_issued": _refund,
    "catalog.waitlist_promoted": _promoted,
}


def render(kind: str, payload: dict[str, Any], *, recipient_name: str, site: str) -> Rendered:
    template = TEMPLATES.get(kind)
    if template is None:
        subject, lines, link = "A notice from the Student Portal", list[str](), f"{site}/"
    else:
        subject, lines, link = template(payload, site)
    greeting = f"Hello {recipient_name},"
    text = "\n\n".join([greeting, *lines, f"Open the portal: {link}", "— Student Portal"])
    body = "".join(f"<p>{escape(line)}</p>" for line in [greeting, *lines])
    html = (
        '<!doctype html><html><body style="font-family:system-ui,sans-serif">'
        f'{body}<p><a href="{escape(link, quote=True)}">Open the Student Portal</a></p>'
        "<p>— Student Portal</p></body></html>"
    )
    return Rendered(subject=subject, text=text, html=html, link=link)
