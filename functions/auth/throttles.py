"""Every limit on guessing and flooding in the auth capability, reserved through
the one throttle (lib.throttle): sign-in, password checks, sign-ups, password
reset requests and verification e-mails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from lib.errors import TooManyRequests
from lib.runtime import Portal
from lib.security import DeviceClaims
from lib.throttle import Limit, Reservation

HOUR = timedelta(hours=1)
ADDRESS_MAX_FAILURES = 20
RESETS_PER_ADDRESS_PER_HOUR = 10
RESETS_PER_ACCOUNT_PER_HOUR = 3
VERIFICATIONS_PER_ACCOUNT_PER_HOUR = 3

SIGN_IN_REFUSED = "Too many failed sign-in attempts. Try again later."
PASSWORD_REFUSED = "Too many wrong passwords. Try again later."  # noqa: S105 - a message
SIGN_UP_REFUSED = "Too many accounts were created from your network. Try again later."
RESET_REFUSED = "Too many password reset requests. Try again later."
VERIFY_REFUSED = "We sent you several links a moment ago. Try again later."


def _window(portal: Portal) -> timedelta:
    return timedelta(seconds=portal.settings.login_window_seconds)


def sign_in_limits(
    portal: Portal, *, account_key: str, address: str, device: DeviceClaims | None
) -> list[Limit]:
    """A stranger is limited per account and per address. A browser holding
    this account's device cookie is limited per device instead, so that
    strangers who spend the account's limit do not lock its owner out."""
    most = portal.settings.login_max_failures
    if device is not None:
        return [Limit(f"login:device:{device.device_id}", most, _window(portal))]
    return [
        Limit(f"login:account:{account_key}", most, _window(portal)),
        Limit(f"login:address:{address}", ADDRESS_MAX_FAILURES, _window(portal)),
    ]


def password_limits(portal: Portal, user_id: str) -> list[Limit]:
    """Guesses at a signed-in account's current password (password and e-mail
    changes). Kept apart from sign-in: a stolen access token cannot lock the
    owner out of signing in."""
    return [
        Limit(f"password:account:{user_id}", portal.settings.login_max_failures, _window(portal))
    ]


def sign_up_limits(portal: Portal, address: str) -> list[Limit]:
    return [Limit(f"signup:address:{address}", portal.settings.signups_per_address_per_hour, HOUR)]


def reset_limits(address: str, email_key: str) -> list[Limit]:
    # Keyed by the address typed, whether or not an account uses it: a refusal
    # tells nothing about which addresses have accounts.
    return [
        Limit(f"reset:address:{address}", RESETS_PER_ADDRESS_PER_HOUR, HOUR),
        Limit(f"reset:email:{email_key}", RESETS_PER_ACCOUNT_PER_HOUR, HOUR),
    ]


def verification_limits(user_id: str) -> list[Limit]:
    return [Limit(f"verify:account:{user_id}", VERIFICATIONS_PER_ACCOUNT_PER_HOUR, HOUR)]


async def reserve(
    session: AsyncSession, portal: Portal, limits: Sequence[Limit], refused: str
) -> Reservation:
    """Count an attempt before doing the work it guards, or refuse with 429."""
    # The throttle writes in a session of its own. On SQLite the request's
    # session may already hold the write lock (a signed-in request reads its
    # caller in it) and the throttle would wait for it forever: give it up
    # first. Nothing has been written in it yet.
    await session.rollback()
    reservation = await portal.throttle.reserve(limits, portal.clock.now())
    if not reservation.granted:
        raise TooManyRequests(refused, retry_after=reservation.retry_after)
    return reservation
