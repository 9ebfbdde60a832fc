"""What the OpenAPI document promises beyond flask-smorest's defaults: every status an operation
can answer, and JSON Schema for each rule the schemas check (patterns, keys, cross-field limits)."""

from __future__ import annotations

from typing import Any

from apispec import APISpec, BasePlugin
from marshmallow import Schema, fields, validate

from api.fields import YEAR_PATTERN, UtcMoment
from placements.ids import SLUG_PATTERN

NO_NUL = "^[^\\u0000]*$"  # PostgreSQL text cannot hold NUL; the service refuses it everywhere
ERROR_SCHEMA = "PlacementsError"  # the component of api.errors.PlacementsErrorSchema
SLUG_PARAMETERS = {"provider_id", "unit_slug", "authority_id", "panel_id"}
BODY_METHODS = {"post", "put", "patch", "delete"}
FRONT_RESPONSES = {  # from the HTTP server in front of Flask, for any request
    "400": "BAD_REQUEST",
    "414": "REQUEST_URI_TOO_LONG",
    "431": "REQUEST_HEADER_FIELDS_TOO_LARGE",
}
COMMON_RESPONSES = {
    "401": "UNAUTHORIZED",
    "403": "FORBIDDEN",
    "503": "BUSY",
}
BODY_RESPONSES = {
    "400": "BAD_REQUEST",
    "413": "REQUEST_ENTITY_TOO_LARGE",
    "415": "UNSUPPORTED_MEDIA_TYPE",
    "422": "UNPROCESSABLE_ENTITY",
}


class ContractPlugin(BasePlugin):
    """Adds the statuses every operation can answer and schema-level constraints."""

    def path_helper(
        self,
        path: str | None = None,
        operations: dict[Any, Any] | None = None,
        parameters: list[dict[Any, Any]] | None = None,
        **_: Any,
    ) -> str | None:
        """Say which path ids are slugs (chosen by clients when they register homes, units,
        authorities and panels); another id names nothing (404) or is refused on PUT (422)."""
        for parameter in parameters or ():
            if parameter.get("in") == "path" and parameter.get("name") in SLUG_PARAMETERS:
                parameter.setdefault("schema", {})["pattern"] = ecma_pattern(SLUG_PATTERN + "\\Z")
        return None

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        """Declare 400/414/431 everywhere, 401/403/503 on every authenticated operation, 404
        where a path names an object, and 413/415/422 where a body is read (or refused)."""
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            wanted = dict(FRONT_RESPONSES)
            if operation.get("security") != []:
                wanted.update(COMMON_RESPONSES)
            if path and "{" in path:
                wanted["404"] = "NOT_FOUND"
            if method in BODY_METHODS or "requestBody" in operation:
                wanted.update(BODY_RESPONSES)
            declared = {str(status) for status in responses}
            for status, name in wanted.items():
                if status not in declared:
                    responses[status] = name
            for status, response in responses.items():
                bare = isinstance(response, dict) and not response.keys() & {"content", "$ref"}
                if str(status)[0] in "45" and bare:
                    response["content"] = {"application/json": {"schema": ERROR_SCHEMA}}

    def schema_helper(self, name: str, definition: Any, **kwargs: Any) -> dict[str, Any] | None:
        """Merge a schema's `openapi_constraints` (e.g. maxProperties) into its component."""
        schema = kwargs.get("schema")
        extra = getattr(schema, "openapi_constraints", None)
        return dict(extra) if extra else None


def field_constraints(
    converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """JSON Schema for what a field's validators check, in the dialect the document speaks."""
    extra: dict[str, Any] = {}
    for validator in getattr(field, "validators", ()):
        if isinstance(validator, validate.Regexp):
            extra["pattern"] = ecma_pattern(str(validator.regex.pattern))
    if isinstance(field, UtcMoment):
        extra["pattern"] = YEAR_PATTERN
    elif type(field) is fields.String and "pattern" not in {**ret, **extra} and "enum" not in ret:
        extra["pattern"] = NO_NUL
    if isinstance(field, fields.Dict) and isinstance(field.key_field, fields.String):
        choices = [v for v in field.key_field.validators if isinstance(v, validate.OneOf)]
        if choices and "additionalProperties" in ret:
            value = ret["additionalProperties"]
            extra["properties"] = {str(key): value for key in choices[0].choices}
            extra["additionalProperties"] = False
    if any(part == {"type": "object", "nullable": True} for part in ret.get("anyOf", ())):
        # apispec's nullable object would admit any object; only null is meant
        extra["anyOf"] = [
            {"nullable": True, "enum": [None]} if part.get("nullable") else part
            for part in ret["anyOf"]
        ]
    return extra


def ecma_pattern(pattern: str) -> str:
    """A Python `re.match` pattern as the anchored ECMA regex JSON Schema searches with.

    `Regexp` matches from the start; `\\Z` ends the text (no newline), like ECMA's `$`.
    """
    body = pattern[1:] if pattern.startswith("^") else pattern
    if body.endswith("\\Z"):
        body = body[:-2] + "$"
    return "^" + body


def pagination_header(schema: type[Schema]) -> dict[str, Any]:
    """The X-Pagination header: a JSON object (not a simple-style value)."""
    return {
        "description": "Paging of the list, as a JSON object",
        "content": {"application/json": {"schema": schema}},
    }


def extend(spec: APISpec, converter: Any) -> None:
    """Teach the document's converter the field constraints above; name the 503 response."""
    converter.add_attribute_function(field_constraints)
    spec.components.response(
        "BUSY",
        {
            "description": "The database is busy (SQLite's write lock): retry after Retry-After",
            "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        },
    )
