-- The schema objects of each run (tables, views, functions, indexes,
-- constraints, triggers, sequences...), compared with the baseline's; and
-- runs someone accepted as the baseline (`restoredrill accept RUN_ID`)
-- after a deliberate schema change.
CREATE TABLE run_objects (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind   TEXT NOT NULL,
    name   TEXT NOT NULL,
    PRIMARY KEY (run_id, kind, name)
);

CREATE TABLE baseline_accepts (
    run_id      TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    job         TEXT NOT NULL,
    accepted_at TEXT NOT NULL
);
