-- What identifies a remote dump's version at its source (an ETag, a `list`
-- command's output): a scheduled run whose newest remote dump has the
-- location, size and version of the last verified one is `unchanged`,
-- without downloading it again.
ALTER TABLE runs ADD COLUMN dump_version TEXT;
