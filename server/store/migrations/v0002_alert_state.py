"""Version 2: the signals core's alert state (one JSON column) and the participant's pause."""

SQL = r"""
ALTER TABLE participants ADD COLUMN paused_at DOUBLE PRECISION;
ALTER TABLE participants ADD COLUMN alert_id TEXT;
ALTER TABLE alerts ADD COLUMN state TEXT;
-- Carry each version-1 alert into the core's state shape, so an open alert stays open.
UPDATE alerts SET state = json_build_object(
    'alert_id', id,
    'participant', participant_id,
    'kind', kind,
    'raised_at', raised_at,
    'escalate_after', 15.0,
    'progress', status,
    'delivered_to', delivered_to::json,
    'acknowledged_by', CASE WHEN acknowledged_by IS NULL THEN '[]'::json
                            ELSE json_build_array(acknowledged_by) END,
    'acknowledged_at', acknowledged_at,
    'resolved_by', CASE WHEN resolved_at IS NULL THEN NULL
                        ELSE coalesce(acknowledged_by, 'system') END,
    'resolved_at', resolved_at,
    'escalations', CASE WHEN escalated <> 0 THEN '["unacknowledged"]'::json
                        ELSE '[]'::json END
)::text;
ALTER TABLE alerts ALTER COLUMN state SET NOT NULL;
ALTER TABLE alerts DROP COLUMN participant_id;
ALTER TABLE alerts DROP COLUMN kind;
ALTER TABLE alerts DROP COLUMN escalated;
ALTER TABLE alerts DROP COLUMN delivered_to;
ALTER TABLE alerts DROP COLUMN acknowledged_by;
ALTER TABLE alerts DROP COLUMN acknowledged_at;
ALTER TABLE alerts DROP COLUMN resolved_at;
"""
