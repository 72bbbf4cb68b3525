-- Haven's SQLite schema. The events table is append-only: triggers refuse updates and deletes.
CREATE TABLE IF NOT EXISTS services (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id),
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    on_duty INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    user_id TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_user ON login_failures (user_id, at);
CREATE TABLE IF NOT EXISTS logins (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_links (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    expires_at REAL NOT NULL,
    used_at REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    facilitator_id TEXT NOT NULL REFERENCES users(id),
    co_facilitator_id TEXT REFERENCES users(id),
    locked INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    ended_at REAL
);
CREATE TABLE IF NOT EXISTS invites (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    expires_at REAL NOT NULL,
    pin_hash TEXT,
    duress_pin_hash TEXT,
    pin_failures INTEGER NOT NULL DEFAULT 0,
    locked_until REAL,
    revoked_at REAL,
    used_at REAL,
    safety_plan TEXT NOT NULL DEFAULT '',
    safe_word TEXT NOT NULL DEFAULT '',
    spoken_phrase TEXT NOT NULL DEFAULT '',
    spoken_opt_in INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS participants (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    invite_id TEXT NOT NULL UNIQUE REFERENCES invites(id),
    token_hash TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    camera_off INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    paused_reason TEXT,
    paused_at REAL,
    alert_id TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signals (
    subject_id TEXT NOT NULL,
    signal_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (subject_id, signal_id)
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    signal_id TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    raised_at REAL NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (service_id, status);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    created_at REAL NOT NULL,
    delivered_at REAL,
    given_up_at REAL,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    service_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_session ON events (session_id, seq);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY,
    head_hash TEXT NOT NULL,
    mac TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_attempt_log (
    outbox_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    status INTEGER,
    error TEXT NOT NULL DEFAULT '',
    duration_ms REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (outbox_id, attempt)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id),
    key_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at REAL
);
CREATE INDEX IF NOT EXISTS api_keys_service ON api_keys (service_id, created_at);
CREATE TABLE IF NOT EXISTS phrase_calibrations (
    phrase_key TEXT PRIMARY KEY,
    threshold REAL NOT NULL,
    false_alarms_per_hour REAL NOT NULL,
    bank_hours REAL NOT NULL,
    calibrated_at REAL NOT NULL
);
