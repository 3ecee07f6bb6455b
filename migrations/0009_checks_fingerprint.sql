-- What the job checked a dump with (assertions, baseline rules, database,
-- image, integrity and restore settings), as a hash: a scheduled run finds
-- the very dump the last run verified `unchanged` only when the job would
-- check it the same way now; after a change of the checks it restores again.
ALTER TABLE runs ADD COLUMN checks_fingerprint TEXT;
