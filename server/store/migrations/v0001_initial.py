"""Version 1: the foundation's schema, the log's head row and the append-only triggers."""

SQL = r"""
CREATE TABLE services (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id),
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    on_duty INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE login_failures (
    user_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE INDEX login_failures_user ON login_failures (user_id, at);
CREATE TABLE logins (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL
);
CREATE TABLE signin_links (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    expires_at DOUBLE PRECISION NOT NULL,
    used_at DOUBLE PRECISION
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    facilitator_id TEXT NOT NULL REFERENCES users(id),
    co_facilitator_id TEXT REFERENCES users(id),
    locked INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    ended_at DOUBLE PRECISION
);
CREATE TABLE invites (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    pin_hash TEXT,
    duress_pin_hash TEXT,
    pin_failures INTEGER NOT NULL DEFAULT 0,
    locked_until DOUBLE PRECISION,
    revoked_at DOUBLE PRECISION,
    used_at DOUBLE PRECISION,
    safety_plan TEXT NOT NULL DEFAULT '',
    safe_word TEXT NOT NULL DEFAULT '',
    spoken_phrase TEXT NOT NULL DEFAULT '',
    spoken_opt_in INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE participants (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    invite_id TEXT NOT NULL UNIQUE REFERENCES invites(id),
    token_hash TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    camera_off INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    paused_reason TEXT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE signals (
    subject_id TEXT NOT NULL,
    signal_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    channel TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (subject_id, signal_id)
);
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    signal_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    escalated INTEGER NOT NULL DEFAULT 0,
    raised_at DOUBLE PRECISION NOT NULL,
    delivered_to TEXT NOT NULL DEFAULT '[]',
    acknowledged_by TEXT,
    acknowledged_at DOUBLE PRECISION,
    resolved_at DOUBLE PRECISION
);
CREATE INDEX alerts_open ON alerts (service_id, status);
CREATE TABLE webhook_outbox (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    given_up_at DOUBLE PRECISION,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    service_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX events_session ON events (session_id, seq);
-- The head of the chain: every appending transaction locks this one row (SELECT ... FOR UPDATE),
-- so all writers, in every process, take turns in one order the database decides.
CREATE TABLE event_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO event_head (id, seq, hash) VALUES (1, 0, repeat('0', 64));
CREATE TABLE checkpoints (
    seq BIGINT PRIMARY KEY,
    head_hash TEXT NOT NULL,
    mac TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE FUNCTION haven_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only';
END
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION haven_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION haven_append_only();
"""
