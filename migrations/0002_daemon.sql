-- The daemon: what started each run, the verdicts `unchanged` (the dump was
-- verified before) and `skipped` (the job's previous run was still going),
-- and every change of a job's backup freshness.
ALTER TABLE runs ADD COLUMN trigger TEXT;   -- schedule | manual | cli

CREATE TABLE freshness_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job              TEXT NOT NULL,
    at               TEXT NOT NULL,
    state            TEXT NOT NULL,   -- stale | fresh
    reason           TEXT NOT NULL,
    dump_path        TEXT,
    dump_modified_at TEXT
);
CREATE INDEX freshness_events_job ON freshness_events (job, id);
