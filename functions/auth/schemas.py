from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from functions.auth.models import User
from lib.runtime import CurrentUser, Profile
from lib.schemas import Body

RoleName = Literal["student", "instructor", "admin"]


class RegisterIn(Body):
    username: str
    email: str
    password: str
    full_name: str


class CreateUserIn(RegisterIn):
    role: RoleName


class LoginIn(Body):
    login: str
    password: str


class UpdateMeIn(Body):
    full_name: str | None = None
    email: str | None = None
    # Needed only to change the e-mail address: it is where a password reset goes.
    current_password: str | None = None


class ChangePasswordIn(Body):
    current_password: str
    new_password: str


class PasswordResetIn(Body):
    email: str


class PasswordResetConfirmIn(Body):
    token: str
    new_password: str


class VerifyEmailIn(Body):
    token: str


class ChangeRoleIn(Body):
    role: RoleName


class UserOut(BaseModel):
    id: str
    username: str
    email: str
    full_name: str
    role: RoleName
    is_active: bool
    email_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            email=user.email,
            full_name=user.full_name,
            role=user.role,
            is_active=user.is_active,
            email_verified=user.email_verified_at is not None,
            created_at=user.created_at,
        )

    @classmethod
    def of_caller(cls, caller: CurrentUser, profile: Profile) -> UserOut:
        # An authenticated caller's account is active: inactive ones are refused.
        return cls(
            id=caller.id,
            username=caller.username,
            email=profile.email,
            full_name=profile.full_name,
            role=caller.role.value,
            is_active=True,
            email_verified=profile.email_verified,
            created_at=profile.created_at,
        )


class UserEnvelope(BaseModel):
    user: UserOut


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    user: UserOut


class AcceptedOut(BaseModel):
    message: str
