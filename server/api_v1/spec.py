"""The one source of truth for the API: each operation is declared once, with its schemas.

The declaration builds the aiohttp route (authentication, scope check, query and body validated
against the very schemas the OpenAPI document publishes) and the document's entry for it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.api_v1.keys import API_KEYS, allows
from server.api_v1.problems import PROBLEM_TYPE, InsufficientScope, from_error, problem
from server.errors import BadRequest, HavenError
from server.messages import parse_json
from server.store.base import ApiKey
from server.web.keys import CONFIG

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
MAX_INT = 2**53
Schema = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One authenticated API request: the key, and the query and body already validated."""

    request: web.Request
    key: ApiKey
    query: dict[str, Any]
    body: dict[str, Any]

    @property
    def service_id(self) -> str:
        """The service the key belongs to; every operation is scoped to it."""
        return self.key.service_id

    @property
    def actor(self) -> str:
        """How the event log names this caller."""
        return f"apikey:{self.key.id}"

    def path(self, name: str) -> str:
        """Return a path parameter."""
        return self.request.match_info[name]


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Param:
    """A query parameter and its schema."""

    name: str
    schema: Schema
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """One API operation as declared: route, scope, schemas and handler."""

    method: str
    path: str
    operation_id: str
    tag: str
    scope: str
    handler: Handler
    ok: int
    response: Schema | None
    body: Schema | None = None
    query: Sequence[Param] = ()
    errors: Sequence[int] = ()
    extra_responses: Mapping[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The handler's one-sentence docstring."""
        return (self.handler.__doc__ or "").strip().splitlines()[0]


# -- validation against the published schemas ---------------------------------------------------

_TYPES: dict[str, Callable[[object], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def validate(schema: Schema, value: object, name: str = "") -> None:
    """Check ``value`` against the subset of JSON Schema the API uses; raise BadRequest."""
    what = f"The field {name}" if name else "The message"
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_TYPES[k](value) for k in kinds):
            if not name:
                raise BadRequest("The message must be a JSON object.")
            raise BadRequest(f"{what} has the wrong type.")
    if "const" in schema and value != schema["const"]:
        raise BadRequest(f"{what} must be {schema['const']!r}.".replace("True", "true"))
    if "enum" in schema and value not in schema["enum"]:
        raise BadRequest(f"{what} must be one of {', '.join(map(str, schema['enum']))}.")
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", 1 << 30):
            raise BadRequest(f"{what} can be at most {schema['maxLength']} characters.")
        if len(value) < schema.get("minLength", 0):
            raise BadRequest(f"{what} cannot be empty.")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise BadRequest(f"{what} is not in the expected format.")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not schema.get("minimum", -MAX_INT) <= value <= schema.get("maximum", MAX_INT):
        raise BadRequest(f"{what} is out of range.")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", 1 << 30):
            raise BadRequest(f"{what} has too many items.")
        if len(value) < schema.get("minItems", 0):
            raise BadRequest(f"{what} has too few items.")
        for item in value:
            validate(schema.get("items", {}), item, name)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            unknown = sorted(str(k) for k in value if k not in properties)
            if unknown:
                raise BadRequest(f"Unknown field: {unknown[0][:40]}.")
        for required in schema.get("required", ()):
            if required not in value:
                raise BadRequest(f"The field {required} is missing.")
        for key, sub in properties.items():
            if key in value:
                validate(sub, value[key], key)


def parse_query(params: Sequence[Param], query: Mapping[str, str]) -> dict[str, Any]:
    """Read and validate query parameters; integers are parsed, unknown names ignored."""
    values: dict[str, Any] = {}
    for param in params:
        raw = query.get(param.name)
        if raw is None:
            if param.required:
                raise BadRequest(f"The query parameter {param.name} is missing.")
            continue
        value: object = raw
        if param.schema.get("type") == "integer":
            if not re.fullmatch(r"-?\d{1,18}", raw):
                raise BadRequest(f"The query parameter {param.name} must be a whole number.")
            value = int(raw)
        validate(param.schema, value, param.name)
        values[param.name] = value
    return values


async def read_body(request: web.Request) -> object:
    """Read a JSON body within the size limit; an empty body reads as an empty object."""
    limit = request.app[CONFIG].max_message_bytes
    if request.content_length is not None and request.content_length > limit:
        return parse_json(b" " * (limit + 1), limit=limit)
    raw = await request.read()
    return {} if not raw.strip() else parse_json(raw, limit=limit)


# -- the registry -------------------------------------------------------------------------------


class Api:
    """Every operation of the API, declared once; builds the routes and the OpenAPI paths."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def operation(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        tag: str,
        ok: int = 200,
        response: Schema | None = None,
        body: Schema | None = None,
        query: Sequence[Param] = (),
        errors: Sequence[int] = (),
        extra_responses: Mapping[str, Any] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare an operation; the decorated handler receives a validated ``Call``."""

        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method,
                    path=PREFIX + path,
                    operation_id=handler.__name__,
                    tag=tag,
                    scope=scope,
                    handler=handler,
                    ok=ok,
                    response=response,
                    body=body,
                    query=query,
                    errors=errors,
                    extra_responses=extra_responses or {},
                )
            )
            return handler

        return register

    def routes(self) -> list[web.RouteDef]:
        """Return the aiohttp routes, then a catch-all that answers unknown paths as problems."""
        defs = [web.route(op.method, op.path, _endpoint(op)) for op in self.operations]
        defs.append(web.route("*", PREFIX, self._unknown))
        defs.append(web.route("*", PREFIX + "/{tail:.*}", self._unknown))
        return defs

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        """Answer a path or method the API does not have."""
        allowed = sorted(
            {op.method for op in self.operations if _template(op.path).fullmatch(request.path)}
        )
        if allowed:
            return problem(
                405,
                f"This path takes {', '.join(allowed)}.",
                "method_not_allowed",
                headers={"Allow": ", ".join(allowed)},
            )
        return problem(404, "There is no such API operation.", "not_found")

    def paths(self, error_statuses: Sequence[int]) -> dict[str, Any]:
        """Return the OpenAPI ``paths`` object."""
        paths: dict[str, Any] = {}
        for op in self.operations:
            entry: dict[str, Any] = {
                "operationId": op.operation_id,
                "summary": op.summary,
                "tags": [op.tag],
                "security": [{"apiKey": [op.scope]}],
                "x-haven-scope": op.scope,
                "responses": self._responses(op, error_statuses),
            }
            params = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                for n in re.findall(r"{(\w+)}", op.path)
            ] + [
                {
                    "name": p.name,
                    "in": "query",
                    "required": p.required,
                    "description": p.description,
                    "schema": p.schema,
                }
                for p in op.query
            ]
            if params:
                entry["parameters"] = params
            if op.body is not None:
                entry["requestBody"] = {
                    "required": bool(op.body.get("required")),
                    "content": {"application/json": {"schema": op.body}},
                }
            paths.setdefault(op.path, {})[op.method.lower()] = entry
        return paths

    def _responses(self, op: Operation, error_statuses: Sequence[int]) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        if op.response is not None:
            responses[str(op.ok)] = {
                "description": "Success.",
                "content": {"application/json": {"schema": op.response}},
            }
        responses.update(op.extra_responses)
        for status in sorted({*error_statuses, *op.errors}):
            responses[str(status)] = {"$ref": "#/components/responses/Problem"}
        responses["default"] = {"$ref": "#/components/responses/Problem"}
        return responses


def _template(path: str) -> re.Pattern[str]:
    parts = ("[^/]+" if re.fullmatch(r"{\w+}", p) else re.escape(p) for p in path.split("/"))
    return re.compile("/".join(parts))


def _endpoint(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        try:
            key = await request.app[API_KEYS].authenticate(request.headers.get("Authorization"))
            if not allows(key, op.scope):
                raise InsufficientScope(op.scope)
            query = parse_query(op.query, request.query)
            body: dict[str, Any] = {}
            if op.body is not None:
                raw = await read_body(request)
                validate(op.body, raw)
                body = dict(raw) if isinstance(raw, dict) else {}
            return await op.handler(Call(request, key, query, body))
        except HavenError as exc:
            return from_error(exc)
        except web.HTTPRequestEntityTooLarge:
            return problem(413, "The request is too large.", "too_large")
        except Exception:
            log.exception("Unexpected error in API operation %s", op.operation_id)
            return problem(500, "Something went wrong on the server. Please try again.", "internal")

    endpoint.__doc__ = op.summary
    return endpoint


PROBLEM_SCHEMA: Schema = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
}
PROBLEM_RESPONSE: Schema = {
    "description": "An RFC 9457 problem document.",
    "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
