from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lib.runtime import Portal
from tests.functions.catalog.support import assert_seats_consistent


@pytest.fixture
async def seat_invariant(portal: Portal) -> AsyncIterator[None]:
    """After the test: every course's seats_taken matches its seat-holding
    enrollments and stays within capacity."""
    yield
    await assert_seats_consistent(portal)
