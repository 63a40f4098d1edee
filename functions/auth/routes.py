from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from functions.auth import recovery, service, signin, verification
from functions.auth.schemas import (
    AcceptedOut,
    ChangePasswordIn,
    ChangeRoleIn,
    CreateUserIn,
    LoginIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RegisterIn,
    TokenOut,
    UpdateMeIn,
    UserEnvelope,
    UserOut,
    UserPage,
    VerifyEmailIn,
)
from lib.http import ANYONE, SIGNED_IN, Call, endpoint, json_response, only
from lib.origin import require_same_site
from lib.pagination import parse_limit
from lib.security import Role

REFRESH_COOKIE = "portal_refresh"
REFRESH_COOKIE_PATH = "/api/auth"
# Only sign-in reads the device cookie, so no other request carries it.
DEVICE_COOKIE = "portal_device"
DEVICE_COOKIE_PATH = "/api/auth/login"


def _set_cookie(call: Call[Any], response: Response, name: str, value: str, **options: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=call.portal.settings.is_production,
        samesite="strict",
        **options,
    )


def _signed_in(call: Call[Any], sign_in: signin.SignIn) -> Response:
    response = json_response(
        TokenOut(
            access_token=sign_in.access_token,
            expires_in=sign_in.expires_in,
            user=UserOut.of(sign_in.user),
        )
    )
    _set_cookie(
        call,
        response,
        REFRESH_COOKIE,
        sign_in.refresh_token,
        max_age=int((sign_in.refresh_expires_at - call.now).total_seconds()),
        path=REFRESH_COOKIE_PATH,
    )
    if sign_in.device_token:
        _set_cookie(
            call,
            response,
            DEVICE_COOKIE,
            sign_in.device_token,
            max_age=int(signin.DEVICE_COOKIE_TTL.total_seconds()),
            path=DEVICE_COOKIE_PATH,
        )
    return response


def _same_site(call: Call[Any]) -> None:
    require_same_site(call.request, call.portal.settings.site_url)


def _account(body: RegisterIn, role: Role = Role.STUDENT) -> service.NewAccount:
    return service.NewAccount(body.username, body.email, body.password, body.full_name, role)


@endpoint(
    ANYONE,
    body=RegisterIn,
    response=UserEnvelope,
    status=201,
    errors=[409, 415, 422, 429],
    summary="Create a student account; a link to verify the address is e-mailed",
)
async def register(call: Call[RegisterIn]) -> UserEnvelope:
    user = await service.register(
        call.session, call.portal, _account(call.body), address=call.client_address
    )
    return UserEnvelope(user=UserOut.of(user))


@endpoint(
    ANYONE,
    body=LoginIn,
    response=TokenOut,
    errors=[401, 403, 415, 429, 503],
    summary="Sign in with username or e-mail",
)
async def login(call: Call[LoginIn]) -> Response:
    _same_site(call)
    sign_in = await signin.login(
        call.session,
        call.portal,
        login=call.body.login,
        password=call.body.password,
        address=call.client_address,
        device_token=call.request.cookies.get(DEVICE_COOKIE),
    )
    return _signed_in(call, sign_in)


@endpoint(
    ANYONE,
    response=TokenOut,
    errors=[401, 403],
    summary="Rotate the refresh cookie and get a new access token",
)
async def refresh(call: Call[None]) -> Response:
    _same_site(call)
    token = call.request.cookies.get(REFRESH_COOKIE)
    return _signed_in(call, await signin.refresh(call.session, call.portal, refresh_token=token))


@endpoint(ANYONE, status=204, errors=[403], summary="Sign out: revoke the refresh cookie's session")
async def logout(call: Call[None]) -> Response:
    _same_site(call)
    token = call.request.cookies.get(REFRESH_COOKIE)
    await signin.logout(call.session, call.portal, refresh_token=token)
    response = Response(status_code=204)
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        secure=call.portal.settings.is_production,
        samesite="strict",
    )
    return response


@endpoint(SIGNED_IN, response=UserEnvelope, summary="Who am I")
async def me(call: Call[None]) -> UserEnvelope:
    return UserEnvelope(user=UserOut.of_caller(call.me, await service.me(call.session, call.me)))


@endpoint(
    SIGNED_IN,
    body=UpdateMeIn,
    response=UserEnvelope,
    errors=[409, 415, 422, 429],
    summary="Change my name, or my e-mail with my current password (verified anew)",
)
async def update_me(call: Call[UpdateMeIn]) -> UserEnvelope:
    user = await service.update_profile(
        call.session,
        call.portal,
        call.me.id,
        full_name=call.body.full_name,
        email=call.body.email,
        current_password=call.body.current_password,
    )
    return UserEnvelope(user=UserOut.of(user))


@endpoint(
    SIGNED_IN,
    body=ChangePasswordIn,
    status=204,
    errors=[415, 422, 429],
    summary="Change my password; other sessions end",
)
async def change_password(call: Call[ChangePasswordIn]) -> None:
    await service.change_password(
        call.session,
        call.portal,
        call.me.id,
        current_password=call.body.current_password,
        new_password=call.body.new_password,
        keep_refresh_token=call.request.cookies.get(REFRESH_COOKIE),
    )


@endpoint(
    SIGNED_IN,
    response=AcceptedOut,
    status=202,
    errors=[409, 429],
    summary="E-mail me a new link to verify my address",
)
async def resend_verification(call: Call[None]) -> AcceptedOut:
    await verification.resend(call.session, call.portal, call.me.id)
    return AcceptedOut(message="We have e-mailed you a new link. It works for 48 hours.")


@endpoint(
    ANYONE,
    body=VerifyEmailIn,
    status=204,
    errors=[400, 415, 422],
    summary="Verify an e-mail address with the link's token",
)
async def verify_email(call: Call[VerifyEmailIn]) -> None:
    await verification.verify(call.session, call.portal, call.body.token)


@endpoint(
    ANYONE,
    body=PasswordResetIn,
    response=AcceptedOut,
    status=202,
    errors=[415, 422, 429],
    summary="E-mail a password reset link; the answer is the same for any address",
)
async def request_password_reset(call: Call[PasswordResetIn]) -> AcceptedOut:
    message = await recovery.request_reset(
        call.session, call.portal, email=call.body.email, address=call.client_address
    )
    return AcceptedOut(message=message)


@endpoint(
    ANYONE,
    body=PasswordResetConfirmIn,
    status=204,
    errors=[400, 415, 422],
    summary="Choose a new password with a reset link's token; every session ends",
)
async def reset_password(call: Call[PasswordResetConfirmIn]) -> None:
    await recovery.reset_password(
        call.session, call.portal, token=call.body.token, new_password=call.body.new_password
    )


@endpoint(
    only(Role.ADMIN),
    response=UserPage,
    query=["q", "role", "status", "cursor", "limit"],
    summary="List and search users",
)
async def list_users(call: Call[None]) -> UserPage:
    items, next_cursor = await service.list_users(
        call.session,
        service.UserFilter(
            text=call.query("q"),
            role=call.query("role"),
            status=call.query("status"),
            cursor=call.query("cursor"),
            limit=parse_limit(call.query("limit")),
        ),
    )
    return UserPage(items=[UserOut.of(u) for u in items], next_cursor=next_cursor)


@endpoint(
    only(Role.ADMIN),
    body=CreateUserIn,
    response=UserEnvelope,
    status=201,
    errors=[409, 422],
    summary="Create a user with any role",
)
async def create_user(call: Call[CreateUserIn]) -> UserEnvelope:
    account = _account(call.body, Role(call.body.role))
    user = await service.create_user(call.session, call.portal, account)
    return UserEnvelope(user=UserOut.of(user))


@endpoint(only(Role.ADMIN), response=UserEnvelope, errors=[404], summary="One user")
async def get_user(call: Call[None]) -> UserEnvelope:
    return UserEnvelope(user=UserOut.of(await service.get_user(call.session, call.path("id"))))


@endpoint(
    only(Role.ADMIN),
    body=ChangeRoleIn,
    response=UserEnvelope,
    errors=[404, 409, 422],
    summary="Change a user's role",
)
async def change_role(call: Call[ChangeRoleIn]) -> UserEnvelope:
    user = await service.change_role(
        call.session, call.portal, call.me, call.path("id"), Role(call.body.role)
    )
    return UserEnvelope(user=UserOut.of(user))


@endpoint(
    only(Role.ADMIN),
    response=UserEnvelope,
    errors=[404, 409],
    summary="Deactivate a user: sign-in and tokens stop working",
)
async def deactivate(call: Call[None]) -> UserEnvelope:
    user = await service.set_active(
        call.session, call.portal, call.me, call.path("id"), active=False
    )
    return UserEnvelope(user=UserOut.of(user))


@endpoint(only(Role.ADMIN), response=UserEnvelope, errors=[404, 409], summary="Reactivate a user")
async def reactivate(call: Call[None]) -> UserEnvelope:
    user = await service.set_active(
        call.session, call.portal, call.me, call.path("id"), active=True
    )
    return UserEnvelope(user=UserOut.of(user))


@endpoint(
    only(Role.ADMIN),
    response=UserEnvelope,
    errors=[404],
    summary="Mark a user's e-mail address as verified",
)
async def mark_verified(call: Call[None]) -> UserEnvelope:
    user = await verification.mark_verified(call.session, call.portal, call.path("id"))
    return UserEnvelope(user=UserOut.of(user))


routes = [
    Route("/register", register, methods=["POST"]),
    Route("/login", login, methods=["POST"]),
    Route("/refresh", refresh, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/me", me, methods=["GET"]),
    Route("/me", update_me, methods=["PATCH"]),
    Route("/me/password", change_password, methods=["POST"]),
    Route("/me/verify-email", resend_verification, methods=["POST"]),
    Route("/verify-email", verify_email, methods=["POST"]),
    Route("/password-reset", request_password_reset, methods=["POST"]),
    Route("/password-reset/confirm", reset_password, methods=["POST"]),
    Route("/users", list_users, methods=["GET"]),
    Route("/users", create_user, methods=["POST"]),
    Route("/users/{id}", get_user, methods=["GET"]),
    Route("/users/{id}", change_role, methods=["PATCH"]),
    Route("/users/{id}/deactivate", deactivate, methods=["POST"]),
    Route("/users/{id}/reactivate", reactivate, methods=["POST"]),
    Route("/users/{id}/verify-email", mark_verified, methods=["POST"]),
]
