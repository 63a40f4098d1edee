"""The auth capability on AWS Lambda: recorded API Gateway events (REST API v1
and HTTP API v2) fed to `functions.auth.app.handler`, as Lambda would.

These tests are plain (sync) functions: Mangum drives the app on its own event
loop, which cannot run inside pytest-asyncio's.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lib.migrate import upgrade
from lib.security import Role
from tests.conftest import TEST_SECRET

EVENTS = Path(__file__).resolve().parents[2] / "events"
MODULE = "functions.auth.app"
LAMBDA_CONTEXT = None  # Mangum reads nothing from the context


def event(name: str, **placeholders: str) -> dict[str, Any]:
    raw = (EVENTS / name).read_text()
    for key, value in placeholders.items():
        raw = raw.replace("{{" + key + "}}", value)
    loaded: dict[str, Any] = json.loads(raw)
    return loaded


def json_body(result: dict[str, Any]) -> dict[str, Any]:
    assert not result["isBase64Encoded"]
    body: dict[str, Any] = json.loads(result["body"])
    return body


def header(result: dict[str, Any], name: str) -> str:
    headers = {key.lower(): value for key, value in result["headers"].items()}
    return str(headers[name])


@pytest.fixture
def auth_lambda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """functions.auth.app imported afresh, as a Lambda cold start would, with
    its environment pointing at a migrated SQLite file."""
    database_url = f"sqlite:///{tmp_path / 'lambda.db'}"
    upgrade(database_url)
    for name in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "REDIS_URL", "SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    environment = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "PORTAL_ENV": "test",
        "PORTAL_MAIL_DIR": str(tmp_path / "mail"),
        "PORTAL_ARGON2_TIME_COST": "1",
        "PORTAL_ARGON2_MEMORY_COST": "8",
        "PORTAL_ARGON2_PARALLELISM": "1",
        "AWS_LAMBDA_FUNCTION_NAME": "portal-auth",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    # The loop Mangum will find and use; closed here, not left to the GC.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sys.modules.pop(MODULE, None)
    module = importlib.import_module(MODULE)
    try:
        yield module
    finally:
        loop.run_until_complete(module.app.state.portal.dispose())
        loop.close()
        asyncio.set_event_loop(None)
        sys.modules.pop(MODULE, None)


def test_health_through_a_rest_api_event(auth_lambda: ModuleType) -> None:
    # GIVEN a REST API (v1) proxy event for GET /api/health
    # WHEN Lambda hands it to the handler
    result = auth_lambda.handler(event("rest_api_health.json"), LAMBDA_CONTEXT)
    # THEN the database answers
    assert result["statusCode"] == 200
    assert json_body(result) == {"status": "ok"}
    assert header(result, "content-type") == "application/json"
    assert header(result, "cache-control") == "no-store"


def test_health_through_an_http_api_event(auth_lambda: ModuleType) -> None:
    # GIVEN an HTTP API (v2) event for GET /api/health
    # WHEN Lambda hands it to the handler
    result = auth_lambda.handler(event("http_api_health.json"), LAMBDA_CONTEXT)
    # THEN the database answers
    assert result["statusCode"] == 200
    assert json_body(result) == {"status": "ok"}
    assert len(header(result, "x-request-id")) == 32


@pytest.mark.parametrize(
    ("name", "username"),
    [("rest_api_register.json", "lambda.rest"), ("http_api_register.json", "lambda.http")],
)
def test_register_at_the_capabilitys_own_path(
    auth_lambda: ModuleType, name: str, username: str
) -> None:
    # GIVEN an API Gateway event for POST /auth/register (the gateway route of
    # the auth function, without /api)
    registration = event(name)
    # WHEN Lambda hands it to the handler
    result = auth_lambda.handler(registration, LAMBDA_CONTEXT)
    # THEN a student account is created
    assert result["statusCode"] == 201, result["body"]
    user = json_body(result)["user"]
    assert user["username"] == username
    assert user["role"] == "student"
    assert "password" not in result["body"]
    # WHEN the same event is delivered again (a retried request)
    again = auth_lambda.handler(event(name), LAMBDA_CONTEXT)
    # THEN the second one is refused as a conflict, not a crash
    assert again["statusCode"] == 409
    assert json_body(again)["error"]["code"] == "username_taken"


@pytest.mark.parametrize(
    ("register", "me"),
    [
        ("rest_api_register.json", "rest_api_me.json"),
        ("http_api_register.json", "http_api_me.json"),
    ],
)
def test_me_with_and_without_a_token(auth_lambda: ModuleType, register: str, me: str) -> None:
    # GIVEN a student registered through the function, and an access token for them
    created = json_body(auth_lambda.handler(event(register), LAMBDA_CONTEXT))["user"]
    portal = auth_lambda.app.state.portal
    token, _ = portal.tokens.issue(user_id=created["id"], role=Role.STUDENT, now=portal.clock.now())
    # WHEN a GET /api/auth/me event carries the token
    result = auth_lambda.handler(event(me, access_token=token), LAMBDA_CONTEXT)
    # THEN it answers who they are
    assert result["statusCode"] == 200, result["body"]
    assert json_body(result)["user"]["id"] == created["id"]
    # WHEN the same event comes without a token
    anonymous = event(me)
    anonymous["headers"] = {
        key: value for key, value in anonymous["headers"].items() if key.lower() != "authorization"
    }
    anonymous.pop("multiValueHeaders", None)
    refused = auth_lambda.handler(anonymous, LAMBDA_CONTEXT)
    # THEN it is 401 in the one error shape
    assert refused["statusCode"] == 401
    assert json_body(refused)["error"]["code"] == "not_authenticated"


def test_a_bad_body_through_lambda_is_a_clean_error(auth_lambda: ModuleType) -> None:
    # GIVEN a register event whose body is not JSON
    broken = event("http_api_register.json")
    broken["body"] = "{not json"
    # WHEN Lambda hands it to the handler
    result = auth_lambda.handler(broken, LAMBDA_CONTEXT)
    # THEN the answer is the same 400 as over plain HTTP
    assert result["statusCode"] == 400
    assert json_body(result)["error"]["code"] == "malformed_json"
