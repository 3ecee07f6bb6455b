-- Failing runs someone acknowledged (`restoredrill ack RUN_ID`, the run
-- page's button): while the job's verdict stays the acknowledged one, no
-- reminders are sent. The first later run of the job with another verdict
-- (pass, fail or error) clears it and is named in `cleared_by`. At most one
-- acknowledgement per job is in force (not cleared).
CREATE TABLE acknowledgements (
    run_id          TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    job             TEXT NOT NULL,
    verdict         TEXT NOT NULL,   -- fail | error: the acknowledged run's
    acknowledged_by TEXT NOT NULL,
    note            TEXT,
    acknowledged_at TEXT NOT NULL,
    cleared_by      TEXT,            -- the run whose verdict ended it
    cleared_at      TEXT
);
CREATE UNIQUE INDEX acknowledgements_in_force ON acknowledgements (job) WHERE cleared_by IS NULL;
