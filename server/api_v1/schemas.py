"""The JSON schemas of the API: request bodies validated on the way in, published in OpenAPI."""

from __future__ import annotations

from typing import Any

from server.api_v1.spec import PROBLEM_SCHEMA, Schema


def ref(name: str) -> Schema:
    """Return a reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **properties: Schema) -> Schema:
    """Return an object schema with these properties, all listed ones required."""
    return {"type": "object", "required": required, "properties": properties}


def listing(name: str, item: str) -> Schema:
    """Return ``{name: [item]}``."""
    return obj([name], **{name: {"type": "array", "items": ref(item)}})


STRING = {"type": "string"}
NUMBER = {"type": "number"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
PIN = {
    "type": ["string", "null"],
    "pattern": r"^(\d{6})?$",
    "description": "Six digits; empty or null for none.",
}

ARRANGEMENTS: dict[str, Schema] = {
    "label": {"type": "string", "maxLength": 60, "description": "A label only staff see."},
    "safety_plan": {
        "type": "string",
        "maxLength": 4000,
        "description": "What the facilitator should do if this client raises an alert.",
    },
    "safe_word": {"type": "string", "maxLength": 60, "description": "The typed safe word."},
    "spoken_phrase": {"type": "string", "maxLength": 60, "description": "The spoken safe phrase."},
    "spoken_opt_in": {"type": "boolean", "description": "Listen for the spoken safe phrase."},
    "pin": {**PIN, "description": "The client's resume PIN: six digits."},
    "duress_pin": {**PIN, "description": "A second PIN that resumes but silently escalates."},
}

CREATE_SESSION: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "facilitator_email"],
    "properties": {
        "kind": {"type": "string", "enum": ["one_to_one", "group"]},
        "title": {"type": "string", "maxLength": 120},
        "facilitator_email": {
            "type": "string",
            "maxLength": 320,
            "description": "The staff account that runs the session and receives its alerts.",
        },
        "co_facilitator_email": {"type": "string", "maxLength": 320},
    },
}
CREATE_INVITE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": ARRANGEMENTS,
}
CREATE_PARTICIPANT: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["display_name", "consent"],
    "properties": {
        "display_name": {"type": "string", "minLength": 1, "maxLength": 40},
        "consent": {
            "const": True,
            "description": "The host platform confirms the client read and agreed to how Haven "
            "works (ground rules, confidentiality, what is recorded).",
        },
        "camera_off": {"type": "boolean"},
        "admit": {
            "type": "boolean",
            "description": "Admit the client at once (default true: the host runs the call).",
        },
        **ARRANGEMENTS,
    },
}
SET_WEBHOOK: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "minLength": 1, "maxLength": 2048},
        "allow_private": {
            "type": "boolean",
            "description": "Allow loopback, link-local and private addresses (off by default).",
        },
    },
}

SESSION = obj(
    [
        "id",
        "kind",
        "title",
        "facilitator_id",
        "co_facilitator_id",
        "locked",
        "created_at",
        "ended_at",
    ],
    id=STRING,
    kind={"type": "string", "enum": ["one_to_one", "group"]},
    title=STRING,
    facilitator_id=STRING,
    co_facilitator_id=NULLABLE_STRING,
    locked=BOOLEAN,
    created_at=NUMBER,
    ended_at=NULLABLE_NUMBER,
)
PARTICIPANT_STATE = obj(
    ["id", "status", "paused"],
    id=STRING,
    status={"type": "string", "enum": ["waiting", "admitted", "denied", "removed", "left"]},
    paused=BOOLEAN,
)
SESSION_DETAIL: Schema = {
    "allOf": [
        ref("Session"),
        obj(["participants"], participants={"type": "array", "items": ref("ParticipantState")}),
    ]
}
INVITE = obj(
    ["id", "label", "expires_at", "has_pin", "has_duress_pin", "used", "revoked", "url"],
    id=STRING,
    label=STRING,
    expires_at=NUMBER,
    has_pin=BOOLEAN,
    has_duress_pin=BOOLEAN,
    used=BOOLEAN,
    revoked=BOOLEAN,
    url={"type": "string", "description": "The invite link for Haven's client page (shown once)."},
)
PARTICIPANT_TOKEN = obj(
    ["participant_id", "session_id", "token", "status"],
    participant_id=STRING,
    session_id=STRING,
    token={
        "type": "string",
        "description": "The participant's capability token for the embed widget (shown once).",
    },
    status={"type": "string", "enum": ["waiting", "admitted"]},
)
END_RESULT = obj(["ended", "session"], ended=BOOLEAN, session=ref("Session"))
EVENT = obj(
    ["seq", "ts", "type", "actor", "session_id", "payload", "prev_hash", "hash"],
    seq=INTEGER,
    ts=NUMBER,
    type=STRING,
    actor=STRING,
    session_id=STRING,
    payload={"type": "object"},
    prev_hash=STRING,
    hash=STRING,
)
EVENT_LIST = obj(
    ["events", "next_after"],
    events={"type": "array", "items": ref("Event")},
    next_after={"type": "integer", "description": "Pass as ``after`` to read the next page."},
)
ALERT = obj(
    [
        "id",
        "session_id",
        "participant_id",
        "kind",
        "source",
        "progress",
        "escalations",
        "raised_at",
        "acknowledged_by",
        "acknowledged_at",
        "resolved_by",
        "resolved_at",
    ],
    id=STRING,
    session_id=STRING,
    participant_id=STRING,
    kind={"type": "string", "enum": ["panic", "duress"]},
    source=STRING,
    progress={"type": "string", "enum": ["raised", "delivered", "acknowledged", "resolved"]},
    escalations={"type": "array", "items": {"type": "string"}},
    raised_at=NUMBER,
    acknowledged_by={"type": "array", "items": {"type": "string"}},
    acknowledged_at=NULLABLE_NUMBER,
    resolved_by=NULLABLE_STRING,
    resolved_at=NULLABLE_NUMBER,
)
WEBHOOK_ENDPOINT = obj(
    ["url", "allow_private", "has_secret", "previous_secret_valid_until"],
    url={"type": "string", "description": "Empty when no endpoint is configured."},
    allow_private=BOOLEAN,
    has_secret=BOOLEAN,
    previous_secret_valid_until=NULLABLE_NUMBER,
    secret={"type": "string", "description": "The signing secret; only when just created."},
)
WEBHOOK_SECRET = obj(
    ["secret", "previous_secret_valid_until"],
    secret={"type": "string", "description": "The new whsec_ signing secret (shown once)."},
    previous_secret_valid_until=NULLABLE_NUMBER,
)
DELIVERY = obj(
    [
        "id",
        "type",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "delivered_at",
        "given_up_at",
        "last_error",
    ],
    id={"type": "string", "description": "The webhook-id every attempt carries."},
    type=STRING,
    state={"type": "string", "enum": ["pending", "delivered", "given_up"]},
    attempts=INTEGER,
    created_at=NUMBER,
    next_attempt_at=NUMBER,
    delivered_at=NULLABLE_NUMBER,
    given_up_at=NULLABLE_NUMBER,
    last_error=STRING,
)
ATTEMPT = obj(
    ["attempt", "at", "status", "error", "duration_ms"],
    attempt=INTEGER,
    at=NUMBER,
    status={"type": ["integer", "null"]},
    error=STRING,
    duration_ms=NUMBER,
)

COMPONENTS: dict[str, Any] = {
    "Problem": PROBLEM_SCHEMA,
    "Session": SESSION,
    "SessionList": listing("sessions", "Session"),
    "SessionDetail": SESSION_DETAIL,
    "ParticipantState": PARTICIPANT_STATE,
    "Invite": INVITE,
    "ParticipantToken": PARTICIPANT_TOKEN,
    "EndResult": END_RESULT,
    "Event": EVENT,
    "EventList": EVENT_LIST,
    "Alert": ALERT,
    "AlertList": listing("alerts", "Alert"),
    "WebhookEndpoint": WEBHOOK_ENDPOINT,
    "WebhookSecret": WEBHOOK_SECRET,
    "Delivery": DELIVERY,
    "DeliveryList": listing("deliveries", "Delivery"),
    "Attempt": ATTEMPT,
    "AttemptList": listing("attempts", "Attempt"),
}
