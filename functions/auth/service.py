"""Accounts and sign-in: the rules. No HTTP here, and no SQL."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth.errors import (
    AccountDisabled,
    CannotChangeSelf,
    EmailTaken,
    InvalidCredentials,
    RefreshRejected,
    UsernameTaken,
)
from functions.auth.models import RefreshToken, User
from functions.auth.repository import RefreshTokenRepository, UserRepository
from functions.messages.notices import Welcome, notify
from lib.db import new_id
from lib.errors import Invalid, NotFound, TooManyRequests
from lib.pagination import CursorKey
from lib.runtime import CurrentUser, Portal
from lib.security import (
    Role,
    new_refresh_token,
    password_problem,
    refresh_token_digest,
)
from lib.throttle import Limit

USERNAME_PATTERN = re.compile(r"^[a-z0-9_.-]{3,32}$")
FULL_NAME_MAX = 100
ADDRESS_MAX_FAILURES = 20


@dataclass(frozen=True)
class NewAccount:
    username: str
    email: str
    password: str
    full_name: str
    role: Role = Role.STUDENT


@dataclass(frozen=True)
class SignIn:
    user: User
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime


@dataclass(frozen=True)
class UserFilter:
    text: str | None = None
    role: str | None = None
    status: str | None = None
    cursor: str | None = None
    limit: int = 20


# --- validation ---------------------------------------------------------------


def _searchable(text: str) -> bool:
    # No stored name, address or id holds a NUL, and PostgreSQL refuses one in
    # a query: such input matches nothing, without asking the database.
    return "\x00" not in text


def normalize_username(raw: str) -> str:
    return raw.strip().lower()


def username_problem(username: str) -> str | None:
    if not 3 <= len(username) <= 32:
        return "must be 3 to 32 characters"
    if not USERNAME_PATTERN.match(username):
        return "may only contain a-z, 0-9, underscore, dot and hyphen"
    return None


def normalize_email(raw: str) -> tuple[str | None, str | None]:
    """The normalized address, or None and the reason it is not valid."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        return None, str(exc)
    return result.normalized, None


def normalize_full_name(raw: str) -> tuple[str, str | None]:
    name = " ".join(raw.split())
    if not name:
        return name, "is required"
    if len(name) > FULL_NAME_MAX:
        return name, f"must be at most {FULL_NAME_MAX} characters"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return name, "must not contain control characters"
    return name, None


def _validated(account: NewAccount) -> NewAccount:
    problems: dict[str, str] = {}
    username = normalize_username(account.username)
    if problem := username_problem(username):
        problems["username"] = problem
    email, email_problem = normalize_email(account.email)
    if email_problem:
        problems["email"] = email_problem
    full_name, name_problem = normalize_full_name(account.full_name)
    if name_problem:
        problems["full_name"] = name_problem
    if problem := password_problem(account.password, username=username, email=email or ""):
        problems["password"] = problem
    if problems:
        raise Invalid(fields=problems)
    assert email is not None
    return NewAccount(username, email, account.password, full_name, account.role)


# --- accounts -----------------------------------------------------------------


async def register(session: AsyncSession, portal: Portal, account: NewAccount) -> User:
    """Create an account. Self-service registration always makes a student."""
    user = await _create(session, portal, NewAccount(**{**account.__dict__, "role": Role.STUDENT}))
    await notify(session, Welcome(), to=user.id, now=portal.clock.now(), once_per=user.id)
    return user


async def create_user(session: AsyncSession, portal: Portal, account: NewAccount) -> User:
    return await _create(session, portal, account)


async def _create(session: AsyncSession, portal: Portal, account: NewAccount) -> User:
    account = _validated(account)
    # Hash first: the slow part runs before the transaction takes any lock.
    password_hash = await portal.passwords.hash(account.password)
    users = UserRepository(session)
    if await users.username_taken(account.username):
        raise UsernameTaken()
    if await users.email_taken(account.email.lower()):
        raise EmailTaken()
    now = portal.clock.now()
    user = User(
        username=account.username,
        email=account.email,
        email_key=account.email.lower(),
        full_name=account.full_name,
        role=account.role.value,
        password_hash=password_hash,
        is_active=True,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            await users.add(user)
    except IntegrityError as exc:
        # Two registrations raced past the checks above; the unique index decides.
        if "email" in str(exc.orig).lower():
            raise EmailTaken() from None
        raise UsernameTaken() from None
    return user


async def has_users(session: AsyncSession) -> bool:
    return await UserRepository(session).any_exist()


async def load_active_user(session: AsyncSession, user_id: str) -> CurrentUser | None:
    user = await UserRepository(session).get(user_id)
    if user is None or not user.is_active:
        return None
    return CurrentUser(id=user.id, username=user.username, role=Role(user.role))


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await UserRepository(session).get(user_id) if _searchable(user_id) else None
    if user is None:
        raise NotFound("No such user.")
    return user


async def update_profile(
    session: AsyncSession,
    portal: Portal,
    user_id: str,
    *,
    full_name: str | None,
    email: str | None,
) -> User:
    user = await get_user(session, user_id)
    problems: dict[str, str] = {}
    new_name = user.full_name
    new_email = user.email
    if full_name is not None:
        new_name, problem = normalize_full_name(full_name)
        if problem:
            problems["full_name"] = problem
    if email is not None:
        normalized, problem = normalize_email(email)
        if problem:
            problems["email"] = problem
        else:
            assert normalized is not None
            new_email = normalized
    if problems:
        raise Invalid(fields=problems)
    users = UserRepository(session)
    if new_email.lower() != user.email_key and await users.email_taken(
        new_email.lower(), except_id=user.id
    ):
        raise EmailTaken()
    user.full_name = new_name
    user.email = new_email
    user.email_key = new_email.lower()
    user.updated_at = portal.clock.now()
    try:
        await session.flush()
    except IntegrityError:
        # Another request took the address after the check above; the unique
        # index decides. The request rolls back as it answers.
        raise EmailTaken() from None
    return user


async def change_password(
    session: AsyncSession,
    portal: Portal,
    user_id: str,
    *,
    current_password: str,
    new_password: str,
    keep_refresh_token: str | None,
) -> None:
    user = await get_user(session, user_id)
    if not await portal.passwords.verify(user.password_hash, current_password):
        raise Invalid(fields={"current_password": "is not your current password"})
    if problem := password_problem(new_password, username=user.username, email=user.email):
        raise Invalid(fields={"new_password": problem})
    now = portal.clock.now()
    user.password_hash = await portal.passwords.hash(new_password)
    user.updated_at = now
    # Every other session ends; the one that changed the password stays.
    keep_family = None
    if keep_refresh_token:
        current = await RefreshTokenRepository(session).by_digest(
            refresh_token_digest(keep_refresh_token)
        )
        if current is not None and current.user_id == user.id:
            keep_family = current.family_id
    await RefreshTokenRepository(session).revoke_for_user(user.id, now=now, keep_family=keep_family)


# --- sign-in ------------------------------------------------------------------


def _login_limits(portal: Portal, *, account_key: str, address: str) -> list[Limit]:
    window = timedelta(seconds=portal.settings.login_window_seconds)
    return [
        Limit(f"login:account:{account_key}", portal.settings.login_max_failures, window),
        Limit(f"login:address:{address}", ADDRESS_MAX_FAILURES, window),
    ]


async def login(
    session: AsyncSession, portal: Portal, *, login: str, password: str, address: str
) -> SignIn:
    now = portal.clock.now()
    # Read and verify before the request's own transaction starts: on SQLite a
    # writing transaction holds the database lock, and neither the slow hash
    # nor the separately committed failure count may wait behind it.
    found = None
    if _searchable(login):
        async with portal.read_sessions() as reader:
            found = await UserRepository(reader).by_login(login)
    account_key = found.id if found else login.strip().lower()[:254]
    limits = _login_limits(portal, account_key=account_key, address=address)
    if wait := await portal.throttle.blocked_for(limits, now):
        raise TooManyRequests(
            "Too many failed sign-in attempts. Try again later.", retry_after=wait
        )
    # An unknown login is checked against a decoy hash: same cost, same answer.
    if not await portal.passwords.verify(found.password_hash if found else None, password):
        await portal.throttle.record_failure(limits, now)
        raise InvalidCredentials()
    assert found is not None
    await portal.throttle.reset(limits[0])
    user = await UserRepository(session).get(found.id)
    if user is None or not user.is_active:
        raise AccountDisabled()
    if portal.passwords.needs_rehash(user.password_hash):
        user.password_hash = await portal.passwords.hash(password)
    user.last_login_at = now
    return await _sign_in(session, portal, user, family_id=None)


async def refresh(session: AsyncSession, portal: Portal, *, refresh_token: str | None) -> SignIn:
    if not refresh_token:
        raise RefreshRejected("Sign in to continue.")
    now = portal.clock.now()
    tokens = RefreshTokenRepository(session)
    stored = await tokens.by_digest(refresh_token_digest(refresh_token))
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
    stored = await tokens.by_digest(refresh_token_digest(refresh_token))
    if stored is not None:
        await tokens.revoke_family(stored.family_id, now=portal.clock.now())


async def _sign_in(
    session: AsyncSession, portal: Portal, user: User, *, family_id: str | None
) -> SignIn:
    now = portal.clock.now()
    access_token, claims = portal.tokens.issue(user_id=user.id, role=Role(user.role), now=now)
    raw_refresh = new_refresh_token()
    expires_at = now + timedelta(seconds=portal.settings.refresh_token_ttl_seconds)
    token_id = new_id()
    record = RefreshToken(
        id=token_id,
        family_id=family_id or token_id,
        user_id=user.id,
        token_digest=refresh_token_digest(raw_refresh),
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


# --- administration -------------------------------------------------------------


# Users are listed by username, which is unique.
USERS_KEY = CursorKey(str)


async def list_users(session: AsyncSession, query: UserFilter) -> tuple[Sequence[User], str | None]:
    problems: dict[str, str] = {}
    if query.role and query.role not in {r.value for r in Role}:
        problems["role"] = "must be student, instructor or admin"
    if query.status and query.status not in {"active", "inactive"}:
        problems["status"] = "must be active or inactive"
    if query.text and len(query.text) > 100:
        problems["q"] = "must be at most 100 characters"
    elif query.text and not _searchable(query.text):
        problems["q"] = "must not contain control characters"
    if problems:
        raise Invalid(fields=problems)
    after = USERS_KEY.decode(query.cursor)
    active = None if not query.status else query.status == "active"
    rows = await UserRepository(session).search(
        text=query.text.strip() if query.text else None,
        role=query.role or None,
        active=active,
        after_username=after[0] if after else None,
        limit=query.limit + 1,
    )
    return USERS_KEY.page(rows, query.limit, lambda user: [user.username])


async def change_role(
    session: AsyncSession, portal: Portal, actor: CurrentUser, user_id: str, role: Role
) -> User:
    if actor.id == user_id:
        raise CannotChangeSelf()
    user = await get_user(session, user_id)
    user.role = role.value
    user.updated_at = portal.clock.now()
    await session.flush()
    return user


async def set_active(
    session: AsyncSession, portal: Portal, actor: CurrentUser, user_id: str, *, active: bool
) -> User:
    if actor.id == user_id:
        raise CannotChangeSelf()
    user = await get_user(session, user_id)
    now = portal.clock.now()
    user.is_active = active
    user.updated_at = now
    if not active:
        await RefreshTokenRepository(session).revoke_for_user(user.id, now=now)
    await session.flush()
    return user
