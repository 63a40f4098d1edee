"""The OpenAPI document, built from the routes and their declared endpoint specs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount, Route

from lib.http import ALL_ROLES, EndpointSpec, spec_of

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}

_STATUS_TEXT = {
    400: "Malformed request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Body too large",
    415: "Not a JSON body",
    422: "Invalid fields",
    429: "Too many attempts",
}


def walk(routes: Iterable[BaseRoute], prefix: str = "") -> Iterable[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            yield from walk(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path, route


Ref = Callable[[type[BaseModel]], dict[str, str]]


def build_openapi(routes: Iterable[BaseRoute], *, title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    for path, route in walk(routes):
        spec = spec_of(route.endpoint)
        if spec is None or not path.startswith("/api/"):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(path, method, spec, ref)

    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _operation(path: str, method: str, spec: EndpointSpec, ref: Ref) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": spec.summary,
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower())}",
        "tags": [path.split("/")[2]],
        "x-access": spec.access.describe(),
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in spec.query
    ]
    if parameters:
        operation["parameters"] = parameters
    if not spec.access.public:
        operation["security"] = [{"bearer": []}]
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(spec.body)}},
        }
    operation["responses"] = _responses(spec, ref)
    return operation


def _responses(spec: EndpointSpec, ref: Ref) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if spec.response is not None and spec.status != 204:
        ok["content"] = {"application/json": {"schema": ref(spec.response)}}
    responses: dict[str, Any] = {str(spec.status): ok}
    codes = set(spec.errors)
    if spec.body is not None:
        codes |= {400, 413, 415, 422}
    if not spec.access.public:
        codes |= {401}
        if spec.access.roles != ALL_ROLES:
            codes |= {403}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for code in sorted(codes):
        responses[str(code)] = {"description": _STATUS_TEXT.get(code, "Error"), "content": error}
    return responses
