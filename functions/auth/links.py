"""Secret links e-mailed to a person: password reset and address verification.

The link carries 256 random bits; the database keeps only their SHA-256, as
for refresh tokens. A link works once, for a while, and only while the
account still has the address it was sent to."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth.models import AccountToken, User
from functions.auth.repository import AccountTokenRepository
from functions.messages.notices import PasswordReset, VerifyEmail, notify
from lib.runtime import Portal
from lib.security import new_secret_token, token_digest

RESET = "password_reset"
VERIFY = "verify_email"
RESET_TTL = timedelta(minutes=30)
VERIFY_TTL = timedelta(hours=48)
# new_secret_token() makes 43 characters; anything much longer is not ours.
TOKEN_MAX_LENGTH = 100


async def issue(session: AsyncSession, portal: Portal, user: User, *, purpose: str) -> str:
    """A new link's token for the user's current address; only its digest is kept."""
    now = portal.clock.now()
    tokens = AccountTokenRepository(session)
    await tokens.delete_spent(user.id, now=now)
    raw = new_secret_token()
    await tokens.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose,
            email_key=user.email_key,
            token_digest=token_digest(raw),
            created_at=now,
            expires_at=now + (RESET_TTL if purpose == RESET else VERIFY_TTL),
        )
    )
    return raw


async def email(session: AsyncSession, portal: Portal, user: User, *, purpose: str) -> None:
    """A new link e-mailed through the outbox: a reset or a confirmation notice."""
    token = await issue(session, portal, user, purpose=purpose)
    notice = PasswordReset(token=token) if purpose == RESET else VerifyEmail(token=token)
    await notify(session, notice, to=user.id, now=portal.clock.now())


async def find(session: AsyncSession, raw: str, *, purpose: str) -> AccountToken | None:
    """The stored link for a token, used or not, expired or not; None when unknown."""
    if not raw or len(raw) > TOKEN_MAX_LENGTH or "\x00" in raw:
        return None
    return await AccountTokenRepository(session).by_digest(token_digest(raw), purpose=purpose)
