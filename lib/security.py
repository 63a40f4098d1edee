"""Passwords (Argon2id), access tokens (JWT), device cookies, secret tokens and roles."""

from __future__ import annotations

import asyncio
import enum
import gzip
import hashlib
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lib.errors import NotAuthenticated

T = TypeVar("T")

JWT_ALGORITHM = "HS256"
JWT_ISSUER = "student-portal"
JWT_AUDIENCE = "student-portal-api"
# A device cookie is a JWT for another audience: neither kind of token is
# ever accepted as the other.
DEVICE_AUDIENCE = "student-portal-device"
# A token issued by a server whose clock runs a little ahead is still taken;
# one issued further in the future is not.
CLOCK_LEEWAY_SECONDS = 5
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
# How much less of the CPU a hashing thread asks for than the event loop
# (Linux nice values are per thread): during a storm of sign-ins the cores
# still hash all the time, but a page read gets the CPU first when it wants it.
HASHING_NICENESS = 10


class Role(enum.StrEnum):
    STUDENT = "student"
    INSTRUCTOR = "instructor"
    ADMIN = "admin"


def hashing_threads() -> int:
    """As many hashing threads as the process may use cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def yield_the_cpu() -> None:
    """Lowers the calling thread's priority by HASHING_NICENESS (a process may
    always lower its own priority; where threads have no nice value of their
    own, or the call is refused, the thread keeps the process's)."""
    try:
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + HASHING_NICENESS))
    except (AttributeError, OSError):  # not on Linux, or not allowed
        return


class PasswordHashing:
    """Argon2id hashing in a bounded pool of its own threads, off the event loop.

    Argon2id is slow on purpose and needs a core for as long as it runs. A
    storm of sign-ins would otherwise take all of anyio's default threads
    (which Starlette's file responses also use) and leave the event loop a
    sliver of the CPU: here at most `threads` hashes run at once, the rest
    wait their turn without holding anything else, and the hashing threads
    run at a lower priority than the event loop's (HASHING_NICENESS)."""

    def __init__(
        self, *, time_cost: int, memory_cost: int, parallelism: int, threads: int | None = None
    ) -> None:
        self.threads = threads or hashing_threads()
        self._pool = ThreadPoolExecutor(
            max_workers=self.threads, thread_name_prefix="argon2", initializer=yield_the_cpu
        )
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=Type.ID,
        )
        # Verifying against this when the account does not exist makes an
        # unknown login cost the same as a known one.
        self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await self._run(self._verify_sync, password_hash or self._decoy_hash, password)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


@cache
def common_passwords() -> frozenset[str]:
    data = resources.files("lib").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def password_problem(password: str, *, username: str, email: str) -> str | None:
    """The first rule the password breaks, as a message for the person, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    lowered = password.strip().lower()
    if lowered in common_passwords():
        return "is too common; choose one that is harder to guess"
    if username and lowered == username.lower():
        return "must not be the same as the username"
    if email and (lowered == email.lower() or lowered == email.split("@", 1)[0].lower()):
        return "must not be the same as the e-mail address"
    return None


def _decode(token: str, key: str, *, audience: str) -> dict[str, Any]:
    """A token's claims once its signature, algorithm, issuer and audience
    check out. Its times are for the caller to check against the injected clock."""
    payload: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[JWT_ALGORITHM],
        audience=audience,
        issuer=JWT_ISSUER,
        options={
            "require": ["exp", "iat", "sub", "jti", "iss", "aud"],
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
        },
    )
    return payload


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    role: Role
    token_id: str
    expires_at: datetime
    # Whole seconds, as the token carries it.
    issued_at: datetime


# Verified access tokens remembered per process (signature and claims; the
# times are checked on every use): a client sends the same token with every
# request until it refreshes it, and verifying one costs ~60 µs of a request.
VERIFIED_TOKENS_KEPT = 4096
# (subject, role, token id, expires, issued, not before)
_Verified = tuple[str, Role, str, int, int, int]


class AccessTokens:
    def __init__(self, secret_key: str, *, ttl: timedelta) -> None:
        self._key = secret_key
        self.ttl = ttl
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    def issue(self, *, user_id: str, role: Role, now: datetime) -> tuple[str, AccessClaims]:
        claims = AccessClaims(
            user_id=user_id,
            role=role,
            token_id=secrets.token_hex(16),
            expires_at=now + self.ttl,
            issued_at=datetime.fromtimestamp(int(now.timestamp()), tz=now.tzinfo),
        )
        payload = {
            "iss": JWT_ISSUER,
            "aud": JWT_AUDIENCE,
            "sub": user_id,
            "role": role.value,
            "jti": claims.token_id,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        }
        return jwt.encode(payload, self._key, algorithm=JWT_ALGORITHM), claims

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        verified = self._verified.get(token) or self._verify_signed(token)
        subject, role, token_id, expires, issued, not_before = verified
        if expires <= now.timestamp():
            raise NotAuthenticated("The access token has expired.")
        if max(issued, not_before) > now.timestamp() + CLOCK_LEEWAY_SECONDS:
            raise NotAuthenticated("The access token is not valid yet.")
        return AccessClaims(
            user_id=subject,
            role=role,
            token_id=token_id,
            expires_at=datetime.fromtimestamp(expires, tz=now.tzinfo),
            issued_at=datetime.fromtimestamp(issued, tz=now.tzinfo),
        )

    def _verify_signed(self, token: str) -> _Verified:
        """The token's claims when its signature and shape are right (kept)."""
        try:
            payload = _decode(token, self._key, audience=JWT_AUDIENCE)
            expires = int(payload["exp"])
            issued = int(payload["iat"])
            not_before = int(payload.get("nbf", issued))
            role = Role(payload["role"])
            subject = payload["sub"]
            token_id = payload["jti"]
        except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
            raise NotAuthenticated("The access token is not valid.") from None
        if not isinstance(subject, str) or not isinstance(token_id, str):
            raise NotAuthenticated("The access token is not valid.")
        verified = (subject, role, token_id, expires, issued, not_before)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)
        self._verified[token] = verified
        return verified


@dataclass(frozen=True)
class DeviceClaims:
    user_id: str
    device_id: str


class DeviceCookies:
    """Signed proof that this browser once signed in to this account: the
    device cookie of OWASP's account-lockout guidance. It names the account
    and a random device id, and expires."""

    def __init__(self, secret_key: str, *, ttl: timedelta) -> None:
        self._key = secret_key
        self.ttl = ttl

    def issue(self, *, user_id: str, now: datetime) -> str:
        payload = {
            "iss": JWT_ISSUER,
            "aud": DEVICE_AUDIENCE,
            "sub": user_id,
            "jti": secrets.token_hex(16),
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
        }
        return jwt.encode(payload, self._key, algorithm=JWT_ALGORITHM)

    def verify(self, token: str | None, *, user_id: str, now: datetime) -> DeviceClaims | None:
        """The device, when the cookie is genuine, unexpired and for this account."""
        if not token:
            return None
        try:
            payload = _decode(token, self._key, audience=DEVICE_AUDIENCE)
            expires, issued = int(payload["exp"]), int(payload["iat"])
        except (jwt.InvalidTokenError, ValueError, TypeError):
            return None
        subject, device_id = payload["sub"], payload["jti"]
        if subject != user_id or not isinstance(device_id, str):
            return None
        if issued > now.timestamp() + CLOCK_LEEWAY_SECONDS or expires <= now.timestamp():
            return None
        return DeviceClaims(user_id=subject, device_id=device_id)


def new_secret_token() -> str:
    """256 random bits, URL-safe: refresh tokens and e-mailed links."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # Secret tokens are 256 random bits, so a fast hash is enough: a stolen
    # table of digests cannot be turned back into usable tokens.
    return hashlib.sha256(token.encode()).hexdigest()
