"""render.yaml has the shape the portal relies on: a JSON schema of the fields
we use, and the references and settings between them."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from lib.db import pool_size
from tests.deploy.blueprint import ROOT, Blueprint, load, schema

# What production refuses to start without (lib.config), plus the proxy setting
# the API needs behind Render's proxies.
PRODUCTION_NEEDS = {
    "PORTAL_ENV", "DATABASE_URL", "SECRET_KEY", "SITE_URL", "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET", "SMTP_URL",
}  # fmt: skip


@pytest.fixture
def blueprint() -> Blueprint:
    return Blueprint(load())


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


def test_render_yaml_has_the_shape_we_use(blueprint: Blueprint) -> None:
    jsonschema.Draft202012Validator(schema()).validate(blueprint.data)


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param({"services": [{"type": "web", "name": "x", "runtime": "python"}]},
                     id="no-build-command"),
        pytest.param({"services": [{"type": "web", "name": "x", "runtime": "python",
                                    "buildCommand": "pip install .", "envVars": [],
                                    "startComand": "portal serve"}]}, id="misspelt-field"),
        pytest.param({"services": [{"type": "worker", "name": "x", "runtime": "python",
                                    "buildCommand": "b", "startCommand": "s",
                                    "envVars": [{"key": "A", "value": "1", "sync": False}]}]},
                     id="env-var-with-two-sources"),
        pytest.param({"services": [{"type": "web", "name": "x", "runtime": "static",
                                    "buildCommand": "b"}]}, id="static-without-publish-path"),
    ],
)  # fmt: skip
def test_the_schema_catches_what_render_would_refuse_or_ignore(broken: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(
            {"databases": [{"name": "db"}], **broken}
        )


def test_references_point_at_what_the_blueprint_defines(blueprint: Blueprint) -> None:
    databases = {d["name"] for d in blueprint.data["databases"]}
    services = {(s["type"], s["name"]) for s in blueprint.services}
    for service in blueprint.services:
        for var in service.get("envVars", []):
            if "fromDatabase" in var:
                assert var["fromDatabase"]["name"] in databases, var
            if "fromService" in var:
                source = var["fromService"]
                assert (source["type"], source["name"]) in services, var
                keys = {v["key"] for v in blueprint.service(source["name"])["envVars"]}
                assert source["envVarKey"] in keys, var


def test_every_python_service_has_what_production_needs(blueprint: Blueprint) -> None:
    for service in blueprint.of_runtime("python"):
        keys = {v["key"] for v in service["envVars"]}
        assert keys >= PRODUCTION_NEEDS, (service["name"], PRODUCTION_NEEDS - keys)
        assert {"key": "PORTAL_ENV", "value": "production"} in service["envVars"]


def test_the_api_trusts_renders_two_proxies_and_no_blanket_forwarding(
    blueprint: Blueprint,
) -> None:
    env = {v["key"]: v.get("value") for v in blueprint.service("student-portal-api")["envVars"]}
    assert env["PORTAL_TRUSTED_PROXY_HOPS"] == "2"
    assert "FORWARDED_ALLOW_IPS" not in env
    assert env["PORTAL_SERVE_STATIC"] == "0"


def test_the_static_site_publishes_the_web_app(blueprint: Blueprint) -> None:
    [site] = blueprint.of_runtime("static")
    assert (ROOT / site["staticPublishPath"] / "index.html").is_file()
    assert any(r["source"] == "/api/*" for r in site["routes"])


# What the database plan allows (Render's smallest plans: 100), less a margin
# for a shell, a migration and `portal export` run by hand.
DATABASE_CONNECTIONS = 100 - 10


def test_the_services_connections_fit_the_database(blueprint: Blueprint) -> None:
    # GIVEN each service's processes and its environment, as lib.db sizes pools
    used = 0
    for name in ("student-portal-api", "student-portal-scheduler"):
        service = blueprint.service(name)
        env = {v["key"]: v.get("value") or "" for v in service["envVars"]}
        command = service["startCommand"].split()
        workers = int(command[command.index("--workers") + 1]) if "--workers" in command else 1
        # THEN each worker's pool, as `portal serve` tells it the worker count
        used += workers * pool_size({**env, "WEB_CONCURRENCY": str(workers)})
    # ... adds up to what the database allows
    assert used <= DATABASE_CONNECTIONS
