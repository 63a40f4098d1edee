from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth.models import AccountToken, RefreshToken, User
from lib.db import escape_like, rowcount
from lib.fastreads import Reads
from lib.fastreads import Row as FastRow

_users = cast(Table, User.__table__)
# The columns that authenticate a caller and answer "who am I".
_CALLER = select(
    _users.c.id,
    _users.c.username,
    _users.c.role,
    _users.c.email,
    _users.c.full_name,
    _users.c.email_verified_at,
    _users.c.created_at,
    _users.c.sessions_ended_at,
)
# Every signed-in request reads its caller with this, by the driver (lib/fastreads.py).
ACTIVE_CALLER = _CALLER.where(_users.c.id == bindparam("user_id"), _users.c.is_active.is_(True))


async def active_caller(reads: Reads, user_id: str) -> FastRow | None:
    """An active account's caller columns, in one statement (every request)."""
    return await reads.first(ACTIVE_CALLER, {"user_id": user_id})


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def any_exist(self) -> bool:
        return (await self.session.execute(select(User.id).limit(1))).first() is not None

    async def by_login(self, login: str) -> User | None:
        key = login.strip().lower()
        result = await self.session.execute(
            select(User).where(or_(User.username == key, User.email_key == key)).limit(1)
        )
        return result.scalar_one_or_none()

    async def by_email_key(self, email_key: str) -> User | None:
        result = await self.session.execute(select(User).where(User.email_key == email_key))
        return result.scalar_one_or_none()

    async def username_taken(self, username: str, *, except_id: str | None = None) -> bool:
        query = select(User.id).where(User.username == username)
        if except_id:
            query = query.where(User.id != except_id)
        return (await self.session.execute(query.limit(1))).first() is not None

    async def email_taken(self, email_key: str, *, except_id: str | None = None) -> bool:
        query = select(User.id).where(User.email_key == email_key)
        if except_id:
            query = query.where(User.id != except_id)
        return (await self.session.execute(query.limit(1))).first() is not None

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def search(
        self,
        *,
        text: str | None,
        role: str | None,
        active: bool | None,
        after_username: str | None,
        limit: int,
    ) -> Sequence[User]:
        query = select(User)
        if text:
            pattern = "%" + escape_like(text.lower()) + "%"
            query = query.where(
                or_(
                    User.username.like(pattern, escape="\\"),
                    User.email_key.like(pattern, escape="\\"),
                    User.full_name.ilike(pattern, escape="\\"),
                )
            )
        if role:
            query = query.where(User.role == role)
        if active is not None:
            query = query.where(User.is_active.is_(active))
        if after_username:
            query = query.where(User.username > after_username)
        query = query.order_by(User.username).limit(limit)
        return (await self.session.execute(query)).scalars().all()


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def by_digest(self, digest: str) -> RefreshToken | None:
        result = await self.session.execute(
            select(RefreshToken).where(RefreshToken.token_digest == digest)
        )
        return result.scalar_one_or_none()

    async def claim(self, token_id: str, *, now: datetime) -> bool:
        """Mark a token used, only if nobody has used or revoked it yet."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == token_id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=now)
        )
        return rowcount(result) == 1

    async def revoke_family(self, family_id: str, *, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_for_user(
        self, user_id: str, *, now: datetime, keep_family: str | None = None
    ) -> None:
        query = update(RefreshToken).where(
            RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
        )
        if keep_family:
            query = query.where(RefreshToken.family_id != keep_family)
        await self.session.execute(query.values(revoked_at=now))


class AccountTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: AccountToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def by_digest(self, digest: str, *, purpose: str) -> AccountToken | None:
        result = await self.session.execute(
            select(AccountToken).where(
                AccountToken.token_digest == digest, AccountToken.purpose == purpose
            )
        )
        return result.scalar_one_or_none()

    async def claim(self, token_id: str, *, now: datetime) -> bool:
        """Mark a token used, only if nobody has used it yet: a link works once."""
        result = await self.session.execute(
            update(AccountToken)
            .where(AccountToken.id == token_id, AccountToken.used_at.is_(None))
            .values(used_at=now)
        )
        return rowcount(result) == 1

    async def spend_all(self, user_id: str, *, purpose: str, now: datetime) -> None:
        await self.session.execute(
            update(AccountToken)
            .where(
                AccountToken.user_id == user_id,
                AccountToken.purpose == purpose,
                AccountToken.used_at.is_(None),
            )
            .values(used_at=now)
        )

    async def delete_spent(self, user_id: str, *, now: datetime) -> None:
        """A person's used and expired links: nothing needs them any more."""
        await self.session.execute(
            delete(AccountToken).where(
                AccountToken.user_id == user_id,
                or_(AccountToken.used_at.is_not(None), AccountToken.expires_at <= now),
            )
        )
