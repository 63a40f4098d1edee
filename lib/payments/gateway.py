"""The one place that talks to Stripe, through the official `stripe` client.

Without STRIPE_SECRET_KEY the same client is pointed at the built-in simulator
(in process, through an ASGI transport, or at STRIPE_API_BASE)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import stripe

from lib.errors import PortalError

log = logging.getLogger("portal.payments")

SIMULATOR_API_KEY = "sk_test_portal_simulator"


class PaymentProviderError(PortalError):
    status_code = 502
    code = "payment_provider_unavailable"


@dataclass(frozen=True)
class LineItem:
    name: str
    amount: int
    currency: str


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str
    payment_status: str
    amount_total: int | None
    currency: str | None
    payment_intent: str | None
    metadata: dict[str, str]
    expires_at: datetime | None
    client_reference_id: str | None = None
    customer_email: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None

    @classmethod
    def of(cls, obj: Any) -> CheckoutSession:
        data = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
        expires = data.get("expires_at")
        intent = data.get("payment_intent")
        if isinstance(intent, dict):
            intent = intent.get("id")
        return cls(
            id=str(data["id"]),
            url=data.get("url"),
            status=str(data.get("status") or ""),
            payment_status=str(data.get("payment_status") or ""),
            amount_total=data.get("amount_total"),
            currency=data.get("currency"),
            payment_intent=intent,
            metadata=dict(data.get("metadata") or {}),
            expires_at=datetime.fromtimestamp(int(expires), tz=UTC) if expires else None,
            client_reference_id=data.get("client_reference_id"),
            customer_email=data.get("customer_email"),
            success_url=data.get("success_url"),
            cancel_url=data.get("cancel_url"),
        )


class PaymentGateway:
    def __init__(
        self,
        *,
        api_key: str,
        api_base: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        http_client = _HTTPXClient(transport=transport)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=http_client,
            max_network_retries=2,
        )

    async def create_checkout_session(
        self,
        *,
        payment_id: str,
        lines: list[LineItem],
        customer_email: str,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
        idempotency_key: str,
    ) -> CheckoutSession:
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": line.currency,
                        "unit_amount": line.amount,
                        "product_data": {"name": line.name},
                    },
                }
                for line in lines
            ],
            "client_reference_id": payment_id,
            "metadata": {"payment_id": payment_id},
            "payment_intent_data": {"metadata": {"payment_id": payment_id}},
            "customer_email": customer_email,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": int(expires_at.timestamp()),
        }
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(_message(exc)) from None
        return CheckoutSession.of(session)

    async def retrieve_session(self, session_id: str) -> CheckoutSession:
        found = await self.find_session(session_id)
        if found is None:
            raise PaymentProviderError("The payment provider does not know this checkout.")
        return found

    async def find_session(self, session_id: str) -> CheckoutSession | None:
        """The session, or None when Stripe does not know it (a test-mode session
        deleted, a simulator whose state was lost)."""
        try:
            session = await self._client.v1.checkout.sessions.retrieve_async(session_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return None
            raise PaymentProviderError(_message(exc)) from None
        except stripe.StripeError as exc:
            raise PaymentProviderError(_message(exc)) from None
        return CheckoutSession.of(session)

    async def expire_session(self, session_id: str) -> None:
        """Close an open session; one that is already complete or expired is fine."""
        try:
            await self._client.v1.checkout.sessions.expire_async(session_id)
        except stripe.InvalidRequestError:
            return
        except stripe.StripeError as exc:
            raise PaymentProviderError(_message(exc)) from None

    async def refund(
        self, *, payment_intent: str, amount: int, payment_id: str, idempotency_key: str
    ) -> str:
        try:
            refund = await self._client.v1.refunds.create_async(
                {
                    "payment_intent": payment_intent,
                    "amount": amount,
                    "metadata": {"payment_id": payment_id},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(_message(exc)) from None
        return str(refund.id)


class _HTTPXClient(stripe.HTTPXClient):
    """Stripe's httpx client, sending the form body as `content` (httpx deprecates
    raw bytes in `data`) and optionally over a given transport: the in-process
    simulator's ASGI app."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None) -> None:
        super().__init__()
        if transport is not None:
            self._client_async = httpx.AsyncClient(transport=transport)

    def _get_request_args_kwargs(self, method: str, url: str, headers: Any, post_data: Any) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if isinstance(data, bytes | str) and data:
            kwargs["content"] = data
        return [args, kwargs]


def _message(exc: stripe.StripeError) -> str:
    # Stripe's own message goes to the log for operators; the person is told
    # what matters to them.
    log.warning(
        "payments.stripe_error %s: %s", type(exc).__name__, exc.user_message or str(exc)[:300]
    )
    return "The payment provider could not be reached or refused the request. Try again."
