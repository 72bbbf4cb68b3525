"""Version 4: calibrated thresholds of spoken safe phrases, keyed by a hash of the phrase."""

SQL = r"""
CREATE TABLE phrase_calibrations (
    phrase_key TEXT PRIMARY KEY,
    threshold DOUBLE PRECISION NOT NULL,
    false_alarms_per_hour DOUBLE PRECISION NOT NULL,
    bank_hours DOUBLE PRECISION NOT NULL,
    calibrated_at DOUBLE PRECISION NOT NULL
);
"""
