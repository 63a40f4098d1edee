from __future__ import annotations

from datetime import datetime

from lib.errors import PortalError
from lib.payments.gateway import PaymentProviderError


class CheckoutError(PortalError):
    """Base of the checkout's errors."""


class AlreadyInCart(CheckoutError):
    status_code = 409
    code = "already_in_cart"

    def __init__(self) -> None:
        super().__init__("This course is already in your cart.")


class NotInCart(CheckoutError):
    status_code = 404
    code = "not_in_cart"

    def __init__(self) -> None:
        super().__init__("This course is not in your cart.")


class CartEmpty(CheckoutError):
    status_code = 409
    code = "cart_empty"

    def __init__(self) -> None:
        super().__init__("Your cart is empty.")


class MixedCurrencies(CheckoutError):
    status_code = 409
    code = "mixed_currencies"

    def __init__(self) -> None:
        super().__init__("Courses priced in different currencies must be paid separately.")


class PaymentNotFound(CheckoutError):
    status_code = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("No such payment.")


class PaymentExpired(CheckoutError):
    status_code = 410
    code = "payment_expired"

    def __init__(self) -> None:
        super().__init__("This payment is past its due time; the seats were released.")


class PaymentNotPayable(CheckoutError):
    status_code = 409
    code = "payment_not_payable"


class PaymentNotRefundable(CheckoutError):
    status_code = 409
    code = "payment_not_refundable"


class EventNotReady(CheckoutError):
    """An event refers to a payment we cannot place yet: answer non-2xx so that
    Stripe delivers it again later, when the earlier event has landed."""

    status_code = 409
    code = "event_not_ready"


class CheckoutSessionUnavailable(PaymentProviderError):
    """Stripe did not open the payment page after the seats were held: they
    stay held with their payment, which the student pays from Payments."""

    def __init__(self, payment_id: str, due_at: datetime) -> None:
        super().__init__(
            "The payment provider could not be reached. Your seats are held until "
            f"{due_at:%Y-%m-%d %H:%M} UTC: pay from your payments page.",
            fields={"payment_id": payment_id},
        )
