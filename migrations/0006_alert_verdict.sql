-- The run verdict each alert told of (failure, reminder, recovery, pass,
-- warning), so `notify: change` compares a run with what its channels last
-- heard rather than with the last run: a run nobody was told of (`run
-- --no-alerts`) changes nothing. Pings, tests, heartbeats and freshness
-- alerts tell of no verdict and keep NULL. Alerts recorded before this column
-- take their run's verdict.
ALTER TABLE alerts ADD COLUMN verdict TEXT;

UPDATE alerts SET verdict = (
    SELECT runs.verdict FROM runs
    WHERE runs.id = alerts.run_id AND runs.verdict IN ('pass', 'fail', 'error')
)
WHERE kind IN ('failure', 'reminder', 'recovery', 'pass', 'warning') AND run_id IS NOT NULL;
