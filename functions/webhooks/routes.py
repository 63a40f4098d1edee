from __future__ import annotations

from starlette.routing import Route

from functions.webhooks import service
from functions.webhooks.schemas import Received
from lib.http import ANYONE, Call, endpoint


@endpoint(
    ANYONE,
    response=Received,
    errors=[400, 409],
    summary="Stripe's signed events (Stripe-Signature over the raw body)",
    own_transactions=True,
)
async def stripe_webhook(call: Call[None]) -> Received:
    outcome = await service.receive(
        call.portal,
        payload=await call.request.body(),
        signature=call.request.headers.get("stripe-signature"),
    )  # fmt: skip
    return Received(outcome=outcome)


routes = [Route("/stripe", stripe_webhook, methods=["POST"])]
