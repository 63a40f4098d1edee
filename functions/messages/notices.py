"""Every kind of notification, as a typed payload, and `notify`, the one way
to send one. A new capability adds its kinds here (and their wording in
`templates`).

A notice is stored in the outbox as JSON under its kind's name. Every field
has a default so that a row written before a field existed still reads; keys
a notice no longer has are ignored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from lib.outbox import enqueue


@dataclass(frozen=True, kw_only=True)
class Notice:
    """A notification's payload. A subclass names its kind:
    `class Welcome(Notice, kind="auth.welcome")`."""

    kind: ClassVar[str]
    KINDS: ClassVar[dict[str, type[Notice]]] = {}

    def __init_subclass__(cls, *, kind: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind in Notice.KINDS:
            raise TypeError(f"two notices share the kind {kind}")
        cls.kind = kind
        Notice.KINDS[kind] = cls

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = _plain(self)
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        """The notice a stored payload describes; ValueError if it cannot be read."""
        notice: Self = _adapter(cls).validate_python(dict(payload))
        return notice


def _plain(value: Any) -> Any:
    """JSON-ready, with times as `datetime.isoformat()` writes them, as every
    stored payload has them."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(cls: type[Notice]) -> TypeAdapter[Any]:
    # Built once per kind: a TypeAdapter is costly to make and cheap to use.
    if cls.kind not in _ADAPTERS:
        _ADAPTERS[cls.kind] = TypeAdapter(cls)
    return _ADAPTERS[cls.kind]


async def notify(
    session: AsyncSession,
    notice: Notice,
    *,
    to: str,
    now: datetime,
    once_per: str | None = None,
) -> bool:
    """Queue a notice for a person, in the caller's transaction. With `once_per`
    (what it is about: a payment, an enrollment) it is queued at most once:
    False when it was queued before."""
    return await enqueue(
        session,
        kind=notice.kind,
        recipient_id=to,
        payload=notice.to_payload(),
        now=now,
        dedupe_key=f"{notice.kind}:{once_per}" if once_per is not None else None,
    )


# --- the kinds ------------------------------------------------------------------------


# A field holding a secret link's token goes out by e-mail only: the in-app
# list, where a stolen session could read it, shows the notice without it
# (see `templates.in_app`).
SECRET_FIELDS = frozenset({"token", "verify_token"})


@dataclass(frozen=True, kw_only=True)
class Welcome(Notice, kind="auth.welcome"):
    # The e-mail address confirmation link's token, for a self-registered account.
    verify_token: str | None = None


@dataclass(frozen=True, kw_only=True)
class VerifyEmail(Notice, kind="auth.verify_email"):
    token: str | None = None


@dataclass(frozen=True, kw_only=True)
class PasswordReset(Notice, kind="auth.password_reset"):
    token: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReceiptLine:
    description: str = ""
    amount: int = 0
    refunded: bool = False


@dataclass(frozen=True, kw_only=True)
class PaymentConfirmed(Notice, kind="checkout.payment_confirmed"):
    payment_id: str = ""
    receipt_number: str | None = None
    amount: int = 0
    currency: str = ""
    refunded_amount: int = 0
    # The receipt's lines, as they stand when the money arrived.
    items: tuple[ReceiptLine, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PaymentDueSoon(Notice, kind="checkout.payment_due_soon"):
    payment_id: str = ""
    amount: int = 0
    currency: str = ""
    due_at: datetime | None = None
    due_in: str = "soon"
    days: int = 0


@dataclass(frozen=True, kw_only=True)
class PaymentOverdue(Notice, kind="checkout.payment_overdue"):
    payment_id: str = ""
    amount: int = 0
    currency: str = ""
    due_at: datetime | None = None
    items: tuple[ReceiptLine, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CheckoutUnfinished(Notice, kind="checkout.checkout_unfinished"):
    payment_id: str = ""
    amount: int = 0
    currency: str = ""
    due_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentFailed(Notice, kind="checkout.payment_failed"):
    payment_id: str = ""


@dataclass(frozen=True, kw_only=True)
class RefundIssued(Notice, kind="checkout.refund_issued"):
    payment_id: str = ""
    receipt_number: str | None = None
    amount: int = 0
    currency: str = ""


@dataclass(frozen=True, kw_only=True)
class WaitlistPromoted(Notice, kind="catalog.waitlist_promoted"):
    enrollment_id: str = ""
    course_id: str = ""
    course_code: str = ""
    course_title: str = ""
    status: str = "pending_payment"
    due_at: datetime | None = None
    payment_id: str | None = None
