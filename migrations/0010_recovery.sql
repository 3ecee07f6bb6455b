-- How a physical backup was recovered (report::RecoveryReport as JSON):
-- the target, the WAL replayed, how far it got, the recovery point, what
-- pg_verifybackup and pg_amcheck said. NULL for a dump's run.
ALTER TABLE runs ADD COLUMN recovery TEXT;
