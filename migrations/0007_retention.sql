-- no-transaction
-- History retention (`history.keep`, `history.keep_last`): old runs are
-- pruned daily, and the pages they leave free go back to the file system
-- with `PRAGMA incremental_vacuum` (auto_vacuum can only change on a file
-- that has tables through one VACUUM, hence no transaction here). What was
-- pruned is tallied, so `restoredrill_runs_total` and
-- `restoredrill_alert_deliveries_total` keep counting up.
PRAGMA auto_vacuum = INCREMENTAL;
VACUUM;

CREATE TABLE IF NOT EXISTS pruned_runs (
    job     TEXT NOT NULL,
    verdict TEXT NOT NULL,
    runs    INTEGER NOT NULL,
    PRIMARY KEY (job, verdict)
);

CREATE TABLE IF NOT EXISTS pruned_deliveries (
    channel  TEXT NOT NULL,
    ok       INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (channel, ok)
);

CREATE INDEX IF NOT EXISTS alerts_run ON alerts (run_id);
