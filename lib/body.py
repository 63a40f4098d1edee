"""Request bodies: JSON only, validated strictly into a schema."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from lib.errors import Invalid, PortalError

SchemaT = TypeVar("SchemaT", bound=BaseModel)


class UnsupportedMediaType(PortalError):
    status_code = 415
    code = "unsupported_media_type"

    def __init__(self) -> None:
        super().__init__("Send the body as JSON, with `Content-Type: application/json`.")


def _is_json(content_type: str) -> bool:
    # Only JSON itself, optionally saying it is UTF-8 (RFC 8259 allows no other).
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    return media_type == "application/json" and all(
        parameter.replace(" ", "").replace('"', "") in {"charset=utf-8", "charset=utf8"}
        for parameter in parameters
    )


async def parse_body(request: Request, schema: type[SchemaT]) -> SchemaT:
    # A page on another site can make a browser post a form (form encodings,
    # text/plain) anywhere without asking first; a JSON content type makes the
    # browser ask (a CORS preflight), and only SITE_URL is allowed. So a
    # forged form cannot sign anyone in or change anything.
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType()
    raw = await request.body()
    if not raw.strip():
        raise PortalError("The request needs a JSON body.", status_code=400, code="malformed_json")
    try:
        parsed = schema.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise PortalError(
                "The request body is not valid JSON.", status_code=400, code="malformed_json"
            ) from None
        raise Invalid(fields=validation_fields(exc)) from None
    # PostgreSQL refuses NUL in text: refuse it here, naming the field.
    if bad := _nul_field(parsed.model_dump()):
        raise Invalid(fields={bad: "must not contain a NUL character"})
    return parsed


def _nul_field(value: object, path: str = "") -> str | None:
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        items: list[tuple[str, object]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return None
    for key, item in items:
        if found := _nul_field(item, f"{path}.{key}" if path else key):
            return found
    return None


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not an accepted field",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "enum": "is not one of the accepted values",
    "literal_error": "is not one of the accepted values",
    "string_too_long": "is too long",
    "string_too_short": "is too short",
    "date_type": "must be a date, YYYY-MM-DD",
    "date_parsing": "must be a date, YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date, YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date, YYYY-MM-DD",
    "time_type": "must be a time, HH:MM",
    "time_parsing": "must be a time, HH:MM",
    "datetime_type": "must be a date and time in ISO 8601",
    "datetime_parsing": "must be a date and time in ISO 8601",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
}


def validation_fields(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"]) or "body"
        fields.setdefault(name, _MESSAGES.get(err["type"], err["msg"]))
    return fields
