-- Assertion-strength drills (`restoredrill drill JOB`, the daemon's
-- `drill: { schedule }`): one row per drill, with its score or why it gave
-- none. A drill is not a run: it never counts as a verification of the job,
-- never becomes a baseline. `uncaught` is the JSON list of the mutants the
-- job's checks let pass (with the assertion that would catch each);
-- `report` the whole drill report (docs/drill-report.schema.json).
CREATE TABLE drills (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job         TEXT NOT NULL,
    trigger     TEXT NOT NULL,   -- schedule | manual
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    caught      INTEGER,
    made        INTEGER,
    error       TEXT,            -- why no score was reported
    no_good_dump INTEGER NOT NULL DEFAULT 0, -- the error: the newest dump did not pass
    uncaught    TEXT NOT NULL DEFAULT '[]',
    report      TEXT
);
CREATE INDEX drills_by_job ON drills (job, id);
