"""lib.origin: origins written as a browser writes them."""

from __future__ import annotations

import pytest

from lib.origin import origin_of


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("https://portal.example.edu/app/#/login", "https://portal.example.edu"),
        ("HTTPS://Portal.Example.EDU:443", "https://portal.example.edu"),
        ("http://portal.example.edu:80", "http://portal.example.edu"),
        ("http://portal.example.edu:443", "http://portal.example.edu:443"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        (" http://127.0.0.1:8412 ", "http://127.0.0.1:8412"),
    ],
)
def test_an_origin_is_scheme_host_and_a_port_other_than_the_default(url: str, origin: str) -> None:
    assert origin_of(url) == origin
