from __future__ import annotations

import httpx
import pytest

from functions.checkout.models import Payment
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.checkout.support import payment_row


@pytest.fixture
async def pending_payment(client: httpx.AsyncClient, factory: Factory, portal: Portal) -> Payment:
    """A student's pending payment for one 5-seat course, with its Checkout Session
    open at the payment simulator."""
    student = await factory.user()
    course = await factory.course(capacity=5, price=12900)
    result = await factory.checked_out(student=student, courses=[course])
    assert result.payment is not None
    return await payment_row(portal, result.payment.id)
