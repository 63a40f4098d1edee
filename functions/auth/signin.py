"""Signing in and out: passwords checked under the throttle, access tokens,
rotating refresh tokens, and the device cookie that keeps an account's own
browsers out of its lockout."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import throttles
from functions.auth.errors import AccountDisabled, InvalidCredentials, RefreshRejected
from functions.auth.models import RefreshToken, User
from functions.auth.repository import RefreshTokenRepository, UserRepository
from lib.db import new_id
from lib.runtime import Portal
from lib.security import DeviceCookies, Role, new_secret_token, token_digest

DEVICE_COOKIE_TTL = timedelta(days=365)


@dataclass(frozen=True)
class SignIn:
    user: User
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime
    # Set on a sign-in with the password: this browser is now a known device.
    device_token: str | None = None


def device_cookies(portal: Portal) -> DeviceCookies:
    return DeviceCookies(portal.settings.secret_key, ttl=DEVICE_COOKIE_TTL)


async def login(
    session: AsyncSession,
    portal: Portal,
    *,
    login: str,
    password: str,
    address: str,
    device_token: str | None,
) -> SignIn:
    now = portal.clock.now()
    # Read and verify before the request's own transaction starts: on SQLite a
    # writing transaction holds the database lock, and neither the slow hash
    # nor the separately committed attempt count may wait behind it.
    found = None
    # No stored name holds a NUL, and PostgreSQL refuses one in a query.
    if "\x00" not in login:
        async with portal.read_sessions() as reader:
            found = await UserRepository(reader).by_login(login)
    device = (
        device_cookies(portal).verify(device_token, user_id=found.id, now=now) if found else None
    )
    limits = throttles.sign_in_limits(
        portal,
        account_key=found.id if found else login.strip().lower()[:254],
        address=address,
        device=device,
    )
    # The attempt is counted before the slow hash: simultaneous guesses
    # cannot all slip past the limit while the first ones are being checked.
    reservation = await throttles.reserve(session, portal, limits, throttles.SIGN_IN_REFUSED)
    # An unknown login is checked against a decoy hash: same cost, same answer.
    if not await portal.passwords.verify(found.password_hash if found else None, password):
        raise InvalidCredentials()
    assert found is not None
    # A success is not a failure: its attempt is given back. Earlier failures
    # stay counted for their window, so a burst holding the right password
    # still gets no more password checks than the limit.
    await portal.throttle.release(reservation)
    user = await UserRepository(session).get(found.id)
    if user is None or not user.is_active:
        raise AccountDisabled()
    if portal.passwords.needs_rehash(user.password_hash):
        user.password_hash = await portal.passwords.hash(password)
    user.last_login_at = now
    sign_in = await _sign_in(session, portal, user, family_id=None)
    return replace(sign_in, device_token=device_cookies(portal).issue(user_id=user.id, now=now))


async def refresh(session: AsyncSession, portal: Portal, *, refresh_token: str | None) -> SignIn:
    if not refresh_token:
        raise RefreshRejected("Sign in to continue.")
    now = portal.clock.now()
    tokens = RefreshTokenRepository(session)
    stored = await tokens.by_digest(token_digest(refresh_token))
    if stored is None:
        raise RefreshRejected()
    if stored.used_at is not None or stored.revoked_at is not None:
        await _revoke_family_now(session, portal, stored.family_id)
        raise RefreshRejected()
    if stored.expires_at <= now:
        raise RefreshRejected()
    if not await tokens.claim(stored.id, now=now):
        # Someone else presented the same token a moment ago: treat as reuse.
        await _revoke_family_now(session, portal, stored.family_id)
        raise RefreshRejected()
    user = await UserRepository(session).get(stored.user_id)
    if user is None or not user.is_active:
        raise RefreshRejected()
    return await _sign_in(session, portal, user, family_id=stored.family_id)


async def _revoke_family_now(request_session: AsyncSession, portal: Portal, family_id: str) -> None:
    # Committed on its own: the request answers 401 and rolls back, but a
    # replayed refresh token must end the whole family for good. The request's
    # transaction is given up first so that, on SQLite, it does not hold the
    # write lock this one needs.
    await request_session.rollback()
    async with portal.transaction() as session:
        await RefreshTokenRepository(session).revoke_family(family_id, now=portal.clock.now())


async def logout(session: AsyncSession, portal: Portal, *, refresh_token: str | None) -> None:
    if not refresh_token:
        return
    tokens = RefreshTokenRepository(session)
    stored = await tokens.by_digest(token_digest(refresh_token))
    if stored is not None:
        await tokens.revoke_family(stored.family_id, now=portal.clock.now())


async def _sign_in(
    session: AsyncSession, portal: Portal, user: User, *, family_id: str | None
) -> SignIn:
    now = portal.clock.now()
    access_token, claims = portal.tokens.issue(user_id=user.id, role=Role(user.role), now=now)
    raw_refresh = new_secret_token()
    expires_at = now + timedelta(seconds=portal.settings.refresh_token_ttl_seconds)
    token_id = new_id()
    record = RefreshToken(
        id=token_id,
        family_id=family_id or token_id,
        user_id=user.id,
        token_digest=token_digest(raw_refresh),
        created_at=now,
        expires_at=expires_at,
    )
    await RefreshTokenRepository(session).add(record)
    return SignIn(
        user=user,
        access_token=access_token,
        expires_in=int((claims.expires_at - now).total_seconds()),
        refresh_token=raw_refresh,
        refresh_expires_at=expires_at,
    )
