-- Run history: one row per run, with its phases, assertion results and the
-- row count of every restored table; and the kept restore of each job.
CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    job             TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    verdict         TEXT NOT NULL,   -- running | pass | fail | error | interrupted
    reason          TEXT,
    source          TEXT,
    image           TEXT,
    dump_path       TEXT,
    dump_size       INTEGER,
    dump_modified_at TEXT,
    dump_sha256     TEXT,
    dump_format     TEXT,
    dump_compression TEXT,
    dumped_by       TEXT,
    tool_output     TEXT             -- JSON array of the tool's last lines
);
CREATE INDEX runs_job_started ON runs (job, started_at);

CREATE TABLE run_phases (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    phase       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (run_id, phase)
);

CREATE TABLE assertion_results (
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    passed   INTEGER NOT NULL,
    expected TEXT NOT NULL,
    observed TEXT NOT NULL,
    note     TEXT,
    PRIMARY KEY (run_id, position)
);

CREATE TABLE table_rows (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    table_name TEXT NOT NULL,
    row_count  INTEGER NOT NULL,
    PRIMARY KEY (run_id, table_name)
);

CREATE TABLE kept_restores (
    job          TEXT PRIMARY KEY,
    engine       TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    container    TEXT NOT NULL,
    volume       TEXT,
    host         TEXT NOT NULL,
    port         INTEGER NOT NULL,
    user         TEXT NOT NULL,
    database     TEXT NOT NULL,
    password     TEXT NOT NULL,
    promoted_at  TEXT NOT NULL
);
