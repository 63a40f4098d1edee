"""Passwords (Argon2id), access tokens (JWT), refresh tokens and roles."""

from __future__ import annotations

import enum
import gzip
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

import anyio.to_thread
import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lib.errors import NotAuthenticated

JWT_ALGORITHM = "HS256"
JWT_ISSUER = "student-portal"
JWT_AUDIENCE = "student-portal-api"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


class Role(enum.StrEnum):
    STUDENT = "student"
    INSTRUCTOR = "instructor"
    ADMIN = "admin"


class PasswordHashing:
    """Argon2id hashing, run in a worker thread so it never stalls the event loop."""

    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
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
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await anyio.to_thread.run_sync(
            self._verify_sync, password_hash or self._decoy_hash, password
        )

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


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    role: Role
    token_id: str
    expires_at: datetime


class AccessTokens:
    def __init__(self, secret_key: str, *, ttl: timedelta) -> None:
        self._key = secret_key
        self.ttl = ttl

    def issue(self, *, user_id: str, role: Role, now: datetime) -> tuple[str, AccessClaims]:
        claims = AccessClaims(
            user_id=user_id, role=role, token_id=secrets.token_hex(16), expires_at=now + self.ttl
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
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                audience=JWT_AUDIENCE,
                issuer=JWT_ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "jti", "iss", "aud"],
                    # Expiry is checked below against the injected clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            expires = int(payload["exp"])
            role = Role(payload["role"])
            subject = payload["sub"]
            token_id = payload["jti"]
        except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
            raise NotAuthenticated("The access token is not valid.") from None
        if not isinstance(subject, str) or not isinstance(token_id, str):
            raise NotAuthenticated("The access token is not valid.")
        if expires <= now.timestamp():
            raise NotAuthenticated("The access token has expired.")
        return AccessClaims(
            user_id=subject,
            role=role,
            token_id=token_id,
            expires_at=datetime.fromtimestamp(expires, tz=now.tzinfo),
        )


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def refresh_token_digest(token: str) -> str:
    # Refresh tokens are 256 random bits, so a fast hash is enough: a stolen
    # table of digests cannot be turned back into usable tokens.
    return hashlib.sha256(token.encode()).hexdigest()
