-- Alerts: each message decided on (a failure, recovery, reminder, warning,
-- stale backup, test, or a healthchecks ping), and every delivery attempt to
-- each channel with its outcome. Trend warnings of runs.
CREATE TABLE alerts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job     TEXT,
    run_id  TEXT,
    kind    TEXT NOT NULL,
    at      TEXT NOT NULL,
    title   TEXT NOT NULL
);
CREATE INDEX alerts_job ON alerts (job, id);

CREATE TABLE alert_deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel  TEXT NOT NULL,
    attempt  INTEGER NOT NULL,
    at       TEXT NOT NULL,
    ok       INTEGER NOT NULL,
    detail   TEXT NOT NULL,
    PRIMARY KEY (alert_id, channel, attempt)
);

CREATE TABLE run_warnings (
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL
);
