"""Version 3: every webhook delivery attempt, and service API keys (stored by hash only)."""

SQL = r"""
CREATE TABLE webhook_attempt_log (
    outbox_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    status INTEGER,
    error TEXT NOT NULL DEFAULT '',
    duration_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (outbox_id, attempt)
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id),
    key_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE INDEX api_keys_service ON api_keys (service_id, created_at);
"""
