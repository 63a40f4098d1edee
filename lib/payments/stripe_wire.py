"""Stripe's HTTP API as the simulator speaks it: form-encoded requests, JSON
errors of Stripe's shape, and the fields a session shows to its callers."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class StripeApiError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`line_items[0][price_data][currency]=usd`) to nested data."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    nxt = parts[index + 1]
                    node = node.setdefault(part, [] if nxt.isdigit() else {})
            else:
                position = int(part)
                while len(node) <= position:
                    node.append({})
                if last:
                    node[position] = value
                else:
                    node = node[position]
    return root


async def form_pairs(request: Request) -> list[tuple[str, str]]:
    # Stripe's API and the hosted page both send application/x-www-form-urlencoded.
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_qsl(body, keep_blank_values=True)


def public(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in {"charge_id", "payment_intent_metadata"}}


def stripe_error(exc: StripeApiError) -> Response:
    kind = "invalid_request_error" if exc.status != 401 else "authentication_error"
    error: dict[str, Any] = {"type": kind, "message": exc.message}
    if exc.code:
        error["code"] = exc.code
    return JSONResponse({"error": error}, status_code=exc.status)


def line_items(lines: list[Any]) -> list[dict[str, Any]]:
    """The session's lines as Stripe lists them; one currency for all."""
    if not lines:
        raise StripeApiError(400, "line_items is required", code="parameter_missing")
    items = []
    for line in lines:
        data = line.get("price_data") or {}
        try:
            amount = int(data.get("unit_amount", ""))
            quantity = int(line.get("quantity", "1"))
        except ValueError:
            raise StripeApiError(400, "unit_amount must be an integer") from None
        items.append(
            {
                "amount_total": amount * quantity,
                "currency": str(data.get("currency", "")).lower(),
                "description": (data.get("product_data") or {}).get("name", ""),
                "quantity": quantity,
            }
        )
    if len({item["currency"] for item in items}) > 1:
        raise StripeApiError(400, "All line items must have the same currency")
    return items
