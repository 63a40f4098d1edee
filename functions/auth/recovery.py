"""Forgotten passwords: a single-use, short-lived link e-mailed through the
outbox. Asking never tells whether an account uses the address."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import links, throttles
from functions.auth.errors import InvalidLink
from functions.auth.repository import AccountTokenRepository, RefreshTokenRepository, UserRepository
from functions.auth.service import normalize_email
from lib.errors import Invalid
from lib.runtime import Portal
from lib.security import password_problem

REQUESTED = (
    "If an account uses this address, we have e-mailed it a link to choose a new "
    f"password. The link works once, for {int(links.RESET_TTL.total_seconds()) // 60} minutes."
)


async def request_reset(session: AsyncSession, portal: Portal, *, email: str, address: str) -> str:
    """Queue a reset link when an active account uses the address. The answer,
    its status and its cost are the same either way."""
    normalized, problem = normalize_email(email)
    if problem:
        raise Invalid(fields={"email": problem})
    assert normalized is not None
    email_key = normalized.lower()
    limits = throttles.reset_limits(address, email_key)
    await throttles.reserve(session, portal, limits, throttles.RESET_REFUSED)
    user = await UserRepository(session).by_email_key(email_key)
    if user is not None and user.is_active:
        await links.email(session, portal, user, purpose=links.RESET)
    return REQUESTED


async def reset_password(
    session: AsyncSession, portal: Portal, *, token: str, new_password: str
) -> None:
    """Set a new password from a reset link. Every session of the account ends."""
    now = portal.clock.now()
    # Read, check and hash before the request's own transaction begins: on
    # SQLite that transaction holds the write lock, and the slow hash and the
    # throttle's own writes must not wait behind it.
    async with portal.read_sessions() as reader:
        found = await links.find(reader, token, purpose=links.RESET)
        user = await UserRepository(reader).get(found.user_id) if found else None
    if (
        found is None
        or user is None
        or found.used_at is not None
        or found.expires_at <= now
        or not user.is_active
        or user.email_key != found.email_key
    ):
        raise InvalidLink()
    if problem := password_problem(new_password, username=user.username, email=user.email):
        raise Invalid(fields={"new_password": problem})
    password_hash = await portal.passwords.hash(new_password)
    # Proving to read the account's mail lifts the sign-in lockout too.
    await portal.throttle.reset(
        throttles.sign_in_limits(portal, account_key=user.id, address="", device=None)[0]
    )
    tokens = AccountTokenRepository(session)
    if not await tokens.claim(found.id, now=now):
        raise InvalidLink()
    await tokens.spend_all(user.id, purpose=links.RESET, now=now)
    await RefreshTokenRepository(session).revoke_for_user(user.id, now=now)
    account = await UserRepository(session).get(user.id)
    assert account is not None
    account.password_hash = password_hash
    account.updated_at = now
    account.sessions_ended_at = now
    # The link reached the address: it is verified now if it was not.
    account.email_verified_at = account.email_verified_at or now
