"""Stripe's signature scheme: `t=<unix>,v1=<hmac-sha256 of "<t>.<body>">`."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from lib.payments.signing import TOLERANCE_SECONDS, BadSignature, sign, verify

SECRET = "whsec_test_secret"
BODY = b'{"id": "evt_1", "type": "checkout.session.completed"}'
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STAMP = int(NOW.timestamp())


def test_the_signature_is_stripes_hmac_over_the_timestamp_and_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{STAMP}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET, timestamp=STAMP) == f"t={STAMP},v1={expected}"


def test_a_fresh_signature_verifies() -> None:
    verify(BODY, sign(BODY, SECRET, timestamp=STAMP), SECRET, now=NOW)


def test_spaces_around_the_parts_are_tolerated() -> None:
    header = sign(BODY, SECRET, timestamp=STAMP).replace(",", ", ")
    verify(BODY, header, SECRET, now=NOW)


@pytest.mark.parametrize("seconds", [-TOLERANCE_SECONDS, TOLERANCE_SECONDS])
def test_the_tolerance_is_five_minutes_either_way(seconds: int) -> None:
    verify(BODY, sign(BODY, SECRET, timestamp=STAMP + seconds), SECRET, now=NOW)


@pytest.mark.parametrize("seconds", [-TOLERANCE_SECONDS - 1, TOLERANCE_SECONDS + 1])
def test_a_timestamp_beyond_the_tolerance_is_refused(seconds: int) -> None:
    header = sign(BODY, SECRET, timestamp=STAMP + seconds)
    with pytest.raises(BadSignature) as refused:
        verify(BODY, header, SECRET, now=NOW)
    assert (refused.value.status_code, refused.value.code) == (400, "bad_signature")


def test_a_stale_signature_is_refused_even_when_it_matches() -> None:
    header = sign(BODY, SECRET, timestamp=STAMP)
    with pytest.raises(BadSignature):
        verify(BODY, header, SECRET, now=NOW + timedelta(minutes=6))


@pytest.mark.parametrize(
    ("body", "secret"),
    [(BODY + b" ", SECRET), (BODY, "whsec_other"), (b"", SECRET)],
)
def test_another_body_or_secret_does_not_verify(body: bytes, secret: str) -> None:
    header = sign(BODY, SECRET, timestamp=STAMP)
    with pytest.raises(BadSignature) as refused:
        verify(body, header, secret, now=NOW)
    assert refused.value.code == "bad_signature"


@pytest.mark.parametrize("header", [None, "", "t=1", "v1=ab", "t=x,v1=ab", "nonsense"])
def test_a_missing_or_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(BadSignature) as refused:
        verify(BODY, header, SECRET, now=NOW)
    assert (refused.value.status_code, refused.value.code) == (400, "bad_signature")


def test_one_matching_signature_among_several_is_enough() -> None:
    ours = sign(BODY, SECRET, timestamp=STAMP)
    theirs = sign(BODY, "whsec_rolled", timestamp=STAMP).split(",")[1]
    verify(BODY, f"{ours},{theirs}", SECRET, now=NOW)
    verify(BODY, f"t={STAMP},{theirs},{ours.split(',')[1]}", SECRET, now=NOW)


def test_without_a_secret_nothing_verifies_and_the_endpoint_is_off() -> None:
    header = sign(BODY, "", timestamp=STAMP)
    with pytest.raises(BadSignature) as refused:
        verify(BODY, header, "", now=NOW)
    assert (refused.value.status_code, refused.value.code) == (503, "webhooks_off")
