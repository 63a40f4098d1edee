from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.functions.messages.support import SmtpServer, smtp_server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on a free loopback port, stopped after the test."""
    with smtp_server() as server:
        yield server
