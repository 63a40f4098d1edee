"""Accounts: registration, profiles, passwords and administration. No HTTP
here, and no SQL. Signing in lives in signin.py, forgotten passwords in
recovery.py, address verification in verification.py."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import links, throttles, verification
from functions.auth.errors import CannotChangeSelf, EmailNotVerified, EmailTaken, UsernameTaken
from functions.auth.models import User
from functions.auth.repository import RefreshTokenRepository, UserRepository, active_caller
from functions.messages.notices import Welcome, notify
from lib.errors import Invalid, NotFound
from lib.fastreads import Reads
from lib.pagination import CursorKey
from lib.runtime import CurrentUser, Portal, Profile
from lib.security import Role, password_problem, token_digest

USERNAME_PATTERN = re.compile(r"^[a-z0-9_.-]{3,32}$")
FULL_NAME_MAX = 100


@dataclass(frozen=True)
class NewAccount:
    username: str
    email: str
    password: str
    full_name: str
    role: Role = Role.STUDENT


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


async def register(
    session: AsyncSession, portal: Portal, account: NewAccount, *, address: str | None = None
) -> User:
    """Create an account. Self-service registration always makes a student,
    whose address is not verified until they open the link in the welcome.
    A request from outside passes its client `address`: sign-ups per address
    are limited."""
    account = _validated(replace(account, role=Role.STUDENT))
    if address is not None:
        limits = throttles.sign_up_limits(portal, address)
        await throttles.reserve(session, portal, limits, throttles.SIGN_UP_REFUSED)
    user = await _create(session, portal, account, verified=False)
    verify_token = await links.issue(session, portal, user, purpose=links.VERIFY)
    welcome = Welcome(verify_token=verify_token)
    await notify(session, welcome, to=user.id, now=portal.clock.now(), once_per=user.id)
    return user


async def create_user(session: AsyncSession, portal: Portal, account: NewAccount) -> User:
    """An account made by an administrator (or `portal create-admin`, or the
    demo): its address counts as verified."""
    return await _create(session, portal, _validated(account), verified=True)


async def _create(
    session: AsyncSession, portal: Portal, account: NewAccount, *, verified: bool
) -> User:
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
        email_verified_at=now if verified else None,
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


async def load_active_user(reads: Reads, user_id: str, issued_at: datetime) -> CurrentUser | None:
    """The caller of a request: one statement by the driver, no ORM object."""
    row = await active_caller(reads, user_id)
    if row is None:
        return None
    ended = row.sessions_ended_at
    # Tokens carry whole seconds: one issued in the second the sessions ended
    # is still taken (the web app's own fresh token may be one of them).
    if ended is not None and issued_at < ended.replace(microsecond=0):
        return None
    profile = Profile(
        email=row.email,
        full_name=row.full_name,
        email_verified=row.email_verified_at is not None,
        created_at=row.created_at,
    )
    return CurrentUser(row.id, row.username, Role(row.role), profile=profile)


async def me(session: AsyncSession, caller: CurrentUser) -> Profile:
    """Who the caller is: as read when they were authenticated, at no cost."""
    if caller.profile is not None:
        return caller.profile
    user = await get_user(session, caller.id)
    verified = user.email_verified_at is not None
    return Profile(user.email, user.full_name, verified, user.created_at)


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await UserRepository(session).get(user_id) if _searchable(user_id) else None
    if user is None:
        raise NotFound("No such user.")
    return user


async def require_verified(session: AsyncSession, user_id: str) -> None:
    """Paying needs a confirmed address: receipts and reminders go there, and
    it is how the person gets back in. The checkout calls this at each entry
    that starts a payment; enrolling in a free course needs no address."""
    if (await get_user(session, user_id)).email_verified_at is None:
        raise EmailNotVerified()


async def update_profile(
    session: AsyncSession,
    portal: Portal,
    user_id: str,
    *,
    full_name: str | None,
    email: str | None,
    current_password: str | None = None,
) -> User:
    """Change the name or the address. A new address needs the current
    password (a password reset goes there) and is verified anew."""
    new_name, new_email = _profile_fields(full_name, email)
    async with portal.read_sessions() as reader:
        before = await get_user(reader, user_id)
    moving = new_email is not None and new_email.lower() != before.email_key
    if moving:
        if not current_password:
            raise Invalid(fields={"current_password": "is needed to change your e-mail address"})
        await _check_password(session, portal, user_id, current_password)
    user = await get_user(session, user_id)
    if moving and await UserRepository(session).email_taken(
        (new_email or "").lower(), except_id=user.id
    ):
        raise EmailTaken()
    user.full_name = new_name or user.full_name
    user.email = new_email or user.email
    user.email_key = user.email.lower()
    user.updated_at = portal.clock.now()
    try:
        await session.flush()
    except IntegrityError:
        # Another request took the address after the check above; the unique
        # index decides. The request rolls back as it answers.
        raise EmailTaken() from None
    if moving:
        user.email_verified_at = None
        await verification.send_link(session, portal, user)
    return user


def _profile_fields(full_name: str | None, email: str | None) -> tuple[str | None, str | None]:
    problems: dict[str, str] = {}
    new_name = new_email = None
    if full_name is not None:
        new_name, problem = normalize_full_name(full_name)
        if problem:
            problems["full_name"] = problem
    if email is not None:
        new_email, problem = normalize_email(email)
        if problem:
            problems["email"] = problem
    if problems:
        raise Invalid(fields=problems)
    return new_name, new_email


async def _check_password(
    session: AsyncSession,
    portal: Portal,
    user_id: str,
    password: str,
    *,
    field: str = "current_password",
) -> User:
    """The signed-in person's password, checked under its own limit; the
    account as read for the check."""
    limits = throttles.password_limits(portal, user_id)
    reservation = await throttles.reserve(session, portal, limits, throttles.PASSWORD_REFUSED)
    async with portal.read_sessions() as reader:
        user = await get_user(reader, user_id)
    if not await portal.passwords.verify(user.password_hash, password):
        raise Invalid(fields={field: "is not your current password"})
    # A success gives its attempt back; failures stay counted (see signin.login).
    await portal.throttle.release(reservation)
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
    checked = await _check_password(session, portal, user_id, current_password)
    if problem := password_problem(new_password, username=checked.username, email=checked.email):
        raise Invalid(fields={"new_password": problem})
    # Hashed before the request's transaction begins (on SQLite: takes the lock).
    password_hash = await portal.passwords.hash(new_password)
    now = portal.clock.now()
    user = await get_user(session, user_id)
    user.password_hash = password_hash
    user.updated_at = now
    # Every other session ends; the one that changed the password stays.
    tokens = RefreshTokenRepository(session)
    current = await tokens.by_digest(token_digest(keep_refresh_token or ""))
    keep_family = current.family_id if current and current.user_id == user.id else None
    await tokens.revoke_for_user(user.id, now=now, keep_family=keep_family)
    # Access tokens too; this browser gets a new one from its kept refresh token.
    user.sessions_ended_at = now


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
