"""GET /api/openapi.json tells the truth about the router it is served by."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette

from lib.http import spec_of
from lib.openapi import walk

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def router_operations(app: Starlette) -> dict[tuple[str, str], Any]:
    """(path, method) -> endpoint spec, for every /api route of the router."""
    operations = {}
    for path, route in walk(app.routes):
        if path.startswith("/api/"):
            for method in (route.methods or set()) - {"HEAD"}:
                operations[(path, method.lower())] = spec_of(route.endpoint)
    return operations


def document_operations(document: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    name = ref.rsplit("/", 1)[1]
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def refs_in(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs_in(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs_in(value)]
    return []


async def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    # GIVEN the served document
    # THEN it is OpenAPI 3.1 by the specification's own schema
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"]
    assert document["info"]["version"]
    validate(document)


async def test_it_lists_exactly_the_routers_operations(
    app: Starlette, document: dict[str, Any]
) -> None:
    # GIVEN the router's own /api routes and methods
    expected = router_operations(app)
    # WHEN the document is read
    listed = document_operations(document)
    # THEN they are the same set: nothing missing, nothing invented
    assert set(listed) == set(expected)
    assert ("/api/auth/me", "get") in listed
    assert ("/api/health", "get") in listed


async def test_each_operation_describes_its_access_and_parameters(
    app: Starlette, document: dict[str, Any]
) -> None:
    expected = router_operations(app)
    operation_ids = set()
    for (path, method), operation in document_operations(document).items():
        spec = expected[(path, method)]
        where = f"{method.upper()} {path}"
        operation_ids.add(operation["operationId"])
        # access: signed-in operations say so and document 401 (and 403 for a role)
        assert operation["x-access"] == spec.access.describe(), where
        if spec.access.public:
            assert "security" not in operation, where
        else:
            assert operation["security"] == [{"bearer": []}], where
            assert "401" in operation["responses"], where
        # the success status is the one the endpoint answers with
        assert str(spec.status) in operation["responses"], where
        # every path parameter is declared
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)", path)), where
        queries = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert queries == set(spec.query), where
    assert len(operation_ids) == len(document_operations(document)), "operationIds repeat"


async def test_operations_with_a_body_have_its_request_schema(
    app: Starlette, document: dict[str, Any]
) -> None:
    expected = router_operations(app)
    with_body = 0
    for key, operation in document_operations(document).items():
        spec = expected[key]
        where = f"{key[1].upper()} {key[0]}"
        if spec.body is None:
            assert "requestBody" not in operation, where
            continue
        with_body += 1
        # the body is required JSON whose schema is the endpoint's own model
        request_body = operation["requestBody"]
        assert request_body["required"] is True, where
        schema = resolve(document, request_body["content"]["application/json"]["schema"]["$ref"])
        assert set(schema["properties"]) == set(spec.body.model_fields), where
        required = {n for n, f in spec.body.model_fields.items() if f.is_required()}
        assert set(schema.get("required", [])) == required, where
        assert schema.get("additionalProperties") is False, where
        # and the ways a body can be refused are documented
        assert {"400", "413", "422"} <= set(operation["responses"]), where
    assert with_body > 0


async def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = refs_in(document["paths"]) + refs_in(document["components"])
    assert refs
    for ref in refs:
        resolve(document, ref)


async def test_the_register_schema_matches_the_contract(document: dict[str, Any]) -> None:
    # The web app and outside checks rely on this body (see DESIGN.md).
    operation = document["paths"]["/api/auth/register"]["post"]
    schema = resolve(
        document, operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert set(schema["required"]) == {"username", "email", "password", "full_name"}
    assert "201" in operation["responses"]
    assert "409" in operation["responses"]


async def test_each_operation_is_listed_once(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    # GIVEN the checkout, whose own root is an operation (POST /api/checkout)
    # WHEN the document lists the paths
    paths = list(document["paths"])
    # THEN no operation appears twice under paths that differ only by a trailing slash
    assert [p for p in paths if p.rstrip("/") == "/api/checkout"] == ["/api/checkout"]
    bare = [p.rstrip("/") for p in paths]
    assert sorted(p for p in set(bare) if bare.count(p) > 1) == []
    # AND the path it lists is the one that answers
    anonymous = await client.post("/api/checkout", json={})
    assert anonymous.status_code == 401
