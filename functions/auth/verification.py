"""E-mail address verification: a link at sign-up and whenever the address
changes, a resend, and an administrator's confirmation. (The rule that an
unverified account cannot pay is service.require_verified.)"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import links, throttles
from functions.auth.errors import AlreadyVerified, InvalidLink
from functions.auth.models import User
from functions.auth.repository import AccountTokenRepository, UserRepository
from lib.errors import NotFound
from lib.runtime import Portal


async def send_link(session: AsyncSession, portal: Portal, user: User) -> None:
    await links.email(session, portal, user, purpose=links.VERIFY)


async def resend(session: AsyncSession, portal: Portal, user_id: str) -> None:
    await throttles.reserve(
        session, portal, throttles.verification_limits(user_id), throttles.VERIFY_REFUSED
    )
    user = await _user(session, user_id)
    if user.email_verified_at is not None:
        raise AlreadyVerified()
    await send_link(session, portal, user)


async def verify(session: AsyncSession, portal: Portal, token: str) -> None:
    now = portal.clock.now()
    found = await links.find(session, token, purpose=links.VERIFY)
    if found is None or found.expires_at <= now:
        raise InvalidLink()
    user = await UserRepository(session).get(found.user_id)
    if user is None or user.email_key != found.email_key:
        raise InvalidLink()
    if found.used_at is None and await AccountTokenRepository(session).claim(found.id, now=now):
        user.email_verified_at = user.email_verified_at or now
        return
    # The same link opened twice (a double click, a second device) is fine
    # once it has done its work.
    if user.email_verified_at is None:
        raise InvalidLink()


async def mark_verified(session: AsyncSession, portal: Portal, user_id: str) -> User:
    """An administrator confirms an address by other means (the person asked
    at the front desk, say)."""
    user = await _user(session, user_id)
    user.email_verified_at = user.email_verified_at or portal.clock.now()
    await session.flush()
    return user


async def _user(session: AsyncSession, user_id: str) -> User:
    user = await UserRepository(session).get(user_id) if "\x00" not in user_id else None
    if user is None:
        raise NotFound("No such user.")
    return user
