"""Parsing untrusted wire input: one place per message shape, clear errors, no asserts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from server.errors import BadRequest, PayloadTooLarge


def parse_json(raw: bytes | str, *, limit: int) -> Any:
    """Decode a JSON body no larger than ``limit`` bytes."""
    if len(raw) > limit:
        raise PayloadTooLarge(f"The message is larger than {limit // 1024} KB.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The message is not valid JSON.") from None


def fields(
    data: object,
    *,
    required: Mapping[str, type | tuple[type, ...]] = {},
    optional: Mapping[str, type | tuple[type, ...]] = {},
) -> dict[str, Any]:
    """Check that ``data`` is an object with exactly these fields of these types."""
    if not isinstance(data, dict):
        raise BadRequest("The message must be a JSON object.")
    unknown = set(data) - set(required) - set(optional)
    if unknown:
        raise BadRequest(f"Unknown field: {sorted(str(k) for k in unknown)[0]}.")
    for name in required:
        if name not in data:
            raise BadRequest(f"The field {name} is missing.")
    for name, kind in {**required, **optional}.items():
        if name in data and not _is(data[name], kind):
            raise BadRequest(f"The field {name} has the wrong type.")
    return dict(data)


def _is(value: object, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)
