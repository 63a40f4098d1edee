from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from functions.auth import service
from functions.auth.schemas import (
    ChangePasswordIn,
    ChangeRoleIn,
    CreateUserIn,
    LoginIn,
    RegisterIn,
    TokenOut,
    UpdateMeIn,
    UserEnvelope,
    UserOut,
    UserPage,
)
from lib.http import ANYONE, SIGNED_IN, Call, endpoint, json_response, only
from lib.pagination import parse_limit
from lib.security import Role

REFRESH_COOKIE = "portal_refresh"
REFRESH_COOKIE_PATH = "/api/auth"


def _signed_in(call: Call[Any], sign_in: service.SignIn) -> Response:
    response = json_response(
        TokenOut(
            access_token=sign_in.access_token,
            expires_in=sign_in.expires_in,
            user=UserOut.of(sign_in.user),
        )
    )
    response.set_cookie(
        REFRESH_COOKIE,
        sign_in.refresh_token,
        max_age=int((sign_in.refresh_expires_at - call.now).total_seconds()),
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        secure=call.portal.settings.is_production,
        samesite="strict",
    )
    return response


def _account(body: RegisterIn, role: Role = Role.STUDENT) -> service.NewAccount:
    return service.NewAccount(body.username, body.email, body.password, body.full_name, role)


@endpoint(
    ANYONE,
    body=RegisterIn,
    response=UserEnvelope,
    status=201,
    errors=[409, 422],
    summary="Create a student account",
)
async def register(call: Call[RegisterIn]) -> UserEnvelope:
    user = await service.register(call.session, call.portal, _account(call.body))
    return UserEnvelope(user=UserOut.of(user))


@endpoint(
    ANYONE,
    body=LoginIn,
    response=TokenOut,
    errors=[401, 403, 429],
    summary="Sign in with username or e-mail",
)
async def login(call: Call[LoginIn]) -> Response:
    sign_in = await service.login(
        call.session,
        call.portal,
        login=call.body.login,
        password=call.body.password,
        address=call.client_address,
    )
    return _signed_in(call, sign_in)


@endpoint(
    ANYONE,
    response=TokenOut,
    errors=[401],
    summary="Rotate the refresh cookie and get a new access token",
)
async def refresh(call: Call[None]) -> Response:
    token = call.request.cookies.get(REFRESH_COOKIE)
    return _signed_in(call, await service.refresh(call.session, call.portal, refresh_token=token))


@endpoint(ANYONE, status=204, summary="Sign out: revoke the refresh cookie's session")
async def logout(call: Call[None]) -> Response:
    token = call.request.cookies.get(REFRESH_COOKIE)
    await service.logout(call.session, call.portal, refresh_token=token)
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
    return UserEnvelope(user=UserOut.of(await service.get_user(call.session, call.me.id)))


@endpoint(
    SIGNED_IN,
    body=UpdateMeIn,
    response=UserEnvelope,
    errors=[409, 422],
    summary="Change my name or e-mail",
)
async def update_me(call: Call[UpdateMeIn]) -> UserEnvelope:
    user = await service.update_profile(
        call.session,
        call.portal,
        call.me.id,
        full_name=call.body.full_name,
        email=call.body.email,
    )
    return UserEnvelope(user=UserOut.of(user))


@endpoint(
    SIGNED_IN,
    body=ChangePasswordIn,
    status=204,
    errors=[422],
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


routes = [
    Route("/register", register, methods=["POST"]),
    Route("/login", login, methods=["POST"]),
    Route("/refresh", refresh, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/me", me, methods=["GET"]),
    Route("/me", update_me, methods=["PATCH"]),
    Route("/me/password", change_password, methods=["POST"]),
    Route("/users", list_users, methods=["GET"]),
    Route("/users", create_user, methods=["POST"]),
    Route("/users/{id}", get_user, methods=["GET"]),
    Route("/users/{id}", change_role, methods=["PATCH"]),
    Route("/users/{id}/deactivate", deactivate, methods=["POST"]),
    Route("/users/{id}/reactivate", reactivate, methods=["POST"]),
]
